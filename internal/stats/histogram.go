package stats

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Bucket layout.
//
// Values are recorded in units of 2ns. Below 64 units (128ns) every unit has
// its own bucket. From there on, each power-of-two range [2^k, 2^(k+1)) units
// is split into 32 equal sub-buckets, so a bucket is never wider than 1/32 of
// its lower bound. The highest regular bucket ends at 2^36 units (about
// 137.4s); larger values are counted in the last bucket.
//
// For a value of u units, with shift = max(0, bitlen(u)-6), the bucket index is
// shift*32 + u>>shift (or the last bucket if shift exceeds histMaxShift).
// For u < 64 this is u itself; for larger u, u>>shift lies in [32, 64), so each
// shift owns the 32 indexes [32*(shift+1), 32*(shift+2)).
const (
	histUnitShift = 1                                       // 1 unit = 2ns
	histSubBits   = 5                                       // 32 sub-buckets per power of two
	histSubCount  = 1 << histSubBits                        // 32
	histMaxShift  = 30                                      // largest regular shift
	histBuckets   = (histMaxShift + 2) * histSubCount       // 1024
	histRangeTop  = 1 << (histMaxShift + 6 + histUnitShift) // first ns value past the regular range
)

// HistogramMaxTracked is the upper end of the range a [Histogram] tracks with
// bounded relative error (2^37ns, about 137s). Larger values are counted in the
// last bucket.
const HistogramMaxTracked time.Duration = histRangeTop

// Histogram is a fixed-size, lock-free latency histogram. The zero value is
// ready to use. It is safe for concurrent use, never allocates in
// [Histogram.Record], and takes about 8 KiB.
//
// Durations are kept in log-linear buckets (32 linear sub-buckets per power of
// two) covering 0 to [HistogramMaxTracked] with 2ns resolution below 128ns, so
// quantiles read from a [Snapshot] are within 1/64 (about 1.6%) of the exact
// sample quantile for values from 64ns up to HistogramMaxTracked, and within
// 1ns below that. Larger values are clamped into the last bucket; Max stays
// exact.
//
// A Histogram must not be copied after first use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps after about 584 years in total
	max    atomic.Uint64 // nanoseconds
	minInv atomic.Uint64 // ^min in nanoseconds, so that the zero value means "no minimum yet"
}

// Record adds one observation of d. Negative durations are recorded as 0.
// Record is lock-free and does not allocate.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	// Min and max before the bucket count: a Snapshot reads the counts first,
	// so every value it counts is already reflected in its Min and Max.
	for old := h.max.Load(); v > old; old = h.max.Load() {
		if h.max.CompareAndSwap(old, v) {
			break
		}
	}
	inv := ^v
	for old := h.minInv.Load(); inv > old; old = h.minInv.Load() {
		if h.minInv.CompareAndSwap(old, inv) {
			break
		}
	}
	h.sum.Add(v)
	h.counts[bucketIndex(v)].Add(1)
}

// bucketIndex returns the bucket for a value of ns nanoseconds.
func bucketIndex(ns uint64) int {
	u := ns >> histUnitShift
	shift := max(bits.Len64(u)-(histSubBits+1), 0)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return shift<<histSubBits + int(u>>shift)
}

// bucketBounds returns the range [lo, lo+width) in nanoseconds of regular
// bucket i.
func bucketBounds(i int) (lo, width uint64) {
	if i < histSubCount {
		return uint64(i) << histUnitShift, 1 << histUnitShift
	}
	shift := i>>histSubBits - 1
	m := uint64(histSubCount + i&(histSubCount-1))
	return (m << shift) << histUnitShift, (1 << shift) << histUnitShift
}

// Snapshot returns the current contents of h. It may run concurrently with
// Record; it is then not an atomic cut, but its bucket counts and Count agree
// with each other, and Min and Max cover every value it counts. Sum may
// include a few values that the counts do not yet show. Snapshot allocates
// one slice sized by the number of non-empty buckets.
func (h *Histogram) Snapshot() Snapshot {
	var counts [histBuckets]uint64
	var s Snapshot
	nonEmpty := 0
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			counts[i] = c
			s.Count += c
			nonEmpty++
		}
	}
	if s.Count == 0 {
		return Snapshot{}
	}
	s.Sum = time.Duration(h.sum.Load())
	s.Max = time.Duration(h.max.Load())
	s.Min = time.Duration(^h.minInv.Load())
	s.buckets = make([]snapshotBucket, 0, nonEmpty)
	for i, c := range counts {
		if c != 0 {
			s.buckets = append(s.buckets, snapshotBucket{index: uint16(i), count: c})
		}
	}
	return s
}

// Snapshot is a point-in-time copy of a [Histogram]. The zero value is an
// empty snapshot. Snapshots are immutable and may be shared.
type Snapshot struct {
	// Count is the number of recorded values.
	Count uint64
	// Sum is the total of the recorded values.
	Sum time.Duration
	// Min is the smallest recorded value (exact), or 0 if Count is 0.
	Min time.Duration
	// Max is the largest recorded value (exact), or 0 if Count is 0.
	Max time.Duration

	buckets []snapshotBucket // non-empty buckets in increasing index order
}

type snapshotBucket struct {
	index uint16
	count uint64
}

// Quantile returns an estimate of the q-quantile of the recorded values, using
// the nearest-rank definition: the smallest recorded value v such that at
// least a fraction q of the values are <= v. q is clamped to [0, 1] (NaN
// counts as 0). It returns 0 if Count is 0, Min for the lowest rank and Max
// for the highest. Otherwise it returns the midpoint of the bucket holding the
// ranked value, clamped to [Min, Max], which is within 1/64 of that value
// between 64ns and [HistogramMaxTracked] (within 1ns below 64ns). Once values
// beyond HistogramMaxTracked have been recorded, a rank that falls in the last
// bucket returns Max.
func (s Snapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	if !(q > 0) { // also catches NaN
		q = 0
	}
	rank := uint64(math.Ceil(min(q, 1) * float64(s.Count)))
	switch {
	case rank <= 1:
		return s.Min
	case rank >= s.Count:
		return s.Max
	}
	var cum uint64
	for _, b := range s.buckets {
		cum += b.count
		if cum < rank {
			continue
		}
		lo, width := bucketBounds(int(b.index))
		var v time.Duration
		if int(b.index) == histBuckets-1 && s.Max >= HistogramMaxTracked {
			v = s.Max // the bucket holds clamped values; the midpoint means nothing
		} else {
			v = time.Duration(lo + width/2)
		}
		return min(max(v, s.Min), s.Max)
	}
	return s.Max // unreachable when Count matches the buckets
}

// Mean returns Sum/Count, or 0 if Count is 0.
func (s Snapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}
