package dualrun_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
)

// jsonDiffer is a toy differ with its own path notation.
func jsonDiffer(l, c map[string]int) dualrun.Difference {
	var paths []string
	for k, v := range l {
		if c[k] != v {
			paths = append(paths, "$."+k)
		}
	}
	for k := range c {
		if _, ok := l[k]; !ok {
			paths = append(paths, "$."+k)
		}
	}
	return dualrun.Difference{
		Equal: len(paths) == 0,
		Paths: append(paths, "$.a", strings.Repeat("x", 400)), // duplicates and an overlong path are bounded
		Diff:  func(int) string { return "json differs at " + strings.Join(paths, ",") },
	}
}

// TestWithDiffer: a differ's paths feed the experiment's fields, Reports
// and classes, bounded like the engine's; its diff is the Report's; a panic
// in it is outcome error.
func TestWithDiffer(t *testing.T) {
	rec := dualruntest.NewRecorder()
	exp := newExp[map[string]int](t, dualrun.WithDiffer(jsonDiffer), dualrun.WithPublisher(rec), dualrun.WithReportDedup(0))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (map[string]int, error) { return map[string]int{"a": 1, "b": 2}, nil },
		func(context.Context) (map[string]int, error) { return map[string]int{"a": 1, "b": 3}, nil })
	_, _ = exp.Run(context.Background(),
		func(context.Context) (map[string]int, error) { return map[string]int{"a": 1}, nil },
		func(context.Context) (map[string]int, error) { return map[string]int{"a": 1}, nil })
	waitShutdown(t, exp)
	s := exp.Stats()
	if s.Count(dualrun.Mismatch) != 1 || s.Count(dualrun.Match) != 1 {
		t.Fatalf("outcomes %v", s.Outcomes)
	}
	reps := rec.Reports()
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	p := reps[0].Paths
	if len(p) != 3 || p[0] != "$.a" || p[1] != "$.b" || len(p[2]) > 256 || !strings.HasSuffix(p[2], "…") {
		t.Errorf("paths %q: want sorted, de-duplicated, the long one cut to 256 bytes", p)
	}
	if reps[0].Diff != "json differs at $.b" {
		t.Errorf("diff %q", reps[0].Diff)
	}
	if len(s.Classes) != 1 || !slices.Equal(s.Classes[0].Paths, p) {
		t.Errorf("classes %+v", s.Classes)
	}

	boom := errors.New("differ bug")
	bad := newExp[int](t, dualrun.WithDiffer(func(int, int) dualrun.Difference { panic(boom) }), dualrun.WithPublisher(rec))
	_, _ = bad.Run(context.Background(), ret(1, nil), ret(2, nil))
	waitShutdown(t, bad)
	if bad.Stats().Count(dualrun.Error) != 1 {
		t.Fatalf("outcomes %v, want error", bad.Stats().Outcomes)
	}
	last := rec.Reports()[len(rec.Reports())-1]
	if !errors.Is(last.CallbackErr, boom) {
		t.Errorf("CallbackErr %v does not reach the panic value", last.CallbackErr)
	}
	mustPanic(t, "WithDiffer", func() {
		dualrun.New[string](expName(t), dualrun.WithDiffer(func(int, int) dualrun.Difference { return dualrun.Difference{} }))
	})
}
