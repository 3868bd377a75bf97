package dualrun

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun/internal/cmppath"
)

// WithCmpOptions adds go-cmp options used when values are compared with
// cmp.Equal (the default for types that == cannot compare faithfully), and
// when differing paths and diffs are computed.
func WithCmpOptions(opts ...cmp.Option) Option {
	return optionFunc(func(c config) config {
		c.cmpOpts = append(append([]cmp.Option(nil), c.cmpOpts...), opts...)
		return c
	})
}

// WithComparer replaces the default equality of T with fn, which is called
// as fn(legacy, candidate) whichever side was primary. A panic in fn is
// recovered and recorded as outcome error. A nil fn is ignored. New panics if
// T does not match the experiment's type.
func WithComparer[T any](fn func(legacy, candidate T) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.comparer = fn
		}
		return c
	})
}

// WithNormalizer adds fn, applied to both successful values before they are
// compared, diffed and reported: clear volatile fields, round, redact.
// Values are shared with the caller, so fn must return a modified copy and
// never change its argument. Normalizers run in the order given.
func WithNormalizer[T any](fn func(T) T) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.normalizers = append(append([]any(nil), c.normalizers...), fn)
		}
		return c
	})
}

// Result is one side's return values, as seen by an ignore rule.
type Result[T any] struct {
	Value T
	Err   error
}

// WithIgnore adds an ignore rule. When the sides differ and any rule returns
// true, the call is recorded as ignored instead of mismatch: it still counts
// in the mismatch-rate denominator, but not as a mismatch. Use it for known,
// accepted differences. A nil rule is ignored.
func WithIgnore[T any](rule func(legacy, candidate Result[T]) bool) Option {
	return optionFunc(func(c config) config {
		if rule != nil {
			c.ignores = append(append([]any(nil), c.ignores...), rule)
		}
		return c
	})
}

// WithErrorComparer decides whether two non-nil errors are equivalent. By
// default any two non-nil errors are (errors are compared by nil-ness only).
// See [ErrorMessagesEqual] and [ErrorsMatchTargets].
func WithErrorComparer(fn func(legacy, candidate error) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.errEqual = fn
		}
		return c
	})
}

// ErrorMessagesEqual is an error comparer for [WithErrorComparer]: two
// errors are equivalent when their messages are equal.
func ErrorMessagesEqual(legacy, candidate error) bool {
	return legacy.Error() == candidate.Error()
}

// ErrorsMatchTargets returns an error comparer for [WithErrorComparer]: two
// errors are equivalent when errors.Is matches the same set of targets for
// both, for instance sql.ErrNoRows and a package's ErrNotFound. Errors that
// match none of the targets are equivalent to each other.
func ErrorsMatchTargets(targets ...error) func(legacy, candidate error) bool {
	targets = append([]error(nil), targets...)
	return func(legacy, candidate error) bool {
		for _, t := range targets {
			if errors.Is(legacy, t) != errors.Is(candidate, t) {
				return false
			}
		}
		return true
	}
}

// maxPathsPerCall bounds the differing paths collected from one comparison.
const maxPathsPerCall = 32

// comparer holds how an experiment compares its two sides, chosen once at
// New by looking at T and the options.
type comparer[T any] struct {
	name        string
	eq          func(legacy, candidate T) (bool, error)
	pathOpts    []cmp.Option // for differing paths and diffs only
	normalizers []func(T) T
	errEqual    func(legacy, candidate error) bool
	ignores     []func(legacy, candidate Result[T]) bool
}

func newComparer[T any](name string, cfg config) comparer[T] {
	cm := comparer[T]{name: name, errEqual: cfg.errEqual}
	for _, n := range cfg.normalizers {
		cm.normalizers = append(cm.normalizers, typed[func(T) T](name, "WithNormalizer", n))
	}
	for _, r := range cfg.ignores {
		cm.ignores = append(cm.ignores, typed[func(Result[T], Result[T]) bool](name, "WithIgnore", r))
	}
	opts := cfg.cmpOpts
	switch {
	case cfg.comparer != nil:
		fn := typed[func(T, T) bool](name, "WithComparer", cfg.comparer)
		cm.eq = func(l, c T) (eq bool, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = &PanicError{Value: fmt.Errorf("WithComparer func panicked: %v", r), Stack: debug.Stack()}
				}
			}()
			return fn(l, c), nil
		}
		cm.pathOpts = append(append([]cmp.Option(nil), opts...), cmppath.ExportAll)
	case len(opts) == 0 && cmppath.PlainComparable(reflect.TypeFor[T]()):
		// == is exact for T and cannot panic.
		cm.eq = func(l, c T) (bool, error) { return any(l) == any(c), nil }
		cm.pathOpts = []cmp.Option{cmppath.ExportAll}
	default:
		cm.eq = func(l, c T) (bool, error) {
			eq, err := cmppath.Equal(l, c, opts)
			if err != nil {
				return false, fmt.Errorf("dualrun: experiment %q: go-cmp cannot compare %v: %w; "+
					"add WithCmpOptions(cmpopts.IgnoreUnexported(...)) or cmp.AllowUnexported, or WithComparer",
					name, reflect.TypeFor[T](), err)
			}
			return eq, nil
		}
		cm.pathOpts = opts
	}
	return cm
}

// compare fills r's outcome, kind, paths and diff from the two sides'
// results. Every user callback runs behind recover; a failure is outcome
// error.
func (cm *comparer[T]) compare(r *record, lv T, lerr error, cv T, cerr error) {
	r.outcome, r.kind = Match, NoMismatch
	switch {
	case lerr == nil && cerr == nil:
		nl, nc, err := cm.normalize(lv, cv)
		if err != nil {
			cm.fail(r, err)
			return
		}
		eq, err := cm.eq(nl, nc)
		if err != nil {
			cm.fail(r, err)
			return
		}
		if eq {
			return
		}
		r.outcome, r.kind = Mismatch, ValueMismatch
		_, r.paths, _ = cmppath.Collect(nl, nc, cm.pathOpts, maxPathsPerCall)
		opts := cm.pathOpts
		r.diff = func(limit int) string {
			d, err := cmppath.Diff(nl, nc, opts, limit)
			if err != nil || d == "" {
				d = cmppath.Truncate(fmt.Sprintf("-legacy:    %+v\n+candidate: %+v\n", nl, nc), limit)
			}
			return d
		}
	case (lerr == nil) != (cerr == nil):
		r.outcome, r.kind = Mismatch, ErrorMismatch
		r.diff = func(limit int) string {
			return cmppath.Truncate(fmt.Sprintf("-legacy:    %s\n+candidate: %s\n",
				sideText(lv, lerr), sideText(cv, cerr)), limit)
		}
	default:
		eq := true
		if cm.errEqual != nil {
			var err error
			eq, err = safeErrEqual(cm.errEqual, lerr, cerr)
			if err != nil {
				cm.fail(r, err)
				return
			}
		}
		if eq {
			return
		}
		r.outcome, r.kind = Mismatch, ErrorsDiffer
		r.diff = func(limit int) string {
			return cmppath.Truncate(fmt.Sprintf("-legacy error:    %v\n+candidate error: %v\n", lerr, cerr), limit)
		}
	}
	if len(cm.ignores) > 0 {
		ignored, err := cm.ignored(Result[T]{lv, lerr}, Result[T]{cv, cerr})
		if err != nil {
			cm.fail(r, err)
			return
		}
		if ignored {
			r.outcome, r.kind, r.diff = Ignored, NoMismatch, nil
		}
	}
}

func sideText[T any](v T, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%+v", v)
}

// fail records a failed user callback as outcome error. Neither side erred:
// the error is the callback's.
func (cm *comparer[T]) fail(r *record, err error) {
	r.outcome, r.kind, r.paths, r.diff = Error, NoMismatch, nil, nil
	r.cbErr = err
}

func (cm *comparer[T]) normalize(l, c T) (nl, nc T, err error) {
	if len(cm.normalizers) == 0 {
		return l, c, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: fmt.Errorf("WithNormalizer func panicked: %v", r), Stack: debug.Stack()}
		}
	}()
	for _, n := range cm.normalizers {
		l, c = n(l), n(c)
	}
	return l, c, nil
}

func (cm *comparer[T]) ignored(l, c Result[T]) (ign bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: fmt.Errorf("WithIgnore rule panicked: %v", r), Stack: debug.Stack()}
		}
	}()
	for _, rule := range cm.ignores {
		if rule(l, c) {
			return true, nil
		}
	}
	return false, nil
}

func safeErrEqual(fn func(error, error) bool, l, c error) (eq bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: fmt.Errorf("WithErrorComparer func panicked: %v", r), Stack: debug.Stack()}
		}
	}()
	return fn(l, c), nil
}
