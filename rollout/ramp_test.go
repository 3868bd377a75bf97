package rollout_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dualrun/dualrun/rollout"
)

const (
	rampExp  = "checkout.price"
	interval = 10 * time.Second
)

// rampHarness is a ramp with real OTel SDK readers, made inside a synctest
// bubble. The test goroutine runs half an interval out of phase with the
// evaluations, so "tick" always lands just after one.
type rampHarness struct {
	r      *rollout.Ramp
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
}

func newRampHarness(t *testing.T, steps []rollout.Step, opts ...rollout.RampOption) *rampHarness {
	t.Helper()
	h := &rampHarness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	opts = append([]rollout.RampOption{
		rollout.WithInterval(interval), rollout.WithMeterProvider(mp), rollout.WithTracerProvider(tp),
	}, opts...)
	h.r = rollout.NewRamp(rampExp, steps, opts...)
	t.Cleanup(func() {
		h.r.Close()
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	time.Sleep(interval / 2)
	return h
}

// tick lets one evaluation run.
func (h *rampHarness) tick() {
	time.Sleep(interval)
	synctest.Wait()
}

// feed observes n comparisons, the first bad of which are mismatches.
func (h *rampHarness) feed(n, bad int) {
	for i := range n {
		o := rollout.Observation{
			Experiment: rampExp, Outcome: rollout.Match, Primary: rollout.Legacy,
			LegacyDuration: time.Millisecond, CandidateDuration: time.Millisecond,
		}
		if i < bad {
			o.Outcome = rollout.Mismatch
		}
		h.r.Observe(o)
	}
}

func (h *rampHarness) transitions(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "dualrun.ramp.transitions" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				reason, _ := dp.Attributes.Value("reason")
				got[reason.AsString()] += dp.Value
			}
		}
	}
	return got
}

// steps7 is DefaultSteps: 0-2 shadow (legacy primary), 3-6 candidate
// primary; the rollback step is 2.
var steps7 = rollout.DefaultSteps()

func TestDefaultSteps(t *testing.T) {
	want := []string{
		"shadow 1%", "shadow 10%", "shadow 100%",
		"shadow 100%, candidate primary 1%", "shadow 100%, candidate primary 10%",
		"shadow 100%, candidate primary 50%", "shadow 100%, candidate primary 100%",
	}
	if len(steps7) != len(want) {
		t.Fatalf("%d steps, want %d", len(steps7), len(want))
	}
	for i, s := range steps7 {
		if s.Rollout.String() != want[i] {
			t.Errorf("step %d = %q, want %q", i, s.Rollout, want[i])
		}
	}
}

// TestRampPromotionNeedsTimeAndCount: a step advances at the first
// evaluation at which both the hold time and the comparison count are
// reached, never before.
func TestRampPromotionNeedsTimeAndCount(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		hold      time.Duration
		minCmp    int
		perTick   []int // comparisons fed before each evaluation
		promoteAt int   // index of the evaluation that promotes
	}{
		{
			name: "count first", reason: "all comparisons arrive at once; the hold time still has to pass",
			hold: time.Minute, minCmp: 100, perTick: []int{100, 0, 0, 0, 0, 0, 0, 0}, promoteAt: 5,
		},
		{
			name: "time first", reason: "the hold passes early; the count arrives slowly",
			hold: 20 * time.Second, minCmp: 100, perTick: []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, promoteAt: 9,
		},
		{
			name: "both at once", reason: "both are reached at the same evaluation",
			hold: 30 * time.Second, minCmp: 30, perTick: []int{10, 10, 10, 10}, promoteAt: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newRampHarness(t, steps7, rollout.WithHold(tt.hold), rollout.WithMinComparisons(tt.minCmp),
					rollout.WithMaxMismatchRate(0.01), rollout.WithMinSamples(10))
				for i, n := range tt.perTick {
					h.feed(n, 0)
					h.tick()
					st := h.r.State()
					wantStep := 0
					if i >= tt.promoteAt {
						wantStep = 1
					}
					if st.Step != wantStep {
						t.Fatalf("%s: after evaluation %d: step %d, want %d (waiting: %s)", tt.reason, i, st.Step, wantStep, st.Waiting)
					}
					if i == tt.promoteAt {
						if st.Last == nil || st.Last.Reason != rollout.ReasonPromote || st.Last.From != 0 || st.Last.To != 1 {
							t.Fatalf("last transition %v, want promote 0 → 1", st.Last)
						}
						if st.Last.Window.MismatchSamples < 10 || st.Last.Window.MismatchRate != 0 {
							t.Fatalf("promotion evidence %+v", st.Last.Window)
						}
						break
					}
					if st.Waiting == "" {
						t.Fatalf("evaluation %d: not promoted but nothing to wait for", i)
					}
				}
			})
		})
	}
}

// TestRampRollsBackWithinOneInterval: a burst of bad comparisons on a
// candidate-primary step sends the ramp back to its rollback step at the
// next evaluation, paused, with the signal, its value and the threshold.
func TestRampRollsBackWithinOneInterval(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		opt       rollout.RampOption
		signal    rollout.Signal
		threshold float64
		good, bad func(h *rampHarness)
	}{
		{
			name: "mismatch burst", reason: "20 of 220 comparisons mismatch: 9.1% > 1%",
			opt: rollout.WithMaxMismatchRate(0.01), signal: rollout.SignalMismatchRate, threshold: 0.01,
			good: func(h *rampHarness) { h.feed(200, 0) },
			bad:  func(h *rampHarness) { h.feed(20, 20) },
		},
		{
			name: "candidate failures", reason: "the candidate errs where legacy does not: 30 of 230 = 13% > 5%",
			opt: rollout.WithMaxCandidateFailureRate(0.05), signal: rollout.SignalCandidateFailureRate, threshold: 0.05,
			good: func(h *rampHarness) { h.feed(200, 0) },
			bad: func(h *rampHarness) {
				for range 30 {
					h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Mismatch, Primary: rollout.Candidate, CandidateErr: true})
				}
			},
		},
		{
			name: "candidate timeouts", reason: "a timed-out shadow candidate is a failure",
			opt: rollout.WithMaxCandidateFailureRate(0.05), signal: rollout.SignalCandidateFailureRate, threshold: 0.05,
			good: func(h *rampHarness) { h.feed(200, 0) },
			bad: func(h *rampHarness) {
				for range 30 {
					h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Timeout, CandidateErr: true, CandidateDuration: time.Second})
				}
			},
		},
		{
			name: "slow candidate", reason: "the candidate's p99 goes from 1ms to 50ms: ratio about 50 > 2",
			opt: rollout.WithMaxP99Ratio(2), signal: rollout.SignalP99Ratio, threshold: 2,
			good: func(h *rampHarness) { h.feed(200, 0) },
			bad: func(h *rampHarness) {
				for range 50 {
					h.r.Observe(rollout.Observation{
						Experiment: rampExp, Outcome: rollout.Match, Primary: rollout.Candidate,
						LegacyDuration: time.Millisecond, CandidateDuration: 50 * time.Millisecond,
					})
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newRampHarness(t, steps7, tt.opt, rollout.WithStartStep(5), rollout.WithMinSamples(50))
				tt.good(h)
				h.tick()
				if st := h.r.State(); st.Step != 5 || st.Paused {
					t.Fatalf("healthy evaluation moved the ramp: %v", h.r)
				}
				burst := time.Now()
				tt.bad(h)
				h.tick()
				st := h.r.State()
				if st.Step != 2 || !st.Paused || st.Rollout != steps7[2].Rollout {
					t.Fatalf("%s: after the burst: %v; want step 2, paused", tt.reason, h.r)
				}
				last := st.Last
				if last == nil || last.Reason != rollout.ReasonRollback || last.From != 5 || last.To != 2 ||
					last.Signal != tt.signal || last.Threshold != tt.threshold || !(last.Value > tt.threshold) {
					t.Fatalf("%s: last transition %+v", tt.reason, last)
				}
				if readings := map[rollout.Signal]float64{
					rollout.SignalMismatchRate:         last.Window.MismatchRate,
					rollout.SignalCandidateFailureRate: last.Window.CandidateFailureRate,
					rollout.SignalP99Ratio:             last.Window.P99Ratio,
				}; readings[tt.signal] != last.Value {
					t.Fatalf("the transition's window %+v does not show the value %v", last.Window, last.Value)
				}
				if d := last.At.Sub(burst); d <= 0 || d > interval {
					t.Fatalf("rolled back %v after the burst, want within one interval (%v)", d, interval)
				}
				if got := h.transitions(t); got["rollback"] != 1 || len(got) != 1 {
					t.Fatalf("transitions counted: %v", got)
				}
				// Paused at the rollback step: more bad data changes nothing.
				for range 5 {
					tt.bad(h)
					h.tick()
				}
				if st := h.r.State(); st.Step != 2 || !st.Paused || st.Last.At != last.At {
					t.Fatalf("paused ramp moved: %v", h.r)
				}
			})
		})
	}
}

// TestRampHaltBelowRollbackStep: at a shadow step the guard pauses the ramp
// where it is (nothing to roll back: legacy is primary anyway).
func TestRampHaltBelowRollbackStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithStartStep(1), rollout.WithMaxMismatchRate(0.01),
			rollout.WithMinSamples(10), rollout.WithHold(0), rollout.WithMinComparisons(0))
		h.feed(100, 50)
		h.tick()
		st := h.r.State()
		if st.Step != 1 || !st.Paused || st.Last == nil || st.Last.Reason != rollout.ReasonHalt || st.Last.Signal != rollout.SignalMismatchRate {
			t.Fatalf("want a halt at step 1: %v", h.r)
		}
		if st.Window.MismatchRate != 0.5 || st.Window.MismatchSamples != 100 {
			t.Fatalf("window %+v, want 50%% over 100", st.Window)
		}
	})
}

// TestRampNoOscillationAtThreshold: a signal that sits at its threshold, or
// wanders inside the hysteresis band, neither advances nor rolls back the
// ramp; one just above it rolls back once and then stays.
func TestRampNoOscillationAtThreshold(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		bad    []int // mismatches per 2,000 comparisons, by interval (cycled)
		want   map[string]int64
		step   int
	}{
		{"at the threshold", "1.0% is not above 1%, and above the 0.9% needed to advance", []int{20}, map[string]int64{}, 4},
		{"inside the band", "0.95%..1.0% stays between the two levels", []int{20, 19, 20, 20, 20, 19}, map[string]int64{}, 4},
		{"hovering just above", "1.1% breaks the guard once; the paused ramp then stays put", []int{22, 20, 19, 22, 20, 19}, map[string]int64{"rollback": 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newRampHarness(t, steps7, rollout.WithStartStep(4), rollout.WithMaxMismatchRate(0.01),
					rollout.WithHold(0), rollout.WithMinComparisons(0), rollout.WithWindow(interval))
				for i := range 60 {
					h.feed(2000, tt.bad[i%len(tt.bad)])
					h.tick()
				}
				got := h.transitions(t)
				if len(got) != len(tt.want) || got["rollback"] != tt.want["rollback"] {
					t.Fatalf("%s: transitions %v, want %v", tt.reason, got, tt.want)
				}
				st := h.r.State()
				if st.Step != tt.step {
					t.Fatalf("%s: step %d, want %d: %v", tt.reason, st.Step, tt.step, h.r)
				}
				if tt.step == 4 && !strings.Contains(st.Waiting, "hysteresis") {
					t.Fatalf("waiting %q, want the hysteresis band named", st.Waiting)
				}
			})
		})
	}
}

// TestRampResume: after a rollback, Resume lets the ramp climb again from
// the rollback step once the new evidence is good.
func TestRampResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithStartStep(6), rollout.WithMaxMismatchRate(0.01),
			rollout.WithMinSamples(50), rollout.WithHold(30*time.Second), rollout.WithMinComparisons(100))
		h.feed(100, 50)
		h.tick()
		if st := h.r.State(); st.Step != 2 || !st.Paused {
			t.Fatalf("no rollback: %v", h.r)
		}
		// Paused: good data and time alone do not advance it.
		for range 10 {
			h.feed(100, 0)
			h.tick()
		}
		if st := h.r.State(); st.Step != 2 || st.Waiting != "paused" {
			t.Fatalf("paused ramp moved or says %q: %v", st.Waiting, h.r)
		}
		if !h.r.Resume() || h.r.Resume() {
			t.Fatal("Resume should report true once, then false")
		}
		st := h.r.State()
		if st.Paused || st.Last.Reason != rollout.ReasonResume || st.StepComparisons != 0 {
			t.Fatalf("after Resume: %+v", st)
		}
		resumed := time.Now()
		for st.Step == 2 {
			h.feed(50, 0)
			h.tick()
			st = h.r.State()
		}
		if st.Step != 3 || st.Last.Reason != rollout.ReasonPromote || time.Since(resumed) < 30*time.Second {
			t.Fatalf("after Resume: %v; want a promotion to 3 after the hold", h.r)
		}
		if got := h.transitions(t); got["rollback"] != 1 || got["resume"] != 1 || got["promote"] != 1 {
			t.Fatalf("transitions %v", got)
		}
	})
}

// TestRampManual covers the by-hand moves.
func TestRampManual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithStartStep(4))
		if !h.r.Pause() || h.r.Pause() {
			t.Fatal("Pause should report true once")
		}
		if !h.r.Advance() {
			t.Fatal("Advance from 4 failed")
		}
		if st := h.r.State(); st.Step != 5 || !st.Paused || st.Last.Reason != rollout.ReasonManual {
			t.Fatalf("after Advance: %v", h.r)
		}
		h.r.Advance()
		if h.r.Advance() {
			t.Fatal("Advance past the last step")
		}
		if !h.r.Rollback() {
			t.Fatal("Rollback from 6 failed")
		}
		if st := h.r.State(); st.Step != 2 || !st.Paused {
			t.Fatalf("after Rollback: %v", h.r)
		}
		h.r.Resume()
		if h.r.Rollback() {
			t.Fatal("Rollback at the rollback step reported a move")
		}
		if st := h.r.State(); !st.Paused || st.Last.Reason != rollout.ReasonPause {
			t.Fatalf("Rollback at the rollback step should pause: %v", h.r)
		}
		want := map[string]int64{"pause": 2, "manual": 3, "resume": 1}
		if got := h.transitions(t); len(got) != len(want) || got["pause"] != 2 || got["manual"] != 3 || got["resume"] != 1 {
			t.Fatalf("transitions %v, want %v", got, want)
		}
	})
}

// TestRampTelemetry checks the gauges, the counter's attributes and the
// transition span event against the real SDK.
func TestRampTelemetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithStartStep(3), rollout.WithMaxMismatchRate(0.01), rollout.WithMinSamples(10))
		h.feed(100, 100)
		h.tick()

		var rm metricdata.ResourceMetrics
		if err := h.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != rollout.ScopeName {
			t.Fatalf("scopes %+v", rm.ScopeMetrics)
		}
		exp := attribute.String("dualrun.experiment", rampExp)
		want := map[string]metricdata.Aggregation{
			"dualrun.ramp.step": metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(exp), Value: 2},
			}},
			"dualrun.ramp.paused": metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(exp), Value: 1},
			}},
			"dualrun.ramp.transitions": metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{
					Attributes: attribute.NewSet(exp, attribute.String("reason", "rollback"), attribute.String("dualrun.ramp.signal", "mismatch_rate")),
					Value:      1,
				}},
			},
		}
		for _, m := range rm.ScopeMetrics[0].Metrics {
			w, ok := want[m.Name]
			if !ok {
				t.Errorf("unexpected metric %s", m.Name)
				continue
			}
			delete(want, m.Name)
			metricdatatest.AssertAggregationsEqual(t, w, m.Data, metricdatatest.IgnoreTimestamp())
		}
		for name := range want {
			t.Errorf("metric %s missing", name)
		}

		spans := h.spans.Ended()
		if len(spans) != 1 || spans[0].Name() != "dualrun.ramp "+rampExp {
			t.Fatalf("spans %v", spans)
		}
		ev := spans[0].Events()
		if len(ev) != 1 || ev[0].Name != "dualrun.ramp.transition" {
			t.Fatalf("events %v", ev)
		}
		got := map[attribute.Key]attribute.Value{}
		for _, kv := range ev[0].Attributes {
			got[kv.Key] = kv.Value
		}
		if got["reason"].AsString() != "rollback" || got["dualrun.ramp.from"].AsInt64() != 3 ||
			got["dualrun.ramp.to"].AsInt64() != 2 || got["dualrun.ramp.value"].AsFloat64() != 1 ||
			got["dualrun.ramp.threshold"].AsFloat64() != 0.01 || got["dualrun.ramp.signal"].AsString() != "mismatch_rate" ||
			got["dualrun.ramp.step.name"].AsString() != "shadow 100%" {
			t.Fatalf("event attributes %v", got)
		}

		// Close unregisters the gauges.
		h.r.Close()
		rm = metricdata.ResourceMetrics{}
		if err := h.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) > 0 {
					t.Errorf("%s still observed after Close", m.Name)
				}
			}
		}
	})
}

// TestRampClose: a closed ramp evaluates nothing more and keeps its rollout.
func TestRampClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithHold(0), rollout.WithMinComparisons(0))
		h.r.Close()
		h.r.Close()
		for range 5 {
			h.feed(10, 0)
			h.tick()
		}
		st := h.r.State()
		if st.Step != 0 || !st.Closed || st.Last != nil {
			t.Fatalf("closed ramp moved: %v", h.r)
		}
		if d := h.r.Decide(context.Background(), rampExp); d.Primary != rollout.Legacy {
			t.Fatalf("decision %+v at shadow 1%%", d)
		}
		if !strings.Contains(h.r.String(), "closed") {
			t.Fatalf("String() = %q", h.r.String())
		}
	})
}

// TestRampObserveFilters: other experiments, aborted calls and errors both
// sides agree on do not count as the candidate's failures.
func TestRampObserveFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithMaxCandidateFailureRate(0.5), rollout.WithMinSamples(1))
		h.r.Observe(rollout.Observation{Experiment: "other", Outcome: rollout.Mismatch, CandidateErr: true})
		h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Aborted, CandidateErr: true})
		h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Match, LegacyErr: true, CandidateErr: true})
		h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Ignored, LegacyErr: true, CandidateErr: true})
		h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Panic, CandidateErr: true})
		h.tick()
		w := h.r.State().Window
		if w.Comparisons != 3 || w.FailureSamples != 3 || w.CandidateFailureRate != 1.0/3 || w.MismatchSamples != 2 {
			t.Fatalf("window %+v", w)
		}
	})
}

// TestRampConcurrentObserve runs observers, evaluations and readers
// together under -race, and checks that no comparison is lost.
func TestRampConcurrentObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newRampHarness(t, steps7, rollout.WithMaxMismatchRate(0.5), rollout.WithMinSamples(1),
			rollout.WithHold(time.Hour), rollout.WithWindow(time.Hour))
		var wg sync.WaitGroup
		const workers, each = 8, 500
		for range workers {
			wg.Go(func() {
				for i := range each {
					h.r.Observe(rollout.Observation{Experiment: rampExp, Outcome: rollout.Match})
					_ = h.r.Decide(context.Background(), rampExp)
					if i%100 == 0 {
						time.Sleep(interval / 3)
					}
				}
			})
		}
		wg.Go(func() {
			for range 3 {
				_ = h.r.String()
				h.r.Pause()
				time.Sleep(interval)
			}
		})
		wg.Wait()
		h.tick()
		st := h.r.State()
		if st.StepComparisons != workers*each || st.Step != 0 {
			t.Fatalf("%d comparisons counted at step %d, want %d at 0", st.StepComparisons, st.Step, workers*each)
		}
	})
}

func TestNewRampPanics(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		fn     func()
		want   string
	}{
		{"empty name", "telemetry needs a name", func() { rollout.NewRamp("", steps7) }, "empty experiment"},
		{"no steps", "nothing to ramp", func() { rollout.NewRamp("x", nil) }, "no steps"},
		{
			"no safe step", "every step has candidate primary: nowhere to roll back to",
			func() { rollout.NewRamp("x", []rollout.Step{{Rollout: rollout.Static{CandidatePrimary: 100}}}) }, "WithRollbackTo",
		},
		{"start out of range", "step 7 of 7", func() { rollout.NewRamp("x", steps7, rollout.WithStartStep(7)) }, "out of range"},
		{"rollback out of range", "step 9 of 7", func() { rollout.NewRamp("x", steps7, rollout.WithRollbackTo(9)) }, "out of range"},
		{"bad rate", "rates are fractions", func() { rollout.WithMaxMismatchRate(1.5) }, "fraction"},
		{"bad ratio", "a ratio is positive", func() { rollout.WithMaxP99Ratio(0) }, "ratio"},
		{"bad interval", "the timer needs a period", func() { rollout.WithInterval(0) }, "positive"},
		{"bad hysteresis", "the band is below the threshold", func() { rollout.WithHysteresis(1) }, "fraction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.want) {
					t.Fatalf("%s: recovered %v, want a panic mentioning %q", tt.reason, r, tt.want)
				}
			}()
			tt.fn()
		})
	}
}
