package dualrun_test

import (
	"context"
	"sync"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin the API of dualrun.go: Decide and RunDecision, the
// uncompared path, and a nil context.

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
		{
			name: "paused", reason: "PauseShadows stops the shadow, not the primary choice", opts: []dualrun.Option{candidatePrimary()},
			setup: func(e *dualrun.Experiment[price]) { e.PauseShadows() }, wantSide: dualrun.Candidate,
		},
		{
			name: "resumed", reason: "ResumeShadows undoes it",
			setup: func(e *dualrun.Experiment[price]) { e.PauseShadows(); e.ResumeShadows() }, wantShadow: true,
		},
		{
			name: "shut-down", reason: "no shadow after Shutdown",
			setup: func(e *dualrun.Experiment[price]) { _ = e.Shutdown(context.Background()) },
		},
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

// TestUncomparedDoesNotAllocate: the uncompared path makes no allocation.
func TestUncomparedDoesNotAllocate(t *testing.T) {
	for _, policy := range []rollout.Static{{}, {Shadow: rollout.Percent(0.01)}, {CandidatePrimary: rollout.All}} {
		exp := newExp[price](t, dualrun.WithRollout(policy))
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			_, _ = exp.Run(ctx, legacyPrice, candidatePrice)
		})
		if allocs != 0 && policy.Shadow == 0 {
			t.Errorf("policy %+v: %v allocs per uncompared call, want 0", policy, allocs)
		}
		waitShutdown(t, exp)
	}
}

// TestNilContext: a nil context is context.Background() for the policy,
// the primary and the shadow.
func TestNilContext(t *testing.T) {
	var got [2]bool
	exp := newExp[price](t)
	//nolint:staticcheck // SA1012: a nil context is the point of the test
	if d := exp.Decide(nil); !d.Shadow {
		t.Errorf("Decide(nil) = %+v, want a shadow", d)
	}
	//nolint:staticcheck // SA1012: a nil context is the point of the test
	v, err := exp.Run(nil, func(ctx context.Context) (price, error) {
		got[0] = ctx != nil
		return eur100, nil
	}, func(ctx context.Context) (price, error) {
		got[1] = ctx != nil && dualrun.IsShadow(ctx)
		return eur100, nil
	})
	waitShutdown(t, exp)
	if v != eur100 || err != nil || !got[0] || !got[1] || exp.Stats().Count(dualrun.Match) != 1 {
		t.Fatalf("Run(nil) = %v, %v; contexts non-nil %v; outcomes %v", v, err, got, exp.Stats().Outcomes)
	}
}
