package dualruntest

import (
	"fmt"
	"reflect"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun"
)

// config is the resolved configuration of one Compare or CompareEach call.
// Options copy it by value, so applying one allocates nothing.
type config struct {
	caseName    string
	caseNamer   any // func(In) string
	cmpOpts     []cmp.Option
	comparer    any   // func(legacy, candidate T) bool
	normalizers []any // func(T) T
	ignores     []any // func(legacy, candidate dualrun.Result[T]) bool
	errEqual    func(legacy, candidate error) bool
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures [Compare] and [CompareEach]. The comparison options
// mean exactly what the dualrun options of the same name mean, so a test
// can check what production will record; they take the same functions.
// A nil Option is ignored.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithCase names the case in failure messages. The default is t.Name(),
// which is enough when each case runs as its own subtest; use WithCase when
// a loop calls [Compare] several times in one test. [CompareEach] names its
// cases itself and ignores WithCase.
func WithCase(name string) Option {
	return optionFunc(func(c config) config {
		c.caseName = name
		return c
	})
}

// WithCaseName makes [CompareEach] name the subtest of each input by fn(in)
// instead of by the input formatted with %+v. The testing package rewrites
// spaces in subtest names to underscores and numbers duplicates. A nil fn is
// ignored; [Compare] ignores this option. CompareEach fails the test if In
// is not its input type.
func WithCaseName[In any](fn func(in In) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.caseNamer = fn
		}
		return c
	})
}

// WithCmpOptions adds go-cmp options, used when the values are compared
// with cmp.Equal (the default for types that == cannot compare faithfully)
// and when differing paths and diffs are computed, as with
// [dualrun.WithCmpOptions]. Any cmp option makes the comparison use
// cmp.Equal, even for types that == would compare.
func WithCmpOptions(opts ...cmp.Option) Option {
	return optionFunc(func(c config) config {
		c.cmpOpts = append(append([]cmp.Option(nil), c.cmpOpts...), opts...)
		return c
	})
}

// WithComparer replaces the default equality of T with fn, called as
// fn(legacy, candidate), as with [dualrun.WithComparer]. The paths and the
// diff of a failure still come from go-cmp. A nil fn is ignored. Compare
// fails the test if T is not the type of the compared values.
func WithComparer[T any](fn func(legacy, candidate T) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.comparer = fn
		}
		return c
	})
}

// WithNormalizer adds fn, applied to both values before they are compared
// and diffed, when both sides succeeded, as with [dualrun.WithNormalizer]:
// clear volatile fields, round, redact. fn must return a modified copy and
// leave its argument alone: the legacy value is also what Compare returns.
// Normalizers run in the order given. A nil fn is ignored. Compare fails the
// test if T is not the type of the compared values.
func WithNormalizer[T any](fn func(T) T) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.normalizers = append(append([]any(nil), c.normalizers...), fn)
		}
		return c
	})
}

// WithIgnore adds an ignore rule, as with [dualrun.WithIgnore]: when the
// sides differ and any rule returns true for the raw (not normalized)
// results, the difference is accepted. Compare then logs it with t.Logf
// instead of failing. A nil rule is ignored. Compare fails the test if T is
// not the type of the compared values.
func WithIgnore[T any](rule func(legacy, candidate dualrun.Result[T]) bool) Option {
	return optionFunc(func(c config) config {
		if rule != nil {
			c.ignores = append(append([]any(nil), c.ignores...), rule)
		}
		return c
	})
}

// WithErrorComparer decides whether two non-nil errors are equivalent, as
// with [dualrun.WithErrorComparer]. By default any two non-nil errors are:
// errors are compared by nil-ness only. [dualrun.ErrorMessagesEqual] and
// [dualrun.ErrorsMatchTargets] fit here. A nil fn is ignored.
func WithErrorComparer(fn func(legacy, candidate error) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.errEqual = fn
		}
		return c
	})
}

// typed asserts a typed option's function to the type the call needs.
func typed[F any](option string, fn any) (F, error) {
	f, ok := fn.(F)
	if !ok {
		return f, fmt.Errorf("%s was given a %T, want %v", option, fn, reflect.TypeFor[F]())
	}
	return f, nil
}
