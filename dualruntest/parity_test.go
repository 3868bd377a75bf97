package dualruntest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/otel"

	"github.com/dualrun/dualrun"
)

// The parity test runs each pair of results through the checker and through
// a real dualrun experiment with the same options, and asserts the same
// verdict: outcome, mismatch kind and differing paths. It is what keeps
// "compared exactly as dualrun compares" true when either side changes.

// spec is one set of comparison options, given to both.
type spec[T any] struct {
	cmpOpts    []cmp.Option
	comparer   func(l, c T) bool
	normalizer func(T) T
	ignore     func(l, c dualrun.Result[T]) bool
	errEqual   func(l, c error) bool
}

func (s spec[T]) ours() []Option {
	return []Option{
		WithCmpOptions(s.cmpOpts...), WithComparer(s.comparer), WithNormalizer(s.normalizer),
		WithIgnore(s.ignore), WithErrorComparer(s.errEqual),
	}
}

func (s spec[T]) theirs() []dualrun.Option {
	opts := []dualrun.Option{
		dualrun.WithShadowTimeout(time.Minute), dualrun.WithErrorComparer(s.errEqual),
		dualrun.WithComparer(s.comparer), dualrun.WithNormalizer(s.normalizer), dualrun.WithIgnore(s.ignore),
	}
	if len(s.cmpOpts) > 0 {
		opts = append(opts, dualrun.WithCmpOptions(s.cmpOpts...))
	}
	return opts
}

// judgement is a comparison's verdict in dualrun's terms.
type judgement struct {
	Outcome dualrun.Outcome
	Kind    dualrun.MismatchKind
	Paths   []string // for value mismatches
}

func (j judgement) String() string {
	return fmt.Sprintf("%v/%v %q", j.Outcome, j.Kind, j.Paths)
}

var kindJudgement = map[kind]judgement{
	kindMatch:        {Outcome: dualrun.Match},
	kindIgnored:      {Outcome: dualrun.Ignored},
	kindValue:        {Outcome: dualrun.Mismatch, Kind: dualrun.ValueMismatch},
	kindError:        {Outcome: dualrun.Mismatch, Kind: dualrun.ErrorMismatch},
	kindErrorsDiffer: {Outcome: dualrun.Mismatch, Kind: dualrun.ErrorsDiffer},
	kindFailed:       {Outcome: dualrun.Error},
}

// judge returns our verdict and dualrun's for one pair of results.
func judge[T any](lv T, lerr error, cv T, cerr error, s spec[T]) func(t *testing.T) (ours, theirs judgement) {
	return func(t *testing.T) (ours, theirs judgement) {
		t.Helper()
		ck, err := newChecker[T](newConfig(s.ours()))
		if err != nil {
			t.Fatal(err)
		}
		v := ck.check(lv, lerr, cv, cerr)
		ours = kindJudgement[v.kind]
		if v.kind == kindValue {
			ours.Paths = v.paths
		}

		exp := dualrun.New[T](t.Name(), s.theirs()...)
		ctx := t.Context()
		exp.Run(ctx, //nolint:errcheck // the verdict is read from Stats
			func(context.Context) (T, error) { return lv, lerr },
			func(context.Context) (T, error) { return cv, cerr })
		if err := exp.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		st := exp.Stats()
		if st.Compared != 1 {
			t.Fatalf("dualrun compared %d calls, want 1", st.Compared)
		}
		for o, n := range st.Outcomes {
			if n > 0 {
				theirs.Outcome = dualrun.Outcome(o)
			}
		}
		switch {
		case st.ValueMismatches > 0:
			theirs.Kind = dualrun.ValueMismatch
		case st.ErrorMismatches > 0:
			theirs.Kind = dualrun.ErrorMismatch
		case st.ErrorsDiffer > 0:
			theirs.Kind = dualrun.ErrorsDiffer
		}
		for _, f := range st.Fields {
			theirs.Paths = append(theirs.Paths, f.Path)
		}
		slices.Sort(theirs.Paths)
		return ours, theirs
	}
}

type (
	pMoney struct {
		Currency string
		Cents    int64
	}
	pLine struct {
		SKU   string
		Price float64
	}
	pOrder struct {
		Lines []pLine
		Total float64
		Note  *string
	}
	pHidden struct {
		F      float64
		hidden int
	}
	pSealed struct {
		Public string
		secret int
	}
)

func TestParityWithDualrun(t *testing.T) {
	// dualrun reports comparison errors to the OTel error handler; keep
	// the test output to the point.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))

	errA, errB := errors.New("a"), errors.New("b")
	note := func(s string) *string { return &s }
	ord := func(total float64, prices ...float64) pOrder {
		o := pOrder{Total: total, Note: note("n")}
		for _, p := range prices {
			o.Lines = append(o.Lines, pLine{"sku", p})
		}
		return o
	}
	eur := func(c int64) pMoney { return pMoney{"EUR", c} }
	round := func(m pMoney) pMoney { m.Cents = (m.Cents + 5) / 10 * 10; return m }
	instant := time.Unix(100, 0)

	tests := []struct {
		name   string
		reason string
		judge  func(t *testing.T) (ours, theirs judgement)
	}{
		{"plain equal", "== path", judge(eur(1), nil, eur(1), nil, spec[pMoney]{})},
		{"plain differ", "== path, paths through ExportAll", judge(eur(1), nil, eur(2), nil, spec[pMoney]{})},
		{"scalar differ", "root path", judge(1, nil, 2, nil, spec[int]{})},
		{"string differ", "root path", judge("a", nil, "b", nil, spec[string]{})},
		{"deep equal", "cmp.Equal path, distinct pointers", judge(ord(3, 1, 2), nil, ord(3, 1, 2), nil, spec[pOrder]{})},
		{"deep differ", "cmp.Equal path, folded paths", judge(ord(3, 1, 2), nil, ord(4, 1, 5), nil, spec[pOrder]{})},
		{"pointer field differs", "Indirect adds nothing to the path", judge(pOrder{Note: note("a")}, nil, pOrder{Note: note("b")}, nil, spec[pOrder]{})},
		{"pointers", "T is a pointer: compared by content", judge(&pMoney{"EUR", 1}, nil, &pMoney{"EUR", 1}, nil, spec[*pMoney]{})},
		{"interface", "T is an interface", judge[any](eur(1), nil, eur(2), nil, spec[any]{})},
		{"Equal method", "time.Time.Equal decides", judge(instant, nil, instant.In(time.FixedZone("X", 3600)), nil, spec[time.Time]{})},
		{"NaN", "NaN != NaN", judge(math.NaN(), nil, math.NaN(), nil, spec[float64]{})},
		{"NaN equated", "EquateNaNs", judge(math.NaN(), nil, math.NaN(), nil, spec[float64]{cmpOpts: []cmp.Option{cmpopts.EquateNaNs()}})},
		{"nil vs empty slice", "go-cmp tells them apart", judge([]int(nil), nil, []int{}, nil, spec[[]int]{})},
		{"candidate erred", "error mismatch", judge(eur(1), nil, eur(1), errA, spec[pMoney]{})},
		{"legacy erred", "error mismatch", judge(eur(1), errA, eur(1), nil, spec[pMoney]{})},
		{"both erred", "equivalent by default", judge(eur(1), errA, eur(2), errB, spec[pMoney]{})},
		{"errors differ", "messages compared", judge(eur(1), errA, eur(1), errB, spec[pMoney]{errEqual: dualrun.ErrorMessagesEqual})},
		{"errors equivalent", "messages equal", judge(eur(1), errA, eur(1), errors.New("a"), spec[pMoney]{errEqual: dualrun.ErrorMessagesEqual})},
		{"error comparer panics", "callback failure", judge(eur(1), errA, eur(1), errB, spec[pMoney]{errEqual: func(_, _ error) bool { panic("x") }})},
		{"normalizer equal", "normalized first", judge(eur(1000), nil, eur(1003), nil, spec[pMoney]{normalizer: round})},
		{"normalizer differ", "still differs", judge(eur(1000), nil, eur(1030), nil, spec[pMoney]{normalizer: round})},
		{"normalizer not on errors", "values are not compared when one side erred", judge(eur(1000), nil, eur(1003), errA, spec[pMoney]{normalizer: round})},
		{"normalizer panics", "callback failure", judge(eur(1), nil, eur(1), nil, spec[pMoney]{normalizer: func(pMoney) pMoney { panic("x") }})},
		{"comparer equal", "custom equality", judge(eur(1), nil, eur(2), nil, spec[pMoney]{comparer: func(_, _ pMoney) bool { return true }})},
		{"comparer unequal", "custom equality, paths from go-cmp", judge(eur(1), nil, eur(2), nil, spec[pMoney]{comparer: func(_, _ pMoney) bool { return false }})},
		{"comparer stricter", "no path when go-cmp sees none", judge(eur(1), nil, eur(1), nil, spec[pMoney]{comparer: func(_, _ pMoney) bool { return false }})},
		{"comparer on hidden", "custom equality with unexported fields: paths via ExportAll", judge(pHidden{1, 1}, nil, pHidden{1, 2}, nil, spec[pHidden]{comparer: func(_, _ pHidden) bool { return false }})},
		{"comparer panics", "callback failure", judge(eur(1), nil, eur(2), nil, spec[pMoney]{comparer: func(_, _ pMoney) bool { panic("x") }})},
		{"EquateApprox within", "cmp option", judge(ord(1, 1), nil, ord(1+1e-12, 1), nil, spec[pOrder]{cmpOpts: []cmp.Option{cmpopts.EquateApprox(0, 1e-9)}})},
		{"EquateApprox beyond", "cmp option", judge(ord(1, 1), nil, ord(2, 1), nil, spec[pOrder]{cmpOpts: []cmp.Option{cmpopts.EquateApprox(0, 1e-9)}})},
		{"cmp option on plain type", "switches to cmp.Equal", judge(eur(1), nil, eur(2), nil, spec[pMoney]{cmpOpts: []cmp.Option{cmpopts.IgnoreFields(pMoney{}, "Cents")}})},
		{"unexported", "go-cmp panics: outcome error", judge(pHidden{1, 1}, nil, pHidden{1, 1}, nil, spec[pHidden]{})},
		{"unexported ignored", "IgnoreUnexported", judge(pHidden{1, 1}, nil, pHidden{1, 2}, nil, spec[pHidden]{cmpOpts: []cmp.Option{cmpopts.IgnoreUnexported(pHidden{})}})},
		{"unexported allowed", "AllowUnexported", judge(pHidden{1, 1}, nil, pHidden{1, 2}, nil, spec[pHidden]{cmpOpts: []cmp.Option{cmp.AllowUnexported(pHidden{})}})},
		{"sealed plain", "== sees unexported fields", judge(pSealed{"p", 1}, nil, pSealed{"p", 2}, nil, spec[pSealed]{})},
		{"cmp Comparer panics", "outcome error", judge(ord(1, 1), nil, ord(2, 1), nil, spec[pOrder]{cmpOpts: []cmp.Option{cmp.Comparer(func(_, _ float64) bool { panic("x") })}})},
		{"ignore rule", "accepted difference", judge(eur(1), nil, eur(2), nil, spec[pMoney]{ignore: func(_, _ dualrun.Result[pMoney]) bool { return true }})},
		{"ignore rule on error", "accepted error mismatch", judge(eur(1), nil, eur(1), errA, spec[pMoney]{ignore: func(_, c dualrun.Result[pMoney]) bool { return c.Err != nil }})},
		{"ignore rule sees raw values", "rules get unnormalized values", judge(eur(1000), nil, eur(1030), nil, spec[pMoney]{
			normalizer: round,
			ignore:     func(_, c dualrun.Result[pMoney]) bool { return c.Value.Cents == 1030 },
		})},
		{"ignore rule not on match", "rules run only on differences", judge(eur(1), nil, eur(1), nil, spec[pMoney]{ignore: func(_, _ dualrun.Result[pMoney]) bool { panic("x") }})},
		{"ignore rule panics", "callback failure", judge(eur(1), nil, eur(2), nil, spec[pMoney]{ignore: func(_, _ dualrun.Result[pMoney]) bool { panic("x") }})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, theirs := tt.judge(t)
			if !cmp.Equal(theirs, ours) {
				t.Errorf("dualruntest judged %v, dualrun %v (%s)", ours, theirs, tt.reason)
			}
		})
	}
}
