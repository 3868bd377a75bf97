package dualrun_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// TestDecide pins the decide-first API: Decide tells whether a call will
// be compared, RunDecision runs it so, and every switch that stops shadows
// shows in Decide.
func TestDecide(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		opts       []dualrun.Option
		setup      func(e *dualrun.Experiment[price])
		wantShadow bool
		wantSide   dualrun.Side
	}{
		{name: "default", reason: "every call compared, legacy primary", wantShadow: true},
		{name: "static-off", reason: "the zero Static is legacy only", opts: []dualrun.Option{dualrun.WithRollout(rollout.Static{})}},
		{name: "candidate", reason: "the policy picks the primary", opts: []dualrun.Option{candidatePrimary()}, wantShadow: true, wantSide: dualrun.Candidate},
		{name: "paused", reason: "PauseShadows stops the shadow, not the primary choice", opts: []dualrun.Option{candidatePrimary()},
			setup: func(e *dualrun.Experiment[price]) { e.PauseShadows() }, wantSide: dualrun.Candidate},
		{name: "resumed", reason: "ResumeShadows undoes it",
			setup: func(e *dualrun.Experiment[price]) { e.PauseShadows(); e.ResumeShadows() }, wantShadow: true},
		{name: "shut-down", reason: "no shadow after Shutdown",
			setup: func(e *dualrun.Experiment[price]) { _ = e.Shutdown(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := newExp[price](t, tt.opts...)
			if tt.setup != nil {
				tt.setup(exp)
			}
			d := exp.Decide(context.Background())
			if d.Shadow != tt.wantShadow || d.Primary != tt.wantSide {
				t.Fatalf("Decide = %+v, want shadow %v primary %v (%s)", d, tt.wantShadow, tt.wantSide, tt.reason)
			}
			var ran [2]bool
			var mu sync.Mutex
			side := func(s dualrun.Side) dualrun.Func[price] {
				return func(context.Context) (price, error) {
					mu.Lock()
					ran[s] = true
					mu.Unlock()
					return eur100, nil
				}
			}
			_, _ = exp.RunDecision(context.Background(), d, side(dualrun.Legacy), side(dualrun.Candidate))
			waitShutdown(t, exp)
			mu.Lock()
			defer mu.Unlock()
			if !ran[tt.wantSide] || ran[tt.wantSide.Other()] != tt.wantShadow {
				t.Errorf("ran %v; want primary %v, shadow %v (%s)", ran, tt.wantSide, tt.wantShadow, tt.reason)
			}
			s := exp.Stats()
			if s.Config.Paused != (tt.name == "paused") {
				t.Errorf("Stats.Config.Paused = %v", s.Config.Paused)
			}
		})
	}
}

// TestDecideNoAllocs: Decide and an uncompared RunDecision allocate nothing.
func TestDecideNoAllocs(t *testing.T) {
	exp := newExp[price](t, dualrun.WithRollout(rollout.Static{Shadow: 0}))
	defer waitShutdown(t, exp)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		d := exp.Decide(ctx)
		_, _ = exp.RunDecision(ctx, d, legacyPrice, candidatePrice)
	})
	if allocs != 0 {
		t.Fatalf("Decide + RunDecision uncompared: %v allocs per call, want 0", allocs)
	}
}

// TestSequentialShadow pins WithSequentialShadow: the shadow starts after
// the primary returned, sees its result through PrimaryResult, and a
// primary that panics starts no shadow.
func TestSequentialShadow(t *testing.T) {
	t.Run("order-and-result", func(t *testing.T) {
		for _, primary := range []dualrun.Side{dualrun.Legacy, dualrun.Candidate} {
			var mu sync.Mutex
			var events []string
			var seen dualrun.Result[string]
			var seenOK bool
			opts := []dualrun.Option{dualrun.WithSequentialShadow()}
			if primary == dualrun.Candidate {
				opts = append(opts, candidatePrimary())
			}
			exp := newExp[string](t, opts...)
			fn := func(s dualrun.Side) dualrun.Func[string] {
				return func(ctx context.Context) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, s.String())
					if dualrun.IsShadow(ctx) {
						seen, seenOK = dualrun.PrimaryResult[string](ctx)
						return "id-42", nil
					}
					return "id-42", nil
				}
			}
			v, err := exp.Run(context.Background(), fn(dualrun.Legacy), fn(dualrun.Candidate))
			waitShutdown(t, exp)
			mu.Lock()
			if v != "id-42" || err != nil || len(events) != 2 || events[0] != primary.String() {
				t.Fatalf("primary %v: Run = %q, %v; events %v; want the primary first", primary, v, err, events)
			}
			if !seenOK || seen.Value != "id-42" || seen.Err != nil {
				t.Errorf("primary %v: PrimaryResult = %+v, %v", primary, seen, seenOK)
			}
			mu.Unlock()
			if s := exp.Stats(); s.Count(dualrun.Match) != 1 || !s.Config.Sequential {
				t.Errorf("outcomes %v, sequential %v", s.Outcomes, s.Config.Sequential)
			}
		}
	})
	t.Run("primary-panics", func(t *testing.T) {
		exp := newExp[string](t, dualrun.WithSequentialShadow())
		shadowRan := false
		func() {
			defer func() { _ = recover() }()
			_, _ = exp.Run(context.Background(), func(context.Context) (string, error) { panic("primary bug") },
				func(context.Context) (string, error) { shadowRan = true; return "", nil })
		}()
		waitShutdown(t, exp)
		if s := exp.Stats(); shadowRan || s.Count(dualrun.Aborted) != 1 || s.InFlight != 0 {
			t.Fatalf("shadow ran %v; outcomes %v; in flight %d", shadowRan, s.Outcomes, s.InFlight)
		}
	})
	t.Run("not-outside", func(t *testing.T) {
		if _, ok := dualrun.PrimaryResult[string](context.Background()); ok {
			t.Error("PrimaryResult outside a sequential shadow reported true")
		}
		//nolint:staticcheck // SA1012: nil is allowed here
		if _, ok := dualrun.PrimaryResult[string](nil); ok {
			t.Error("PrimaryResult(nil) reported true")
		}
	})
	t.Run("timeout-counts-from-shadow-start", func(t *testing.T) {
		// The primary takes longer than the shadow timeout; the shadow,
		// which starts afterwards, still has its whole budget.
		exp := newExp[string](t, dualrun.WithSequentialShadow(), dualrun.WithShadowTimeout(time.Hour))
		_, _ = exp.Run(context.Background(), func(context.Context) (string, error) { return "a", nil },
			func(ctx context.Context) (string, error) {
				if _, ok := ctx.Deadline(); !ok {
					return "", errors.New("no deadline")
				}
				return "a", nil
			})
		waitShutdown(t, exp)
		if s := exp.Stats(); s.Count(dualrun.Match) != 1 {
			t.Errorf("outcomes %v", s.Outcomes)
		}
	})
}

// TestStatsConfig shows the effective configuration, including a limit
// capped by the process-wide cap.
func TestStatsConfig(t *testing.T) {
	pol := rollout.Static{Shadow: rollout.Percent(5)}
	old := newExp[price](t).Stats().Config.ProcessMaxInFlight
	dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
	defer dualrun.SetProcessMaxInFlight(old)
	exp := newExp[price](t, dualrun.WithMaxInFlight(5000), dualrun.WithShadowTimeout(3*time.Second), dualrun.WithRollout(pol))
	defer waitShutdown(t, exp)
	c := exp.Stats().Config
	if c.MaxInFlight != 5000 || c.ProcessMaxInFlight != dualrun.DefaultProcessMaxInFlight ||
		c.EffectiveMaxInFlight != dualrun.DefaultProcessMaxInFlight || c.ShadowTimeout != 3*time.Second ||
		c.Policy != rollout.Policy(pol) || c.Sequential || c.Paused || c.CompareBudget != dualrun.DefaultCompareBudget {
		t.Fatalf("Config = %+v", c)
	}
}
