package rollout_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun/rollout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercent(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		in     float64
		want   rollout.BasisPoints
	}{
		{"zero", "nothing selected", 0, 0},
		{"one basis point", "the smallest step", 0.01, 1},
		{"one percent", "100 bp", 1, 100},
		{"rounding", "12.345% rounds to the nearest bp", 12.345, 1235},
		{"ninety-nine", "9900 bp", 99, 9900},
		{"all", "10000 bp", 100, rollout.All},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rollout.Percent(tt.in); got != tt.want {
				t.Errorf("Percent(%v) = %d, want %d (%s)", tt.in, got, tt.want, tt.reason)
			}
		})
	}
	for _, bad := range []float64{-0.01, 100.01, math.NaN(), math.Inf(1)} {
		t.Run(fmt.Sprint("panics on ", bad), func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "Percent") {
					t.Fatalf("recovered %v, want a Percent panic", r)
				}
			}()
			rollout.Percent(bad)
		})
	}
	if s := rollout.Percent(12.5).String(); s != "12.5%" {
		t.Errorf("String() = %q", s)
	}
}

// TestStaticPercentages checks half-open selection at 0, 1, 99 and 100%:
// over every one of the 10,000 buckets the share selected is exact, never
// p+1 (the off-by-one of r <= p).
func TestStaticPercentages(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		pct    float64
	}{
		{"0%", "never selects", 0},
		{"1%", "exactly 100 of 10,000 buckets", 1},
		{"99%", "exactly 9,900 buckets", 99},
		{"100%", "always selects", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rollout.Percent(tt.pct)
			var shadowBuckets [rollout.All]bool
			// Find keys covering every bucket: buckets are deterministic
			// per key, so count selection per bucket.
			found := 0
			for i := 0; found < int(rollout.All) && i < 2_000_000; i++ {
				key := fmt.Sprint("user-", i)
				sb, cb := rollout.Bucket("exp", key)
				if shadowBuckets[sb] {
					continue
				}
				shadowBuckets[sb] = true
				found++
				d := rollout.Static{Shadow: p, CandidatePrimary: p}.Decide(rollout.WithKey(context.Background(), key), "exp")
				if d.Shadow != (sb < p) {
					t.Fatalf("%s: key in shadow bucket %d: shadow %v at %v", tt.reason, sb, d.Shadow, p)
				}
				if (d.Primary == rollout.Candidate) != (cb < p) {
					t.Fatalf("%s: key in candidate bucket %d: primary %v at %v", tt.reason, cb, d.Primary, p)
				}
			}
			if found != int(rollout.All) {
				t.Fatalf("only %d buckets reached", found)
			}
		})
	}
}

// TestStaticRandomDraw checks the keyless draw's proportions statistically
// (a ±5 sigma band, so the test fails only on a real bias).
func TestStaticRandomDraw(t *testing.T) {
	const n = 200_000
	for _, pct := range []float64{0, 1, 50, 99, 100} {
		t.Run(fmt.Sprint(pct, "%"), func(t *testing.T) {
			s := rollout.Static{Shadow: rollout.Percent(pct), CandidatePrimary: rollout.Percent(100 - pct)}
			shadow, cand := 0, 0
			for range n {
				d := s.Decide(context.Background(), "exp")
				if d.Shadow {
					shadow++
				}
				if d.Primary == rollout.Candidate {
					cand++
				}
			}
			check := func(what string, got int, p float64) {
				mean := n * p / 100
				sigma := math.Sqrt(n * p / 100 * (1 - p/100))
				if math.Abs(float64(got)-mean) > 5*sigma+0.5 {
					t.Errorf("%s: %d of %d selected at %v%%, want %.0f ± %.0f", what, got, n, p, mean, 5*sigma)
				}
			}
			check("shadow", shadow, pct)
			check("candidate primary", cand, 100-pct)
		})
	}
}

// TestStickyAndMonotonic: a key keeps its decision, and raising the
// percentage never moves a selected key back.
func TestStickyAndMonotonic(t *testing.T) {
	ctxs := make([]context.Context, 2000)
	for i := range ctxs {
		ctxs[i] = rollout.WithKey(context.Background(), fmt.Sprint("account-", i))
	}
	prev := make([]bool, len(ctxs))
	for _, pct := range []float64{0, 1, 5, 10, 25, 50, 90, 100} {
		s := rollout.Static{CandidatePrimary: rollout.Percent(pct), Shadow: rollout.Percent(pct)}
		for i, ctx := range ctxs {
			d1, d2 := s.Decide(ctx, "exp"), s.Decide(ctx, "exp")
			if d1 != d2 {
				t.Fatalf("key %d: decisions differ across calls: %+v %+v", i, d1, d2)
			}
			sel := d1.Primary == rollout.Candidate
			if prev[i] && !sel {
				t.Fatalf("key %d moved back to legacy when raising to %v%%", i, pct)
			}
			prev[i] = sel
		}
	}
}

// TestHashGolden pins the fixed-seed hash: buckets must never change
// between releases, or keys would move on upgrade.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		exp, key     string
		shadow, cand rollout.BasisPoints
	}{
		{"checkout.price", "user-1", 1909, 5135},
		{"checkout.price", "user-2", 4512, 5583},
		{"search.rank", "user-1", 2422, 577},
	}
	for _, tt := range tests {
		s, c := rollout.Bucket(tt.exp, tt.key)
		if s != tt.shadow || c != tt.cand {
			t.Errorf("Bucket(%q, %q) = %d, %d; want %d, %d", tt.exp, tt.key, s, c, tt.shadow, tt.cand)
		}
	}
}

func TestSide(t *testing.T) {
	if rollout.Legacy.String() != "legacy" || rollout.Candidate.String() != "candidate" ||
		rollout.Legacy.Other() != rollout.Candidate || rollout.Candidate.Other() != rollout.Legacy {
		t.Fatal("Side names or Other wrong")
	}
	names := []string{"match", "mismatch", "ignored", "timeout", "panic", "error", "aborted", "shed"}
	for i, n := range names {
		if got := rollout.Outcome(i).String(); got != n {
			t.Errorf("Outcome(%d) = %q, want %q", i, got, n)
		}
	}
	if rollout.NumOutcomes != len(names) {
		t.Errorf("NumOutcomes = %d", rollout.NumOutcomes)
	}
}

func TestKeyFrom(t *testing.T) {
	if _, ok := rollout.KeyFrom(context.Background()); ok {
		t.Fatal("key found in an empty context")
	}
	if k, ok := rollout.KeyFrom(rollout.WithKey(context.Background(), "k")); !ok || k != "k" {
		t.Fatalf("KeyFrom = %q, %v", k, ok)
	}
}
