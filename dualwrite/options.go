package dualwrite

import (
	"fmt"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/rollout"
)

// Defaults of the options, each overridable.
const (
	// DefaultSecondaryTimeout bounds the immediate write to the secondary
	// store (WithSecondaryTimeout).
	DefaultSecondaryTimeout = time.Second
	// DefaultPollInterval is how often the applier looks for due writes
	// when nothing wakes it (WithPollInterval).
	DefaultPollInterval = time.Second
	// DefaultRetryInitial and DefaultRetryMax are the first and the longest
	// pause between two attempts of a failed write (WithBackoff).
	DefaultRetryInitial = 100 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	// DefaultApplyConcurrency is how many keys the applier writes at once
	// (WithApplyConcurrency).
	DefaultApplyConcurrency = 4
	// DefaultApplyTimeout bounds one attempt of the applier, and the
	// journal bookkeeping of a write (WithApplyTimeout).
	DefaultApplyTimeout = 10 * time.Second
	// DefaultBatch is how many journal entries the applier reads at once.
	DefaultBatch = 256
)

// Option configures a [Writer].
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	policy           rollout.Policy
	policyName       string
	journal          *Journal
	codec            any // Codec[T]
	meterProvider    metric.MeterProvider
	tracerProvider   trace.TracerProvider
	secondaryTimeout time.Duration
	syncBudget       time.Duration
	pollInterval     time.Duration
	retryInitial     time.Duration
	retryMax         time.Duration
	maxAttempts      int
	applyConcurrency int
	applyTimeout     time.Duration
	batch            int
	spec             compare.Spec
	expOpts          []dualrun.Option
}

func newConfig(opts []Option) config {
	c := config{
		secondaryTimeout: DefaultSecondaryTimeout,
		pollInterval:     DefaultPollInterval,
		retryInitial:     DefaultRetryInitial,
		retryMax:         DefaultRetryMax,
		applyConcurrency: DefaultApplyConcurrency,
		applyTimeout:     DefaultApplyTimeout,
		batch:            DefaultBatch,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithRollout sets the policy that decides, per key, which store is
// primary: Legacy (the old store) or Candidate (the new one). It is the
// same policy as for reads with dualrun (a rollout.Static, a rollout.Live
// flipped at run time, a rollout.Ramp, an OpenFeature policy), asked with
// the writer's name (or [WithPolicyName]) and the record's key, so a key's
// reads and writes go to the same primary. Writes always go to both
// stores; the policy's shadow percentage is the share of reads
// ([Writer.Get]) that are compared. A nil policy is ignored. Without one,
// the old store is primary and every read is compared.
func WithRollout(p rollout.Policy) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.policy = p
		}
		return c
	})
}

// WithPolicyName sets the experiment name under which the rollout policy is
// asked (default: the writer's name). Give several writers the same name
// (and policy) to flip a whole store at once rather than table by table;
// a rollout.Ramp observes the reads of the writer under this name.
func WithPolicyName(name string) Option {
	return optionFunc(func(c config) config {
		if name != "" {
			c.policyName = name
		}
		return c
	})
}

// WithJournal sets the embedded journal that records the writes whose
// primary store has no transactional outbox (any store but an [SQLStore]
// with its outbox). [New] fails without it when a store needs it. A nil j
// is ignored.
func WithJournal(j *Journal) Option {
	return optionFunc(func(c config) config {
		if j != nil {
			c.journal = j
		}
		return c
	})
}

// WithCodec sets how values are encoded in journal entries (default
// [JSONCodec]). [New] fails if T is not the writer's type.
func WithCodec[T any](codec Codec[T]) Option {
	return optionFunc(func(c config) config {
		if codec != nil {
			c.codec = codec
		}
		return c
	})
}

// WithMeterProvider sets the MeterProvider of dualwrite's metrics and of
// the writer's dualrun experiments (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if mp != nil {
			c.meterProvider = mp
		}
		return c
	})
}

// WithTracerProvider sets the TracerProvider of the reconciler's spans and
// of the writer's dualrun experiments (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		if tp != nil {
			c.tracerProvider = tp
		}
		return c
	})
}

// WithSecondaryTimeout bounds the write to the secondary store that follows
// every write, in the background (default 1s). A write that fails or
// times out there stays in the journal and is retried by the applier. It
// panics if d <= 0.
func WithSecondaryTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("dualwrite: WithSecondaryTimeout(%v): want a positive duration", d))
	}
	return optionFunc(func(c config) config {
		c.secondaryTimeout = d
		return c
	})
}

// WithSyncBudget makes a write wait up to d for its secondary write before
// it returns, so that a read from the secondary right after usually sees
// it. The write's result never depends on the secondary: past d, or when
// the secondary fails, it returns the primary's result all the same, and
// the journal carries the write. The default, 0, does not wait. It panics
// if d < 0.
func WithSyncBudget(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("dualwrite: WithSyncBudget(%v): want a duration >= 0", d))
	}
	return optionFunc(func(c config) config {
		c.syncBudget = d
		return c
	})
}

// WithPollInterval sets how often the applier looks for due writes when
// nothing wakes it (default 1s): a write it must retry is due after its
// backoff, and writes journaled by another process are seen at the next
// poll. It panics if d <= 0.
func WithPollInterval(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("dualwrite: WithPollInterval(%v): want a positive duration", d))
	}
	return optionFunc(func(c config) config {
		c.pollInterval = d
		return c
	})
}

// WithBackoff sets the pause before the second attempt of a failed write
// (initial) and the longest pause (maxPause); the pause doubles at every
// failure, with jitter. Defaults: 100ms and 30s. It panics unless
// 0 < initial <= maxPause.
func WithBackoff(initial, maxPause time.Duration) Option {
	if initial <= 0 || maxPause < initial {
		panic(fmt.Sprintf("dualwrite: WithBackoff(%v, %v): want 0 < initial <= max", initial, maxPause))
	}
	return optionFunc(func(c config) config {
		c.retryInitial, c.retryMax = initial, maxPause
		return c
	})
}

// WithMaxAttempts makes the applier give up a write after n failed
// attempts: the entry moves to the failed state (listed by
// [Writer.Failed], requeued by [Writer.Retry]) and counts in
// dualwrite.failures with reason "exhausted". The default, 0, retries
// until the write succeeds. It panics if n < 0.
func WithMaxAttempts(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("dualwrite: WithMaxAttempts(%d): want n >= 0", n))
	}
	return optionFunc(func(c config) config {
		c.maxAttempts = n
		return c
	})
}

// WithApplyConcurrency sets how many keys the applier writes at once
// (default 4); the writes of one key are always applied one after the
// other, in journal order. It panics if n < 1.
func WithApplyConcurrency(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualwrite: WithApplyConcurrency(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.applyConcurrency = n
		return c
	})
}

// WithApplyTimeout bounds one attempt of the applier, and each journal
// operation (default 10s). It panics if d <= 0.
func WithApplyTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("dualwrite: WithApplyTimeout(%v): want a positive duration", d))
	}
	return optionFunc(func(c config) config {
		c.applyTimeout = d
		return c
	})
}

// WithCmpOptions adds go-cmp options for comparing records: in reads
// ([Writer.Get]) and in the reconciler, which use the same comparison (see
// dualrun.WithCmpOptions).
func WithCmpOptions(opts ...cmp.Option) Option { return specOption(compare.CmpOptions(opts...)) }

// WithNormalizer adds a normalizer applied to records before they are
// compared, in reads and in the reconciler (see dualrun.WithNormalizer):
// clear fields that legitimately differ between the stores. [New] fails if
// T is not the writer's type.
func WithNormalizer[T any](fn func(T) T) Option { return specOption(compare.Normalizer(fn)) }

// WithComparer replaces the equality of records, in reads and in the
// reconciler (see dualrun.WithComparer). [New] fails if T is not the
// writer's type.
func WithComparer[T any](fn func(legacy, candidate T) bool) Option {
	return specOption(compare.EqualFunc(fn))
}

func specOption(edit compare.Edit) Option {
	return optionFunc(func(c config) config {
		c.spec = edit(c.spec)
		return c
	})
}

// WithExperimentOptions passes options to the writer's dualrun
// experiments (its writes, reads and reconciliations): publishers of
// Reports, WithReportKeys, WithMaxInFlight, metric attributes... Give the
// comparison options through dualwrite's own (WithCmpOptions,
// WithNormalizer, WithComparer), which the reconciler uses too; the
// rollout through WithRollout.
func WithExperimentOptions(opts ...dualrun.Option) Option {
	return optionFunc(func(c config) config {
		c.expOpts = append(append([]dualrun.Option(nil), c.expOpts...), opts...)
		return c
	})
}
