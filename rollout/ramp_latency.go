package rollout

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// latencyHist is the ramp's latency histogram: cumulative, lock-free bucket
// counts that the ramp copies at every evaluation, so the distribution over
// the sliding window is the difference of two copies.
//
// It is written here rather than taken from internal/stats because the
// window needs exactly that difference, which stats.Snapshot does not
// expose, and because a ramp keeps one copy per evaluation interval of the
// window: 312 buckets (2.5 KiB) instead of the 8 KiB of stats.Histogram.
// Buckets are log-linear, 8 per power of two, so a quantile read at a bucket
// midpoint is within 1/16 (6.25%) of the true value: enough to compare a p99
// against a threshold such as "1.5 times legacy".
type latencyHist struct {
	counts [latBuckets]atomic.Uint64
}

const (
	latExact   = 8 // durations of 0..7 ns each have their own bucket
	latSubBits = 3 // 8 buckets per power of two above that
	latSub     = 1 << latSubBits
	latOctaves = 38 // up to 2^41 ns, about 36 minutes; longer counts in the last bucket
	latBuckets = latExact + latOctaves*latSub
)

type latCounts [latBuckets]uint64

func (h *latencyHist) record(d time.Duration) {
	h.counts[latIndex(uint64(max(d, 0)))].Add(1)
}

func (h *latencyHist) copyTo(dst *latCounts) {
	for i := range h.counts {
		dst[i] = h.counts[i].Load()
	}
}

// latIndex returns the bucket of a duration of ns nanoseconds.
func latIndex(ns uint64) int {
	if ns < latExact {
		return int(ns)
	}
	k := bits.Len64(ns) - 1 // ns is in [2^k, 2^(k+1)), k >= 3
	i := latExact + (k-latSubBits)*latSub + int(ns>>(k-latSubBits))&(latSub-1)
	return min(i, latBuckets-1)
}

// latBounds returns the range [lo, lo+width) of bucket i in nanoseconds.
func latBounds(i int) (lo, width uint64) {
	if i < latExact {
		return uint64(i), 1
	}
	j := i - latExact
	octave, m := j/latSub, uint64(j%latSub)
	return (latSub + m) << octave, 1 << octave
}

// quantile returns the q-quantile of the durations counted in now but not in
// base (cumulative copies of the same histogram, base taken first), and how
// many there are. It reads the bucket midpoint, and 0 when there are none.
func quantile(now, base *latCounts, q float64) (time.Duration, int64) {
	var n uint64
	for i := range now {
		n += now[i] - base[i]
	}
	if n == 0 {
		return 0, 0
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) || rank == 0 {
		rank++ // ceil, and at least the first value
	}
	var seen uint64
	for i := range now {
		seen += now[i] - base[i]
		if seen >= rank {
			lo, w := latBounds(i)
			return time.Duration(lo + w/2), int64(n)
		}
	}
	return 0, int64(n) // not reached: seen == n >= rank at the end
}
