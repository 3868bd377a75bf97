package dualrun_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
)

// These tests pin admission.go: the per-experiment and process-wide slots,
// shedding beyond them, and the kill switch.

// TestInFlightLimit: at most the limit of shadows run at once, the excess is
// shed and counted; a candidate that ignores its context holds at most the
// limit of goroutines, also past its deadline.
func TestInFlightLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, calls = 4, 10
		release := make(chan struct{})
		var running, maxRunning atomic.Int64
		exp := newExp[price](t, dualrun.WithMaxInFlight(limit), dualrun.WithShadowTimeout(10*time.Millisecond))
		for range calls {
			v, err := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
				n := running.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				<-release // ignores its context
				running.Add(-1)
				return eur100, nil
			})
			if v != eur100 || err != nil {
				t.Fatalf("Run = %v, %v", v, err)
			}
		}
		time.Sleep(time.Second) // far past every deadline
		synctest.Wait()
		s := exp.Stats()
		if s.InFlight != limit || running.Load() != limit {
			t.Fatalf("past the deadline: in flight %d, running %d; want the limit %d (slots are released on return)", s.InFlight, running.Load(), limit)
		}
		if s.Count(dualrun.Shed) != calls-limit || s.Count(dualrun.Timeout) != limit {
			t.Fatalf("shed %d, timeouts %d; want %d, %d", s.Count(dualrun.Shed), s.Count(dualrun.Timeout), calls-limit, limit)
		}
		if s.Calls != calls || s.Compared != limit {
			t.Fatalf("calls %d compared %d", s.Calls, s.Compared)
		}
		close(release)
		waitShutdown(t, exp)
		if maxRunning.Load() != limit || exp.Stats().InFlight != 0 {
			t.Fatalf("max running %d, in flight after shutdown %d", maxRunning.Load(), exp.Stats().InFlight)
		}
	})
}

// TestProcessLimit: the process-wide cap sheds across experiments.
func TestProcessLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dualrun.SetProcessMaxInFlight(2)
		defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
		release := make(chan struct{})
		hang := func(context.Context) (price, error) { <-release; return eur100, nil }
		a, b := newExp[price](t), newExp[price](t)
		_, _ = a.Run(context.Background(), ret(eur100, nil), hang)
		_, _ = b.Run(context.Background(), ret(eur100, nil), hang)
		_, _ = b.Run(context.Background(), ret(eur100, nil), hang)
		if dualrun.ProcessInFlight() != 2 || b.Stats().Count(dualrun.Shed) != 1 {
			t.Fatalf("process in flight %d, b shed %d; want 2, 1", dualrun.ProcessInFlight(), b.Stats().Count(dualrun.Shed))
		}
		close(release)
		waitShutdown(t, a)
		waitShutdown(t, b)
		if dualrun.ProcessInFlight() != 0 {
			t.Fatalf("process in flight %d after shutdown", dualrun.ProcessInFlight())
		}
	})
}

// TestTelemetryShed: a call that finds no slot runs its primary only and is
// counted shed (dualrun.comparisons, dualrun.calls, Stats), with no shadow
// span and no Report.
func TestTelemetryShed(t *testing.T) {
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			var reports atomic.Int64
			pub := dualrun.NamePublisher("count", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
				reports.Add(1)
				return nil
			}))
			exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(primary)),
				dualrun.WithMaxInFlight(1), dualrun.WithPublisher(pub))...)

			q := quoteOf(100)
			release := make(chan struct{})
			var shadowRuns atomic.Int64
			shadow := func(context.Context) (priceQuote, error) {
				shadowRuns.Add(1)
				<-release
				return q, nil
			}
			legacy, candidate := assignSides(primary, ret(q, nil), shadow)
			ctx := context.Background()
			// The first call takes the only slot, synchronously, and its
			// shadow holds it until released.
			if _, err := exp.Run(ctx, legacy, candidate); err != nil {
				t.Fatal(err)
			}
			// The second call finds no slot: primary only, counted shed.
			if got, err := exp.Run(ctx, legacy, candidate); err != nil || len(got.Items) != 1 {
				t.Fatalf("shed call returned %+v, %v; want the primary's result", got, err)
			}
			close(release)
			waitShutdown(t, exp)

			rm := h.collect(t)
			telComparisons(t, rm, name,
				telComparison(name, primary, dualrun.Match, dualrun.NoMismatch),
				telComparison(name, primary, dualrun.Shed, dualrun.NoMismatch))
			telCalls(t, rm, telCall(name, primary, true, 1), telCall(name, primary, false, 1))
			if got := shadowRuns.Load(); got != 1 {
				t.Errorf("shadow ran %d times, want 1", got)
			}
			if got := len(h.shadowSpans(name)); got != 1 {
				t.Errorf("got %d shadow spans, want 1 (none for the shed call)", got)
			}
			if got := reports.Load(); got != 0 {
				t.Errorf("published %d reports, want 0: shed is never reported", got)
			}
			if s := exp.Stats(); s.Count(dualrun.Shed) != 1 || s.Compared != 1 || s.Calls != 2 {
				t.Errorf("Stats: shed %d, compared %d, calls %d; want 1, 1, 2", s.Count(dualrun.Shed), s.Compared, s.Calls)
			}
		})
	}
}

// TestKillSwitch: DisableShadows stops every shadow; calls go on.
func TestKillSwitch(t *testing.T) {
	exp := newExp[price](t)
	dualrun.DisableShadows()
	if dualrun.ShadowsEnabled() {
		t.Fatal("ShadowsEnabled after DisableShadows")
	}
	ranCandidate := false
	v, _ := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
		ranCandidate = true
		return eur100, nil
	})
	dualrun.EnableShadows()
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	waitShutdown(t, exp)
	s := exp.Stats()
	if v != eur100 || ranCandidate || s.Calls != 2 || s.Compared != 1 {
		t.Fatalf("ran candidate %v; calls %d compared %d", ranCandidate, s.Calls, s.Compared)
	}
}
