package ring

import (
	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// Defaults of a Ring.
const (
	// DefaultSize is how many Reports a Ring keeps per experiment.
	DefaultSize = 20
	// DefaultMaxPathSets is how many path sets a Ring counts per
	// experiment.
	DefaultMaxPathSets = 16
	// DefaultMaxExperiments is how many experiments a Ring remembers.
	DefaultMaxExperiments = 256
	// DefaultMaxDiff bounds the diff of each Report kept.
	DefaultMaxDiff = redact.DefaultMaxDiff
)

// Option configures a [Ring].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	size, maxSets, maxExps, maxDiff int
	redact                          redact.Hook
}

func newConfig(opts []Option) config {
	c := config{size: DefaultSize, maxSets: DefaultMaxPathSets, maxExps: DefaultMaxExperiments, maxDiff: DefaultMaxDiff}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// positive keeps n when it is at least 1.
func positive(n int, keep *int) {
	if n >= 1 {
		*keep = n
	}
}

// WithSize sets how many Reports are kept per experiment (default
// [DefaultSize]). Values below 1 are ignored.
func WithSize(n int) Option {
	return optionFunc(func(c config) config { positive(n, &c.size); return c })
}

// WithMaxPathSets sets how many distinct path sets are counted per
// experiment (default [DefaultMaxPathSets]). Values below 1 are ignored.
func WithMaxPathSets(n int) Option {
	return optionFunc(func(c config) config { positive(n, &c.maxSets); return c })
}

// WithMaxExperiments sets how many experiments are remembered (default
// [DefaultMaxExperiments]). Values below 1 are ignored.
func WithMaxExperiments(n int) Option {
	return optionFunc(func(c config) config { positive(n, &c.maxExps); return c })
}

// WithMaxDiff cuts each kept Report's diff to at most n bytes (default
// [DefaultMaxDiff]). Values below 1 are ignored.
func WithMaxDiff(n int) Option {
	return optionFunc(func(c config) config { positive(n, &c.maxDiff); return c })
}

// WithRedact sets a hook that runs on a copy of each Report before it is
// kept: it may change the copy (or return another Report) and returns what
// to keep, or nil to skip the Report. It runs behind recover; a panic drops
// the Report (Publish returns an error). A nil hook is ignored.
func WithRedact(hook func(*dualrun.Report) *dualrun.Report) Option {
	return optionFunc(func(c config) config {
		if hook != nil {
			c.redact = hook
		}
		return c
	})
}
