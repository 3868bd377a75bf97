package compare

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// scenarioEnv names the hostile scenario a child process runs.
const scenarioEnv = "COMPARE_HOSTILE_SCENARIO"

// hostileScenarios would each have killed the process before the engine
// was hardened: a stack overflow is fatal, recover cannot stop it. Each
// runs in a child process (this test binary, started again), so that a
// regression fails TestHostileValues instead of killing the test binary.
var hostileScenarios = map[string]func(t *testing.T){
	// fmt's %+v recursed into a map that contains itself until the stack
	// overflowed: in the diff fallback of a stricter WithComparer func and
	// beside an error.
	"cyclic map fallback": func(t *testing.T) {
		c := mustNew[map[string]any](t, EqualFunc(func(_, _ map[string]any) bool { return false })(Spec{}))
		v := c.Compare(selfMap(1), nil, selfMap(1), nil)
		wantDiff(t, v.Diff(0), "<cycle map[string]interface {}>")
	},
	"cyclic map beside an error": func(t *testing.T) {
		v := mustNew[map[string]any](t, Spec{}).Compare(selfMap(1), nil, nil, errors.New("x"))
		wantDiff(t, v.Diff(0), "-legacy:    map[self:<cycle map[string]interface {}> v:1]")
	},
	"cyclic map go-cmp": func(t *testing.T) {
		v := mustNew[map[string]any](t, Spec{}).Compare(selfMap(1), nil, selfMap(2), nil)
		if v.Kind != ValuesDiffer {
			t.Fatalf("verdict %v (%v)", v.Kind, v.Err)
		}
		wantDiff(t, v.Diff(0), "ref#") // go-cmp's own cycle marker: its reporter terminates
	},
	"cyclic slice": func(t *testing.T) {
		c := mustNew[[]any](t, EqualFunc(func(_, _ []any) bool { return false })(Spec{}))
		v := c.Compare(cyclicSlice(), nil, cyclicSlice(), nil)
		wantDiff(t, v.Diff(0), "<cycle []interface {}>")
	},
	"pointer cycle": func(t *testing.T) {
		c := mustNew[*node](t, EqualFunc(func(_, _ *node) bool { return false })(Spec{}))
		a := &node{V: 1}
		a.Next = a
		v := c.Compare(a, nil, a, nil)
		wantDiff(t, v.Diff(0), "&{V:1 Next:<cycle *compare.node>}")
	},
	// err.Error() on a typed-nil pointer error panicked on a worker.
	"typed-nil errors": func(t *testing.T) {
		var typedNil *nilPtrErr
		c := mustNew[int](t, ErrorComparer(func(_, _ error) bool { return false })(Spec{}))
		one := c.Compare(1, typedNil, 2, nil)
		both := c.Compare(1, typedNil, 2, typedNil)
		wantDiff(t, one.Diff(0), "error: *compare.nilPtrErr (its Error method panicked)")
		wantDiff(t, both.Diff(0), "+candidate error: *compare.nilPtrErr (its Error method panicked)")
	},
	// go-cmp recurses on the goroutine's stack: a list nested deeper than
	// MaxDepth is stopped before the stack runs out.
	"deep list": func(t *testing.T) {
		n := MaxDepth/2 + 10 // two path steps a node: a field and an indirection
		v := mustNew[*node](t, Spec{Budget: time.Hour}).Compare(list(n), nil, withV(list(n), n-1, -1), nil)
		var be *BudgetError
		if v.Kind != Failed || !errors.As(v.Err, &be) || be.Depth <= MaxDepth {
			t.Fatalf("verdict %v, err %v: want the depth limit", v.Kind, v.Err)
		}
	},
}

func selfMap(v int) map[string]any {
	m := map[string]any{"v": v}
	m["self"] = m
	return m
}

func cyclicSlice() []any {
	s := []any{1, nil}
	s[1] = s
	return s
}

// wantDiff fails t unless the diff d contains every one of wants.
func wantDiff(t *testing.T, d string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(d, w) {
			t.Errorf("diff lacks %q:\n%s", w, d)
		}
	}
}

func TestHostileValues(t *testing.T) {
	if name := os.Getenv(scenarioEnv); name != "" {
		hostileScenarios[name](t)
		return
	}
	for name := range hostileScenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHostileValues$", "-test.count=1")
			cmd.Env = append(os.Environ(), scenarioEnv+"="+name)
			if out, err := cmd.CombinedOutput(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
				t.Fatalf("scenario %q in a child process: %v\n%s", name, err, out)
			}
		})
	}
}
