package dualrun

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun/internal/compare"
)

// This file is the front of the comparison engine (internal/compare) for
// experiments: the comparison options, and the translation of the
// engine's verdict into what the core records. The rules themselves live
// in the engine, shared with dualruntest.

// DefaultCompareBudget is how long one comparison may take (the equality
// check, the differing paths and the diff together) unless
// [WithCompareBudget] says otherwise.
const DefaultCompareBudget = compare.DefaultBudget

// ErrCompareBudget is matched by errors.Is when a comparison was stopped
// by its budget ([WithCompareBudget]) or because the values nest too
// deep: the Report's CallbackErr of such an outcome error holds a
// [*BudgetError].
var ErrCompareBudget = compare.ErrBudget

// BudgetError says how far a stopped comparison got: its budget, the nodes
// go-cmp had visited, and for values nested deeper than the engine's limit
// (100,000 steps) the depth. It unwraps to [ErrCompareBudget].
type BudgetError = compare.BudgetError

// Result is one side's return values, as seen by an ignore rule.
type Result[T any] = compare.Result[T]

// WithCmpOptions adds go-cmp options used when values are compared with
// cmp.Equal (the default for types that == cannot compare faithfully), and
// when differing paths and diffs are computed.
//
// Byte slices and arrays are compared as a whole with bytes.Equal (go-cmp
// alone takes seconds on a few megabytes): options on single bytes, such
// as a cmp.Comparer for byte, do not apply to them.
func WithCmpOptions(opts ...cmp.Option) Option { return specOption(compare.CmpOptions(opts...)) }

// WithComparer replaces the default equality of T with fn, which is called
// as fn(legacy, candidate) whichever side was primary. A panic in fn is
// recovered and recorded as outcome error. A nil fn is ignored. New panics if
// T does not match the experiment's type.
func WithComparer[T any](fn func(legacy, candidate T) bool) Option {
	return specOption(compare.EqualFunc(fn))
}

// WithNormalizer adds fn, applied to every successful value before it is
// compared, diffed and reported, also when the other side erred: clear
// volatile fields, round, redact. Values are shared with the caller, so fn
// must return a modified copy and never change its argument. Normalizers
// run in the order given; a panic in one is outcome error.
func WithNormalizer[T any](fn func(T) T) Option { return specOption(compare.Normalizer(fn)) }

// WithIgnore adds an ignore rule. When the sides differ and any rule returns
// true for the raw (not normalized) results, the call is recorded as
// ignored instead of mismatch: it still counts in the mismatch-rate
// denominator, but not as a mismatch. Use it for known, accepted
// differences. A nil rule is ignored.
func WithIgnore[T any](rule func(legacy, candidate Result[T]) bool) Option {
	return specOption(compare.Ignore(rule))
}

// WithErrorComparer decides whether two non-nil errors are equivalent. By
// default any two non-nil errors are (errors are compared by nil-ness only).
// See [ErrorMessagesEqual] and [ErrorsMatchTargets].
func WithErrorComparer(fn func(legacy, candidate error) bool) Option {
	return specOption(compare.ErrorComparer(fn))
}

// WithCompareBudget bounds the time of one comparison: the equality check,
// the differing paths and the diff together (default
// [DefaultCompareBudget]). go-cmp is checked every 1,024 nodes it visits,
// so a comparison stops within that many nodes of its budget; it is then
// recorded as outcome error, its CallbackErr matching [ErrCompareBudget].
// A WithComparer func is not interrupted. It panics if d <= 0.
func WithCompareBudget(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("dualrun: WithCompareBudget(%v): want a positive duration", d))
	}
	return optionFunc(func(c config) config {
		c.compareBudget = d
		return c
	})
}

// ErrorMessagesEqual is an error comparer for [WithErrorComparer]: two
// errors are equivalent when their messages are equal. An Error method
// that panics (a typed-nil pointer's, often) makes the comparison outcome
// error.
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

// Difference is what a [WithDiffer] func says of two values: whether they
// are equal, the paths on which they differ, in the differ's own notation
// (JSON paths such as "$.items[*].price", proto field paths), and a diff
// made only when a Report is built. dualrun bounds the paths as its own
// (at most 32 per comparison, 256 bytes each) and counts them like go-cmp's:
// Stats.Fields, dualrun.mismatch.fields, Report.Paths, mismatch classes.
type Difference = compare.Difference

// WithDiffer replaces, for successful values, the equality, the differing
// paths and the diff with fn, called as fn(legacy, candidate): for adapters
// whose values have their own structure (HTTP bodies compared as JSON, gRPC
// messages compared as protobuf) and their own path notation. Normalizers,
// error rules and ignore rules apply as usual; WithDiffer wins over
// WithComparer and WithCmpOptions. A panic (or runtime.Goexit) in fn is
// outcome error. New panics if T does not match the experiment's type; a
// nil fn is ignored.
func WithDiffer[T any](fn func(legacy, candidate T) Difference) Option {
	return specOption(compare.DifferFunc(fn))
}

// specOf is the comparison part of c, in the engine's terms.
func specOf(c config) compare.Spec {
	return compare.Spec{
		CmpOpts: c.cmpOpts, Comparer: c.comparer, Normalizers: c.normalizers,
		Ignores: c.ignores, ErrEqual: c.errEqual, Budget: c.compareBudget,
		Differ: c.differ,
	}
}

// specOption is an option that edits the comparison part of the config.
func specOption(edit compare.Edit) Option {
	return optionFunc(func(c config) config {
		s := edit(specOf(c))
		c.cmpOpts, c.comparer, c.normalizers, c.ignores, c.errEqual = s.CmpOpts, s.Comparer, s.Normalizers, s.Ignores, s.ErrEqual
		c.differ = s.Differ
		return c
	})
}

// comparer is how an experiment compares its two sides: the engine,
// resolved once at New for T and the options.
type comparer[T any] struct {
	eng   *compare.Comparer[T]
	cheap bool // eng.Cheap(): == decides, nothing else runs
}

func newComparer[T any](name string, cfg config) comparer[T] {
	eng, err := compare.New[T](specOf(cfg))
	if err != nil {
		panic(fmt.Sprintf("dualrun: experiment %q: %v", name, err))
	}
	return comparer[T]{eng: eng, cheap: eng.Cheap()}
}

// compare fills r's outcome, kind, paths, diff and callback error from the
// two sides' results.
func (cm *comparer[T]) compare(r *record, lv T, lerr error, cv T, cerr error) {
	if cm.cheapMatch(lv, lerr, cv, cerr) {
		// The common case of a plain comparable T that matches: what the
		// engine would decide, without building its verdict.
		r.outcome, r.kind, r.paths, r.diff, r.cbErr = Match, NoMismatch, nil, nil, nil
		return
	}
	v := cm.eng.Compare(lv, lerr, cv, cerr)
	r.outcome, r.kind, r.paths, r.diff, r.cbErr = Match, NoMismatch, nil, nil, nil
	switch {
	case v.Kind == compare.Failed:
		cm.fail(r, v.Err)
		return
	case v.Kind == compare.Match:
		return
	case v.Ignored:
		r.outcome = Ignored
		return
	}
	r.outcome = Mismatch
	switch v.Kind {
	case compare.ValuesDiffer:
		r.kind, r.paths = ValueMismatch, v.Paths
	case compare.OneErred:
		r.kind = ErrorMismatch
	default:
		r.kind = ErrorsDiffer
	}
	kept := new(compare.Verdict[T]) // only a difference escapes to the heap
	*kept = v
	r.diff = kept.Diff
}

// cheapMatch reports whether == alone decides that the sides match: T is
// plain comparable (no interface inside, so == cannot panic), no option
// needs to run, neither side erred and the values are equal.
func (cm *comparer[T]) cheapMatch(lv T, lerr error, cv T, cerr error) bool {
	return cm.cheap && lerr == nil && cerr == nil && any(lv) == any(cv)
}

// fail records a failed comparison (a user callback, go-cmp or the budget)
// as outcome error. Neither side erred: the error is the comparison's.
func (cm *comparer[T]) fail(r *record, err error) {
	r.outcome, r.kind, r.paths, r.diff = Error, NoMismatch, nil, nil
	r.cbErr = err
}
