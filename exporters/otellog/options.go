package otellog

import (
	"go.opentelemetry.io/otel/log"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// DefaultMaxDiff bounds the diff of each record (with [WithValues]).
const DefaultMaxDiff = redact.DefaultMaxDiff

// Option configures an [Exporter].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	provider log.LoggerProvider
	values   bool
	keys     bool
	redact   redact.Hook
	maxDiff  int
}

func newConfig(opts []Option) config {
	c := config{maxDiff: DefaultMaxDiff}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithLoggerProvider sets the provider of the exporter's logger. The
// default is the global provider (otel.GetLoggerProvider) at
// the time [New] is called. A nil provider is ignored.
func WithLoggerProvider(p log.LoggerProvider) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.provider = p
		}
		return c
	})
}

// WithValues adds the Report's values to each record: dualrun.diff and the
// error texts. They are copies of the data the wrapped call handled: send
// them only where that data may go.
func WithValues() Option {
	return optionFunc(func(c config) config { c.values = true; return c })
}

// WithKeys adds the Report's bucketing key (dualrun.key), which experiments
// keep only with dualrun.WithReportKeys. Keys are often personal data.
func WithKeys() Option {
	return optionFunc(func(c config) config { c.keys = true; return c })
}

// WithRedact sets a hook that runs on a copy of each Report before it is
// emitted: it may change the copy (or return another Report) and returns
// what to emit, or nil to skip the Report. It runs behind recover; a panic
// drops the Report (Publish returns an error) rather than emit it
// unredacted. A nil hook is ignored.
func WithRedact(hook func(*dualrun.Report) *dualrun.Report) Option {
	return optionFunc(func(c config) config {
		if hook != nil {
			c.redact = hook
		}
		return c
	})
}

// WithMaxDiff cuts each diff to at most n bytes (default [DefaultMaxDiff]).
// Values n <= 0 are ignored.
func WithMaxDiff(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxDiff = n
		}
		return c
	})
}
