package fleetramp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

// Limits of a configuration: a config file is outside input.
const (
	maxConfigBytes  = 1 << 20
	maxExperiments  = 256
	maxSteps        = 64
	maxNameBytes    = 256
	minInterval     = 100 * time.Millisecond
	minWindow       = time.Second
	maxDurationConf = 7 * 24 * time.Hour
)

// Config is the controller's configuration: the experiments it ramps. It is
// read from JSON with [ParseConfig].
type Config struct {
	Experiments []Experiment `json:"experiments"`
}

// Experiment configures the ramp of one experiment, with the same steps and
// guard as the in-process [rollout.Ramp]. Zero fields take the in-process
// ramp's defaults ([rollout.DefaultRampInterval] and the like).
type Experiment struct {
	// Name is the experiment's name, the dualrun_experiment label of its
	// metrics.
	Name string `json:"name"`
	// FlagKey is the key of its flag in the flag file; empty means Name.
	FlagKey string `json:"flag_key,omitempty"`
	// Steps are the ramp's steps; empty means [rollout.DefaultSteps].
	Steps []StepConfig `json:"steps,omitempty"`
	// Guard holds the thresholds; an absent one is not checked.
	Guard GuardConfig `json:"guard"`
	// Interval is the time between evaluations.
	Interval Duration `json:"interval,omitempty"`
	// Window is the range the guard's signals are computed over; it never
	// reaches back before the current step began.
	Window Duration `json:"window,omitempty"`
	// Hold is the minimum time in a step before it advances.
	Hold *Duration `json:"hold,omitempty"`
	// MinComparisons is the minimum number of comparisons, fleet-wide, in
	// a step before it advances.
	MinComparisons *int64 `json:"min_comparisons,omitempty"`
	// MinSamples is the number of samples a signal needs in the window to
	// be judged at all.
	MinSamples int64 `json:"min_samples,omitempty"`
	// Hysteresis is the band below each threshold, as a fraction of it,
	// in which the ramp neither advances nor rolls back.
	Hysteresis *float64 `json:"hysteresis,omitempty"`
	// RollbackTo is the step the guard rolls back to; absent means the
	// last step with legacy primary on every call.
	RollbackTo *int `json:"rollback_to,omitempty"`
}

// StepConfig is one step: percentages in [0, 100].
type StepConfig struct {
	Name                    string  `json:"name,omitempty"`
	ShadowPercent           float64 `json:"shadow_percent"`
	CandidatePrimaryPercent float64 `json:"candidate_primary_percent"`
}

// GuardConfig holds the guard's thresholds, as in [rollout.WithMaxMismatchRate],
// [rollout.WithMaxCandidateFailureRate] and [rollout.WithMaxP99Ratio]. Rates
// are fractions (0.01 is 1%).
type GuardConfig struct {
	MaxMismatchRate         *float64 `json:"max_mismatch_rate,omitempty"`
	MaxCandidateFailureRate *float64 `json:"max_candidate_failure_rate,omitempty"`
	MaxP99Ratio             *float64 `json:"max_p99_ratio,omitempty"`
}

// Duration is a time.Duration read from and written as a Go duration
// string such as "30s".
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// plan is one experiment, checked and compiled.
type plan struct {
	name, flagKey string
	stepNames     []string
	machine       rollout.StepMachine
	interval      time.Duration
	window        time.Duration
}

// ParseConfig reads and checks a JSON configuration. Unknown fields,
// trailing data, duplicate names or flag keys, percentages outside
// [0, 100], bad thresholds and steps without a rollback step are errors.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigBytes {
		return c, fmt.Errorf("fleetramp: config: %d bytes, over the limit of %d", len(data), maxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("fleetramp: config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("fleetramp: config: trailing data after the JSON object")
	}
	if _, err := c.compile(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks c as [ParseConfig] does.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c Config) compile() ([]plan, error) {
	if len(c.Experiments) == 0 {
		return nil, errors.New("fleetramp: config: no experiments")
	}
	if len(c.Experiments) > maxExperiments {
		return nil, fmt.Errorf("fleetramp: config: %d experiments, over the limit of %d", len(c.Experiments), maxExperiments)
	}
	names, keys := map[string]bool{}, map[string]bool{}
	plans := make([]plan, 0, len(c.Experiments))
	for i, e := range c.Experiments {
		p, err := e.compile()
		if err != nil {
			return nil, fmt.Errorf("fleetramp: config: experiment %d (%s): %w", i, strconv.Quote(cut(e.Name)), err)
		}
		if names[p.name] || keys[p.flagKey] {
			return nil, fmt.Errorf("fleetramp: config: experiment %d: name %q or flag key %q used twice", i, cut(p.name), cut(p.flagKey))
		}
		names[p.name], keys[p.flagKey] = true, true
		plans = append(plans, p)
	}
	return plans, nil
}

func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (e Experiment) compile() (plan, error) {
	p := plan{name: e.Name, flagKey: e.FlagKey}
	if p.flagKey == "" {
		p.flagKey = p.name
	}
	if p.name == "" || len(p.name) > maxNameBytes || len(p.flagKey) > maxNameBytes {
		return p, fmt.Errorf("name and flag key: want 1 to %d bytes", maxNameBytes)
	}
	steps, err := e.steps()
	if err != nil {
		return p, err
	}
	for _, s := range steps {
		p.stepNames = append(p.stepNames, stepLabel(s))
	}
	p.interval, err = durationOr("interval", e.Interval, rollout.DefaultRampInterval, minInterval)
	if err != nil {
		return p, err
	}
	p.window, err = durationOr("window", e.Window, rollout.DefaultRampWindow, minWindow)
	if err != nil {
		return p, err
	}
	m := rollout.StepMachine{
		Steps:          steps,
		Hold:           rollout.DefaultRampHold,
		MinComparisons: rollout.DefaultRampMinComparisons,
		Guard: rollout.Guard{
			MinSamples: rollout.DefaultRampMinSamples,
			Hysteresis: rollout.DefaultRampHysteresis,
		},
	}
	if e.Hold != nil {
		if m.Hold = time.Duration(*e.Hold); m.Hold < 0 || m.Hold > maxDurationConf {
			return p, fmt.Errorf("hold %v: want 0 to %v", m.Hold, maxDurationConf)
		}
	}
	if e.MinComparisons != nil {
		m.MinComparisons = *e.MinComparisons
	}
	if e.MinSamples != 0 {
		if m.Guard.MinSamples = e.MinSamples; m.Guard.MinSamples < 1 {
			return p, fmt.Errorf("min_samples %d: want n >= 1", e.MinSamples)
		}
	}
	if e.Hysteresis != nil {
		m.Guard.Hysteresis = *e.Hysteresis
	}
	for _, t := range []struct {
		v  *float64
		th *rollout.Threshold
	}{
		{e.Guard.MaxMismatchRate, &m.Guard.MismatchRate},
		{e.Guard.MaxCandidateFailureRate, &m.Guard.CandidateFailureRate},
		{e.Guard.MaxP99Ratio, &m.Guard.P99Ratio},
	} {
		if t.v != nil {
			*t.th = rollout.Limit(*t.v)
		}
	}
	if e.RollbackTo != nil {
		m.RollbackTo = *e.RollbackTo
	} else {
		var ok bool
		if m.RollbackTo, ok = rollout.DefaultRollbackStep(steps); !ok {
			return p, errors.New("no step with legacy primary on every call to roll back to; add one or set rollback_to")
		}
	}
	if err := m.Validate(); err != nil {
		return p, err
	}
	p.machine = m
	return p, nil
}

func (e Experiment) steps() ([]rollout.Step, error) {
	if len(e.Steps) == 0 {
		return rollout.DefaultSteps(), nil
	}
	if len(e.Steps) > maxSteps {
		return nil, fmt.Errorf("%d steps, over the limit of %d", len(e.Steps), maxSteps)
	}
	steps := make([]rollout.Step, len(e.Steps))
	for i, s := range e.Steps {
		for _, p := range []float64{s.ShadowPercent, s.CandidatePrimaryPercent} {
			if math.IsNaN(p) || p < 0 || p > 100 {
				return nil, fmt.Errorf("step %d: percentage %v: want 0 to 100", i, p)
			}
		}
		if len(s.Name) > maxNameBytes {
			return nil, fmt.Errorf("step %d: name over %d bytes", i, maxNameBytes)
		}
		steps[i] = rollout.Step{Name: s.Name, Rollout: rollout.Static{
			Shadow:           rollout.Percent(s.ShadowPercent),
			CandidatePrimary: rollout.Percent(s.CandidatePrimaryPercent),
		}}
	}
	return steps, nil
}

func stepLabel(s rollout.Step) string {
	if s.Name != "" {
		return s.Name
	}
	return s.Rollout.String()
}

func durationOr(what string, d Duration, def, least time.Duration) (time.Duration, error) {
	if d == 0 {
		return def, nil
	}
	if v := time.Duration(d); v < least || v > maxDurationConf {
		return 0, fmt.Errorf("%s %v: want %v to %v", what, v, least, maxDurationConf)
	}
	return time.Duration(d), nil
}
