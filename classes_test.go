package dualrun_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/dualrun/dualrun"
)

// taxQuote has three fields a rewrite may get wrong, alone or together.
type taxQuote struct {
	Tax, Total, Discount int64
}

// TestMismatchClasses: the distinct sets of differing paths are counted,
// most frequent first, each with a sample Report.
func TestMismatchClasses(t *testing.T) {
	exp := newExp[taxQuote](t, dualrun.WithReportDedup(0), dualrun.WithReportRate(0, 1),
		dualrun.WithPublisher(dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { return nil })))
	legacy := func(context.Context) (taxQuote, error) { return taxQuote{10, 110, 0}, nil }
	run := func(n int, c taxQuote) {
		for range n {
			_, _ = exp.Run(context.Background(), legacy, func(context.Context) (taxQuote, error) { return c, nil })
			waitIdle(t, exp)
		}
	}
	run(5, taxQuote{11, 111, 0}) // {.Tax, .Total}
	run(2, taxQuote{10, 110, 5}) // {.Discount}
	run(3, taxQuote{10, 110, 0}) // match
	waitShutdown(t, exp)
	got := exp.Stats().Classes
	if len(got) != 2 {
		t.Fatalf("classes %+v, want 2", got)
	}
	want := []struct {
		paths []string
		count int64
	}{{[]string{".Tax", ".Total"}, 5}, {[]string{".Discount"}, 2}}
	for i, w := range want {
		c := got[i]
		if !slices.Equal(c.Paths, w.paths) || c.Count != w.count || c.Kind != dualrun.ValueMismatch || c.Overcount != 0 {
			t.Errorf("class %d = %+v, want paths %v × %d", i, c, w.paths, w.count)
		}
		if c.Sample == nil || !slices.Equal(c.Sample.Paths, w.paths) {
			t.Errorf("class %d sample = %v", i, c.Sample)
		}
	}
}

// TestMismatchClassesBounded: more distinct classes than are tracked keep
// the memory bounded and the frequent class exact.
func TestMismatchClassesBounded(t *testing.T) {
	type wide struct {
		F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 int
		F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 int
	}
	exp := newExp[wide](t)
	legacy := func(context.Context) (wide, error) { return wide{}, nil }
	differ := func(i int) dualrun.Func[wide] {
		return func(context.Context) (wide, error) {
			var w wide
			reflect.ValueOf(&w).Elem().Field(i).SetInt(1)
			return w, nil
		}
	}
	for range 50 { // the frequent class
		_, _ = exp.Run(context.Background(), legacy, differ(0))
		waitIdle(t, exp)
	}
	for i := 1; i < 20; i++ { // 19 rare ones
		_, _ = exp.Run(context.Background(), legacy, differ(i))
		waitIdle(t, exp)
	}
	waitShutdown(t, exp)
	got := exp.Stats().Classes
	if len(got) != dualrun.DefaultMaxClasses {
		t.Fatalf("%d classes tracked, want the bound %d", len(got), dualrun.DefaultMaxClasses)
	}
	if got[0].Count != 50 || got[0].Overcount != 0 || !slices.Equal(got[0].Paths, []string{".F00"}) {
		t.Errorf("most frequent class %+v, want .F00 × 50", got[0])
	}
	var total int64
	for _, c := range got[1:] {
		total += c.Count - c.Overcount
		if c.Count < 1 || c.Overcount > c.Count {
			t.Errorf("class %+v: bounds out of order", c)
		}
	}
	if total > 19 {
		t.Errorf("lower bounds of the rare classes sum to %d, more than the 19 seen", total)
	}
}
