package stats

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one Allow call at base+at.
type step struct {
	at   time.Duration
	want bool
}

// repeat returns n steps at the same offset.
func repeat(n int, at time.Duration, want bool) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{at: at, want: want}
	}
	return s
}

func join(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestLimiter(t *testing.T) {
	const (
		ms   = time.Millisecond
		s    = time.Second
		year = 365 * 24 * time.Hour
	)
	tests := []struct {
		name      string
		perSecond float64
		burst     int
		steps     []step
		reason    string
	}{
		{
			name: "burst exhausted", perSecond: 1, burst: 3,
			steps:  join(repeat(3, 0, true), repeat(2, 0, false)),
			reason: "a new limiter holds burst tokens and no more",
		},
		{
			name: "refill after time passes", perSecond: 1, burst: 3,
			steps: join(
				repeat(3, 0, true),
				[]step{{0, false}, {999 * ms, false}, {s, true}, {s, false}},
				[]step{{2500 * ms, true}, {2500 * ms, false}, {3 * s, true}, {3 * s, false}},
			),
			reason: "one token per second, spent as soon as it is earned",
		},
		{
			name: "refill is capped at burst", perSecond: 1, burst: 3,
			steps:  join(repeat(3, 0, true), repeat(3, time.Hour, true), repeat(1, time.Hour, false)),
			reason: "an idle hour refills the bucket but not beyond burst",
		},
		{
			name: "fractional rate below one", perSecond: 0.5, burst: 1,
			steps:  []step{{0, true}, {s, false}, {1999 * ms, false}, {2 * s, true}, {3 * s, false}, {4 * s, true}},
			reason: "0.5/s is one token every 2s",
		},
		{
			name: "fractional rate above one", perSecond: 2.5, burst: 2,
			steps: join(
				[]step{{0, true}, {0, true}, {0, false}},
				[]step{{399 * ms, false}, {400 * ms, true}, {400 * ms, false}},
				[]step{{800 * ms, true}, {2 * s, true}, {2 * s, true}, {2 * s, false}},
			),
			reason: "2.5/s is one token every 400ms",
		},
		{
			name: "no drift with many small refills", perSecond: 0.1, burst: 1,
			steps: join(
				[]step{{0, true}},
				[]step{{1 * s, false}, {2 * s, false}, {3 * s, false}, {4 * s, false}, {5 * s, false}},
				[]step{{6 * s, false}, {7 * s, false}, {8 * s, false}, {9 * s, false}, {10 * s, true}},
			),
			reason: "ten 1s steps at 0.1/s must earn exactly one token, not 0.9999999",
		},
		{
			name: "time going backwards earns nothing", perSecond: 1, burst: 2,
			steps: join(
				[]step{{10 * s, true}, {10 * s, true}, {10 * s, false}},
				[]step{{-time.Hour, false}, {5 * s, false}, {10 * s, false}},
				[]step{{11 * s, true}, {11 * s, false}},
			),
			reason: "an earlier time is treated as the latest time seen",
		},
		{
			name: "time going backwards does not lock out", perSecond: 1, burst: 2,
			steps: join(
				[]step{{time.Hour, true}},
				[]step{{0, true}, {0, false}},
				[]step{{time.Hour + s, true}, {time.Hour + s, false}},
			),
			reason: "a token left before the clock jumped back is still usable, and refill resumes from the latest time",
		},
		{
			name: "burst below one is one", perSecond: 1, burst: 0,
			steps:  []step{{0, true}, {0, false}, {s, true}, {s, false}},
			reason: "a limiter that never allows anything would be a misconfiguration",
		},
		{
			name: "negative burst is one", perSecond: 1, burst: -5,
			steps:  []step{{0, true}, {0, false}},
			reason: "a burst below 1 is treated as 1",
		},
		{
			name: "unlimited zero rate", perSecond: 0, burst: 1,
			steps:  repeat(1000, 0, true),
			reason: "perSecond <= 0 means unlimited",
		},
		{
			name: "unlimited negative rate", perSecond: -1, burst: 0,
			steps:  join(repeat(100, 0, true), repeat(100, -time.Hour, true)),
			reason: "perSecond <= 0 means unlimited regardless of burst or time",
		},
		{
			name: "unlimited NaN rate", perSecond: math.NaN(), burst: 1,
			steps:  repeat(100, 0, true),
			reason: "NaN is not a positive rate",
		},
		{
			name: "unlimited sub-nanosecond interval", perSecond: 1e10, burst: 1,
			steps:  repeat(100, 0, true),
			reason: "a token every 0.1ns cannot be represented and is effectively unlimited",
		},
		{
			name: "unlimited infinite rate", perSecond: math.Inf(1), burst: 1,
			steps:  repeat(100, 0, true),
			reason: "+Inf tokens per second is unlimited",
		},
		{
			name: "tiny rate saturates", perSecond: 1e-30, burst: 2,
			steps:  []step{{0, true}, {0, false}, {100 * year, false}, {200 * year, false}},
			reason: "an interval beyond the largest Duration is capped at it (and burst with it), never wrapped into a short one",
		},
		{
			name: "slow rate with burst", perSecond: 1.0 / (3600 * 24), burst: 3,
			steps:  join(repeat(3, 0, true), []step{{0, false}, {23 * time.Hour, false}, {24 * time.Hour, true}, {24 * time.Hour, false}}),
			reason: "one token a day with a burst of three",
		},
		{
			name: "huge burst", perSecond: 1, burst: math.MaxInt,
			steps:  join(repeat(100, 0, true), repeat(100, 100*year, true)),
			reason: "(burst-1)*interval would overflow int64; burst is capped instead of wrapping negative",
		},
	}
	bases := []struct {
		name string
		base time.Time
	}{
		{name: "wall", base: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{name: "monotonic", base: time.Now()},
	}
	for _, tt := range tests {
		for _, b := range bases {
			t.Run(tt.name+"/"+b.name, func(t *testing.T) {
				l := NewLimiter(tt.perSecond, tt.burst)
				for i, st := range tt.steps {
					if got := l.Allow(b.base.Add(st.at)); got != st.want {
						t.Fatalf("step %d: Allow(base%+v) = %v, want %v: %s", i, st.at, got, st.want, tt.reason)
					}
				}
			})
		}
	}
}

func TestLimiterZeroValueIsUnlimited(t *testing.T) {
	var l Limiter
	now := time.Now()
	for i := range 100 {
		if !l.Allow(now) {
			t.Fatalf("call %d: zero Limiter denied, want unlimited", i)
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	const (
		burst      = 100
		goroutines = 8
		perG       = 50
	)
	l := NewLimiter(1, burst)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range perG {
				if l.Allow(now) {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Errorf("allowed %d of %d calls at one instant, want exactly burst = %d", got, goroutines*perG, burst)
	}
}
