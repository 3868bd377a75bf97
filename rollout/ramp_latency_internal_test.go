package rollout

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestLatencyBuckets checks that every duration falls in the bucket whose
// bounds contain it, that buckets tile the range without gaps, and that a
// bucket is never wider than 1/8 of its lower bound.
func TestLatencyBuckets(t *testing.T) {
	var next uint64
	for i := range latBuckets - 1 {
		lo, w := latBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d (gap or overlap)", i, lo, next)
		}
		if i >= latExact && w*latSub > lo {
			t.Fatalf("bucket %d: width %d > lo/8 (%d)", i, w, lo)
		}
		for _, v := range []uint64{lo, lo + w/2, lo + w - 1} {
			if got := latIndex(v); got != i {
				t.Fatalf("latIndex(%d) = %d, want %d", v, got, i)
			}
		}
		next = lo + w
	}
	if got := latIndex(1 << 62); got != latBuckets-1 {
		t.Fatalf("huge duration in bucket %d", got)
	}
}

// TestQuantile compares the histogram's quantiles with exact ones on random
// log-uniform samples: the midpoint of a bucket is within 1/16 of any value
// in it.
func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		n      int
		q      float64
		lo, hi time.Duration
	}{
		{"p99 of microseconds", "typical in-process calls", 10_000, 0.99, time.Microsecond, time.Millisecond},
		{"p99 of seconds", "slow remote calls", 1_000, 0.99, 100 * time.Millisecond, 10 * time.Second},
		{"p50", "the median works too", 5_000, 0.5, time.Microsecond, time.Second},
		{"one sample", "p99 of one value is that value", 1, 0.99, time.Millisecond, 2 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var h latencyHist
			var base latCounts
			h.copyTo(&base)
			vals := make([]time.Duration, tt.n)
			for i := range vals {
				f := float64(tt.lo) * math.Pow(float64(tt.hi)/float64(tt.lo), rng.Float64())
				vals[i] = time.Duration(f)
				h.record(vals[i])
			}
			var now latCounts
			h.copyTo(&now)
			got, n := quantile(&now, &base, tt.q)
			slices.Sort(vals)
			rank := int(float64(tt.n)*tt.q+0.999999) - 1
			want := vals[max(rank, 0)]
			if n != int64(tt.n) {
				t.Fatalf("count %d, want %d", n, tt.n)
			}
			if err := float64(got-want) / float64(want); err > 1.0/16 || err < -1.0/16 {
				t.Fatalf("%s: quantile %v, exact %v: error %.3f > 1/16", tt.reason, got, want, err)
			}
		})
	}
	var empty latCounts
	if d, n := quantile(&empty, &empty, 0.99); d != 0 || n != 0 {
		t.Fatalf("empty quantile = %v, %d", d, n)
	}
}
