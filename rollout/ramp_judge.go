package rollout

import (
	"fmt"
	"math"
)

// Threshold is one optional limit of a [Guard]. The zero Threshold is not
// set: its signal is not checked.
type Threshold struct {
	// Max is the highest healthy value of the signal.
	Max float64
	// Set reports whether the signal is checked at all.
	Set bool
}

// Limit returns a set [Threshold] of max.
func Limit(maxValue float64) Threshold { return Threshold{Max: maxValue, Set: true} }

// Guard judges a ramp's [WindowStats]: the health check shared by the
// in-process [Ramp] and by controllers that read the same signals from
// elsewhere (a fleet's metrics in Prometheus, say). It holds no clock and no
// state; the zero Guard checks nothing and judges every window healthy.
//
// A signal is judged only over at least MinSamples samples (comparisons for
// the mismatch rate, compared calls for the failure rate, durations of each
// side for the p99 ratio); a NaN value is not judged either. The guard
// breaks when a judged signal is above its threshold; it is healthy, and a
// ramp may advance, only while every set signal is judged and at most
// threshold*(1-Hysteresis). Between the two the ramp holds still.
type Guard struct {
	// MismatchRate limits [WindowStats.MismatchRate].
	MismatchRate Threshold
	// CandidateFailureRate limits [WindowStats.CandidateFailureRate].
	CandidateFailureRate Threshold
	// P99Ratio limits [WindowStats.P99Ratio].
	P99Ratio Threshold
	// MinSamples is the number of samples a signal needs to be judged;
	// below 1 counts as 1.
	MinSamples int64
	// Hysteresis is the band below each threshold, as a fraction of it,
	// in which the guard is neither broken nor healthy.
	Hysteresis float64
}

// Validate reports what is wrong with g, or nil: a rate threshold outside
// [0, 1], a ratio threshold that is not finite and positive, a hysteresis
// outside [0, 1), or NaN anywhere.
func (g Guard) Validate() error {
	for _, t := range []struct {
		name string
		th   Threshold
	}{{"mismatch rate", g.MismatchRate}, {"candidate failure rate", g.CandidateFailureRate}} {
		if t.th.Set && (math.IsNaN(t.th.Max) || t.th.Max < 0 || t.th.Max > 1) {
			return fmt.Errorf("rollout: guard: %s threshold %v: want a fraction in [0, 1]", t.name, t.th.Max)
		}
	}
	if r := g.P99Ratio; r.Set && (math.IsNaN(r.Max) || math.IsInf(r.Max, 0) || r.Max <= 0) {
		return fmt.Errorf("rollout: guard: p99 ratio threshold %v: want a finite ratio > 0", r.Max)
	}
	if h := g.Hysteresis; math.IsNaN(h) || h < 0 || h >= 1 {
		return fmt.Errorf("rollout: guard: hysteresis %v: want a fraction in [0, 1)", h)
	}
	return nil
}

// Verdict is a [Guard]'s judgement of one window.
type Verdict struct {
	// Broken reports that a signal is above its threshold over enough
	// samples; Signal, Value and Threshold say which, its value and the
	// threshold (the first such signal in the order mismatch rate,
	// candidate failure rate, p99 ratio).
	Broken    bool
	Signal    Signal
	Value     float64
	Threshold float64
	// Healthy reports that every set signal is judged and at most
	// threshold*(1-Hysteresis). It is false when Broken.
	Healthy bool
	// Why says why the window is not healthy, or is empty.
	Why string
}

// String describes the verdict: "healthy", the broken signal, or why the
// window is not healthy.
func (v Verdict) String() string {
	switch {
	case v.Broken:
		return fmt.Sprintf("guard broken: %s %s > %s", v.Signal, v.Signal.format(v.Value), v.Signal.format(v.Threshold))
	case v.Healthy:
		return "healthy"
	}
	return v.Why
}

// reading is one guard signal over a window.
type reading struct {
	signal  Signal
	value   float64
	samples int64
	limit   Threshold
}

func (g *Guard) readings(ws *WindowStats) [3]reading {
	return [3]reading{
		{SignalMismatchRate, ws.MismatchRate, ws.MismatchSamples, g.MismatchRate},
		{SignalCandidateFailureRate, ws.CandidateFailureRate, ws.FailureSamples, g.CandidateFailureRate},
		{SignalP99Ratio, ws.P99Ratio, min(ws.LegacySamples, ws.CandidateSamples), g.P99Ratio},
	}
}

// Judge judges ws. It cannot panic, and NaN values are never judged.
func (g Guard) Judge(ws WindowStats) Verdict {
	minSamples := max(g.MinSamples, 1)
	rs := g.readings(&ws)
	for _, r := range rs {
		if r.limit.Set && r.samples >= minSamples && r.value > r.limit.Max {
			return Verdict{Broken: true, Signal: r.signal, Value: r.value, Threshold: r.limit.Max}
		}
	}
	for _, r := range rs {
		if !r.limit.Set {
			continue
		}
		if r.samples < minSamples {
			return Verdict{Why: fmt.Sprintf("%s: %d of %d samples in the window", r.signal, r.samples, minSamples)}
		}
		if math.IsNaN(r.value) {
			return Verdict{Why: fmt.Sprintf("%s: no value over %d samples", r.signal, r.samples)}
		}
		if ok := r.limit.Max * (1 - g.Hysteresis); r.value > ok {
			return Verdict{Why: fmt.Sprintf("%s %s is above %s (threshold %s less %g%% hysteresis)",
				r.signal, r.signal.format(r.value), r.signal.format(ok), r.signal.format(r.limit.Max), g.Hysteresis*100)}
		}
	}
	return Verdict{Healthy: true}
}
