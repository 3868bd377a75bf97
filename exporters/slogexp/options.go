package slogexp

import (
	"log/slog"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
	"github.com/dualrun/dualrun/rollout"
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
	values  bool
	keys    bool
	redact  redact.Hook
	maxDiff int
	levels  [rollout.NumOutcomes]slog.Level
}

func newConfig(opts []Option) config {
	c := config{maxDiff: DefaultMaxDiff}
	c.levels[dualrun.Mismatch] = slog.LevelWarn
	c.levels[dualrun.Timeout] = slog.LevelWarn
	c.levels[dualrun.Panic] = slog.LevelError
	c.levels[dualrun.Error] = slog.LevelError
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

func (c *config) level(o dualrun.Outcome) slog.Level {
	if int(o) < len(c.levels) {
		return c.levels[o]
	}
	return slog.LevelWarn
}

// WithValues adds the Report's values to each record: dualrun.diff and the
// error texts. They are copies of the data the wrapped call handled: log
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
// logged: it may change the copy (or return another Report) and returns
// what to log, or nil to skip the Report. It runs behind recover; a panic
// drops the Report (Publish returns an error) rather than log it
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

// WithLevel logs the Reports of outcome o at level l.
func WithLevel(o dualrun.Outcome, l slog.Level) Option {
	return optionFunc(func(c config) config {
		if int(o) < len(c.levels) {
			c.levels[o] = l
		}
		return c
	})
}
