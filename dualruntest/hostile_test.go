package dualruntest_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/dualrun/dualrun/dualruntest"
)

// hostileChildEnv makes TestHostileValues run its scenarios: only in the
// child process it starts.
const hostileChildEnv = "DUALRUNTEST_HOSTILE_CHILD"

// brokenErr is an error whose Error method reads its receiver: a typed-nil
// *brokenErr panics when described.
type brokenErr struct{ code int }

func (e *brokenErr) Error() string { return "broken " + strconv.Itoa(e.code) }

// cyclic is a map that contains itself.
func cyclic(v int) map[string]any {
	self := map[string]any{}
	maps.Copy(self, map[string]any{"v": v, "self": self})
	return self
}

// TestHostileValues: failure messages and case names print values and
// errors that used to kill the test binary. fmt's %+v overflows the stack
// on a map that contains itself (fatal, unrecoverable), and the Error
// method of a typed-nil pointer panics. The scenarios run in a child
// process, so that a regression fails this test instead of killing the
// binary.
func TestHostileValues(t *testing.T) {
	if os.Getenv(hostileChildEnv) != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHostileValues$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), hostileChildEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestHostileValues") {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	var typedNil *brokenErr
	type m = map[string]any
	tests := []struct {
		name   string
		reason string
		run    func(tb testing.TB)
		want   string
	}{
		{
			name: "cyclic values, stricter comparer", reason: "the values are printed when go-cmp sees no difference",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, context.Background(), ret(cyclic(1), nil), ret(cyclic(1), nil),
					dualruntest.WithComparer(func(_, _ m) bool { return false }))
			},
			want: "-legacy:    map[self:<cycle map[string]interface {}> v:1]",
		},
		{
			name: "cyclic value beside an error", reason: "the successful side is printed",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, context.Background(), ret(cyclic(1), nil), ret(m(nil), errors.New("x")))
			},
			want: "legacy returned: map[self:<cycle map[string]interface {}> v:1]",
		},
		{
			name: "typed-nil error", reason: "an Error method that panics is described by its type",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, context.Background(), ret(1, nil), ret(0, error(typedNil)))
			},
			want: "candidate erred, legacy did not: *dualruntest_test.brokenErr (its Error method panicked)",
		},
		{
			name: "typed-nil error as a panic value", reason: "the panic is described without calling Error",
			run: func(tb testing.TB) {
				_, _ = dualruntest.Compare(tb, context.Background(), ret(1, nil), boom[int](error(typedNil)))
			},
			want: "candidate panicked: *dualruntest_test.brokenErr (its Error method panicked)",
		},
		{
			name: "cyclic inputs named by default", reason: "CompareEach prints inputs for the subtest names",
			run: func(tb testing.TB) {
				run := func(name string, _ func(testing.TB)) { tb.Errorf("subtest %s", name) }
				dualruntest.CompareEachWith(tb, run, []m{cyclic(1)},
					func(context.Context, m) (int, error) { return 1, nil },
					func(context.Context, m) (int, error) { return 1, nil })
			},
			want: "subtest map[self:<cycle map[string]interface {}> v:1]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := runFake(t.Name(), tt.run)
			if len(f.errors) != 1 || !strings.Contains(f.errors[0], tt.want) {
				t.Errorf("messages %q, want one containing %q (%s)", f.errors, tt.want, tt.reason)
			}
		})
	}
}
