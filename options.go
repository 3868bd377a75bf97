package dualrun

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun/rollout"
)

// Defaults, each overridable by an option. They are stated in the README.
const (
	// DefaultShadowTimeout bounds how long a shadow may run (WithShadowTimeout).
	DefaultShadowTimeout = time.Second
	// DefaultMaxInFlight is the per-experiment shadow limit (WithMaxInFlight).
	DefaultMaxInFlight = 64
	// DefaultProcessMaxInFlight is the process-wide shadow cap
	// (SetProcessMaxInFlight).
	DefaultProcessMaxInFlight = 1024
	// DefaultReportQueue is the per-publisher report queue (WithReportQueue).
	DefaultReportQueue = 1024
	// DefaultReportRate and DefaultReportBurst rate-limit reports per
	// experiment (WithReportRate).
	DefaultReportRate  = 10.0
	DefaultReportBurst = 50
	// DefaultReportDedup is the window in which reports with the same
	// signature (outcome, kind, error types, paths) are published once
	// (WithReportDedup).
	DefaultReportDedup = time.Minute
	// DefaultDiffLimit caps the size of a Report's diff (WithDiffLimit).
	DefaultDiffLimit = 4 << 10
	// DefaultMaxFields caps the distinct differing paths tracked per
	// experiment (WithMaxFields); beyond it paths fold into "_OTHER".
	DefaultMaxFields = 64
	// DefaultMaxErrorTypes caps the distinct error.type values per
	// experiment; beyond it they fold into "_OTHER".
	DefaultMaxErrorTypes = 32
)

// config is the resolved configuration of one experiment. Options copy it by
// value, so applying one allocates nothing.
type config struct {
	name          string
	meterProvider metric.MeterProvider
	traceProvider trace.TracerProvider
	policy        rollout.Policy
	shadowTimeout time.Duration
	maxInFlight   int
	cmpOpts       []cmp.Option
	comparer      any   // func(legacy, candidate T) bool
	normalizers   []any // func(T) T
	ignores       []any // func(legacy, candidate Result[T]) bool
	clone         any   // func(T) T
	errEqual      func(legacy, candidate error) bool
	shadowContext func(context.Context) context.Context
	publishers    []Publisher
	reportKeys    bool
	reportDedup   time.Duration
	reportRate    float64
	reportBurst   int
	reportQueue   int
	diffLimit     int
	maxFields     int

	sequential bool

	// Calibration and frozen noise (options in calibration.go).
	calibration        float64
	noiseRel, noiseAbs float64
	ignorePaths        []string

	// Keyed batch comparison (options in keyed.go).
	keyed keyedConfig

	// Comparison (options in compare.go).
	compareBudget time.Duration
	differ        any // func(legacy, candidate T) Difference

	// Telemetry (options in telemetry.go).
	errorClassifier  func(error) string
	linkedSpans      bool
	metricAttributes func(context.Context) []attribute.KeyValue
}

func newConfig(opts []Option) config {
	c := config{
		shadowTimeout: DefaultShadowTimeout,
		maxInFlight:   DefaultMaxInFlight,
		reportDedup:   DefaultReportDedup,
		reportRate:    DefaultReportRate,
		reportBurst:   DefaultReportBurst,
		reportQueue:   DefaultReportQueue,
		diffLimit:     DefaultDiffLimit,
		maxFields:     DefaultMaxFields,
		compareBudget: DefaultCompareBudget,
		noiseRel:      DefaultNoiseRelative,
		noiseAbs:      DefaultNoiseAbsolute,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures an experiment. Options are passed to [New] or [Run]; for
// [Run] only the options of the first call with a given name take effect.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithName names the experiment. The name is the dualrun.experiment attribute
// on every metric and span, so keep it stable and low-cardinality, such as
// "checkout.price". [Run] requires it; with [New] the name argument wins.
func WithName(name string) Option {
	return nameOption(name)
}

type nameOption string

func (o nameOption) apply(c config) config {
	c.name = string(o)
	return c
}

// WithMeterProvider sets the MeterProvider for the experiment's metrics. A
// nil provider is ignored. The default is the global provider at New time
// (otel.GetMeterProvider), which follows a provider installed later.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if mp != nil {
			c.meterProvider = mp
		}
		return c
	})
}

// WithTracerProvider sets the TracerProvider for shadow spans. A nil provider
// is ignored. The default is the global provider (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		if tp != nil {
			c.traceProvider = tp
		}
		return c
	})
}

// WithRollout sets the policy that decides, per call, the primary side and
// whether to shadow. A nil policy is ignored. Without it every call is
// compared with legacy as primary, which doubles the work of the call site.
func WithRollout(p rollout.Policy) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.policy = p
		}
		return c
	})
}

// WithShadowTimeout bounds how long the shadow may run: its context's
// deadline is the earlier of the caller's deadline and start + d, and at that
// deadline the call is recorded as a timeout. It panics if d <= 0.
func WithShadowTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("dualrun: WithShadowTimeout(%v): want a positive duration", d))
	}
	return optionFunc(func(c config) config {
		c.shadowTimeout = d
		return c
	})
}

// WithMaxInFlight limits how many shadows of this experiment may run at
// once. When all slots are taken a call runs its primary only and is counted
// as shed. The process-wide cap ([SetProcessMaxInFlight], default 1,024)
// applies as well: a limit above it is capped by it, and Stats shows the
// effective limit. It panics if n < 1.
func WithMaxInFlight(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrun: WithMaxInFlight(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.maxInFlight = n
		return c
	})
}

// WithClone makes the caller get clone(v) instead of the primary's v, while
// the comparison reads the original. Use it for types the caller mutates.
// It runs on the caller's goroutine, only on compared calls. If clone
// panics, the caller gets the original value and the call is recorded as
// outcome error.
func WithClone[T any](clone func(T) T) Option {
	return optionFunc(func(c config) config {
		if clone != nil {
			c.clone = clone
		}
		return c
	})
}

// WithSequentialShadow makes the shadow start only after the primary has
// returned, instead of concurrently with it. The shadow's context then
// carries the primary's result ([PrimaryResult]): dual writes need the ids
// the first store assigned, and idempotency keys. The caller still gets the
// primary's result as soon as it returns; the shadow's timeout counts from
// the shadow's own start. A primary that panics or calls runtime.Goexit
// starts no shadow (outcome aborted). The concurrent mode is the default.
func WithSequentialShadow() Option {
	return optionFunc(func(c config) config {
		c.sequential = true
		return c
	})
}

// WithShadowContext sets a hook that derives the shadow's context from the
// detached shadow context, for example to drop a request-scoped database
// transaction the shadow must not use. The hook runs on the shadow
// goroutine; if it panics the shadow does not run and the call is recorded as
// outcome error.
func WithShadowContext(fn func(context.Context) context.Context) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.shadowContext = fn
		}
		return c
	})
}

// WithPublisher adds a destination for this experiment's Reports.
// Publishing is asynchronous with a bounded queue per publisher: a slow
// publisher drops (and counts) reports and never blocks a caller or a
// shadow. [AddPublisher] attaches a publisher to every experiment of the
// process instead.
func WithPublisher(p Publisher) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.publishers = append(append([]Publisher(nil), c.publishers...), p)
		}
		return c
	})
}

// WithReportKeys lets Reports carry the bucketing key of the call
// ([WithKey]). Keys are often personal data, so they are left out unless
// this option is given.
func WithReportKeys() Option {
	return optionFunc(func(c config) config {
		c.reportKeys = true
		return c
	})
}

// WithReportRate limits Reports of this experiment to perSecond on average
// with bursts of burst. perSecond <= 0 means unlimited. Reports over the
// limit are counted in Stats and not built.
func WithReportRate(perSecond float64, burst int) Option {
	return optionFunc(func(c config) config {
		c.reportRate = perSecond
		c.reportBurst = max(burst, 1)
		return c
	})
}

// WithReportDedup sets the window in which Reports with the same signature
// (outcome, mismatch kind, error types and differing paths) are published
// once; repeats are counted in Stats as suppressed. Zero turns
// deduplication off. It panics if window < 0.
func WithReportDedup(window time.Duration) Option {
	if window < 0 {
		panic(fmt.Sprintf("dualrun: WithReportDedup(%v): want a duration >= 0", window))
	}
	return optionFunc(func(c config) config {
		c.reportDedup = window
		return c
	})
}

// WithReportQueue sets the length of each publisher's queue. It panics if
// n < 1.
func WithReportQueue(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrun: WithReportQueue(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.reportQueue = n
		return c
	})
}

// WithDiffLimit caps a Report's diff at n bytes. It panics if n < 64.
func WithDiffLimit(n int) Option {
	if n < 64 {
		panic(fmt.Sprintf("dualrun: WithDiffLimit(%d): want at least 64", n))
	}
	return optionFunc(func(c config) config {
		c.diffLimit = n
		return c
	})
}

// WithMaxFields caps the distinct differing paths tracked (in Stats and the
// dualrun.mismatch.fields metric) for this experiment; further paths are
// counted as "_OTHER". It panics if n < 1.
func WithMaxFields(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrun: WithMaxFields(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.maxFields = n
		return c
	})
}
