package rollout_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

func window(n int64, mismatch, failure, p99 float64) rollout.WindowStats {
	return rollout.WindowStats{
		Comparisons: n, MismatchRate: mismatch, MismatchSamples: n,
		CandidateFailureRate: failure, FailureSamples: n,
		LegacySamples: n, CandidateSamples: n, P99Ratio: p99,
	}
}

func TestGuardJudge(t *testing.T) {
	g := rollout.Guard{
		MismatchRate: rollout.Limit(0.01), CandidateFailureRate: rollout.Limit(0.02), P99Ratio: rollout.Limit(1.5),
		MinSamples: 100, Hysteresis: 0.1,
	}
	tests := []struct {
		name    string
		reason  string
		guard   rollout.Guard
		ws      rollout.WindowStats
		broken  rollout.Signal // "" when not broken
		healthy bool
		why     string
	}{
		{"healthy", "every signal under threshold*(1-h)", g, window(100, 0.005, 0.01, 1), "", true, ""},
		{"mismatch broken", "over the threshold with enough samples", g, window(100, 0.02, 0, 1), rollout.SignalMismatchRate, false, ""},
		{"failure broken", "the failure rate is checked too", g, window(100, 0, 0.5, 1), rollout.SignalCandidateFailureRate, false, ""},
		{"p99 broken", "an infinite ratio is above any threshold", g, window(100, 0, 0, math.Inf(1)), rollout.SignalP99Ratio, false, ""},
		{"first broken wins", "mismatch is reported before failure", g, window(100, 0.5, 0.5, 9), rollout.SignalMismatchRate, false, ""},
		{"too few samples", "a high rate over 99 samples is not judged", g, window(99, 0.5, 0.5, 9), "", false, "mismatch_rate: 99 of 100 samples"},
		{"hysteresis band", "0.95% is under 1% but above 0.9%", g, window(100, 0.0095, 0, 1), "", false, "hysteresis"},
		{"at threshold", "equal to the threshold is not broken", g, window(100, 0.01, 0, 1), "", false, "hysteresis"},
		{"NaN", "a NaN value is never healthy", g, window(100, math.NaN(), 0, 1), "", false, "no value"},
		{"unset", "the zero guard judges nothing and is healthy", rollout.Guard{}, window(0, 1, 1, 1), "", true, ""},
		{"zero threshold", "a threshold of 0 tolerates nothing", rollout.Guard{MismatchRate: rollout.Limit(0)}, window(1, 0.001, 0, 0), rollout.SignalMismatchRate, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.guard.Judge(tt.ws)
			if v.Signal != tt.broken || v.Broken != (tt.broken != "") || v.Healthy != tt.healthy || !strings.Contains(v.Why, tt.why) {
				t.Fatalf("Judge = %+v, want broken %q healthy %v why %q (%s)", v, tt.broken, tt.healthy, tt.why, tt.reason)
			}
			if v.Broken && !strings.HasPrefix(v.String(), "guard broken: "+string(tt.broken)) {
				t.Fatalf("String = %q", v.String())
			}
		})
	}
}

func TestGuardValidate(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		g      rollout.Guard
		ok     bool
	}{
		{"zero", "checks nothing, valid", rollout.Guard{}, true},
		{"rate over 1", "a rate is a fraction", rollout.Guard{MismatchRate: rollout.Limit(2)}, false},
		{"NaN rate", "NaN is no threshold", rollout.Guard{CandidateFailureRate: rollout.Limit(math.NaN())}, false},
		{"infinite ratio", "a ratio must be finite", rollout.Guard{P99Ratio: rollout.Limit(math.Inf(1))}, false},
		{"hysteresis 1", "the band must leave room to advance", rollout.Guard{Hysteresis: 1}, false},
		{"unset limit ignored", "an unset threshold's value is not read", rollout.Guard{MismatchRate: rollout.Threshold{Max: 7}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.g.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v (%s)", err, tt.ok, tt.reason)
			}
		})
	}
}

func machine() rollout.StepMachine {
	return rollout.StepMachine{
		Steps: rollout.DefaultSteps(), // 0-2 shadow, 3-6 candidate primary
		Guard: rollout.Guard{MismatchRate: rollout.Limit(0.01), MinSamples: 10, Hysteresis: 0.1},
		Hold:  time.Minute, MinComparisons: 100, RollbackTo: 2,
	}
}

func TestStepMachineEvaluate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	late := t0.Add(2 * time.Minute)
	tests := []struct {
		name    string
		reason  string
		s       rollout.StepState
		now     time.Time
		ws      rollout.WindowStats
		inStep  int64
		want    *rollout.Transition // nil: holds
		waiting string
	}{
		{"promote", "hold, comparisons and a healthy guard", rollout.StepState{Step: 3, StepStarted: t0}, late, window(50, 0, 0, 0), 100, &rollout.Transition{From: 3, To: 4, Reason: rollout.ReasonPromote}, ""},
		{"hold", "the hold time is not over", rollout.StepState{Step: 3, StepStarted: t0}, t0.Add(30 * time.Second), window(50, 0, 0, 0), 100, nil, "hold: 30s of 1m0s"},
		{"comparisons", "too few comparisons in the step", rollout.StepState{Step: 3, StepStarted: t0}, late, window(50, 0, 0, 0), 99, nil, "comparisons: 99 of 100"},
		{"min samples", "too few samples in the window to judge", rollout.StepState{Step: 3, StepStarted: t0}, late, window(9, 0, 0, 0), 100, nil, "9 of 10 samples"},
		{"no data", "no samples at all never advances", rollout.StepState{Step: 3, StepStarted: t0}, late, rollout.WindowStats{MismatchRate: math.NaN()}, 100, nil, "0 of 10 samples"},
		{
			"rollback", "a broken guard above the rollback step goes back and pauses",
			rollout.StepState{Step: 5, StepStarted: t0},
			t0, window(50, 0.5, 0, 0), 0,
			&rollout.Transition{From: 5, To: 2, Reason: rollout.ReasonRollback, Paused: true, Signal: rollout.SignalMismatchRate, Value: 0.5, Threshold: 0.01}, "",
		},
		{
			"halt", "at the rollback step it pauses in place",
			rollout.StepState{Step: 1, StepStarted: t0},
			t0, window(50, 0.5, 0, 0), 0,
			&rollout.Transition{From: 1, To: 1, Reason: rollout.ReasonHalt, Paused: true, Signal: rollout.SignalMismatchRate, Value: 0.5, Threshold: 0.01}, "",
		},
		{"paused and broken", "already paused: nothing more to do", rollout.StepState{Step: 2, Paused: true, StepStarted: t0}, late, window(50, 0.5, 0, 0), 100, nil, "paused; guard broken"},
		{"paused and healthy", "a paused ramp does not advance", rollout.StepState{Step: 2, Paused: true, StepStarted: t0}, late, window(50, 0, 0, 0), 100, nil, "paused"},
		{"last step", "nothing after the last step", rollout.StepState{Step: 6, StepStarted: t0}, late, window(50, 0, 0, 0), 100, nil, "last step"},
		{"step out of range", "a state from elsewhere that does not fit", rollout.StepState{Step: 9}, late, window(50, 0.5, 0, 0), 100, nil, "out of range"},
	}
	m := machine()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := m.Evaluate(tt.s, tt.now, tt.ws, tt.inStep)
			if !strings.Contains(e.Waiting, tt.waiting) {
				t.Errorf("waiting %q, want %q (%s)", e.Waiting, tt.waiting, tt.reason)
			}
			switch {
			case tt.want == nil && e.Transition != nil:
				t.Fatalf("transition %v, want none (%s)", e.Transition, tt.reason)
			case tt.want == nil:
				return
			case e.Transition == nil:
				t.Fatalf("no transition, want %v (%s)", tt.want, tt.reason)
			}
			got := *e.Transition
			want := *tt.want
			want.At, want.Window = tt.now, tt.ws
			if got.From != want.From || got.To != want.To || got.Reason != want.Reason || got.Paused != want.Paused ||
				got.Signal != want.Signal || got.Value != want.Value || got.Threshold != want.Threshold || !got.At.Equal(want.At) ||
				got.Window.MismatchSamples != want.Window.MismatchSamples {
				t.Fatalf("transition %+v, want %+v (%s)", got, want, tt.reason)
			}
		})
	}
}

func TestStepMachineManual(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	m := machine()
	tests := []struct {
		name    string
		reason  string
		op      func(rollout.StepState, time.Time) *rollout.Transition
		s       rollout.StepState
		want    string // Transition.String, "" for nil
		next    rollout.StepState
		restart bool
	}{
		{"pause", "running → paused in place", m.Pause, rollout.StepState{Step: 4, StepStarted: t0}, "pause at 4", rollout.StepState{Step: 4, Paused: true, StepStarted: t0}, false},
		{"pause paused", "nothing to do", m.Pause, rollout.StepState{Step: 4, Paused: true}, "", rollout.StepState{}, false},
		{"resume", "the evidence restarts", m.Resume, rollout.StepState{Step: 2, Paused: true, StepStarted: t0}, "resume at 2", rollout.StepState{Step: 2, StepStarted: now}, true},
		{"resume running", "nothing to do", m.Resume, rollout.StepState{Step: 2}, "", rollout.StepState{}, false},
		{"advance", "one step, paused as it was", m.Advance, rollout.StepState{Step: 2, Paused: true, StepStarted: t0}, "manual 2 → 3", rollout.StepState{Step: 3, Paused: true, StepStarted: now}, true},
		{"advance last", "nothing past the last step", m.Advance, rollout.StepState{Step: 6}, "", rollout.StepState{}, false},
		{"rollback", "to the rollback step, paused", m.Rollback, rollout.StepState{Step: 6, StepStarted: t0}, "manual 6 → 2", rollout.StepState{Step: 2, Paused: true, StepStarted: now}, true},
		{"rollback at safe step", "only pauses", m.Rollback, rollout.StepState{Step: 1, StepStarted: t0}, "pause at 1", rollout.StepState{Step: 1, Paused: true, StepStarted: t0}, false},
		{"rollback paused at safe step", "nothing to do", m.Rollback, rollout.StepState{Step: 2, Paused: true}, "", rollout.StepState{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.op(tt.s, now)
			if tt.want == "" {
				if tr != nil {
					t.Fatalf("transition %v, want none (%s)", tr, tt.reason)
				}
				return
			}
			if tr == nil || tr.String() != tt.want {
				t.Fatalf("transition %v, want %s (%s)", tr, tt.want, tt.reason)
			}
			next, restart := tt.s.Apply(*tr)
			if next.Step != tt.next.Step || next.Paused != tt.next.Paused || !next.StepStarted.Equal(tt.next.StepStarted) || restart != tt.restart {
				t.Fatalf("Apply = %+v, %v; want %+v, %v (%s)", next, restart, tt.next, tt.restart, tt.reason)
			}
		})
	}
}

func TestStepMachineValidate(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		m      rollout.StepMachine
		ok     bool
	}{
		{"default", "the usual ramp", machine(), true},
		{"no steps", "nothing to ramp", rollout.StepMachine{}, false},
		{"rollback out of range", "the rollback step must exist", rollout.StepMachine{Steps: rollout.DefaultSteps(), RollbackTo: 7}, false},
		{"negative hold", "a hold is a duration >= 0", rollout.StepMachine{Steps: rollout.DefaultSteps(), Hold: -1}, false},
		{"negative comparisons", "a count", rollout.StepMachine{Steps: rollout.DefaultSteps(), MinComparisons: -1}, false},
		{"bad guard", "the guard is checked too", rollout.StepMachine{Steps: rollout.DefaultSteps(), Guard: rollout.Guard{Hysteresis: -1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.m.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v (%s)", err, tt.ok, tt.reason)
			}
		})
	}
}

func TestDefaultRollbackStep(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		steps  []rollout.Step
		want   int
		ok     bool
	}{
		{"default steps", "shadow 100% is the last legacy-primary step", rollout.DefaultSteps(), 2, true},
		{"none", "every step makes the candidate primary", []rollout.Step{{Rollout: rollout.Static{CandidatePrimary: rollout.All}}}, -1, false},
		{"empty", "no steps", nil, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := rollout.DefaultRollbackStep(tt.steps)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("DefaultRollbackStep = %d, %v; want %d, %v (%s)", got, ok, tt.want, tt.ok, tt.reason)
			}
		})
	}
}

// A StepMachine decides from signals read anywhere, here a fleet's: the
// caller keeps the state and applies each transition.
func ExampleStepMachine() {
	m := rollout.StepMachine{
		Steps:          rollout.DefaultSteps(),
		Guard:          rollout.Guard{MismatchRate: rollout.Limit(0.01), MinSamples: 100, Hysteresis: 0.1},
		Hold:           5 * time.Minute,
		MinComparisons: 1000,
		RollbackTo:     2,
	}
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	s := rollout.StepState{Step: 4, StepStarted: start}

	healthy := rollout.WindowStats{MismatchRate: 0.002, MismatchSamples: 5000}
	e := m.Evaluate(s, start.Add(time.Minute), healthy, 5000)
	fmt.Println("after 1m:", e.Waiting)

	e = m.Evaluate(s, start.Add(6*time.Minute), healthy, 5000)
	fmt.Println("after 6m:", e.Transition)
	s, _ = s.Apply(*e.Transition)

	broken := rollout.WindowStats{MismatchRate: 0.08, MismatchSamples: 400}
	e = m.Evaluate(s, start.Add(7*time.Minute), broken, 400)
	fmt.Println("then:", e.Transition)
	s, _ = s.Apply(*e.Transition)
	fmt.Printf("now at step %d, paused %v\n", s.Step, s.Paused)
	// Output:
	// after 1m: hold: 1m0s of 5m0s
	// after 6m: promote 4 → 5
	// then: rollback 5 → 2: mismatch_rate 8% > 1%
	// now at step 2, paused true
}

// A Guard judges a window of signals, wherever they were computed.
func ExampleGuard_Judge() {
	g := rollout.Guard{MismatchRate: rollout.Limit(0.01), MinSamples: 100, Hysteresis: 0.1}
	for _, ws := range []rollout.WindowStats{
		{MismatchRate: 0.5, MismatchSamples: 20},
		{MismatchRate: 0.0095, MismatchSamples: 500},
		{MismatchRate: 0.002, MismatchSamples: 500},
		{MismatchRate: 0.03, MismatchSamples: 500},
	} {
		fmt.Println(g.Judge(ws))
	}
	// Output:
	// mismatch_rate: 20 of 100 samples in the window
	// mismatch_rate 0.95% is above 0.9% (threshold 1% less 10% hysteresis)
	// healthy
	// guard broken: mismatch_rate 3% > 1%
}
