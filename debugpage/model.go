package debugpage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// SchemaVersion is the schema_version of the page's JSON form.
const SchemaVersion = 1

// pageData is the JSON form of the page (schema.json) and what the HTML
// templates render; fields tagged "-" are for the HTML only.
type pageData struct {
	SchemaVersion   int              `json:"schema_version"`
	Time            time.Time        `json:"time"`
	ReadOnly        bool             `json:"read_only"`
	ShadowsDisabled bool             `json:"shadows_disabled"`
	Experiments     []experimentData `json:"experiments"`

	Detail  bool   `json:"-"` // one experiment's page
	Nonce   string `json:"-"`
	Refresh int    `json:"-"` // seconds; 0: off
	Notice  string `json:"-"`
	Problem string `json:"-"`
}

type experimentData struct {
	Name             string           `json:"name"`
	Rollout          rolloutData      `json:"rollout"`
	Primary          string           `json:"primary"`
	Calls            int64            `json:"calls"`
	Compared         int64            `json:"compared"`
	CandidatePrimary int64            `json:"candidate_primary"`
	Outcomes         map[string]int64 `json:"outcomes"`
	MismatchKinds    map[string]int64 `json:"mismatch_kinds"`
	MismatchRate     float64          `json:"mismatch_rate"`
	Shed             int64            `json:"shed"`
	InFlight         int64            `json:"in_flight"`
	Paused           bool             `json:"paused"`
	ShutDown         bool             `json:"shut_down"`
	Latency          latencyPair      `json:"latency"`
	Fields           []fieldData      `json:"fields"`
	PathSets         []pathSetData    `json:"path_sets"`
	Classes          []classData      `json:"classes"`
	Calibration      *calibrationData `json:"calibration,omitempty"`
	Reports          reportCounts     `json:"reports"`
	Recent           []reportData     `json:"recent"`

	OutcomeList []outcomeCount `json:"-"`
	Chart       chart          `json:"-"`
	Controls    controls       `json:"-"`
	MoreFields  int            `json:"-"`
}

type rolloutData struct {
	// Policy is "default", "static", "live", "ramp" or "other".
	Policy                  string    `json:"policy"`
	Description             string    `json:"description"`
	ShadowPercent           *float64  `json:"shadow_percent,omitempty"`
	CandidatePrimaryPercent *float64  `json:"candidate_primary_percent,omitempty"`
	Ramp                    *rampData `json:"ramp,omitempty"`
}

type rampData struct {
	Step           int        `json:"step"`
	StepName       string     `json:"step_name"`
	Steps          int        `json:"steps"`
	Paused         bool       `json:"paused"`
	Closed         bool       `json:"closed"`
	Waiting        string     `json:"waiting,omitempty"`
	LastTransition string     `json:"last_transition,omitempty"`
	LastTime       *time.Time `json:"last_transition_time,omitempty"`
}

type latencyPair struct {
	Legacy    latencyData `json:"legacy"`
	Candidate latencyData `json:"candidate"`
}

type latencyData struct {
	Count       uint64  `json:"count"`
	Errors      int64   `json:"errors"`
	MeanSeconds float64 `json:"mean_seconds"`
	P50Seconds  float64 `json:"p50_seconds"`
	P90Seconds  float64 `json:"p90_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
	MaxSeconds  float64 `json:"max_seconds"`
}

type fieldData struct {
	Path  string `json:"path"`
	Count int64  `json:"count"`
}

// classData is one mismatch class of the experiment (Stats.Classes): all
// mismatches, not only those a Report was built for.
type classData struct {
	Kind      string   `json:"kind"`
	Paths     []string `json:"paths"`
	Count     int64    `json:"count"`
	Overcount int64    `json:"overcount"`
}

// calibrationData is what A/A calibration learned (Stats.Calibration).
type calibrationData struct {
	Fraction       float64  `json:"fraction"`
	Calls          int64    `json:"calls"`
	Samples        int64    `json:"samples"`
	IgnoredAsNoise int64    `json:"ignored_as_noise"`
	NoisyPaths     []string `json:"noisy_paths"`
}

type pathSetData struct {
	Outcome   string   `json:"outcome"`
	Kind      string   `json:"kind,omitempty"`
	Paths     []string `json:"paths"`
	Count     int64    `json:"count"`
	Overcount int64    `json:"overcount,omitempty"`
	SampleID  string   `json:"sample_id,omitempty"`
}

type reportCounts struct {
	Published  int64 `json:"published"`
	Dropped    int64 `json:"dropped"`
	Suppressed int64 `json:"suppressed"`
}

// reportData is a Report as the page shows it: its JSON form (the
// JSON-lines schema) in the JSON, and readable fields in the HTML.
type reportData struct {
	JSON json.RawMessage `json:"-"`

	ID, Time, Outcome, Kind, Primary string
	Paths                            []string
	Legacy, Candidate                sideData
	Callback, CallbackError          string
	Diff, Key                        string
	TraceID, SpanID                  string
}

type sideData struct {
	Duration, ErrorType, Error string
}

// MarshalJSON writes the Report's own JSON form.
func (r reportData) MarshalJSON() ([]byte, error) { return r.JSON, nil }

type outcomeCount struct {
	Name  string
	Count int64
}

// controls says which controls an experiment's page offers.
type controls struct {
	Live  bool
	Ramp  bool
	Pause bool
	// Shadow and CandidatePrimary prefill the Live form.
	Shadow, CandidatePrimary string
}

// experiment builds the page's data for one experiment.
func (p *Page) experiment(st dualrun.Stats, detail bool) experimentData {
	e := experimentData{
		Name:             st.Name,
		Calls:            st.Calls,
		Compared:         st.Compared,
		CandidatePrimary: st.CandidatePrimary,
		Outcomes:         make(map[string]int64, rollout.NumOutcomes),
		MismatchKinds: map[string]int64{
			dualrun.ValueMismatch.String(): st.ValueMismatches,
			dualrun.OneSideErred.String():  st.ErrorMismatches,
			dualrun.ErrorsDiffer.String():  st.ErrorsDiffer,
		},
		MismatchRate: st.MismatchRate(),
		Shed:         st.Count(dualrun.Shed),
		InFlight:     st.InFlight,
		Paused:       st.Config.Paused,
		ShutDown:     st.ShutDown,
		Latency:      latencyPair{latency(st.Legacy), latency(st.Candidate)},
		Reports:      reportCounts{st.ReportsPublished, st.ReportsDropped, st.ReportsSuppressed},
		Fields:       []fieldData{},
		PathSets:     []pathSetData{},
		Recent:       []reportData{},
	}
	for o := range rollout.NumOutcomes {
		name := dualrun.Outcome(o).String()
		e.Outcomes[name] = st.Outcomes[o]
		e.OutcomeList = append(e.OutcomeList, outcomeCount{name, st.Outcomes[o]})
	}
	e.Rollout, e.Controls = p.rolloutOf(st)
	e.Primary = primary(e.Rollout, st)
	e.Chart = newChart(st.Legacy, st.Candidate)

	fields := st.Fields
	if !detail && len(fields) > 5 {
		e.MoreFields = len(fields) - 5
		fields = fields[:5]
	}
	for _, f := range fields {
		e.Fields = append(e.Fields, fieldData{f.Path, f.Count})
	}
	e.Classes = []classData{}
	for _, c := range st.Classes {
		paths := c.Paths
		if paths == nil {
			paths = []string{}
		}
		e.Classes = append(e.Classes, classData{c.Kind.String(), paths, c.Count, c.Overcount})
	}
	if cal := st.Calibration; cal.Enabled {
		cd := &calibrationData{
			Fraction: cal.Fraction, Calls: cal.Calls, Samples: cal.Samples,
			IgnoredAsNoise: cal.IgnoredAsNoise, NoisyPaths: []string{},
		}
		for _, p := range cal.Paths {
			if p.Noisy {
				cd.NoisyPaths = append(cd.NoisyPaths, p.Path)
			}
		}
		e.Calibration = cd
	}

	n := p.cfg.recent
	if !detail {
		n = min(n, 3)
	}
	snap, ok := p.ring.Snapshot(st.Name)
	recent := snap.Recent
	if !ok && st.LastReport != nil {
		// Reports published before the ring was attached.
		recent = []*dualrun.Report{st.LastReport}
	}
	for i, r := range recent {
		if i == n {
			break
		}
		rd := p.report(r)
		if !detail && i > 0 {
			rd.Diff = "" // the overview shows the latest diff only
		}
		e.Recent = append(e.Recent, rd)
	}
	if detail {
		for _, s := range snap.PathSets {
			ps := pathSetData{Outcome: s.Outcome.String(), Kind: s.Kind.String(), Paths: s.Paths, Count: s.Count, Overcount: s.Overcount}
			if ps.Paths == nil {
				ps.Paths = []string{}
			}
			if s.Sample != nil {
				ps.SampleID = s.Sample.ID
			}
			e.PathSets = append(e.PathSets, ps)
		}
	}
	if p.cfg.authorize != nil {
		e.Controls.Pause = true
	}
	if p.cfg.authorize == nil {
		e.Controls = controls{}
	}
	return e
}

func latency(l dualrun.Latency) latencyData {
	return latencyData{
		Count: l.Count, Errors: l.Errors,
		MeanSeconds: l.Mean.Seconds(), P50Seconds: l.P50.Seconds(), P90Seconds: l.P90.Seconds(),
		P99Seconds: l.P99.Seconds(), MaxSeconds: l.Max.Seconds(),
	}
}

// Policies the page knows how to show and change. Interfaces rather than
// the concrete types, so that wrappers of a Live or a Ramp are shown too.
type (
	livePolicy interface {
		Load() rollout.Static
		Set(rollout.Static)
	}
	rampPolicy interface {
		State() rollout.RampState
		Pause() bool
		Resume() bool
		Advance() bool
		Rollback() bool
	}
)

// rolloutOf describes an experiment's rollout policy. The policy is user
// code: every method is called behind recover.
func (p *Page) rolloutOf(st dualrun.Stats) (rolloutData, controls) {
	pol := st.Config.Policy
	var c controls
	pct := func(s rollout.Static) (sh, cp *float64) {
		a, b := s.Shadow.Float(), s.CandidatePrimary.Float()
		return &a, &b
	}
	switch x := pol.(type) {
	case nil:
		all := rollout.Static{Shadow: rollout.All}
		d := rolloutData{Policy: "default", Description: "default: every call compared, legacy primary"}
		d.ShadowPercent, d.CandidatePrimaryPercent = pct(all)
		return d, c
	case rollout.Static:
		d := rolloutData{Policy: "static", Description: x.String()}
		d.ShadowPercent, d.CandidatePrimaryPercent = pct(x)
		return d, c
	case rampPolicy:
		d := rolloutData{Policy: "ramp", Description: describe(pol)}
		var s rollout.RampState
		if safe.Call("ramp State", func() { s = x.State() }, nil) == nil {
			d.ShadowPercent, d.CandidatePrimaryPercent = pct(s.Rollout)
			d.Ramp = &rampData{
				Step: s.Step, StepName: s.StepName, Steps: len(s.Steps), Paused: s.Paused,
				Closed: s.Closed, Waiting: s.Waiting,
			}
			if s.Last != nil {
				at := s.Last.At
				d.Ramp.LastTransition, d.Ramp.LastTime = s.Last.String(), &at
			}
			c.Ramp = true
		}
		return d, c
	case livePolicy:
		d := rolloutData{Policy: "live", Description: describe(pol)}
		var s rollout.Static
		if safe.Call("policy Load", func() { s = x.Load() }, nil) == nil {
			d.ShadowPercent, d.CandidatePrimaryPercent = pct(s)
			c.Live = true
			c.Shadow = trimFloat(s.Shadow.Float())
			c.CandidatePrimary = trimFloat(s.CandidatePrimary.Float())
		}
		return d, c
	}
	return rolloutData{Policy: "other", Description: describe(pol)}, c
}

// describe is the policy's String (behind recover), or its type.
func describe(pol rollout.Policy) string {
	if s, ok := pol.(fmt.Stringer); ok {
		return safe.Text(s, 512)
	}
	return fmt.Sprintf("%T", pol)
}

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", f), ".0") }

// primary says which side is authoritative: from the rollout's
// percentages when known, otherwise from the calls counted so far.
func primary(r rolloutData, st dualrun.Stats) string {
	if r.CandidatePrimaryPercent != nil {
		switch cp := *r.CandidatePrimaryPercent; {
		case cp <= 0:
			return "legacy"
		case cp >= 100:
			return "candidate"
		default:
			return fmt.Sprintf("candidate on %s%% of calls", trimFloat(cp))
		}
	}
	if st.Calls == 0 {
		return "unknown"
	}
	return fmt.Sprintf("candidate on %.1f%% of calls so far", 100*float64(st.CandidatePrimary)/float64(st.Calls))
}

// report is a Report as the page shows it, values and key only as
// configured.
func (p *Page) report(r *dualrun.Report) reportData {
	values := !p.cfg.noValues
	b, err := r.JSON(dualrun.JSONOptions{Values: values, Key: p.cfg.keys})
	if err != nil {
		b, _ = json.Marshal(map[string]string{"id": r.ID, "error": "unencodable report"})
	}
	d := reportData{
		JSON:      b,
		ID:        r.ID,
		Time:      r.Time.UTC().Format(time.RFC3339Nano),
		Outcome:   r.Outcome.String(),
		Kind:      r.Kind.String(),
		Primary:   r.Primary.String(),
		Paths:     r.Paths,
		Legacy:    side(r.LegacyDuration, r.LegacyErrorType, r.LegacyErr, values),
		Candidate: side(r.CandidateDuration, r.CandidateErrorType, r.CandidateErr, values),
	}
	if r.CallbackErr != nil {
		var ce *dualrun.CallbackError
		d.Callback = "unknown"
		_ = safe.Call("Unwrap", func() {
			if errors.As(r.CallbackErr, &ce) {
				d.Callback = ce.Callback
			}
		}, nil)
		if values {
			d.CallbackError = safe.ErrorText(r.CallbackErr, maxText)
		}
	}
	if values {
		d.Diff = strings.ReplaceAll(r.Diff, "\u00a0", " ")
	}
	if p.cfg.keys {
		d.Key = r.Key
	}
	if r.ShadowSpan.IsValid() {
		d.TraceID, d.SpanID = r.ShadowSpan.TraceID().String(), r.ShadowSpan.SpanID().String()
	}
	return d
}

// maxText bounds each error text shown.
const maxText = 1 << 10

func side(d time.Duration, typ string, err error, values bool) sideData {
	s := sideData{ErrorType: typ}
	if d > 0 {
		s.Duration = d.String()
	}
	if values && err != nil {
		s.Error = safe.ErrorText(err, maxText)
	}
	return s
}
