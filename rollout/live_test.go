package rollout_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualrun/dualrun/rollout"
)

func TestLive(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		live   func() *rollout.Live
		want   rollout.Static
		str    string
	}{
		{"zero value", "the zero Live runs legacy only", func() *rollout.Live { return new(rollout.Live) }, rollout.Static{}, "live: legacy only"},
		{"nil", "a nil *Live decides like the zero Static and cannot panic", func() *rollout.Live { return nil }, rollout.Static{}, "live: legacy only"},
		{
			"initial", "NewLive starts with its argument",
			func() *rollout.Live {
				return rollout.NewLive(rollout.Static{Shadow: rollout.All, CandidatePrimary: 1000})
			},
			rollout.Static{Shadow: rollout.All, CandidatePrimary: 1000},
			"live: shadow 100%, candidate primary 10%",
		},
		{
			"set", "Set replaces both percentages",
			func() *rollout.Live {
				l := rollout.NewLive(rollout.Static{Shadow: 5})
				l.Set(rollout.Static{CandidatePrimary: rollout.All})
				return l
			},
			rollout.Static{CandidatePrimary: rollout.All},
			"live: candidate only",
		},
		{
			"above All", "values above All are kept as given (they decide as All)",
			func() *rollout.Live { return rollout.NewLive(rollout.Static{Shadow: 65535, CandidatePrimary: 20000}) },
			rollout.Static{Shadow: 65535, CandidatePrimary: 20000},
			"live: shadow 100%, candidate primary 100%",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.live()
			if got := l.Load(); got != tt.want {
				t.Fatalf("%s: Load() = %+v, want %+v", tt.reason, got, tt.want)
			}
			if got := l.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			for i := range 200 {
				ctx := rollout.WithKey(context.Background(), fmt.Sprint("k", i))
				if got, want := l.Decide(ctx, "exp"), tt.want.Decide(ctx, "exp"); got != want {
					t.Fatalf("%s: key %d: Live decided %+v, Static %+v", tt.reason, i, got, want)
				}
			}
		})
	}
}

func TestLiveSwap(t *testing.T) {
	l := rollout.NewLive(rollout.Static{Shadow: 1})
	if old := l.Swap(rollout.Static{Shadow: 2}); old != (rollout.Static{Shadow: 1}) {
		t.Fatalf("Swap returned %+v", old)
	}
	if l.Load() != (rollout.Static{Shadow: 2}) {
		t.Fatalf("Load after Swap = %+v", l.Load())
	}
}

func TestLiveDecideDoesNotAllocate(t *testing.T) {
	l := rollout.NewLive(rollout.Static{Shadow: rollout.Percent(50), CandidatePrimary: rollout.Percent(10)})
	keyed := rollout.WithKey(context.Background(), "user-1")
	for _, ctx := range []context.Context{context.Background(), keyed} {
		if n := testing.AllocsPerRun(1000, func() { _ = l.Decide(ctx, "exp") }); n != 0 {
			t.Fatalf("Decide allocates %v times per call", n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { l.Set(rollout.Static{Shadow: 3}) }); n != 0 {
		t.Fatalf("Set allocates %v times per call", n)
	}
}

// TestLiveConcurrentFlips flips a Live between "legacy only" and "candidate
// primary, legacy shadowed" while callers decide: under -race, and every
// decision must belong to one of the two rollouts (a torn read of the two
// percentages would mix them).
func TestLiveConcurrentFlips(t *testing.T) {
	a := rollout.Static{}
	b := rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}
	l := rollout.NewLive(a)
	var stop atomic.Bool
	var seen [2]atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ctx := rollout.WithKey(context.Background(), fmt.Sprint("worker-", w))
			for !stop.Load() {
				switch d := l.Decide(ctx, "exp"); d {
				case rollout.Decision{}:
					seen[0].Add(1)
				case rollout.Decision{Primary: rollout.Candidate, Shadow: true}:
					seen[1].Add(1)
				default:
					t.Errorf("torn decision %+v", d)
					return
				}
			}
		})
	}
	// Flip many times; every 500 flips, wait until the deciders have seen
	// the rollout just set, so both are seen even on one core.
	for i := range 5_000 {
		want := i % 2
		l.Set([2]rollout.Static{a, b}[want])
		if i%500 < 2 {
			for before := seen[want].Load(); seen[want].Load() == before && !t.Failed(); {
				runtime.Gosched()
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Fatalf("decisions seen: legacy-only %d, candidate %d; want both", seen[0].Load(), seen[1].Load())
	}
}

func TestStaticString(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		s      rollout.Static
		want   string
	}{
		{"zero", "nothing shadowed, legacy primary", rollout.Static{}, "legacy only"},
		{"shadow", "legacy primary, some shadowed", rollout.Static{Shadow: 1000}, "shadow 10%"},
		{"candidate", "candidate primary on every call, legacy shadowed", rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}, "shadow 100%, candidate primary 100%"},
		{"candidate only", "the end state", rollout.Static{CandidatePrimary: rollout.All}, "candidate only"},
		{"split, no shadow", "a percentage without comparison", rollout.Static{CandidatePrimary: 2550}, "candidate primary 25.5%, no shadow"},
		{"basis point", "fractions survive", rollout.Static{Shadow: 1}, "shadow 0.01%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("%s: String() = %q, want %q", tt.reason, got, tt.want)
			}
		})
	}
}
