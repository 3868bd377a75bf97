package dualrun

import (
	"sort"
	"sync"
	"time"

	"github.com/dualrun/dualrun/rollout"
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
	// PolicyPanics counts rollout-policy panics (those calls ran legacy only).
	PolicyPanics int64
	// Fields are the differing paths, most frequent first.
	Fields []FieldCount
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
		PolicyPanics:      c.policyPanics.Load(),
		ValueMismatches:   c.kindCount(0, int(ValueMismatch)) + c.kindCount(1, int(ValueMismatch)),
		ErrorMismatches:   c.kindCount(0, int(ErrorMismatch)) + c.kindCount(1, int(ErrorMismatch)),
		ErrorsDiffer:      c.kindCount(0, int(ErrorsDiffer)) + c.kindCount(1, int(ErrorsDiffer)),
		Fields:            c.fields.top(),
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
	s.Legacy = c.latencyOf(Legacy)
	s.Candidate = c.latencyOf(Candidate)
	return s
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

// Name returns the experiment's name.
func (c *core) Name() string { return c.name }

// registry lists every live experiment, for AllStats and the debug page.
var registry struct {
	mu  sync.Mutex
	seq uint64
	all map[*core]struct{}
}

func register(c *core) {
	registry.mu.Lock()
	registry.seq++
	c.seq = registry.seq
	if registry.all == nil {
		registry.all = make(map[*core]struct{})
	}
	registry.all[c] = struct{}{}
	registry.mu.Unlock()
}

// AllStats returns the statistics of every experiment in the process made by
// New or Run, sorted by name. Experiments are never garbage-collected while
// registered: make them once, not per request.
func AllStats() []Stats {
	registry.mu.Lock()
	cs := make([]*core, 0, len(registry.all))
	for c := range registry.all {
		cs = append(cs, c)
	}
	registry.mu.Unlock()
	out := make([]Stats, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Stats())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StatsOf returns the statistics of the experiment with the given name (the
// first one registered under it), for experiments made by Run, which are not
// otherwise reachable.
func StatsOf(name string) (Stats, bool) {
	registry.mu.Lock()
	var found *core
	for c := range registry.all {
		if c.name == name && (found == nil || c.seq < found.seq) {
			found = c
		}
	}
	registry.mu.Unlock()
	if found == nil {
		return Stats{}, false
	}
	return found.Stats(), true
}
