package fleetramp_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualrun/dualrun/fleetramp"
	"github.com/dualrun/dualrun/rollout"
)

// nopSource has no data.
type nopSource struct{}

func (nopSource) Signals(context.Context, string, time.Time, time.Time, time.Duration) (fleetramp.Signals, error) {
	return fleetramp.Signals{}, errors.New("no Prometheus here")
}

// fleet is a Source whose answers the test sets: the fleet's signals
// as Prometheus would return them, and what the controller asked.
type fleet struct {
	mu      sync.Mutex
	sig     fleetramp.Signals
	err     error
	asked   []time.Time // stepStarted of each call
	windows []time.Duration
}

func (f *fleet) set(sig fleetramp.Signals, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sig, f.err = sig, err
}

func (f *fleet) Signals(_ context.Context, _ string, now, started time.Time, window time.Duration) (fleetramp.Signals, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, started)
	f.windows = append(f.windows, min(window, now.Sub(started)))
	return f.sig, f.err
}

// signals returns a window of n samples of every signal, at the given
// mismatch rate, a failure rate of 0 and a p99 ratio of 1.
func signals(n int64, mismatch float64) fleetramp.Signals {
	return fleetramp.Signals{
		Range:  30 * time.Second,
		InStep: n,
		Window: rollout.WindowStats{
			Span: 30 * time.Second, Comparisons: n,
			MismatchRate: mismatch, MismatchSamples: n,
			FailureSamples: n, LegacySamples: n, CandidateSamples: n, P99Ratio: 1,
		},
	}
}

func mustConfig(t *testing.T, s string) fleetramp.Config {
	t.Helper()
	cfg, err := fleetramp.ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// harness is a controller over a fleet, in a temporary directory.
type harness struct {
	t     *testing.T
	dir   string
	flags string
	src   *fleet
	c     *fleetramp.Controller
}

func newHarness(t *testing.T, opts ...fleetramp.Option) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), src: &fleet{}}
	h.flags = filepath.Join(h.dir, "flags.json")
	h.c = h.restart(opts...)
	return h
}

func (h *harness) restart(opts ...fleetramp.Option) *fleetramp.Controller {
	h.t.Helper()
	c, err := fleetramp.New(mustConfig(h.t, goodConfig), h.src, h.flags, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	return c
}

func (h *harness) eval() fleetramp.ExperimentStatus {
	h.t.Helper()
	return h.c.EvaluateAll(context.Background()).Experiments[0]
}

// file returns the state the flag file records.
func (h *harness) file() fleetramp.FlagState {
	h.t.Helper()
	data, err := os.ReadFile(h.flags)
	if err != nil {
		h.t.Fatal(err)
	}
	states, err := fleetramp.ParseFlagFile(data)
	if err != nil {
		h.t.Fatal(err)
	}
	st, ok := states["shipping.quote"]
	if !ok {
		h.t.Fatalf("no managed flag in %s", data)
	}
	return st
}

func (h *harness) evaluations(result string) float64 {
	return metricValue(h.t, h.c.Registry(), "dualrun_ramp_evaluations_total", "shipping.quote", result)
}

func TestControllerDecisions(t *testing.T) {
	// Each case starts a fresh controller at step 0 (hold 6s, 50
	// comparisons, 20 samples, mismatch threshold 5% with 10% hysteresis),
	// waits past the hold, sets the fleet's answer and evaluates once.
	tests := []struct {
		name     string
		reason   string
		sig      fleetramp.Signals
		err      error
		wait     time.Duration
		wantStep int
		result   string
		waiting  string
	}{
		{"healthy advances", "hold, comparisons and a healthy guard reached", signals(100, 0.01), nil, 7 * time.Second, 1, fleetramp.ResultAdvance, ""},
		{"hold time", "healthy but the step is younger than its hold", signals(100, 0.01), nil, 3 * time.Second, 0, fleetramp.ResultHold, "hold"},
		{"minimum comparisons", "healthy but too few comparisons in the step", signals(49, 0), nil, 7 * time.Second, 0, fleetramp.ResultHold, "comparisons: 49 of 50"},
		{"minimum sample", "enough comparisons in the step but too few in the window to judge", func() fleetramp.Signals {
			s := signals(100, 0)
			s.Window.MismatchSamples = 19
			return s
		}(), nil, 7 * time.Second, 0, fleetramp.ResultHold, "mismatch_rate: 19 of 20 samples"},
		{"hysteresis band", "4.6% is under the 5% threshold but above 4.5% = 5% less 10%", signals(100, 0.046), nil, 7 * time.Second, 0, fleetramp.ResultHold, "hysteresis"},
		{"prometheus down", "no data at all never advances", fleetramp.Signals{}, errors.New("connection refused"), 7 * time.Second, 0, fleetramp.ResultError, "no data"},
		{"query without data", "a signal with no series has no samples: never advances", func() fleetramp.Signals {
			s := signals(100, math.NaN())
			s.Window.MismatchSamples = 0
			s.Missing = []string{"mismatch query"}
			return s
		}(), nil, 7 * time.Second, 0, fleetramp.ResultNoData, "mismatch_rate: 0 of 20"},
		{"NaN ratio with samples", "a NaN value is not judged healthy", signals(100, math.NaN()), nil, 7 * time.Second, 0, fleetramp.ResultHold, "no value"},
		{"step too young", "less than 1s in the step: no range to query", fleetramp.Signals{}, fleetramp.ErrTooEarly, 7 * time.Second, 0, fleetramp.ResultNoData, "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				h.src.set(fleetramp.Signals{}, fleetramp.ErrTooEarly)
				h.eval() // writes step 0
				time.Sleep(tt.wait)
				h.src.set(tt.sig, tt.err)
				es := h.eval()
				if es.Step != tt.wantStep || h.file().State.Step != tt.wantStep {
					t.Fatalf("step %d, file %d, want %d (%s): %+v", es.Step, h.file().State.Step, tt.wantStep, tt.reason, es)
				}
				if es.Result != tt.result {
					t.Errorf("result %q, want %q (%s)", es.Result, tt.result, tt.reason)
				}
				if !strings.Contains(es.Waiting, tt.waiting) {
					t.Errorf("waiting %q, want it to contain %q (%s)", es.Waiting, tt.waiting, tt.reason)
				}
				if got := h.evaluations(tt.result); got < 1 {
					t.Errorf("dualrun_ramp_evaluations_total{result=%q} = %v, want >= 1", tt.result, got)
				}
			})
		})
	}
}

func TestControllerRampsAndRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		statusFile := filepath.Join(t.TempDir(), "status.json")
		h := newHarness(t, fleetramp.WithStatusFile(statusFile))
		h.src.set(signals(100, 0), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = h.c.Run(ctx)
		}()
		// Hold 6s, interval 2s: a step every 6 to 8 seconds.
		time.Sleep(17 * time.Second)
		synctest.Wait()
		if st := h.file(); st.State.Step != 2 || st.State.Paused {
			t.Fatalf("after 17s of a healthy fleet: %+v, want step 2 running", st.State)
		}
		// The candidate goes bad: 90% mismatches.
		h.src.set(signals(100, 0.9), nil)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		st := h.file()
		if st.State.Step != 0 || !st.State.Paused {
			t.Fatalf("after the guard broke: %+v, want step 0 paused", st.State)
		}
		if st.Last == nil || st.Last.Reason != rollout.ReasonRollback || st.Last.Signal != rollout.SignalMismatchRate ||
			st.Last.Value != 0.9 || st.Last.Threshold != 0.05 || st.Last.From != 2 {
			t.Fatalf("last transition %+v, want a rollback 2 → 0 naming mismatch_rate 0.9 > 0.05", st.Last)
		}
		es := h.c.Status().Experiments[0]
		if es.LastTransition == nil || es.LastTransition.Signal != "mismatch_rate" ||
			!strings.Contains(es.LastTransition.Text, "rollback 2 → 0: mismatch_rate 90% > 5%") {
			t.Fatalf("status last transition %+v", es.LastTransition)
		}
		data, err := os.ReadFile(statusFile)
		if err != nil || !strings.Contains(string(data), `"reason": "rollback"`) {
			t.Fatalf("status file %s, %v: want the rollback reason", data, err)
		}
		reg := h.c.Registry()
		for _, c := range []struct {
			reason string
			want   float64
		}{{"promote", 2}, {"rollback", 1}, {"halt", 0}} {
			if got := metricValue(t, reg, "dualrun_ramp_transitions_total", "shipping.quote", c.reason); got != c.want {
				t.Errorf("transitions{reason=%s} = %v, want %v", c.reason, got, c.want)
			}
		}
		if got := metricValue(t, reg, "dualrun_ramp_step", "shipping.quote"); got != 0 {
			t.Errorf("dualrun_ramp_step = %v, want 0", got)
		}
		// Paused: a broken guard holds, a healthy one does not advance.
		h.src.set(signals(100, 0), nil)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := h.file(); st.State.Step != 0 || !st.State.Paused {
			t.Fatalf("paused ramp moved: %+v", st.State)
		}
		cancel()
		<-done
	})
}

func TestControllerNeverReachesBeforeTheStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.src.set(signals(100, 0), nil)
		h.eval()
		start := time.Now()
		time.Sleep(7 * time.Second)
		h.eval() // promotes: a new step begins now
		promoted := time.Now()
		time.Sleep(2 * time.Second)
		h.eval()
		h.src.mu.Lock()
		defer h.src.mu.Unlock()
		want := []time.Time{start, start, promoted}
		wantWin := []time.Duration{0, 7 * time.Second, 2 * time.Second}
		for i := range want {
			if !h.src.asked[i].Equal(want[i]) || h.src.windows[i] != wantWin[i] {
				t.Errorf("query %d from %v over %v, want from %v over %v: the range must start at the step", i,
					h.src.asked[i], h.src.windows[i], want[i], wantWin[i])
			}
		}
	})
}

func TestControllerRestartResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.src.set(signals(100, 0), nil)
		h.eval()
		time.Sleep(7 * time.Second)
		if es := h.eval(); es.Step != 1 {
			t.Fatalf("step %d, want 1", es.Step)
		}
		stepStarted := h.file().State.StepStarted
		time.Sleep(4 * time.Second)
		// A new controller process: it resumes at step 1, with the hold
		// already 4s in, so 3s more advance it.
		h.restart()
		h.src.set(signals(100, 0), nil)
		if es := h.eval(); es.Step != 1 || !strings.Contains(es.Waiting, "hold: 4s of 6s") {
			t.Fatalf("after restart: step %d waiting %q, want step 1 held 4s of 6s", es.Step, es.Waiting)
		}
		if got := h.file().State.StepStarted; !got.Equal(stepStarted) {
			t.Fatalf("restart moved the step start from %v to %v", stepStarted, got)
		}
		time.Sleep(3 * time.Second)
		if es := h.eval(); es.Step != 2 {
			t.Fatalf("step %d, want 2", es.Step)
		}
	})
}

func TestControllerManualMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.src.set(signals(100, 0), nil)
		h.eval()
		steps := []struct {
			name     string
			reason   string
			op       fleetramp.Op
			wantErr  error
			wantStep int
			paused   bool
		}{
			{"pause", "a running ramp pauses", fleetramp.OpPause, nil, 0, true},
			{"pause again", "nothing to do", fleetramp.OpPause, fleetramp.ErrNoChange, 0, true},
			{"advance paused", "advance keeps the ramp paused", fleetramp.OpAdvance, nil, 1, true},
			{"advance to last", "by hand, whatever the guard", fleetramp.OpAdvance, nil, 2, true},
			{"advance past last", "nothing past the last step", fleetramp.OpAdvance, fleetramp.ErrNoChange, 2, true},
			{"resume", "running again at the step", fleetramp.OpResume, nil, 2, false},
			{"rollback", "back to the rollback step, paused", fleetramp.OpRollback, nil, 0, true},
			{"rollback at safe step", "already there and paused", fleetramp.OpRollback, fleetramp.ErrNoChange, 0, true},
			{"resume again", "running from step 0", fleetramp.OpResume, nil, 0, false},
			{"unknown", "a typo", fleetramp.Op("jump"), nil, 0, false},
		}
		for _, s := range steps {
			time.Sleep(time.Second)
			_, err := fleetramp.Manual(h.flags, "shipping.quote", s.op, time.Now())
			switch {
			case s.op == "jump":
				if err == nil || !strings.Contains(err.Error(), "unknown move") {
					t.Fatalf("%s: %v, want an unknown move error (%s)", s.name, err, s.reason)
				}
			case !errors.Is(err, s.wantErr):
				t.Fatalf("%s: %v, want %v (%s)", s.name, err, s.wantErr, s.reason)
			}
			if st := h.file().State; st.Step != s.wantStep || st.Paused != s.paused {
				t.Fatalf("%s: %+v, want step %d paused %v (%s)", s.name, st, s.wantStep, s.paused, s.reason)
			}
		}
		// The running controller sees the moves made by hand: resume
		// restarted the step's hold, so it does not advance yet.
		if es := h.eval(); es.Step != 0 || !strings.Contains(es.Waiting, "hold") {
			t.Fatalf("after resume: %+v, want step 0 held", es)
		}
		time.Sleep(6 * time.Second)
		if es := h.eval(); es.Step != 1 {
			t.Fatalf("after the hold: step %d, want 1", es.Step)
		}
		if _, err := fleetramp.Manual(h.flags, "nope", fleetramp.OpPause, time.Now()); !errors.Is(err, fleetramp.ErrNoFlag) {
			t.Fatalf("unknown experiment: %v, want ErrNoFlag", err)
		}
	})
}

func TestControllerDryRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, fleetramp.WithDryRun(true))
		h.src.set(signals(100, 0), nil)
		h.eval()
		if _, err := os.Stat(h.flags); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("dry-run wrote the flag file: %v", err)
		}
		time.Sleep(7 * time.Second)
		es := h.eval()
		if es.WouldDo != "promote 0 → 1" || es.Step != 0 || es.Result != fleetramp.ResultAdvance {
			t.Fatalf("dry-run status %+v: want would_do promote 0 → 1 at step 0", es)
		}
		if _, err := os.Stat(h.flags); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("dry-run wrote the flag file: %v", err)
		}
		// Over an existing file: it stays byte for byte.
		h.c = nil
		h2 := newHarness(t)
		h2.src.set(signals(100, 0), nil)
		h2.eval()
		before, _ := os.ReadFile(h2.flags)
		h2.restart(fleetramp.WithDryRun(true))
		time.Sleep(7 * time.Second)
		h2.src.set(signals(100, 0.9), nil)
		h2.eval()
		if after, _ := os.ReadFile(h2.flags); string(after) != string(before) {
			t.Fatalf("dry-run changed the flag file:\n%s\nwas\n%s", after, before)
		}
	})
}

// metricValue returns the value of the series of the named family whose
// label values are labels, in label-name order (experiment first).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			lp := m.GetLabel()
			if len(lp) != len(labels) {
				continue
			}
			// Gather sorts labels by name: experiment, then reason/result/signal.
			for i, l := range lp {
				if l.GetValue() != labels[i] {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
