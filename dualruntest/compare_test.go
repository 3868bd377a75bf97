package dualruntest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
)

type (
	// Money is plainly comparable: compared with ==.
	Money struct {
		Currency string
		Cents    int64
	}
	// Line and Order need cmp.Equal: a slice and floats.
	Line struct {
		SKU   string
		Qty   int
		Price float64
	}
	Order struct {
		ID    string
		Lines []Line
		Total float64
	}
	// secretive has an unexported field and a float: cmp.Equal refuses it
	// without an option.
	secretive struct {
		Public float64
		secret int
	}
	// sealed is plainly comparable despite its unexported field: == sees it.
	sealed struct {
		Public string
		secret int
	}
)

func ret[T any](v T, err error) dualrun.Func[T] {
	return func(context.Context) (T, error) { return v, err }
}

func boom[T any](v any) dualrun.Func[T] {
	return func(context.Context) (T, error) { panic(v) }
}

func order(total float64, qty ...int) Order {
	o := Order{ID: "o-1", Total: total}
	for i, q := range qty {
		o.Lines = append(o.Lines, Line{SKU: fmt.Sprintf("sku-%d", i), Qty: q, Price: 2.5})
	}
	return o
}

var (
	errNotFound = errors.New("not found")
	errGone     = errors.New("gone")
	errBoom     = errors.New("boom")
)

func roundCents(m Money) Money {
	m.Cents = (m.Cents + 5) / 10 * 10
	return m
}

// want is one expected message: it must contain every substring.
type want []string

func TestCompare(t *testing.T) {
	eur := func(c int64) Money { return Money{"EUR", c} }
	tests := []struct {
		name   string
		reason string
		run    func(tb testing.TB)
		errs   []want // one per expected t.Errorf, in order
		logs   []want
		fatals []want
	}{
		{
			name: "equal plain", reason: "equal values pass silently",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1000), nil))
			},
		},
		{
			name: "equal deep", reason: "slices are compared by content with cmp.Equal",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(order(5, 1, 2), nil), ret(order(5, 1, 2), nil))
			},
		},
		{
			name: "value mismatch plain", reason: "== decides, the diff and the path come from go-cmp",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1001), nil))
			},
			errs: []want{{
				`dualruntest: case "TestCompare/value_mismatch_plain": values differ (legacy -, candidate +):`,
				"Cents:", "1000", "1001", "\ndiffering paths: .Cents",
			}},
		},
		{
			name: "value mismatch deep", reason: "every differing leaf is listed, indexes folded",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(order(5, 1, 2, 3), nil), ret(order(6, 1, 9, 7), nil))
			},
			errs: []want{{"values differ (legacy -, candidate +):", "Qty:", "differing paths: .Lines[*].Qty, .Total"}},
		},
		{
			name: "root mismatch", reason: "a scalar differs at the root path .",
			run:  func(tb testing.TB) { _, _ = dualruntest.Compare(tb, t.Context(), ret(1, nil), ret(2, nil)) },
			errs: []want{{"values differ", "-", "+", "differing paths: ."}},
		},
		{
			name: "candidate erred", reason: "exactly one side erring is a mismatch",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(Money{}, errNotFound))
			},
			errs: []want{{
				"candidate erred, legacy did not: not found\n",
				"legacy returned: {Currency:EUR Cents:1000}",
			}},
		},
		{
			name: "legacy erred", reason: "exactly one side erring is a mismatch, the other way",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(Money{}, errNotFound), ret(eur(7), nil))
			},
			errs: []want{{
				"legacy erred, candidate did not: not found\n",
				"candidate returned: {Currency:EUR Cents:7}",
			}},
		},
		{
			name: "both erred", reason: "by default two errors are equivalent, as in dualrun",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(Money{}, errNotFound), ret(Money{}, errGone))
			},
		},
		{
			name: "both erred, values ignored", reason: "values are compared only when both sides succeed",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), errNotFound), ret(eur(2), errNotFound))
			},
		},
		{
			name: "errors differ", reason: "WithErrorComparer makes two errors differ",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(Money{}, errNotFound), ret(Money{}, errGone),
					dualruntest.WithErrorComparer(dualrun.ErrorMessagesEqual))
			},
			errs: []want{{
				"errors differ by the WithErrorComparer func (legacy -, candidate +):\n",
				"-legacy error:    not found (*errors.errorString)\n",
				"+candidate error: gone (*errors.errorString)",
			}},
		},
		{
			name: "errors equivalent", reason: "WithErrorComparer can accept different errors",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(),
					ret(Money{}, fmt.Errorf("legacy: %w", errNotFound)), ret(Money{}, fmt.Errorf("v2: %w", errNotFound)),
					dualruntest.WithErrorComparer(dualrun.ErrorsMatchTargets(errNotFound)))
			},
		},
		{
			name: "normalizer makes equal", reason: "normalizers run on both values before comparing",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1003), nil),
					dualruntest.WithNormalizer(roundCents))
			},
		},
		{
			name: "normalizer diff", reason: "the diff shows the normalized values",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1017), nil),
					dualruntest.WithNormalizer(roundCents))
			},
			errs: []want{{"values differ", "1000", "1020", "differing paths: .Cents"}},
		},
		{
			name: "normalizers in order", reason: "each normalizer sees the previous one's output",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1017), nil),
					dualruntest.WithNormalizer(roundCents),
					dualruntest.WithNormalizer(func(m Money) Money { m.Cents /= 100; return m }))
			},
		},
		{
			name: "comparer equal", reason: "WithComparer replaces ==",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(Money{"eur", 1000}, nil),
					dualruntest.WithComparer(func(l, c Money) bool {
						return strings.EqualFold(l.Currency, c.Currency) && l.Cents == c.Cents
					}))
			},
		},
		{
			name: "comparer unequal", reason: "WithComparer can be stricter than go-cmp: both values are printed",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1000), nil),
					dualruntest.WithComparer(func(_, _ Money) bool { return false }))
			},
			errs: []want{{
				"values differ (legacy -, candidate +):\n",
				"-legacy:    {Currency:EUR Cents:1000}\n+candidate: {Currency:EUR Cents:1000}",
			}},
		},
		{
			name: "EquateApprox within", reason: "cmp options are used by cmp.Equal",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(order(10, 1), nil), ret(order(10+1e-9, 1), nil),
					dualruntest.WithCmpOptions(cmpopts.EquateApprox(0, 1e-6)))
			},
		},
		{
			name: "EquateApprox beyond", reason: "a Comparer deciding unequal is a path",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(order(10, 1), nil), ret(order(10.5, 1), nil),
					dualruntest.WithCmpOptions(cmpopts.EquateApprox(0, 1e-6)))
			},
			errs: []want{{"values differ", "Total:", "differing paths: .Total"}},
		},
		{
			name: "cmp option on plain type", reason: "any cmp option switches == to cmp.Equal, as in dualrun",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(2000), nil),
					dualruntest.WithCmpOptions(cmpopts.IgnoreFields(Money{}, "Cents")))
			},
		},
		{
			name: "NaN", reason: "NaN != NaN unless cmpopts.EquateNaNs, as in dualrun",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(math.NaN(), nil), ret(math.NaN(), nil))
			},
			errs: []want{{"values differ", "NaN", "differing paths: ."}},
		},
		{
			name: "NaN equated", reason: "cmpopts.EquateNaNs",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(math.NaN(), nil), ret(math.NaN(), nil),
					dualruntest.WithCmpOptions(cmpopts.EquateNaNs()))
			},
		},
		{
			name: "unexported fields", reason: "go-cmp panics; the test fails with advice instead of crashing",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(secretive{1, 1}, nil), ret(secretive{1, 1}, nil))
			},
			errs: []want{{
				"go-cmp cannot compare dualruntest_test.secretive: cannot handle unexported field",
				"cmpopts.IgnoreUnexported(X{})", "cmp.AllowUnexported(X{})", "or decide equality with WithComparer (the dualruntest options",
			}},
		},
		{
			name: "unexported fields ignored", reason: "the advised option works",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(secretive{1, 1}, nil), ret(secretive{1, 2}, nil),
					dualruntest.WithCmpOptions(cmpopts.IgnoreUnexported(secretive{})))
			},
		},
		{
			name: "unexported fields allowed", reason: "the other advised option works, and the path names the field",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(secretive{1, 1}, nil), ret(secretive{1, 2}, nil),
					dualruntest.WithCmpOptions(cmp.AllowUnexported(secretive{})))
			},
			errs: []want{{"values differ", "differing paths: .secret"}},
		},
		{
			name: "plain type with unexported field", reason: "== compares unexported fields, and the diff shows them",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(sealed{"p", 1}, nil), ret(sealed{"p", 2}, nil))
			},
			errs: []want{{"values differ", "secret:", "differing paths: .secret"}},
		},
		{
			name: "cmp Comparer runtime error", reason: "a bug in a cmp.Comparer fails with its stack",
			run: func(tb testing.TB) {
				var m map[string]int
				_, _ = dualruntest.Compare(tb, t.Context(), ret(order(1, 1), nil), ret(order(2, 1), nil),
					dualruntest.WithCmpOptions(cmp.Comparer(func(a, b float64) bool { m["x"] = 1; return a == b })))
			},
			errs: []want{{"go-cmp cannot compare dualruntest_test.Order", "assignment to entry in nil map", "check the options given to WithCmpOptions", "goroutine "}},
		},
		{
			name: "candidate panics", reason: "strict: a candidate panic fails the test, naming the side",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), boom[Money]("candidate exploded"))
			},
			errs: []want{{`dualruntest: case "TestCompare/candidate_panics": candidate panicked: candidate exploded`, "goroutine ", "runtime/debug.Stack"}},
		},
		{
			name: "legacy panics", reason: "a legacy panic fails the test too; the candidate still runs",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), boom[Money](errBoom), ret(eur(1), nil))
			},
			errs: []want{{"legacy panicked: boom", "goroutine "}},
		},
		{
			name: "both panic", reason: "each side's panic is reported",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), boom[Money]("old"), boom[Money]("new"))
			},
			errs: []want{{"legacy panicked: old"}, {"candidate panicked: new"}},
		},
		{
			name: "ignore rule", reason: "an accepted difference is logged, not failed",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(Money{}, errNotFound),
					dualruntest.WithIgnore(func(_, c dualrun.Result[Money]) bool { return errors.Is(c.Err, errNotFound) }))
			},
			logs: []want{{`dualruntest: case "TestCompare/ignore_rule": difference accepted by a WithIgnore rule: candidate erred, legacy did not: not found`}},
		},
		{
			name: "ignore rule not matching", reason: "rules that return false change nothing",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1000), nil), ret(eur(1), nil),
					dualruntest.WithIgnore(func(_, _ dualrun.Result[Money]) bool { return false }))
			},
			errs: []want{{"values differ"}},
		},
		{
			name: "normalizer panics", reason: "a failing callback fails the test, with its name and stack",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), ret(eur(1), nil),
					dualruntest.WithNormalizer(func(Money) Money { panic("bad normalizer") }))
			},
			errs: []want{{"WithNormalizer func panicked: bad normalizer", "goroutine "}},
		},
		{
			name: "comparer panics", reason: "a failing callback fails the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), ret(eur(1), nil),
					dualruntest.WithComparer(func(_, _ Money) bool { panic("bad comparer") }))
			},
			errs: []want{{"WithComparer func panicked: bad comparer"}},
		},
		{
			name: "error comparer panics", reason: "a failing callback fails the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), errNotFound), ret(eur(1), errGone),
					dualruntest.WithErrorComparer(func(_, _ error) bool { panic("bad error comparer") }))
			},
			errs: []want{{"WithErrorComparer func panicked: bad error comparer"}},
		},
		{
			name: "ignore rule panics", reason: "a failing callback fails the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), ret(eur(2), nil),
					dualruntest.WithIgnore(func(_, _ dualrun.Result[Money]) bool { panic("bad rule") }))
			},
			errs: []want{{"WithIgnore rule panicked: bad rule"}},
		},
		{
			name: "WithCase", reason: "the case name replaces t.Name()",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(1, nil), ret(2, nil), dualruntest.WithCase("eur-rounding"))
			},
			errs: []want{{`dualruntest: case "eur-rounding": values differ`}},
		},
		{
			name: "nil options", reason: "nil options and nil funcs in options are ignored",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(1, nil), ret(1, nil), nil,
					dualruntest.WithComparer[int](nil), dualruntest.WithNormalizer[int](nil),
					dualruntest.WithIgnore[int](nil), dualruntest.WithErrorComparer(nil))
			},
		},
		{
			name: "option for another type", reason: "a programmer error stops the test before running anything",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), boom[Money]("must not run"), boom[Money]("must not run"),
					dualruntest.WithComparer(func(l, c int) bool { return l == c }))
			},
			fatals: []want{{"dualruntest: Compare: WithComparer was given a func(int, int) bool, want func(dualruntest_test.Money, dualruntest_test.Money) bool"}},
		},
		{
			name: "normalizer for another type", reason: "a programmer error stops the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), ret(eur(1), nil),
					dualruntest.WithNormalizer(func(m *Money) *Money { return m }))
			},
			fatals: []want{{"WithNormalizer was given a func(*dualruntest_test.Money) *dualruntest_test.Money"}},
		},
		{
			name: "ignore rule for another type", reason: "a programmer error stops the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(eur(1), nil), ret(eur(1), nil),
					dualruntest.WithIgnore(func(_, _ dualrun.Result[int]) bool { return true }))
			},
			fatals: []want{{"WithIgnore was given a func(dualrun.Result[int], dualrun.Result[int]) bool"}},
		},
		{
			name: "nil legacy", reason: "a programmer error stops the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), nil, ret(1, nil))
			},
			fatals: []want{{"dualruntest: Compare: the legacy func is nil"}},
		},
		{
			name: "nil candidate", reason: "a programmer error stops the test",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, t.Context(), ret(1, nil), nil)
			},
			fatals: []want{{"dualruntest: Compare: the candidate func is nil"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := runFake(t.Name(), tt.run)
			check(t, "Errorf", f.errors, tt.errs, tt.reason)
			check(t, "Logf", f.logs, tt.logs, tt.reason)
			check(t, "Fatalf", f.fatals, tt.fatals, tt.reason)
			if f.exited != (len(tt.fatals) > 0) {
				t.Errorf("ended by Goexit = %v, want %v (%s)", f.exited, len(tt.fatals) > 0, tt.reason)
			}
		})
	}
}

// check asserts that got has one message per want, each containing all of
// its substrings.
func check(t *testing.T, method string, got []string, wants []want, reason string) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("%s called %d times, want %d (%s); messages:\n%s", method, len(got), len(wants), reason, strings.Join(got, "\n----\n"))
		return
	}
	for i, w := range wants {
		for _, sub := range w {
			if !strings.Contains(got[i], sub) {
				t.Errorf("%s message %d lacks %q (%s); message:\n%s", method, i, sub, reason, got[i])
			}
		}
	}
}

func TestCompareReturnsLegacyResult(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		legacy    dualrun.Func[Money]
		candidate dualrun.Func[Money]
		wantV     Money
		wantErr   error
		wantFails int
	}{
		{
			name: "match", reason: "the legacy value, not the normalized one",
			legacy: ret(Money{"EUR", 1003}, nil), candidate: ret(Money{"EUR", 1001}, nil),
			wantV: Money{"EUR", 1003},
		},
		{
			name: "mismatch", reason: "the legacy value even when the candidate differs",
			legacy: ret(Money{"EUR", 1}, nil), candidate: ret(Money{"EUR", 900}, nil),
			wantV: Money{"EUR", 1}, wantFails: 1,
		},
		{
			name: "legacy error", reason: "the legacy error is returned as is",
			legacy: ret(Money{}, errNotFound), candidate: ret(Money{}, errGone),
			wantErr: errNotFound,
		},
		{
			name: "candidate panic", reason: "a candidate panic does not change the legacy result",
			legacy: ret(Money{"EUR", 5}, nil), candidate: boom[Money]("x"),
			wantV: Money{"EUR", 5}, wantFails: 1,
		},
		{
			name: "legacy panic", reason: "zero value and an error that unwraps to the panic value",
			legacy: boom[Money](errBoom), candidate: ret(Money{"EUR", 5}, nil),
			wantErr: errBoom, wantFails: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				v   Money
				err error
			)
			f := runFake(t.Name(), func(tb testing.TB) {
				v, err = dualruntest.Compare(tb, t.Context(), tt.legacy, tt.candidate, dualruntest.WithNormalizer(roundCents))
			})
			if v != tt.wantV || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Compare = %+v, %v; want %+v, %v (%s)", v, err, tt.wantV, tt.wantErr, tt.reason)
			}
			if len(f.errors) != tt.wantFails {
				t.Errorf("%d failures, want %d (%s): %q", len(f.errors), tt.wantFails, tt.reason, f.errors)
			}
		})
	}
}

func TestCompareLegacyPanicError(t *testing.T) {
	var err error
	runFake("T", func(tb testing.TB) {
		_, err = dualruntest.Compare(tb, t.Context(), boom[int]("kaput"), ret(1, nil))
	})
	if err == nil || err.Error() != "legacy panicked: kaput" {
		t.Errorf("err = %v, want \"legacy panicked: kaput\"", err)
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("Unwrap = %v, want nil for a non-error panic value", errors.Unwrap(err))
	}
}

type ctxKey struct{}

func TestCompareRunsLegacyThenCandidateOnCtx(t *testing.T) {
	ctx := context.WithValue(t.Context(), ctxKey{}, "v")
	var order []string
	side := func(name string) dualrun.Func[int] {
		return func(ctx context.Context) (int, error) {
			order = append(order, fmt.Sprintf("%s:%v:shadow=%v", name, ctx.Value(ctxKey{}), dualrun.IsShadow(ctx)))
			return 1, nil
		}
	}
	f := runFake("T", func(tb testing.TB) { _, _ = dualruntest.Compare(tb, ctx, side("legacy"), side("candidate")) })
	want := []string{"legacy:v:shadow=false", "candidate:v:shadow=true"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if len(f.errors) != 0 {
		t.Errorf("unexpected failures: %q", f.errors)
	}
}

func TestCompareLetsGoexitThrough(t *testing.T) {
	// t.FailNow or t.SkipNow inside a side ends the test: Compare must not
	// turn that into a panic report, nor go on comparing.
	ran := false
	f := runFake("T", func(tb testing.TB) {
		_, _ = dualruntest.Compare(tb, t.Context(), ret(1, nil), func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		ran = true
	})
	if !f.exited || ran {
		t.Errorf("exited = %v, ran after Compare = %v; want the goroutine ended inside Compare", f.exited, ran)
	}
	if len(f.errors)+len(f.logs) != 0 {
		t.Errorf("unexpected messages: %q %q", f.errors, f.logs)
	}
}

func TestCompareEach(t *testing.T) {
	var calls []string
	impl := func(side string) func(context.Context, Money) (Money, error) {
		return func(ctx context.Context, m Money) (Money, error) {
			if ctx.Err() != nil {
				t.Errorf("%s got a done context", side)
			}
			calls = append(calls, side+":"+m.Currency)
			return roundCents(m), nil
		}
	}
	dualruntest.CompareEach(t, []Money{{"EUR", 1}, {"USD", 2}}, impl("legacy"), impl("candidate"))
	want := []string{"legacy:EUR", "candidate:EUR", "legacy:USD", "candidate:USD"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
