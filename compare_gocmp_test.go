package dualrun_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dualrun/dualrun"
)

// These tests pin the go-cmp path of compare.go: values that == cannot
// compare are compared with go-cmp and the experiment's options, and
// go-cmp's own panics are outcome error.

// TestCmpPanicIsError: go-cmp panicking on unexported fields is outcome
// error with advice, never a crash and never a silent match.
func TestCmpPanicIsError(t *testing.T) {
	type hidden struct {
		Public  *int
		private int
	}
	var got *dualrun.Report
	exp := newExp[hidden](t, dualrun.WithPublisher(dualrun.NamePublisher("c", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		got = r
		return nil
	}))))
	one := 1
	_, _ = exp.Run(context.Background(),
		func(context.Context) (hidden, error) { return hidden{&one, 1}, nil },
		func(context.Context) (hidden, error) { return hidden{&one, 1}, nil })
	waitShutdown(t, exp)
	if s := exp.Stats(); s.Count(dualrun.Error) != 1 || got == nil {
		t.Fatalf("outcomes %v report %v", s.Outcomes, got)
	}
	if got.CandidateErr != nil || got.CallbackErr == nil || !strings.Contains(got.CallbackErr.Error(), "IgnoreUnexported") {
		t.Errorf("candidate error %v, callback error %v; want the comparer's failure, with advice", got.CandidateErr, got.CallbackErr)
	}
}

// TestCmpPathsAndDiff: values that == cannot compare use go-cmp with the
// experiment's options; paths are folded.
func TestCmpPathsAndDiff(t *testing.T) {
	type item struct {
		SKU   string
		Price float64
	}
	type order struct {
		Items []item
		Total float64
	}
	var got *dualrun.Report
	exp := newExp[order](t, dualrun.WithPublisher(dualrun.NamePublisher("c", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		got = r
		return nil
	}))), dualrun.WithDiffLimit(200))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (order, error) { return order{[]item{{"a", 1}, {"b", 2}}, 3}, nil },
		func(context.Context) (order, error) { return order{[]item{{"a", 1}, {"b", 2.5}}, 3.5}, nil })
	waitShutdown(t, exp)
	if got == nil {
		t.Fatal("no report")
	}
	if fmt.Sprint(got.Paths) != "[.Items[*].Price .Total]" {
		t.Errorf("paths %v", got.Paths)
	}
	if len(got.Diff) == 0 || len(got.Diff) > 200 || !strings.Contains(got.Diff, "2.5") {
		t.Errorf("diff (%d bytes):\n%s", len(got.Diff), got.Diff)
	}
	f := exp.Stats().Fields
	if len(f) != 2 || f[0].Count != 1 {
		t.Errorf("fields %v", f)
	}
}
