package jsonl

import (
	"os"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// Defaults of a Writer.
const (
	// DefaultMaxSize is the size at which [Open]'s file rotates: 100 MiB.
	DefaultMaxSize = 100 << 20
	// DefaultMaxBackups is how many rotated files [Open] keeps.
	DefaultMaxBackups = 5
	// DefaultMaxDiff bounds the diff of each line (with [WithValues]).
	DefaultMaxDiff = redact.DefaultMaxDiff
	// DefaultFileMode is the permission of files [Open] creates: lines may
	// carry values, so only the owner reads them.
	DefaultFileMode os.FileMode = 0o600
)

// Option configures a [Writer].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	values     bool
	keys       bool
	redact     redact.Hook
	maxDiff    int
	bufSize    int
	maxSize    int64
	maxBackups int
	mode       os.FileMode
}

func newConfig(opts []Option) config {
	c := config{
		maxDiff:    DefaultMaxDiff,
		maxSize:    DefaultMaxSize,
		maxBackups: DefaultMaxBackups,
		mode:       DefaultFileMode,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithValues adds the Report's values to each line: "diff", and "error" on
// each side and the callback. They are copies of the data the wrapped call
// handled: send them out of the process only where that data may go.
func WithValues() Option {
	return optionFunc(func(c config) config { c.values = true; return c })
}

// WithKeys adds the Report's bucketing key ("key"), which experiments keep
// only with dualrun.WithReportKeys. Keys are often personal data.
func WithKeys() Option {
	return optionFunc(func(c config) config { c.keys = true; return c })
}

// WithRedact sets a hook that runs on a copy of each Report before it is
// written: it may change the copy (or return another Report) and returns
// what to write, or nil to skip the Report. It runs behind recover; a panic
// drops the Report (Publish returns an error) rather than write it
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
// Values n <= 0 are ignored: the diff always stays size-limited.
func WithMaxDiff(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxDiff = n
		}
		return c
	})
}

// WithBufferSize buffers up to n bytes of lines before writing them, for
// destinations where each write is costly. Buffered lines are written when
// the buffer is full, and by [Writer.Flush], [Writer.Shutdown] and
// [Writer.Close]. The default, 0, writes each line with one Write call as
// it comes.
func WithBufferSize(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.bufSize = n
		}
		return c
	})
}

// WithMaxSize sets the size in bytes at which [Open]'s file rotates
// (default [DefaultMaxSize]). A file grows past it only by a single line
// longer than the limit, which goes to a fresh file on its own. Values
// n <= 0 are ignored.
func WithMaxSize(n int64) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxSize = n
		}
		return c
	})
}

// WithMaxBackups sets how many rotated files [Open] keeps beside the
// current one (default [DefaultMaxBackups]); the oldest is removed. Zero
// keeps none: rotation truncates. Negative values are ignored.
func WithMaxBackups(n int) Option {
	return optionFunc(func(c config) config {
		if n >= 0 {
			c.maxBackups = n
		}
		return c
	})
}

// WithFileMode sets the permission of the files [Open] creates (default
// [DefaultFileMode]).
func WithFileMode(mode os.FileMode) Option {
	return optionFunc(func(c config) config { c.mode = mode.Perm(); return c })
}
