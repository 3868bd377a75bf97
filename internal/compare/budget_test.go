package compare

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/safe"
)

// TestBudget: a comparison that outlives its budget is stopped while
// go-cmp walks and fails with a *BudgetError naming the budget and how far
// it got. A budget of 1 ns is over at the second check, whatever the
// machine.
func TestBudget(t *testing.T) {
	x, y := bigPair(-1)
	tests := []struct {
		name    string
		reason  string
		compare func(Spec) Verdict[any]
	}{
		{name: "many nodes", reason: "checked every 1,024 nodes", compare: func(s Spec) Verdict[any] {
			return mustNew[any](t, s).Compare(make([]int, 10_000), nil, make([]int, 10_000), nil)
		}},
		{name: "large bytes", reason: "checked between chunks", compare: func(s Spec) Verdict[any] {
			return mustNew[any](t, s).Compare(blob{Data: x}, nil, blob{Data: y}, nil)
		}},
		{name: "paths", reason: "the paths share the budget", compare: func(s Spec) Verdict[any] {
			a, b := make([]int, 10_000), make([]int, 10_000)
			b[0] = 1 // unequal: the equality stops early, the paths walk it all
			return mustNew[any](t, s).Compare(a, nil, b, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.compare(Spec{Budget: time.Nanosecond})
			if v.Kind != Failed {
				t.Fatalf("verdict %v, want Failed (%s)", v.Kind, tt.reason)
			}
			var (
				be *BudgetError
				ce *safe.CallbackError
			)
			if !errors.Is(v.Err, ErrBudget) || !errors.As(v.Err, &be) || !errors.As(v.Err, &ce) {
				t.Fatalf("err %v (%T): want a CallbackError around a *BudgetError", v.Err, v.Err)
			}
			if be.Budget != time.Nanosecond || be.Nodes < 1 || be.Depth != 0 || ce.Callback != "go-cmp" {
				t.Errorf("BudgetError %+v from %q", be, ce.Callback)
			}
			if want := "go-cmp failed: comparison stopped after "; !strings.HasPrefix(v.Err.Error(), want) ||
				!strings.HasSuffix(v.Err.Error(), " nodes: it exceeded its budget of 1ns") {
				t.Errorf("err = %q", v.Err)
			}
			if ok := tt.compare(Spec{Budget: time.Minute}); ok.Kind == Failed {
				t.Errorf("with a minute the comparison fails too: %v", ok.Err)
			}
		})
	}
}

// TestDiffWithinBudget: the diff is made later, with what the equality
// and the paths left of the budget; when nothing is left it prints the
// values instead of running go-cmp again.
func TestDiffWithinBudget(t *testing.T) {
	c, err := New[account](Spec{})
	if err != nil {
		t.Fatal(err)
	}
	v := c.Compare(account{ID: "1"}, nil, account{ID: "2"}, nil)
	v.spent = c.budget
	d := v.Diff(0)
	if want := "(no go-cmp diff: the comparison budget of 250ms was used up)\n-legacy:    {ID:1 Secret: Items:[]}\n+candidate: {ID:2 Secret: Items:[]}\n"; d != want {
		t.Errorf("Diff = %q, want %q", d, want)
	}
}

func TestBudgetErrorText(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		err    *BudgetError
		want   string
	}{
		{name: "time", reason: "the budget and the nodes", err: &BudgetError{Budget: 250 * time.Millisecond, Nodes: 4096}, want: "comparison stopped after 4096 nodes: it exceeded its budget of 250ms"},
		{name: "depth", reason: "the depth and its limit", err: &BudgetError{Budget: time.Second, Nodes: 7, Depth: MaxDepth + 1}, want: "comparison stopped at nesting depth 100001 (limit 100000) after 7 nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q (%s)", got, tt.want, tt.reason)
			}
			if !errors.Is(tt.err, ErrBudget) {
				t.Error("errors.Is(ErrBudget) = false")
			}
		})
	}
}
