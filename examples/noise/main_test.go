package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun checks the key facts of the example's output: the noisy paths are
// learned as noise, the ranking difference stays real, and the mismatches
// left are ranking differences.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 1500); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		".RequestID", ".Took", ".Facets[*]",
		".TopHit", "real",
		"MISMATCH CLASSES", "[.Facets[*] .RequestID .Took .TopHit]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == ".RequestID" || f[0] == ".Facets[*]") && f[len(f)-1] != "noise" {
			t.Errorf("%s not learned as noise: %q", f[0], line)
		}
		if len(f) > 0 && f[0] == ".TopHit" && f[len(f)-1] != "real" {
			t.Errorf(".TopHit is not a real difference: %q", line)
		}
	}
	t.Log("\n" + s)
}
