package dualruntest_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/dualrun/dualrun/dualruntest"
)

// childEnv makes TestFailingCases run: only in the child process started by
// TestRealTestingOutput.
const childEnv = "DUALRUNTEST_FAILING_CHILD"

// callSite logs the file:line of the line after the call, for the parent
// to find in the child's output.
func callSite(t *testing.T, label string) {
	t.Helper()
	_, file, line, _ := runtime.Caller(1)
	t.Logf("call site %s %s:%d", label, filepath.Base(file), line+1)
}

// TestFailingCases fails on purpose. It runs only in a child process, where
// TestRealTestingOutput reads what a real *testing.T printed.
func TestFailingCases(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("fails on purpose; run by TestRealTestingOutput in a child process")
	}
	t.Run("compare", func(t *testing.T) {
		callSite(t, "compare")
		_, _ = dualruntest.Compare(t, t.Context(), ret(Money{"EUR", 1000}, nil), ret(Money{"EUR", 1001}, nil))
		t.Log("still running after Compare")
	})
	t.Run("each", func(t *testing.T) {
		carts := []cart{{"round", 1000}, {"eur rounding", 1003}}
		callSite(t, "each")
		dualruntest.CompareEach(t, carts, legacyPrice, newPrice, dualruntest.WithCaseName(func(c cart) string { return c.Name }))
	})
}

func TestRealTestingOutput(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		t.Skip("in the child")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFailingCases$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child: err = %v, want exit status 1; output:\n%s", err, out)
	}
	text := string(out)

	sites := map[string]string{}
	for _, m := range regexp.MustCompile(`call site (\w+) (\S+:\d+)`).FindAllStringSubmatch(text, -1) {
		sites[m[1]] = m[2]
	}
	wants := []string{
		"--- FAIL: TestFailingCases/compare",
		// t.Helper: the failure points at the test's own line.
		fmt.Sprintf("%s: dualruntest: case \"TestFailingCases/compare\": values differ (legacy -, candidate +):", sites["compare"]),
		"differing paths: .Cents",
		// t.Errorf, not Fatal: the test goes on.
		"still running after Compare",
		"--- PASS: TestFailingCases/each/round",
		"--- FAIL: TestFailingCases/each/eur_rounding",
		// In a subtest, the failure points at the CompareEach call, and names
		// the case as go test does.
		fmt.Sprintf("%s: dualruntest: case \"eur_rounding\": values differ", sites["each"]),
	}
	if len(sites) != 2 {
		t.Fatalf("call sites = %v, want 2; output:\n%s", sites, text)
	}
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("child output lacks %q; output:\n%s", w, text)
		}
	}
	if strings.Contains(text, "compare.go:") || strings.Contains(text, "check.go:") {
		t.Errorf("a failure points into dualruntest instead of the test; output:\n%s", text)
	}
}
