package dualruntest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
)

// printTB stands in for the *testing.T of a real test so that the examples
// can show, and check, what Compare reports: it prints failures and logs.
// go-cmp varies the layout of its diff on purpose (so that nobody relies on
// it), so printTB replaces the diff lines with one line saying so, and
// likewise a goroutine stack. In a test, pass t.
type printTB struct {
	testing.TB
	name string
}

func (p printTB) Helper()      {}
func (p printTB) Name() string { return p.name }

func (p printTB) Errorf(format string, args ...any) { p.print("FAIL", fmt.Sprintf(format, args...)) }
func (p printTB) Logf(format string, args ...any)   { p.print("LOG", fmt.Sprintf(format, args...)) }

func (p printTB) print(what, msg string) {
	fmt.Println(what + ": " + msg[:strings.IndexByte(msg+"\n", '\n')])
	elided := false
	for _, line := range strings.Split(msg, "\n")[1:] {
		if strings.HasPrefix(line, "goroutine ") {
			fmt.Println("    (stack)")
			return
		}
		if isDiffLine(line) {
			if !elided {
				fmt.Println("    (go-cmp diff)")
				elided = true
			}
			continue
		}
		fmt.Println("    " + line)
	}
}

// isDiffLine reports whether line is part of a go-cmp diff: a marker
// column (space, "-" or "+") and a separator column, each a space or a
// non-breaking space, at go-cmp's whim.
func isDiffLine(line string) bool {
	r, n := utf8.DecodeRuneInString(line)
	if r != ' ' && r != '\u00a0' && r != '-' && r != '+' {
		return false
	}
	r, _ = utf8.DecodeRuneInString(line[n:])
	return r == ' ' || r == '\u00a0'
}

func legacyTotal(_ context.Context, cents []int64) (Money, error) {
	var sum int64
	for _, c := range cents {
		sum += c
	}
	return Money{"EUR", sum}, nil
}

// newTotal has a bug: it drops the last item.
func newTotal(_ context.Context, cents []int64) (Money, error) {
	var sum int64
	for i := 0; i < len(cents)-1; i++ {
		sum += cents[i]
	}
	return Money{"EUR", sum}, nil
}

// A test of a call site under migration: each case runs both
// implementations and fails, with a diff, where they differ. Compare
// returns the legacy result, so the test keeps its existing assertions.
func Example() {
	testTotal := func(t *testing.T) { // func TestTotal(t *testing.T) in a _test.go file
		for _, tc := range []struct {
			name  string
			cents []int64
			want  int64
		}{
			{"empty", nil, 0},
			{"two items", []int64{250, 100}, 350},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := dualruntest.Compare(t, t.Context(),
					func(ctx context.Context) (Money, error) { return legacyTotal(ctx, tc.cents) },
					func(ctx context.Context) (Money, error) { return newTotal(ctx, tc.cents) })
				if err != nil || got.Cents != tc.want {
					t.Errorf("total = %v, %v; want %d", got, err, tc.want)
				}
			})
		}
	}
	_ = testTotal
}

// What a failing Compare reports. The stand-in t prints instead of failing.
func ExampleCompare() {
	t := printTB{name: "TestTotal/two_items"}
	ctx := context.Background()

	got, _ := dualruntest.Compare(t, ctx,
		func(ctx context.Context) (Money, error) { return legacyTotal(ctx, []int64{250, 100}) },
		func(ctx context.Context) (Money, error) { return newTotal(ctx, []int64{250, 100}) })
	fmt.Printf("Compare returned the legacy result: %+v\n", got)

	_, _ = dualruntest.Compare(t, ctx,
		func(context.Context) (Money, error) { return Money{"EUR", 100}, nil },
		func(context.Context) (Money, error) { return Money{}, errors.New("rate service unavailable") },
		dualruntest.WithCase("rates down"))
	// Output:
	// FAIL: dualruntest: case "TestTotal/two_items": values differ (legacy -, candidate +):
	//     (go-cmp diff)
	//     differing paths: .Cents
	// Compare returned the legacy result: {Currency:EUR Cents:350}
	// FAIL: dualruntest: case "rates down": candidate erred, legacy did not: rate service unavailable
	//     legacy returned: {Currency:EUR Cents:100}
}

// CompareEach runs every input as a subtest, named by WithCaseName.
func ExampleCompareEach() {
	testTotal := func(t *testing.T) { // func TestTotal(t *testing.T) in a _test.go file
		carts := [][]int64{nil, {250}, {250, 100}}
		dualruntest.CompareEach(t, carts, legacyTotal, newTotal,
			dualruntest.WithCaseName(func(cents []int64) string { return fmt.Sprintf("%d items", len(cents)) }))
		// Fails in the subtests "1_items" and "2_items": newTotal drops the
		// last item.
	}
	_ = testTotal
}

// A panicking candidate fails the test, naming the side; the legacy result
// is still returned.
func ExampleCompare_panic() {
	t := printTB{name: "TestTotal"}
	got, err := dualruntest.Compare(t, context.Background(),
		func(context.Context) (Money, error) { return Money{"EUR", 1}, nil },
		func(context.Context) (Money, error) { panic("no exchange rate for EUR") })
	fmt.Printf("%+v %v\n", got, err)
	// Output:
	// FAIL: dualruntest: case "TestTotal": candidate panicked: no exchange rate for EUR
	//     (stack)
	// {Currency:EUR Cents:1} <nil>
}

// Normalizers clean both values before the comparison: here the candidate
// rounds to 10 cents, which is accepted.
func ExampleWithNormalizer() {
	t := printTB{name: "TestTotal"}
	roundTo10 := func(p Money) Money { p.Cents = (p.Cents + 5) / 10 * 10; return p }
	_, _ = dualruntest.Compare(t, context.Background(),
		func(context.Context) (Money, error) { return Money{"EUR", 1003}, nil },
		func(context.Context) (Money, error) { return Money{"EUR", 1000}, nil },
		dualruntest.WithNormalizer(roundTo10))
	fmt.Println("no failure")
	// Output:
	// no failure
}

type reading struct {
	Celsius float64
	raw     []byte // unexported: go-cmp refuses to compare it unless told
}

// Floats computed in another order rarely agree to the last bit; go-cmp
// options say how close is equal. The options are dualrun's: pass the same
// ones to dualrun.WithCmpOptions.
func ExampleWithCmpOptions() {
	t := printTB{name: "TestReading"}
	_, _ = dualruntest.Compare(t, context.Background(),
		func(context.Context) (reading, error) { return reading{Celsius: 0.1 + 0.2}, nil },
		func(context.Context) (reading, error) { return reading{Celsius: 0.3, raw: []byte{1}}, nil },
		dualruntest.WithCmpOptions(cmpopts.EquateApprox(0, 1e-9), cmpopts.IgnoreUnexported(reading{})))
	fmt.Println("no failure")
	// Output:
	// no failure
}

// By default two errors are equivalent; an error comparer can be stricter.
func ExampleWithErrorComparer() {
	t := printTB{name: "TestLookup"}
	errNotFound := errors.New("not found")
	_, _ = dualruntest.Compare(t, context.Background(),
		func(context.Context) (Money, error) { return Money{}, fmt.Errorf("legacy: %w", errNotFound) },
		func(context.Context) (Money, error) { return Money{}, errors.New("timeout") },
		dualruntest.WithErrorComparer(dualrun.ErrorsMatchTargets(errNotFound)))
	// Output:
	// FAIL: dualruntest: case "TestLookup": errors differ by the WithErrorComparer func (legacy -, candidate +):
	//     -legacy error:    legacy: not found (*fmt.wrapError)
	//     +candidate error: timeout (*errors.errorString)
}

// A known, accepted difference is logged instead of failing the test.
func ExampleWithIgnore() {
	t := printTB{name: "TestTotal"}
	errUnsupported := errors.New("currency not supported yet")
	_, _ = dualruntest.Compare(t, context.Background(),
		func(context.Context) (Money, error) { return Money{"CHF", 100}, nil },
		func(context.Context) (Money, error) { return Money{}, errUnsupported },
		dualruntest.WithIgnore(func(_, candidate dualrun.Result[Money]) bool {
			return errors.Is(candidate.Err, errUnsupported)
		}))
	// Output:
	// LOG: dualruntest: case "TestTotal": difference accepted by a WithIgnore rule: candidate erred, legacy did not: currency not supported yet
	//     legacy returned: {Currency:CHF Cents:100}
}

// A comparer decides equality itself, for example ignoring case.
func ExampleWithComparer() {
	t := printTB{name: "TestTotal"}
	_, _ = dualruntest.Compare(t, context.Background(),
		func(context.Context) (Money, error) { return Money{"EUR", 100}, nil },
		func(context.Context) (Money, error) { return Money{"eur", 100}, nil },
		dualruntest.WithComparer(func(legacy, candidate Money) bool {
			return strings.EqualFold(legacy.Currency, candidate.Currency) && legacy.Cents == candidate.Cents
		}))
	fmt.Println("no failure")
	// Output:
	// no failure
}
