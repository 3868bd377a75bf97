package rollout

import (
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// RampOption configures a [Ramp].
type RampOption interface {
	applyRamp(rampConfig) rampConfig
}

type rampOptionFunc func(rampConfig) rampConfig

func (f rampOptionFunc) applyRamp(c rampConfig) rampConfig { return f(c) }

type rampConfig struct {
	interval       time.Duration
	window         time.Duration
	hold           time.Duration
	minComparisons int64
	rollbackTo     int // -1: the default
	start          int
	guard          Guard // thresholds, minimum samples, hysteresis

	meterProvider metric.MeterProvider
	traceProvider trace.TracerProvider
}

// Defaults of a Ramp, documented on [NewRamp].
const (
	DefaultRampInterval       = 10 * time.Second
	DefaultRampWindow         = time.Minute
	DefaultRampHold           = 5 * time.Minute
	DefaultRampMinComparisons = 1000
	DefaultRampMinSamples     = 100
	DefaultRampHysteresis     = 0.1
)

func newRampConfig(opts []RampOption) rampConfig {
	c := rampConfig{
		interval:       DefaultRampInterval,
		window:         DefaultRampWindow,
		hold:           DefaultRampHold,
		minComparisons: DefaultRampMinComparisons,
		rollbackTo:     -1,
		guard:          Guard{MinSamples: DefaultRampMinSamples, Hysteresis: DefaultRampHysteresis},
	}
	for _, o := range opts {
		if o != nil {
			c = o.applyRamp(c)
		}
	}
	return c
}

func positive(what string, d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("rollout: %s(%v): want a positive duration", what, d))
	}
}

// WithInterval sets how often the ramp evaluates its guard and decides
// whether to advance or roll back (default [DefaultRampInterval]). A guard
// that breaks is acted on at the next evaluation, so this bounds the time to
// roll back.
func WithInterval(d time.Duration) RampOption {
	positive("WithInterval", d)
	return rampOptionFunc(func(c rampConfig) rampConfig { c.interval = d; return c })
}

// WithWindow sets the sliding window the guard's signals are computed over
// (default [DefaultRampWindow]). It is rounded up to a whole number of
// intervals, and never reaches back before the current step began.
func WithWindow(d time.Duration) RampOption {
	positive("WithWindow", d)
	return rampOptionFunc(func(c rampConfig) rampConfig { c.window = d; return c })
}

// WithHold sets the minimum time spent in a step before the ramp advances
// (default [DefaultRampHold]). Zero advances as soon as the other conditions
// hold.
func WithHold(d time.Duration) RampOption {
	if d < 0 {
		panic(fmt.Sprintf("rollout: WithHold(%v): want a duration >= 0", d))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.hold = d; return c })
}

// WithMinComparisons sets the minimum number of comparisons observed in a
// step before the ramp advances (default [DefaultRampMinComparisons]). Both
// this and the hold time must be reached.
func WithMinComparisons(n int) RampOption {
	if n < 0 {
		panic(fmt.Sprintf("rollout: WithMinComparisons(%d): want n >= 0", n))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.minComparisons = int64(n); return c })
}

// WithMinSamples sets how many samples a guard signal needs in the window
// before it is judged at all, either way (default [DefaultRampMinSamples]):
// comparisons for the mismatch rate, candidate runs for the failure rate,
// durations of each side for the p99 ratio. Below it a signal neither breaks
// the guard nor lets the ramp advance.
func WithMinSamples(n int) RampOption {
	if n < 1 {
		panic(fmt.Sprintf("rollout: WithMinSamples(%d): want n >= 1", n))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.guard.MinSamples = int64(n); return c })
}

// WithHysteresis sets the band below each threshold in which the ramp
// neither rolls back nor advances, as a fraction of the threshold (default
// [DefaultRampHysteresis], 0.1): the guard breaks when a signal is above its
// threshold, and the ramp advances only while every signal is at most
// threshold*(1-h). A signal that sits at its threshold therefore holds the
// ramp where it is instead of making it oscillate.
func WithHysteresis(h float64) RampOption {
	if math.IsNaN(h) || h < 0 || h >= 1 {
		panic(fmt.Sprintf("rollout: WithHysteresis(%v): want a fraction in [0, 1)", h))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.guard.Hysteresis = h; return c })
}

// WithRollbackTo sets the step the ramp rolls back to when its guard breaks.
// The default is the last step on which legacy is primary for every call
// (CandidatePrimary 0), typically "shadow 100%": legacy primary with the
// candidate shadowed.
func WithRollbackTo(step int) RampOption {
	if step < 0 {
		panic(fmt.Sprintf("rollout: WithRollbackTo(%d): want a step index >= 0", step))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.rollbackTo = step; return c })
}

// WithStartStep makes the ramp start at the given step instead of the first,
// for instance after a deploy that should not start the ramp over.
func WithStartStep(step int) RampOption {
	if step < 0 {
		panic(fmt.Sprintf("rollout: WithStartStep(%d): want a step index >= 0", step))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.start = step; return c })
}

func rate(what string, r float64) Threshold {
	if math.IsNaN(r) || r < 0 || r > 1 {
		panic(fmt.Sprintf("rollout: %s(%v): want a fraction in [0, 1]", what, r))
	}
	return Limit(r)
}

// WithMaxMismatchRate guards the ramp with the mismatch rate over the
// window, mismatch / (match + mismatch + ignored), as a fraction: 0.01 is 1%.
// Zero tolerates no mismatch at all. Not set: not checked.
func WithMaxMismatchRate(r float64) RampOption {
	t := rate("WithMaxMismatchRate", r)
	return rampOptionFunc(func(c rampConfig) rampConfig { c.guard.MismatchRate = t; return c })
}

// WithMaxCandidateFailureRate guards the ramp with the share of compared
// calls in which the candidate returned an error, panicked or timed out, as
// a fraction. An error the legacy side returned too (outcome match or
// ignored) is behaviour, not failure, and is not counted. Calls aborted by
// the primary say nothing about the candidate and are left out. Not set:
// not checked.
func WithMaxCandidateFailureRate(r float64) RampOption {
	t := rate("WithMaxCandidateFailureRate", r)
	return rampOptionFunc(func(c rampConfig) rampConfig { c.guard.CandidateFailureRate = t; return c })
}

// WithMaxP99Ratio guards the ramp with the candidate's p99 latency divided by
// the legacy side's, over the window: 1.5 allows the candidate to be half
// again as slow at the 99th percentile. Durations are read from a histogram
// with a relative error of at most 1/16. Not set: not checked (and no
// latency histogram is kept).
func WithMaxP99Ratio(ratio float64) RampOption {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) || ratio <= 0 {
		panic(fmt.Sprintf("rollout: WithMaxP99Ratio(%v): want a finite ratio > 0", ratio))
	}
	return rampOptionFunc(func(c rampConfig) rampConfig { c.guard.P99Ratio = Limit(ratio); return c })
}

// WithMeterProvider sets the meter provider of the ramp's metrics (default:
// the global one). A nil provider is ignored.
func WithMeterProvider(mp metric.MeterProvider) RampOption {
	return rampOptionFunc(func(c rampConfig) rampConfig {
		if mp != nil {
			c.meterProvider = mp
		}
		return c
	})
}

// WithTracerProvider sets the tracer provider of the ramp's transition spans
// (default: the global one). A nil provider is ignored.
func WithTracerProvider(tp trace.TracerProvider) RampOption {
	return rampOptionFunc(func(c rampConfig) rampConfig {
		if tp != nil {
			c.traceProvider = tp
		}
		return c
	})
}
