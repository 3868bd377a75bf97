package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram is a small log-linear (HDR-style) latency histogram: exact to
// the nanosecond below 1,024ns, then 512 linear buckets per power of two, so
// a quantile is within 1/1,024 (0.1%) of the recorded value: 0.1µs at
// 100µs. It covers up to 2^40ns (about 18 minutes), holds 64 KiB of counts,
// never allocates after newHistogram, and is not safe for concurrent use:
// each caller owns one, and they are merged after a phase.
//
// It is kept small on purpose: the soak's own live heap sets the garbage
// collector's heap goal, and so how much the RSS may grow in a phase.
type histogram struct {
	counts []uint32
	n      uint64
	sum    uint64 // ns
	max    uint64 // ns
}

const (
	histSubBits  = 9
	histSub      = 1 << histSubBits // linear buckets per power of two
	histMaxShift = 30               // values up to 2^(histMaxShift+histSubBits+1) ns
	histBuckets  = (histMaxShift + 2) * histSub
)

func newHistogram() *histogram {
	h := &histogram{counts: make([]uint32, histBuckets)}
	h.reset()
	return h
}

// reset clears h. It writes every count, so the pages are resident before a
// phase starts and do not show up as RSS growth during it.
func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i] = 0
	}
	h.n, h.sum, h.max = 0, 0, 0
}

// bucket returns the index of the bucket holding v nanoseconds: v itself
// below 2*histSub, then shift*histSub + v>>shift, where v>>shift lies in
// [histSub, 2*histSub).
func bucket(v uint64) int {
	shift := max(0, bits.Len64(v)-histSubBits-1)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return shift*histSub + int(v>>uint(shift))
}

// bucketMid returns the middle of bucket i, in nanoseconds.
func bucketMid(i int) uint64 {
	shift := max(0, i/histSub-1)
	lo := uint64(i-shift*histSub) << uint(shift)
	return lo + (uint64(1)<<uint(shift))/2
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucket(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// merge adds o's observations to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1), never more than the
// maximum observed.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
