package dualruntest

import (
	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
)

// Option configures [Compare] and [CompareEach]. The comparison options
// mean exactly what the dualrun options of the same name mean, so a test
// can check what production will record; they take the same functions.
// A nil Option is ignored.
type Option interface {
	apply(config) config
}

// config is the resolved configuration of one Compare or CompareEach call.
// Options copy it by value, so applying one allocates nothing.
type config struct {
	caseName  string
	caseNamer any // func(In) string
	spec      compare.Spec
}

// newConfig applies opts, nil ones skipped, over the defaults.
func newConfig(opts []Option) config {
	c := config{spec: compare.Spec{Budget: testBudget}}
	for _, o := range opts {
		if o == nil {
			continue
		}
		c = o.apply(c)
	}
	return c
}

// specEdit is an option that edits the comparison's engine spec; the
// comparison options are thin: the engine holds the rules.
type specEdit func(compare.Spec) compare.Spec

func (e specEdit) apply(c config) config {
	c.spec = e(c.spec)
	return c
}

// optionFunc is any other option.
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
// instead of by the input as printed by %+v. The testing package rewrites
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
func WithCmpOptions(opts ...cmp.Option) Option { return specEdit(compare.CmpOptions(opts...)) }

// WithComparer replaces the default equality of T with fn, called as
// fn(legacy, candidate), as with [dualrun.WithComparer]. The paths and the
// diff of a failure still come from go-cmp. A nil fn is ignored. Compare
// fails the test if T is not the type of the compared values.
func WithComparer[T any](fn func(legacy, candidate T) bool) Option {
	return specEdit(compare.EqualFunc(fn))
}

// WithNormalizer adds fn, applied to every successful value before it is
// compared and printed, as with [dualrun.WithNormalizer]: clear volatile
// fields, round, redact. fn must return a modified copy and leave its
// argument alone: the legacy value is also what Compare returns.
// Normalizers run in the order given. A nil fn is ignored. Compare fails the
// test if T is not the type of the compared values.
func WithNormalizer[T any](fn func(T) T) Option { return specEdit(compare.Normalizer(fn)) }

// WithIgnore adds an ignore rule, as with [dualrun.WithIgnore]: when the
// sides differ and any rule returns true for the raw (not normalized)
// results, the difference is accepted. Compare then logs it with t.Logf
// instead of failing. A nil rule is ignored. Compare fails the test if T is
// not the type of the compared values.
func WithIgnore[T any](rule func(legacy, candidate dualrun.Result[T]) bool) Option {
	return specEdit(compare.Ignore(rule))
}

// WithErrorComparer decides whether two non-nil errors are equivalent, as
// with [dualrun.WithErrorComparer]. By default any two non-nil errors are:
// errors are compared by nil-ness only. [dualrun.ErrorMessagesEqual] and
// [dualrun.ErrorsMatchTargets] fit here. A nil fn is ignored.
func WithErrorComparer(fn func(legacy, candidate error) bool) Option {
	return specEdit(compare.ErrorComparer(fn))
}
