package dualruntest

import (
	"context"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/safe"
)

// Compare runs legacy, then candidate, synchronously on ctx and the calling
// goroutine, and fails t with t.Errorf (not Fatal, so the other cases of a
// table test still run) when they differ. It returns the legacy result, so a
// test can go on checking it as before the migration.
//
// The results are compared by dualrun's own comparison engine, so exactly
// as a [dualrun.Experiment] with the same comparison options compares them
// (see [Option]):
//
//   - Every successful value goes through the [WithNormalizer] funcs first;
//     what a failure prints is normalized.
//   - Values are compared only when both sides succeeded: with == when T is
//     comparable and holds no pointers, interfaces or floats and no cmp
//     option is given, with cmp.Equal and the [WithCmpOptions] otherwise,
//     or with the [WithComparer] func.
//   - Exactly one side erring is a failure; two errors are equivalent unless
//     [WithErrorComparer] says otherwise.
//   - A difference accepted by a [WithIgnore] rule is logged, not failed.
//
// One comparison may take a minute at most (production's default budget
// is 250 ms: see [dualrun.WithCompareBudget]); beyond, or for values
// nested deeper than 100,000 steps, the test fails saying so.
//
// Compare is stricter than production where production cannot be strict:
// a panic in either side is recovered and fails t, naming the side and
// showing the stack, and so does a panic in go-cmp (with advice on the
// options that avoid it, for unexported fields) or in an option's func,
// which dualrun records as outcome error. If legacy panicked, Compare
// returns the zero T and an error that describes the panic and unwraps to
// the panic value when that is an error. A runtime.Goexit in either side
// (t.FailNow, t.SkipNow) is not stopped: it ends the test as usual.
//
// Failure messages start with "dualruntest: case NAME:", NAME being
// [WithCase] or t.Name(). A value difference shows go-cmp's diff from
// legacy (-) to candidate (+), which is not meant to be parsed, and the
// folded differing paths, such as ".Items[*].Price", that dualrun counts in
// the dualrun.mismatch.fields metric.
//
// As in production, [dualrun.IsShadow] reports true in the candidate (its
// context is [dualrun.AsShadow] of ctx), so code that skips side
// effects in the shadow skips them under Compare too. Unlike production,
// the candidate keeps ctx's cancellation and deadline: Compare runs no
// goroutine and no timer, and reads no shadow timeout.
//
// Compare calls t.Fatalf only for programmer errors that would fail every
// case alike: a nil func, or a typed option ([WithComparer],
// [WithNormalizer], [WithIgnore]) made for a type other than T.
func Compare[T any](t testing.TB, ctx context.Context, legacy, candidate dualrun.Func[T], opts ...Option) (T, error) {
	t.Helper()
	cfg := newConfig(opts)
	eng := mustEngine[T](t, "Compare", cfg, legacy == nil, candidate == nil)
	name := cfg.caseName
	if name == "" {
		name = t.Name()
	}
	return runCase(t, ctx, name, eng, legacy, candidate)
}

// CompareEach runs [Compare] on each input, as a subtest of t: it is the
// table-test form of Compare. Each subtest's context is its t.Context().
//
// Subtests are named by the [WithCaseName] func, or else by the input
// printed as %+v does (pointers as &value), cut to 48 bytes. The failure messages
// name the case by the subtest's name as go test prints it (spaces become
// underscores, duplicates are numbered); [WithCase] is ignored. The other
// options apply to every input.
//
// CompareEach fails t when inputs is empty: a table that checks nothing
// should not pass. Like Compare, it calls t.Fatalf for programmer errors
// (a nil func, or a typed option for another type) before running any case.
func CompareEach[In, T any](t *testing.T, inputs []In, legacy, candidate func(context.Context, In) (T, error), opts ...Option) {
	t.Helper()
	compareEach(t, func(name string, f func(testing.TB)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			f(t)
		})
	}, inputs, legacy, candidate, opts)
}

// compareEach is CompareEach with the subtest runner injected, so tests can
// observe the subtests with a fake testing.TB.
func compareEach[In, T any](t testing.TB, run func(name string, f func(testing.TB)), inputs []In, legacy, candidate func(context.Context, In) (T, error), opts []Option) {
	t.Helper()
	cfg := newConfig(opts)
	eng := mustEngine[T](t, "CompareEach", cfg, legacy == nil, candidate == nil)
	nameOf := defaultCaseName[In]
	if cfg.caseNamer != nil {
		fn, ok := cfg.caseNamer.(func(In) string)
		if !ok {
			t.Fatalf("dualruntest: CompareEach: WithCaseName was given a %T, want %v",
				cfg.caseNamer, reflect.TypeFor[func(In) string]())
			return
		}
		nameOf = fn
	}
	if len(inputs) == 0 {
		t.Errorf("dualruntest: CompareEach: no inputs, nothing was compared")
		return
	}
	for _, in := range inputs {
		name := nameOf(in)
		run(name, func(sub testing.TB) {
			sub.Helper()
			// The subtest's own name, as "go test" prints it: spaces
			// rewritten, duplicates numbered.
			name := strings.TrimPrefix(sub.Name(), t.Name()+"/")
			_, _ = runCase(sub, sub.Context(), name, eng,
				func(ctx context.Context) (T, error) { return legacy(ctx, in) },
				func(ctx context.Context) (T, error) { return candidate(ctx, in) })
		})
	}
}

// mustEngine resolves the comparison for T, or fails t on a programmer
// error.
func mustEngine[T any](t testing.TB, fn string, cfg config, nilLegacy, nilCandidate bool) *compare.Comparer[T] {
	t.Helper()
	switch {
	case nilLegacy:
		t.Fatalf("dualruntest: %s: the legacy func is nil", fn)
	case nilCandidate:
		t.Fatalf("dualruntest: %s: the candidate func is nil", fn)
	}
	eng, err := compare.New[T](cfg.spec)
	if err != nil {
		t.Fatalf("dualruntest: %s: %v", fn, err)
	}
	return eng
}

const maxCaseName = 48

// defaultCaseName prints in as %+v does (safely, see compare.Format), cut
// to maxCaseName bytes at a rune boundary, "…" appended.
func defaultCaseName[In any](in In) string {
	return compare.Format(in, maxCaseName+len("…"))
}

// runCase runs both sides, reports what differs and returns the legacy
// result.
func runCase[T any](t testing.TB, ctx context.Context, name string, eng *compare.Comparer[T], legacy, candidate dualrun.Func[T]) (T, error) {
	t.Helper()
	l := call(ctx, dualrun.Legacy, legacy)
	c := call(dualrun.AsShadow(ctx), dualrun.Candidate, candidate)
	prefix := "dualruntest: case " + strconv.Quote(name) + ": "
	for _, p := range []*sidePanic{l.panicked, c.panicked} {
		if p != nil {
			t.Errorf("%s%v\n%s", prefix, p, p.stack)
		}
	}
	if l.panicked != nil {
		var zero T
		return zero, l.panicked
	}
	if c.panicked != nil {
		return l.v, l.err
	}
	v := eng.Compare(l.v, l.err, c.v, c.err)
	switch {
	case v.Kind == compare.Match:
	case v.Ignored:
		t.Logf("%sdifference accepted by a WithIgnore rule: %s", prefix, explain(&v))
	default:
		t.Errorf("%s%s", prefix, explain(&v))
	}
	return l.v, l.err
}

// sidePanic is a panic recovered from one side.
type sidePanic struct {
	side  dualrun.Side
	value any
	stack []byte
}

// Error returns "legacy panicked: " or "candidate panicked: " and the panic
// value.
func (p *sidePanic) Error() string {
	return p.side.String() + " panicked: " + safe.Text(p.value, diffLimit)
}

// Unwrap returns the panic value if it is an error.
func (p *sidePanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// result is what one side did: returned (v, err), or panicked.
type result[T any] struct {
	v        T
	err      error
	panicked *sidePanic
}

// call runs one side behind recover. A runtime.Goexit is let through.
func call[T any](ctx context.Context, side dualrun.Side, fn dualrun.Func[T]) (r result[T]) {
	defer func() {
		if v := recover(); v != nil {
			r.panicked = &sidePanic{side: side, value: v, stack: debug.Stack()}
		}
	}()
	r.v, r.err = fn(ctx)
	return r
}
