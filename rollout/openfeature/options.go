package openfeature

import (
	"context"
	"fmt"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/metric"
)

// Option configures a [Policy].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	flagKey     func(experiment string) string
	experiments []string
	perCall     bool
	evalContext func(ctx context.Context) of.EvaluationContext
	refresh     time.Duration
	meter       metric.MeterProvider
}

// DefaultRefreshInterval is how often a cached policy re-evaluates its flags
// when no provider event says they changed.
const DefaultRefreshInterval = time.Minute

func newConfig(opts []Option) config {
	c := config{refresh: DefaultRefreshInterval}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithFlagKey maps experiment names to flag keys. By default the flag key is
// the experiment name. fn is called once per experiment; if it panics or
// returns "", the experiment name is used.
func WithFlagKey(fn func(experiment string) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.flagKey = fn
		}
		return c
	})
}

// WithExperiments names experiments whose flags NewPolicy evaluates before
// it returns (when the provider is ready), so their first calls already
// follow the flag. Other experiments are evaluated in the background the
// first time they ask, and run legacy only until that evaluation is done.
func WithExperiments(names ...string) Option {
	names = append([]string(nil), names...)
	return optionFunc(func(c config) config {
		c.experiments = append(c.experiments, names...)
		return c
	})
}

// WithPerCallEvaluation evaluates the flag on every call, with the call's
// key ([rollout.WithKey]) as the targeting key, so the flag system's own
// targeting (per tenant, flagd's fractional splits) decides. It costs a flag
// evaluation per call (see the package documentation for measured numbers)
// instead of an atomic load. Provider events and the periodic refresh are
// not used in this mode.
func WithPerCallEvaluation() Option {
	return optionFunc(func(c config) config { c.perCall = true; return c })
}

// WithEvaluationContext builds the evaluation context of a per-call
// evaluation from the caller's context, for targeting on attributes such as
// a tenant or a region. When the context it returns has no targeting key,
// the call's key is used. A panic in fn is recovered and counted as error
// type invalid_context (the last good value decides that call). It implies
// [WithPerCallEvaluation].
func WithEvaluationContext(fn func(ctx context.Context) of.EvaluationContext) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.evalContext = fn
			c.perCall = true
		}
		return c
	})
}

// WithRefreshInterval sets the slow periodic re-evaluation of a cached
// policy, a fallback for providers that do not emit configuration-change
// events (default [DefaultRefreshInterval]); 0 turns it off.
func WithRefreshInterval(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("openfeature: WithRefreshInterval(%v): want a duration >= 0", d))
	}
	return optionFunc(func(c config) config { c.refresh = d; return c })
}

// WithMeterProvider sets the meter provider of dualrun.rollout.errors
// (default: the global one). A nil provider is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if mp != nil {
			c.meter = mp
		}
		return c
	})
}
