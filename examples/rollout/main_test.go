package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The flagd provider (v0.6.0) leaves its handleEvents goroutine blocked
// after Shutdown (its service never closes the event channel): an upstream
// bug. Everything else must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/open-feature/go-sdk-contrib/providers/flagd/pkg.(*Provider).handleEvents"))
}

// TestRun runs the whole example and checks the facts it is there to show.
func TestRun(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()
	t.Logf("output:\n%s", out)

	// Part 1: every step of the ramp in order up to the bad build, the
	// rollback with its reason, the resume, and the climb to the end.
	var steps []int
	for _, m := range regexp.MustCompile(`(?m)^step (\d) `).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		steps = append(steps, n)
	}
	want := []int{0, 1, 2, 3, 4, 5, 2, 2, 3, 4, 5, 6}
	if len(steps) != len(want) {
		t.Fatalf("steps printed %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("steps printed %v, want %v", steps, want)
		}
	}
	rollback := regexp.MustCompile(`(?m)^step 2 +shadow 100% +ROLLBACK from step 5: mismatch_rate (\d+\.\d+)% > 1% over (\d+) comparisons; paused$`).FindStringSubmatch(out)
	if rollback == nil {
		t.Fatal("no rollback line with its reason")
	}
	if rate, _ := strconv.ParseFloat(rollback[1], 64); rate <= 1 || rate > 10 {
		t.Errorf("rollback at a mismatch rate of %v%%: want above the 1%% threshold and about 5%%", rate)
	}
	for _, s := range []string{
		"!! a bad build of the candidate is deployed",
		"callers served a wrong price before the rollback:",
		"the candidate is fixed; a person calls Resume()",
		"step 2  shadow 100%                          resume",
		"step 6  shadow 100%, candidate primary 100%  promote",
		`ramp checkout.price: step 6 "shadow 100%, candidate primary 100%"`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}

	// Part 2: each edit of the flag file took effect on the call site, and
	// the typo was reported while the last good value stayed.
	for _, s := range []string{
		"flag file: shadow          → the candidate runs as shadow after ",
		"flag file: candidate       → the candidate is primary after ",
		"flag file: legacy          → legacy is primary again (rollback) after ",
		"flag file: candidate-only  → the candidate is primary, nothing shadowed after ",
		`flag file: typo            → reported: unknown_side: "candidat"`,
		"the last good value stays: 100 of the next 100 calls served by the candidate",
		"search.rank = candidate only [unknown_side:",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
}
