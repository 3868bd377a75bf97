package dualrun_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin core.go: the policy's decision and its failures, the
// observer, and an experiment's Shutdown.

// panicPolicy panics on every decision.
type panicPolicy struct{}

func (panicPolicy) Decide(context.Context, string) rollout.Decision { panic("policy bug") }

// TestPolicyPanic: a policy that panics is recovered: legacy primary, no
// shadow, counted.
func TestPolicyPanic(t *testing.T) {
	exp := newExp[string](t, dualrun.WithRollout(panicPolicy{}))
	ran := ""
	v, err := exp.Run(context.Background(),
		func(context.Context) (string, error) { ran += "legacy"; return "l", nil },
		func(context.Context) (string, error) { ran += "candidate"; return "c", nil })
	waitShutdown(t, exp)
	s := exp.Stats()
	if v != "l" || err != nil || ran != "legacy" || s.PolicyFailures != 1 || s.Compared != 0 {
		t.Fatalf("Run = %q, %v; ran %q; stats %+v", v, err, ran, s)
	}
}

// badSidePolicy returns a Side that does not exist.
type badSidePolicy struct{}

func (badSidePolicy) Decide(context.Context, string) rollout.Decision {
	return rollout.Decision{Primary: 7, Shadow: true}
}

// TestPolicyBadSide: an out-of-range Side from a policy runs legacy,
// uncompared, counted; no slot leaks and Shutdown completes.
func TestPolicyBadSide(t *testing.T) {
	exp := newExp[string](t, dualrun.WithRollout(badSidePolicy{}))
	ranCandidate := false
	v, err := exp.Run(context.Background(), func(context.Context) (string, error) { return "l", nil },
		func(context.Context) (string, error) { ranCandidate = true; return "c", nil })
	waitShutdown(t, exp)
	s := exp.Stats()
	if v != "l" || err != nil || ranCandidate || s.PolicyFailures != 1 || s.Compared != 0 || dualrun.ProcessInFlight() != 0 {
		t.Fatalf("Run = %q, %v; candidate ran %v; policy failures %d, compared %d, process in flight %d",
			v, err, ranCandidate, s.PolicyFailures, s.Compared, dualrun.ProcessInFlight())
	}
	// RunDecision with a bad Side directly: legacy, uncompared.
	v, _ = exp.RunDecision(context.Background(), dualrun.Decision{Primary: 200, Shadow: true},
		func(context.Context) (string, error) { return "l", nil },
		func(context.Context) (string, error) { return "c", nil })
	if v != "l" {
		t.Errorf("RunDecision(bad side) = %q, want legacy", v)
	}
}

// observingPolicy records observations; it can be told to panic.
type observingPolicy struct {
	rollout.Static
	mu    sync.Mutex
	seen  []rollout.Observation
	panic bool
}

func (p *observingPolicy) Observe(o rollout.Observation) {
	if p.panic {
		panic("observer bug")
	}
	p.mu.Lock()
	p.seen = append(p.seen, o)
	p.mu.Unlock()
}

// TestObserver: policies that observe get every compared call's outcome; a
// panicking observer is outcome error.
func TestObserver(t *testing.T) {
	p := &observingPolicy{Static: rollout.Static{Shadow: rollout.All}}
	exp := newExp[price](t, dualrun.WithRollout(p))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, errors.New("x")))
	waitShutdown(t, exp)
	if len(p.seen) != 1 || p.seen[0].Outcome != dualrun.Mismatch || !p.seen[0].CandidateErr || p.seen[0].LegacyErr {
		t.Fatalf("observations %+v", p.seen)
	}

	p2 := &observingPolicy{Static: rollout.Static{Shadow: rollout.All}, panic: true}
	exp2 := newExp[price](t, dualrun.WithRollout(p2))
	_, _ = exp2.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	waitShutdown(t, exp2)
	if s := exp2.Stats(); s.Count(dualrun.Error) != 1 || s.Count(dualrun.Match) != 0 {
		t.Fatalf("outcomes %v, want one error", s.Outcomes)
	}
}

// TestShutdown: idempotent, safe against concurrent Run, waits for shadows,
// and returns ctx.Err() while a shadow is stuck.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		exp := newExp[price](t, dualrun.WithShadowTimeout(time.Hour))
		_, _ = exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			<-release
			return eur100, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := exp.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a stuck shadow = %v, want DeadlineExceeded", err)
		}
		// After Shutdown, calls go on, primary only.
		ranCandidate := false
		v, _ := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			ranCandidate = true
			return eur100, nil
		})
		if v != eur100 || ranCandidate {
			t.Fatalf("after Shutdown: Run = %v, candidate ran %v", v, ranCandidate)
		}
		done := make(chan error, 2)
		go func() { done <- exp.Shutdown(context.Background()) }()
		go func() { done <- exp.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a shadow is still running", err)
		default:
		}
		close(release)
		for range 2 {
			if err := <-done; err != nil {
				t.Fatalf("Shutdown = %v", err)
			}
		}
		if err := exp.Shutdown(context.Background()); err != nil || !exp.Stats().ShutDown {
			t.Fatalf("second Shutdown = %v", err)
		}
	})
}

// TestShutdownConcurrentRun hammers Run from several goroutines while
// Shutdown runs: no slot may leak and no call may fail.
func TestShutdownConcurrentRun(t *testing.T) {
	exp := newExp[price](t, dualrun.WithMaxInFlight(8))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v, err := exp.Run(context.Background(), legacyPrice, candidatePrice); v != eur100 || err != nil {
					t.Errorf("Run = %v, %v", v, err)
					return
				}
			}
		})
	}
	for exp.Stats().Compared < 100 {
		runtime.Gosched()
	}
	waitShutdown(t, exp)
	s := exp.Stats()
	close(stop)
	wg.Wait()
	if s.InFlight != 0 || dualrun.ProcessInFlight() != 0 {
		t.Fatalf("after Shutdown: in flight %d, process %d", s.InFlight, dualrun.ProcessInFlight())
	}
	total := int64(0)
	for _, n := range s.Outcomes {
		total += n
	}
	if total-s.Count(dualrun.Shed) != s.Compared {
		t.Fatalf("outcomes %v do not add up to %d compared calls", s.Outcomes, s.Compared)
	}
}
