package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
)

// The comparison itself is tested in internal/compare; these tests check
// what an experiment makes of it: outcomes, Reports, callback errors.

type (
	// cmpAccount holds a secret that a redacting normalizer hides.
	cmpAccount struct {
		ID     string
		Secret string
	}
	cmpNode struct {
		V    int
		Next *cmpNode
	}
	cmpBlob struct {
		Name string
		Data []byte
	}
)

var errCmpBoom = errors.New("boom")

// cmpRun runs one compared call with legacy as primary through a fresh
// experiment with opts, shuts it down, and returns its single Report (nil
// if none) and its Stats.
func cmpRun[T any](t *testing.T, legacy, candidate dualrun.Func[T], opts ...dualrun.Option) (*dualrun.Report, dualrun.Stats) {
	t.Helper()
	rec := dualruntest.NewRecorder()
	exp := dualrun.New[T]("compare_test."+t.Name(), append([]dualrun.Option{
		dualrun.WithPublisher(rec), dualrun.WithShadowTimeout(time.Minute),
	}, opts...)...)
	t.Cleanup(exp.Unregister)
	_, _ = exp.Run(context.Background(), legacy, candidate)
	if err := exp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	reports := rec.Reports()
	if len(reports) > 1 {
		t.Fatalf("%d reports, want at most 1", len(reports))
	}
	if len(reports) == 0 {
		return nil, exp.Stats()
	}
	return reports[0], exp.Stats()
}

func cmpRet[T any](v T, err error) dualrun.Func[T] {
	return func(context.Context) (T, error) { return v, err }
}

// TestRedactingNormalizerOnEveryKind is a regression test: when exactly one
// side erred, the Report's diff showed the other side's raw value,
// bypassing a redacting normalizer. No kind of mismatch may show it.
func TestRedactingNormalizerOnEveryKind(t *testing.T) {
	redact := dualrun.WithNormalizer(func(a cmpAccount) cmpAccount {
		a.Secret = "REDACTED"
		return a
	})
	secret := func(id string) cmpAccount { return cmpAccount{ID: id, Secret: "s3cr3t-" + id} }
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name       string
		reason     string
		lv, cv     cmpAccount
		lerr, cerr error
		opts       []dualrun.Option
		wantKind   dualrun.MismatchKind
	}{
		{name: "values differ", reason: "go-cmp's diff of normalized values", lv: secret("1"), cv: secret("2"), wantKind: dualrun.ValueMismatch},
		{name: "legacy erred", reason: "the candidate's value, normalized", cv: secret("2"), lerr: errA, wantKind: dualrun.ErrorMismatch},
		{name: "candidate erred", reason: "the legacy value, normalized", lv: secret("1"), cerr: errA, wantKind: dualrun.ErrorMismatch},
		{
			name: "stricter comparer", reason: "both values printed, normalized",
			lv: secret("1"), cv: secret("1"), wantKind: dualrun.ValueMismatch,
			opts: []dualrun.Option{dualrun.WithComparer(func(_, _ cmpAccount) bool { return false })},
		},
		{
			name: "errors differ", reason: "errors only",
			lv: secret("1"), cv: secret("2"), lerr: errA, cerr: errB, wantKind: dualrun.ErrorsDiffer,
			opts: []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := cmpRun(t, cmpRet(tt.lv, tt.lerr), cmpRet(tt.cv, tt.cerr), append([]dualrun.Option{redact}, tt.opts...)...)
			if r == nil || r.Outcome != dualrun.Mismatch || r.Kind != tt.wantKind {
				t.Fatalf("report %v, want a %v mismatch (%s)", r, tt.wantKind, tt.reason)
			}
			if r.Diff == "" || strings.Contains(r.Diff, "s3cr3t") {
				t.Errorf("diff shows the secret or is empty (%s):\n%s", tt.reason, r.Diff)
			}
		})
	}
}

func TestWithCompareBudget(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "WithCompareBudget") {
					t.Errorf("WithCompareBudget(%v): panic %v, want one naming the option", d, v)
				}
			}()
			dualrun.WithCompareBudget(d)
		})
	}
	big := make([]int, 100_000)
	tests := []struct {
		name        string
		reason      string
		budget      time.Duration
		wantOutcome dualrun.Outcome
	}{
		{name: "exceeded", reason: "1 ns is over at go-cmp's second check, whatever the machine", budget: time.Nanosecond, wantOutcome: dualrun.Error},
		{name: "ample", reason: "the same comparison within a minute", budget: time.Minute, wantOutcome: dualrun.Match},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, st := cmpRun(t, cmpRet(big, nil), cmpRet(slices.Clone(big), nil), dualrun.WithCompareBudget(tt.budget))
			if st.Count(tt.wantOutcome) != 1 {
				t.Fatalf("outcomes %v, want one %v (%s)", st.Outcomes, tt.wantOutcome, tt.reason)
			}
			if tt.wantOutcome != dualrun.Error {
				return
			}
			var be *dualrun.BudgetError
			if r == nil || !errors.Is(r.CallbackErr, dualrun.ErrCompareBudget) || !errors.As(r.CallbackErr, &be) {
				t.Fatalf("report %v, callback error %v: want ErrCompareBudget", r, r.CallbackErr)
			}
			if be.Budget != tt.budget || be.Nodes == 0 || r.LegacyErr != nil || r.CandidateErr != nil {
				t.Errorf("BudgetError %+v; side errors %v, %v", be, r.LegacyErr, r.CandidateErr)
			}
		})
	}
}

// TestComparisonCallbackErrors: a panic in any comparison callback, or in
// go-cmp, is outcome error; the Report's CallbackErr names the callback and
// unwraps to the panic value.
func TestComparisonCallbackErrors(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		opts       []dualrun.Option
		lerr, cerr error
		wantName   string
	}{
		{name: "comparer", reason: "WithComparer", wantName: "WithComparer func", opts: []dualrun.Option{
			dualrun.WithComparer(func(_, _ cmpAccount) bool { panic(errCmpBoom) }),
		}},
		{name: "normalizer", reason: "WithNormalizer", wantName: "WithNormalizer func", opts: []dualrun.Option{
			dualrun.WithNormalizer(func(cmpAccount) cmpAccount { panic(errCmpBoom) }),
		}},
		{name: "ignore rule", reason: "WithIgnore, on a difference", wantName: "WithIgnore rule", cerr: errors.New("x"), opts: []dualrun.Option{
			dualrun.WithIgnore(func(_, _ dualrun.Result[cmpAccount]) bool { panic(errCmpBoom) }),
		}},
		{name: "error comparer", reason: "WithErrorComparer", wantName: "WithErrorComparer func", lerr: errors.New("x"), cerr: errors.New("y"), opts: []dualrun.Option{
			dualrun.WithErrorComparer(func(_, _ error) bool { panic(errCmpBoom) }),
		}},
		{name: "go-cmp", reason: "a cmp.Comparer go-cmp calls", wantName: "go-cmp", opts: []dualrun.Option{
			dualrun.WithCmpOptions(cmp.Comparer(func(_, _ string) bool { panic(errCmpBoom) })),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := cmpAccount{ID: "1"}
			r, _ := cmpRun(t, cmpRet(v, tt.lerr), cmpRet(v, tt.cerr), tt.opts...)
			var ce *dualrun.CallbackError
			if r == nil || r.Outcome != dualrun.Error || !errors.As(r.CallbackErr, &ce) {
				t.Fatalf("report %v (callback error %T), want outcome error with a *CallbackError (%s)", r, r.CallbackErr, tt.reason)
			}
			if ce.Callback != tt.wantName || !errors.Is(r.CallbackErr, errCmpBoom) {
				t.Errorf("callback %q, errors.Is(panic value) %v; want %q, true (%s)", ce.Callback, errors.Is(r.CallbackErr, errCmpBoom), tt.wantName, tt.reason)
			}
		})
	}
}

// TestFoldedPathsInReports is a regression test: a recursive value of
// 20,000 nodes gave a 100 KB path that took 9.6 s to build. Every V
// differs: the Report and the field metric see three folded paths.
func TestFoldedPathsInReports(t *testing.T) {
	list := func(sign int) *cmpNode {
		var head *cmpNode
		for i := 20_000; i > 0; i-- {
			head = &cmpNode{V: sign * i, Next: head}
		}
		return head
	}
	r, st := cmpRun(t, cmpRet(list(1), nil), cmpRet(list(-1), nil), dualrun.WithCompareBudget(time.Minute))
	want := []string{".Next.V", ".Next….V", ".V"}
	if r == nil || !slices.Equal(r.Paths, want) {
		t.Fatalf("report %v, want paths %q", r, want)
	}
	if len(st.Fields) != len(want) {
		t.Errorf("fields %v", st.Fields)
	}
}

// TestLargeBytesReport is a regression test: go-cmp compared a 10 MB
// []byte a byte at a time (11 s). The engine compares it whole; the Report
// names the field and describes the difference without printing 10 MB.
func TestLargeBytesReport(t *testing.T) {
	x, y := make([]byte, 10<<20), make([]byte, 10<<20)
	y[1234567] = 1
	r, _ := cmpRun(t, cmpRet(cmpBlob{"a", x}, nil), cmpRet(cmpBlob{"a", y}, nil))
	if r == nil || !slices.Equal(r.Paths, []string{".Data"}) {
		t.Fatalf("report %v, want the path .Data", r)
	}
	if want := ".Data: []uint8 of 10485760 and 10485760 bytes, first difference at offset 1234567"; !strings.Contains(r.Diff, want) {
		t.Errorf("diff lacks %q:\n%s", want, r.Diff)
	}
}

// TestHostileComparisonValues: values the comparison has to print that
// used to kill the process (fmt overflows the stack on a cyclic value; a
// typed-nil error's Error method panics), on the comparison's own paths:
// the diff of a WithComparer func stricter than go-cmp, and a value beside
// an error. In a child process, so that a regression fails the test.
func TestHostileComparisonValues(t *testing.T) {
	inChild(t, func(t *testing.T) {
		self := func(v int) *cmpNode {
			n := &cmpNode{V: v}
			n.Next = n
			return n
		}
		type m = map[string]any
		cyclic := func() m {
			x := m{"v": 1}
			x["self"] = x
			return x
		}
		var typedNil *typedNilErr
		r, _ := cmpRun(t, cmpRet(self(1), nil), cmpRet(self(1), nil),
			dualrun.WithComparer(func(_, _ *cmpNode) bool { return false }))
		if r == nil || !strings.Contains(r.Diff, "&{V:1 Next:<cycle *dualrun_test.cmpNode>}") {
			t.Errorf("pointer cycle: report %v, diff:\n%v", r, r)
		}
		r, _ = cmpRun(t, cmpRet(cyclic(), nil), cmpRet(m(nil), errors.New("x")))
		if r == nil || !strings.Contains(r.Diff, "-legacy:    map[self:<cycle map[string]interface {}> v:1]") {
			t.Errorf("cyclic map beside an error: report %v", r)
		}
		r, _ = cmpRun(t, cmpRet(cyclic(), error(typedNil)), cmpRet(cyclic(), nil))
		if r == nil || !strings.Contains(r.Diff, "(its Error method panicked)") {
			t.Errorf("typed-nil error beside a cyclic map: report %v", r)
		}
	})
}

// ExampleWithCompareBudget bounds how long one comparison may take. A
// comparison over its budget is recorded as outcome error, its
// CallbackErr matching ErrCompareBudget.
func ExampleWithCompareBudget() {
	rec := dualruntest.NewRecorder()
	exp := dualrun.New[[]int]("example.budget", dualrun.WithPublisher(rec),
		dualrun.WithCompareBudget(time.Nanosecond)) // far too little, to show the outcome
	big := make([]int, 100_000)
	ctx := context.Background()
	_, _ = exp.Run(ctx,
		func(context.Context) ([]int, error) { return big, nil },
		func(context.Context) ([]int, error) { return slices.Clone(big), nil })
	_ = exp.Shutdown(ctx)

	r := rec.Reports()[0]
	fmt.Println(r.Outcome, errors.Is(r.CallbackErr, dualrun.ErrCompareBudget))
	// Output:
	// error true
}
