package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestShortRun runs a short soak: it checks that every phase measured
// calls, that the experiments saw what each phase is about, and that the
// program ends cleanly (goleak checks that the hung candidates were
// released). The latency targets themselves are not asserted: they are
// measurements, and depend on the machine.
func TestShortRun(t *testing.T) {
	rep, err := run(options{Duration: 1500 * time.Millisecond, Concurrency: 4, Legacy: "spin", Work: 20 * time.Microsecond, Rounds: 1, HeavyItems: 2000})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(rep.Phases) != 4 {
		t.Fatalf("got %d phases, want 4", len(rep.Phases))
	}
	for _, p := range rep.Phases {
		if p.Calls == 0 || p.P50Us <= 0 || p.MaxUs < p.P99Us {
			t.Errorf("phase %s: calls %d, p50 %vµs, p99 %vµs, max %vµs", p.Name, p.Calls, p.P50Us, p.P99Us, p.MaxUs)
		}
	}
	slow, hang, heavy := rep.Phases[1], rep.Phases[2], rep.Phases[3]
	if heavy.Compared == 0 || heavy.Outcomes["match"] == 0 || heavy.Outcomes["mismatch"] != 0 || heavy.Outcomes["error"] != 0 {
		t.Errorf("heavy phase: compared %d, outcomes %v; want matches only", heavy.Compared, heavy.Outcomes)
	}
	if slow.Compared == 0 || slow.Outcomes["match"] == 0 || slow.Outcomes["mismatch"] != 0 {
		t.Errorf("slow phase: compared %d, outcomes %v; want matches only", slow.Compared, slow.Outcomes)
	}
	if hang.Outcomes["timeout"] == 0 || hang.Outcomes["shed"] == 0 {
		t.Errorf("hang phase: outcomes %v; want timeouts, then shed calls", hang.Outcomes)
	}
	if rep.Shutdown != "clean" {
		t.Errorf("shutdown: %s", rep.Shutdown)
	}
	if len(rep.Verdicts) != 12 {
		t.Errorf("got %d verdicts, want 4 targets × 3 phases", len(rep.Verdicts))
	}

	var text bytes.Buffer
	printReport(&text, rep)
	for _, want := range []string{"CALLER LATENCY", "baseline", "slow", "hang", "heavy", "VERDICT", "targets met"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	var back struct {
		Phases []struct {
			Name  string  `json:"name"`
			P50Us float64 `json:"p50_us"`
		} `json:"phases"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Phases) != 4 || back.Phases[0].Name != "baseline" {
		t.Errorf("json round trip: %v, %+v", err, back)
	}
}

func TestRejectsBadOptions(t *testing.T) {
	for _, o := range []options{
		{Duration: 0, Concurrency: 1, Legacy: "spin", Work: time.Microsecond, Rounds: 1, HeavyItems: 1},
		{Duration: time.Second, Concurrency: 1, Legacy: "nap", Work: time.Microsecond, Rounds: 1, HeavyItems: 1},
		{Duration: time.Second, Concurrency: 1, Legacy: "spin", Work: time.Microsecond, Rounds: 1},
	} {
		if _, err := run(o); err == nil {
			t.Errorf("run(%+v) = nil error", o)
		}
	}
}
