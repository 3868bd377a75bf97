package fleetramp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

// FlagSchema is the $schema of the flag files the controller writes:
// flagd's flag definition format.
const FlagSchema = "https://flagd.dev/schema/v0/flags.json"

// The metadata keys of a managed flag: the controller's state, kept in the
// flag itself so that a restarted controller and the manual commands read
// it from the file.
const (
	MetaStep          = "dualrunRampStep"
	MetaStepName      = "dualrunRampStepName"
	MetaPaused        = "dualrunRampPaused"
	MetaStepStarted   = "dualrunRampStepStarted"
	MetaRollbackTo    = "dualrunRampRollbackTo"
	MetaExperiment    = "dualrunRampExperiment"
	MetaLastReason    = "dualrunRampLastReason"
	MetaLastAt        = "dualrunRampLastAt"
	MetaLastFrom      = "dualrunRampLastFrom"
	MetaLastTo        = "dualrunRampLastTo"
	MetaLastSignal    = "dualrunRampLastSignal"
	MetaLastValue     = "dualrunRampLastValue"
	MetaLastThreshold = "dualrunRampLastThreshold"
)

// maxFlagFileBytes bounds the flag file read: it is outside input.
const maxFlagFileBytes = 16 << 20

// variantKey names the variant of step i.
func variantKey(i int) string { return "step" + strconv.Itoa(i) }

// flagDoc is a flag file: the flags the controller manages are decoded,
// every other flag and top-level field is kept byte for byte.
type flagDoc struct {
	top   map[string]json.RawMessage // every top-level field but "flags"
	flags map[string]json.RawMessage
}

// stepValue is a variant: the JSON object rollout/openfeature parses.
type stepValue struct {
	ShadowPercent           float64 `json:"shadow_percent"`
	CandidatePrimaryPercent float64 `json:"candidate_primary_percent"`
}

func (v stepValue) static() (rollout.Static, error) {
	for _, p := range []float64{v.ShadowPercent, v.CandidatePrimaryPercent} {
		if math.IsNaN(p) || p < 0 || p > 100 {
			return rollout.Static{}, fmt.Errorf("percentage %v: want 0 to 100", p)
		}
	}
	return rollout.Static{Shadow: rollout.Percent(v.ShadowPercent), CandidatePrimary: rollout.Percent(v.CandidatePrimaryPercent)}, nil
}

func valueOf(s rollout.Static) stepValue {
	return stepValue{ShadowPercent: min(s.Shadow, rollout.All).Float(), CandidatePrimaryPercent: min(s.CandidatePrimary, rollout.All).Float()}
}

// managedFlag is one flag the controller writes.
type managedFlag struct {
	State          string               `json:"state"`
	DefaultVariant string               `json:"defaultVariant"`
	Variants       map[string]stepValue `json:"variants"`
	Metadata       map[string]any       `json:"metadata,omitempty"`
}

// FlagState is a ramp's state as the flag file records it.
type FlagState struct {
	// Experiment is the experiment's name, FlagKey its flag's key.
	Experiment, FlagKey string
	// State is the ramp's position.
	State rollout.StepState
	// StepName labels the step.
	StepName string
	// Steps are the step rollouts found in the flag's variants, and
	// RollbackTo the recorded rollback step.
	Steps      []rollout.Step
	RollbackTo int
	// Last is the last transition recorded, if any.
	Last *rollout.Transition
}

// ParseFlagFile reads a flag file and returns the state of every flag the
// controller manages (those with a dualrunRampStep metadata entry), by
// flag key. A flag without that entry is not managed and not returned; a
// managed flag whose metadata or variants do not make sense is an error.
func ParseFlagFile(data []byte) (map[string]FlagState, error) {
	d, err := parseFlagDoc(data)
	if err != nil {
		return nil, err
	}
	out := map[string]FlagState{}
	for key := range d.flags {
		st, ok, err := d.state(key)
		if err != nil {
			return nil, err
		}
		if ok {
			out[key] = st
		}
	}
	return out, nil
}

func parseFlagDoc(data []byte) (*flagDoc, error) {
	if len(data) > maxFlagFileBytes {
		return nil, fmt.Errorf("fleetramp: flag file: %d bytes, over the limit of %d", len(data), maxFlagFileBytes)
	}
	d := &flagDoc{top: map[string]json.RawMessage{}, flags: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return d, nil // a new, empty file
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d.top); err != nil {
		return nil, fmt.Errorf("fleetramp: flag file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("fleetramp: flag file: trailing data after the JSON object")
	}
	if d.top == nil {
		return nil, errors.New("fleetramp: flag file: null: want an object")
	}
	if raw, ok := d.top["flags"]; ok {
		if err := json.Unmarshal(raw, &d.flags); err != nil {
			return nil, fmt.Errorf("fleetramp: flag file: flags: %w", err)
		}
		if d.flags == nil {
			d.flags = map[string]json.RawMessage{}
		}
		delete(d.top, "flags")
	}
	return d, nil
}

// readFlagDoc reads the file at path; a missing file is an empty document.
func readFlagDoc(path string) (*flagDoc, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return parseFlagDoc(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("fleetramp: flag file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFlagFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fleetramp: flag file: %w", err)
	}
	return parseFlagDoc(data)
}

// state decodes the managed flag key; ok is false when the flag is absent
// or not managed.
func (d *flagDoc) state(key string) (FlagState, bool, error) {
	raw, ok := d.flags[key]
	if !ok {
		return FlagState{}, false, nil
	}
	var probe struct {
		Metadata map[string]any `json:"metadata"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.Metadata[MetaStep] == nil {
		return FlagState{}, false, nil
	}
	var f managedFlag
	if err := json.Unmarshal(raw, &f); err != nil {
		return FlagState{}, false, fmt.Errorf("fleetramp: flag %q: %w", cut(key), err)
	}
	st := FlagState{FlagKey: key}
	bad := func(format string, args ...any) (FlagState, bool, error) {
		return FlagState{}, false, fmt.Errorf("fleetramp: flag %q: "+format, append([]any{cut(key)}, args...)...)
	}
	if len(f.Variants) > maxSteps {
		return bad("%d variants, over the limit of %d", len(f.Variants), maxSteps)
	}
	for i := range len(f.Variants) {
		v, ok := f.Variants[variantKey(i)]
		if !ok {
			return bad("variants: want step0 to step%d", len(f.Variants)-1)
		}
		s, err := v.static()
		if err != nil {
			return bad("variant %s: %w", variantKey(i), err)
		}
		st.Steps = append(st.Steps, rollout.Step{Rollout: s})
	}
	md := f.Metadata
	var err error
	if st.State.Step, err = metaInt(md, MetaStep, len(st.Steps)); err != nil {
		return bad("%w", err)
	}
	if f.DefaultVariant != variantKey(st.State.Step) {
		return bad("defaultVariant %q is not the recorded step %d", cut(f.DefaultVariant), st.State.Step)
	}
	if st.RollbackTo, err = metaInt(md, MetaRollbackTo, len(st.Steps)); err != nil {
		return bad("%w", err)
	}
	st.State.Paused, _ = md[MetaPaused].(bool)
	st.Experiment, _ = md[MetaExperiment].(string)
	st.StepName, _ = md[MetaStepName].(string)
	if s, ok := md[MetaStepStarted].(string); ok {
		if st.State.StepStarted, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return bad("%s: %w", MetaStepStarted, err)
		}
	}
	if r, ok := md[MetaLastReason].(string); ok && r != "" {
		tr := &rollout.Transition{Reason: rollout.TransitionReason(r), Paused: st.State.Paused}
		if s, ok := md[MetaLastAt].(string); ok {
			tr.At, _ = time.Parse(time.RFC3339Nano, s)
		}
		tr.From, _ = metaInt(md, MetaLastFrom, len(st.Steps))
		tr.To, _ = metaInt(md, MetaLastTo, len(st.Steps))
		if s, ok := md[MetaLastSignal].(string); ok {
			tr.Signal = rollout.Signal(s)
		}
		tr.Value, _ = md[MetaLastValue].(float64)
		tr.Threshold, _ = md[MetaLastThreshold].(float64)
		st.Last = tr
	}
	return st, true, nil
}

// metaInt reads an integer metadata entry in [0, n).
func metaInt(md map[string]any, key string, n int) (int, error) {
	f, ok := md[key].(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f >= float64(n) {
		return 0, fmt.Errorf("metadata %s %v: want a step index in [0, %d)", key, md[key], n)
	}
	return int(f), nil
}

// set records the state st of a managed flag, with the given steps.
func (d *flagDoc) set(st FlagState, steps []rollout.Step) error {
	f := managedFlag{
		State:          "ENABLED",
		DefaultVariant: variantKey(st.State.Step),
		Variants:       make(map[string]stepValue, len(steps)),
		Metadata: map[string]any{
			MetaStep:       st.State.Step,
			MetaStepName:   st.StepName,
			MetaPaused:     st.State.Paused,
			MetaRollbackTo: st.RollbackTo,
			MetaExperiment: st.Experiment,
		},
	}
	if !st.State.StepStarted.IsZero() {
		f.Metadata[MetaStepStarted] = st.State.StepStarted.UTC().Format(time.RFC3339Nano)
	}
	for i, s := range steps {
		f.Variants[variantKey(i)] = valueOf(s.Rollout)
	}
	if tr := st.Last; tr != nil {
		f.Metadata[MetaLastReason] = string(tr.Reason)
		f.Metadata[MetaLastAt] = tr.At.UTC().Format(time.RFC3339Nano)
		f.Metadata[MetaLastFrom] = tr.From
		f.Metadata[MetaLastTo] = tr.To
		if tr.Signal != "" {
			f.Metadata[MetaLastSignal] = string(tr.Signal)
			f.Metadata[MetaLastValue] = finite(tr.Value)
			f.Metadata[MetaLastThreshold] = finite(tr.Threshold)
		}
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("fleetramp: flag %q: %w", cut(st.FlagKey), err)
	}
	d.flags[st.FlagKey] = raw
	return nil
}

// finite keeps a number JSON can hold: ±Inf becomes ±MaxFloat64, NaN 0.
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// encode renders the document: $schema first, then the other top-level
// fields, then the flags, sorted by key, indented.
func (d *flagDoc) encode() ([]byte, error) {
	top := make(map[string]json.RawMessage, len(d.top)+2)
	for k, v := range d.top {
		top[k] = v
	}
	if _, ok := top["$schema"]; !ok {
		top["$schema"] = json.RawMessage(strconv.Quote(FlagSchema))
	}
	flags, err := json.Marshal(d.flags)
	if err != nil {
		return nil, err
	}
	top["flags"] = flags
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys) // "$schema" sorts first
	var b bytes.Buffer
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteString(":")
		b.Write(top[k])
	}
	b.WriteString("}")
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// fileWriter writes a file atomically. Its hooks are os functions; tests
// replace one to make a write fail at a given point.
type fileWriter struct {
	sync   func(*os.File) error
	rename func(oldpath, newpath string) error
}

var osWriter = fileWriter{sync: (*os.File).Sync, rename: os.Rename}

// writeAtomic replaces path with data: a temporary file in the same
// directory, written, fsynced, closed, then renamed over path, and the
// directory fsynced. On any failure the temporary file is removed and path
// is left as it was.
func (w fileWriter) writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("fleetramp: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("fleetramp: write %s (left as it was): %w", path, err)
		}
	}()
	if fi, statErr := os.Stat(path); statErr == nil {
		perm = fi.Mode().Perm()
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = w.sync(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = w.rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		_ = d.Close()
	}
	return nil
}

// stepNames labels steps as a ramp does.
func stepNames(steps []rollout.Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = stepLabel(s)
	}
	return out
}
