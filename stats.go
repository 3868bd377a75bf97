package dualrun

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun/rollout"
	"go.opentelemetry.io/otel/metric"
)

// Stats is a snapshot of an experiment's in-process statistics: the same
// numbers the OpenTelemetry instruments carry, readable with no backend.
type Stats struct {
	Name string
	// Calls counts every call; Compared those on which a shadow ran.
	Calls    int64
	Compared int64
	// CandidatePrimary counts calls on which the candidate was authoritative.
	CandidatePrimary int64
	// Outcomes counts compared calls by outcome, indexed by Outcome (shed
	// calls included).
	Outcomes [rollout.NumOutcomes]int64
	// ValueMismatches, ErrorMismatches and ErrorsDiffer split Mismatch by
	// kind.
	ValueMismatches int64
	ErrorMismatches int64
	ErrorsDiffer    int64
	// Legacy and Candidate summarize each side's latency on compared calls.
	Legacy    Latency
	Candidate Latency
	// InFlight is the number of shadows running now.
	InFlight int64
	// PolicyFailures counts calls whose rollout policy panicked or returned
	// an invalid Side (those calls ran legacy only, uncompared).
	PolicyFailures int64
	// ObserverFailures counts compared calls whose policy observer panicked
	// or called runtime.Goexit (those calls are outcome error).
	ObserverFailures int64
	// Fields are the differing paths, most frequent first.
	Fields []FieldCount
	// Classes are the mismatch classes (kind and path set that differed
	// together), most frequent first, at most DefaultMaxClasses.
	Classes []MismatchClass
	// Calibration is what A/A calibration learned (WithCalibration).
	Calibration CalibrationStats
	// ReportsPublished, ReportsDropped and ReportsSuppressed count Reports
	// handed to publishers, lost to a full queue or a failed publish, and
	// not built because of the rate limit or deduplication.
	ReportsPublished  int64
	ReportsDropped    int64
	ReportsSuppressed int64
	// LastReport is the most recent Report built, or nil.
	LastReport *Report
	// ShutDown reports whether Shutdown was called.
	ShutDown bool
	// Config is the experiment's effective configuration.
	Config Config
}

// Config is an experiment's effective configuration, as Stats reports it
// (for the debug page and for checking what a Run's first options set).
type Config struct {
	// Policy is the rollout policy; nil means the default (every call
	// compared, legacy primary).
	Policy rollout.Policy
	// ShadowTimeout bounds each shadow (WithShadowTimeout).
	ShadowTimeout time.Duration
	// MaxInFlight is the experiment's own shadow limit (WithMaxInFlight);
	// ProcessMaxInFlight the process-wide cap (SetProcessMaxInFlight); and
	// EffectiveMaxInFlight the smaller of the two, which is what binds.
	MaxInFlight          int
	ProcessMaxInFlight   int
	EffectiveMaxInFlight int
	// CompareBudget bounds the time of one comparison (WithCompareBudget).
	CompareBudget time.Duration
	// Sequential reports WithSequentialShadow.
	Sequential bool
	// Paused reports PauseShadows; ShadowsDisabled the process-wide kill
	// switch (DisableShadows).
	Paused          bool
	ShadowsDisabled bool
	// Publishers names the experiment's own publishers (WithPublisher);
	// the process-wide ones (AddPublisher) come on top.
	Publishers []string
}

// Latency summarizes one side's durations on compared calls.
type Latency struct {
	Count         uint64
	Errors        int64
	Mean          time.Duration
	P50, P90, P99 time.Duration
	Max           time.Duration
}

// Count returns the number of compared calls with outcome o.
func (s Stats) Count(o Outcome) int64 {
	if int(o) >= len(s.Outcomes) {
		return 0
	}
	return s.Outcomes[o]
}

// MismatchRate is mismatch / (match + mismatch + ignored), or 0 before the
// first such outcome. Timeouts, panics, errors, aborted and shed calls say
// nothing about equality and are not in it.
func (s Stats) MismatchRate() float64 {
	den := s.Outcomes[Match] + s.Outcomes[Mismatch] + s.Outcomes[Ignored]
	if den == 0 {
		return 0
	}
	return float64(s.Outcomes[Mismatch]) / float64(den)
}

// Stats returns a snapshot of the experiment's statistics. It is safe to
// call at any time; the counters are read one by one, not atomically as a
// group.
func (c *core) Stats() Stats {
	s := Stats{
		Name:              c.name,
		InFlight:          c.inflight.Load(),
		PolicyFailures:    c.policyFailures.Load(),
		ObserverFailures:  c.observerFails.Load(),
		ValueMismatches:   c.kindCount(0, int(ValueMismatch)) + c.kindCount(1, int(ValueMismatch)),
		ErrorMismatches:   c.kindCount(0, int(OneSideErred)) + c.kindCount(1, int(OneSideErred)),
		ErrorsDiffer:      c.kindCount(0, int(ErrorsDiffer)) + c.kindCount(1, int(ErrorsDiffer)),
		Fields:            c.fields.top(),
		Classes:           c.classes.top(),
		Calibration:       c.noise.stats(),
		ReportsPublished:  c.reportsPublished.Load(),
		ReportsDropped:    c.reportsDropped.Load(),
		ReportsSuppressed: c.reportsSuppressed.Load(),
		LastReport:        c.lastReport.Load(),
		ShutDown:          c.closed.Load(),
	}
	for p := range 2 {
		for cmp := range 2 {
			n := c.callCount(p, cmp)
			s.Calls += n
			if cmp == 1 {
				s.Compared += n
			}
			if p == int(Candidate) {
				s.CandidatePrimary += n
			}
		}
	}
	for o := range s.Outcomes {
		s.Outcomes[o] = c.outcomeCount(0, o) + c.outcomeCount(1, o)
	}
	s.Config = c.config()
	s.Legacy = c.latencyOf(Legacy)
	s.Candidate = c.latencyOf(Candidate)
	return s
}

func (c *core) config() Config {
	proc := int(processLimit.Load())
	cfg := Config{
		Policy:               c.policy,
		ShadowTimeout:        c.cfg.shadowTimeout,
		MaxInFlight:          c.cfg.maxInFlight,
		ProcessMaxInFlight:   proc,
		EffectiveMaxInFlight: min(c.cfg.maxInFlight, proc),
		CompareBudget:        c.cfg.compareBudget,
		Sequential:           c.cfg.sequential,
		Paused:               c.off.Load()&offPaused != 0,
		ShadowsDisabled:      shadowsOff.Load(),
	}
	for _, o := range c.outboxes {
		cfg.Publishers = append(cfg.Publishers, o.name)
	}
	return cfg
}

func (c *core) latencyOf(side Side) Latency {
	h := c.latency[side].Snapshot()
	return Latency{
		Count:  h.Count,
		Errors: c.sideErrs[side].Load(),
		Mean:   h.Mean(),
		P50:    h.Quantile(0.50),
		P90:    h.Quantile(0.90),
		P99:    h.Quantile(0.99),
		Max:    h.Max,
	}
}

// fieldSet is the bounded set of differing paths of one experiment.
type fieldSet struct {
	tel *telemetry
	max int

	mu    sync.Mutex
	paths map[string]*fieldEntry
}

type fieldEntry struct {
	n   atomic.Int64
	opt []metric.AddOption
}

func (f *fieldSet) init(t *telemetry, maxFields int) {
	f.tel, f.max = t, maxFields
	f.paths = make(map[string]*fieldEntry)
}

func (f *fieldSet) add(ctx context.Context, path string) {
	f.mu.Lock()
	e, ok := f.paths[path]
	if !ok {
		if len(f.paths) >= f.max {
			path = otherField
			e = f.paths[path]
		}
		if e == nil {
			e = &fieldEntry{opt: []metric.AddOption{metric.WithAttributeSet(
				attributeSet(f.tel.expAttr, AttrField.String(path)))}}
			f.paths[path] = e
		}
	}
	f.mu.Unlock()
	e.n.Add(1)
	f.tel.fields.Add(ctx, 1, e.opt...)
}

// FieldCount is how often a folded path differed.
type FieldCount struct {
	Path  string
	Count int64
}

func (f *fieldSet) top() []FieldCount {
	f.mu.Lock()
	out := make([]FieldCount, 0, len(f.paths))
	for p, e := range f.paths {
		out = append(out, FieldCount{Path: p, Count: e.n.Load()})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Path < out[j].Path
	})
	return out
}
