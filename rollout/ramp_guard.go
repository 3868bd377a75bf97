package rollout

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// Signal names a guard signal of a [Ramp]: the value of the signal attribute
// of dualrun.ramp.transitions and of [Transition.Signal].
type Signal string

// The guard's signals.
const (
	// SignalMismatchRate is mismatch / (match + mismatch + ignored).
	SignalMismatchRate Signal = "mismatch_rate"
	// SignalCandidateFailureRate is the share of compared calls in which the
	// candidate erred, panicked or timed out (see
	// [WithMaxCandidateFailureRate]).
	SignalCandidateFailureRate Signal = "candidate_failure_rate"
	// SignalP99Ratio is the candidate's p99 latency over the legacy side's.
	SignalP99Ratio Signal = "candidate_p99_ratio"
)

// format renders a signal's value: rates as percentages, the ratio as a
// factor.
func (s Signal) format(v float64) string {
	if s == SignalP99Ratio {
		return strconv.FormatFloat(v, 'g', 4, 64) + "x"
	}
	return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
}

// WindowStats are a ramp's guard signals over its sliding window, as of its
// last evaluation.
type WindowStats struct {
	// Span is how much time the window covers (at most the configured
	// window, and never more than the current step).
	Span time.Duration
	// Comparisons is the number of compared calls observed (aborted calls
	// left out).
	Comparisons int64
	// MismatchRate is mismatch / (match + mismatch + ignored), over
	// MismatchSamples comparisons.
	MismatchRate    float64
	MismatchSamples int64
	// CandidateFailureRate is the share of FailureSamples comparisons in
	// which the candidate failed.
	CandidateFailureRate float64
	FailureSamples       int64
	// LegacyP99 and CandidateP99 are each side's p99 latency over
	// LegacySamples and CandidateSamples durations, and P99Ratio is
	// CandidateP99 / LegacyP99. They are zero unless [WithMaxP99Ratio] is
	// set.
	LegacyP99, CandidateP99         time.Duration
	LegacySamples, CandidateSamples int64
	P99Ratio                        float64
}

// rampCounters are cumulative observation counts, written lock-free by
// Observe on dualrun's background goroutines.
type rampCounters struct {
	observed   atomic.Int64 // compared calls, aborted ones left out
	rated      atomic.Int64 // match + mismatch + ignored
	mismatches atomic.Int64
	failures   atomic.Int64 // candidate failures
}

// snapshot is a copy of the cumulative counts, taken at an evaluation.
type snapshot struct {
	at                                    time.Time
	observed, rated, mismatches, failures int64
	lat                                   *[2]latCounts // nil without a p99 guard
}

// take fills s from the live counters, reusing s.lat's storage.
func (s *snapshot) take(at time.Time, c *rampCounters, lat *[2]latencyHist) {
	s.at = at
	s.observed, s.rated = c.observed.Load(), c.rated.Load()
	s.mismatches, s.failures = c.mismatches.Load(), c.failures.Load()
	if lat != nil {
		if s.lat == nil {
			s.lat = new([2]latCounts)
		}
		lat[Legacy].copyTo(&s.lat[Legacy])
		lat[Candidate].copyTo(&s.lat[Candidate])
	}
}

// window is a ring of snapshots, one per evaluation, reaching back one
// window: the signals over the window are the newest snapshot minus the
// oldest. It is reset to one snapshot (the baseline) whenever the step
// changes, so evidence never carries over from one step to the next.
type window struct {
	ring  []snapshot
	start int // index of the oldest
	n     int
}

func newWindow(size int) window { return window{ring: make([]snapshot, size)} }

// reset makes a snapshot taken now the only one: the baseline.
func (w *window) reset(at time.Time, c *rampCounters, lat *[2]latencyHist) {
	w.start, w.n = 0, 1
	w.ring[0].take(at, c, lat)
}

// push adds a snapshot taken now, dropping the oldest when the ring is full.
func (w *window) push(at time.Time, c *rampCounters, lat *[2]latencyHist) {
	if w.n == len(w.ring) {
		w.start = (w.start + 1) % len(w.ring)
		w.n--
	}
	w.ring[(w.start+w.n)%len(w.ring)].take(at, c, lat)
	w.n++
}

func (w *window) oldest() *snapshot { return &w.ring[w.start] }
func (w *window) newest() *snapshot { return &w.ring[(w.start+w.n-1)%len(w.ring)] }

// stats computes the signals between the oldest and the newest snapshot.
func (w *window) stats(withP99 bool) WindowStats {
	old, now := w.oldest(), w.newest()
	ws := WindowStats{
		Span:            now.at.Sub(old.at),
		Comparisons:     now.observed - old.observed,
		MismatchSamples: now.rated - old.rated,
		FailureSamples:  now.observed - old.observed,
	}
	ws.MismatchRate = ratio(now.mismatches-old.mismatches, ws.MismatchSamples)
	ws.CandidateFailureRate = ratio(now.failures-old.failures, ws.FailureSamples)
	if withP99 && now.lat != nil && old.lat != nil {
		ws.LegacyP99, ws.LegacySamples = quantile(&now.lat[Legacy], &old.lat[Legacy], 0.99)
		ws.CandidateP99, ws.CandidateSamples = quantile(&now.lat[Candidate], &old.lat[Candidate], 0.99)
		switch {
		case ws.LegacyP99 > 0:
			ws.P99Ratio = float64(ws.CandidateP99) / float64(ws.LegacyP99)
		case ws.CandidateP99 > 0:
			ws.P99Ratio = math.Inf(1)
		case ws.CandidateSamples > 0:
			ws.P99Ratio = 1
		}
	}
	return ws
}

func ratio(n, d int64) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}
