package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// relErrBound is the documented quantile error for values from 64ns to
// HistogramMaxTracked: half a bucket, and a bucket is at most 1/32 of its
// lower bound. It is tighter than the ~3% the package promises.
const relErrBound = 1.0 / 64

// exactQuantile is the nearest-rank quantile of sorted, the definition
// Snapshot.Quantile estimates.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// withinBound reports whether got is an acceptable estimate of want.
func withinBound(got, want time.Duration) bool {
	diff := math.Abs(float64(got - want))
	return diff <= 1 || diff <= relErrBound*float64(want)
}

var testQuantiles = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(lo, hi time.Duration) func(*rand.Rand) time.Duration {
		return func(r *rand.Rand) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
	}
	tests := []struct {
		name   string
		n      int
		gen    func(*rand.Rand) time.Duration
		reason string
	}{
		{
			name:   "single value",
			n:      1000,
			gen:    func(*rand.Rand) time.Duration { return 1234567 * time.Nanosecond },
			reason: "every quantile is the one value; clamping to [Min, Max] makes it exact",
		},
		{
			name:   "single observation",
			n:      1,
			gen:    func(*rand.Rand) time.Duration { return 3 * time.Second },
			reason: "one sample is both Min and Max",
		},
		{
			name:   "uniform 1us-100ms",
			n:      100000,
			gen:    uniform(time.Microsecond, 100*time.Millisecond),
			reason: "a wide uniform spread crosses many power-of-two ranges",
		},
		{
			name:   "uniform narrow 100ns-200ns",
			n:      50000,
			gen:    uniform(100*time.Nanosecond, 200*time.Nanosecond),
			reason: "the low end of the range, where buckets are 2ns and 4ns wide",
		},
		{
			name: "bimodal 90% ~200us, 10% ~50ms",
			n:    100000,
			gen: func(r *rand.Rand) time.Duration {
				if r.IntN(10) == 0 {
					return uniform(40*time.Millisecond, 60*time.Millisecond)(r)
				}
				return uniform(150*time.Microsecond, 250*time.Microsecond)(r)
			},
			reason: "p90 sits on the edge between the modes and must still land in the right bucket",
		},
		{
			name: "log-uniform 100ns-100s",
			n:    100000,
			gen: func(r *rand.Rand) time.Duration {
				lo, hi := math.Log(100), math.Log(100e9)
				return time.Duration(math.Exp(lo + r.Float64()*(hi-lo)))
			},
			reason: "the whole advertised range, every bucket size",
		},
		{
			name:   "tiny values 0-63ns",
			n:      10000,
			gen:    uniform(0, 64*time.Nanosecond),
			reason: "below 64ns the bound is absolute: within 1ns",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			samples := make([]time.Duration, tt.n)
			var sum time.Duration
			for i := range samples {
				d := tt.gen(r)
				samples[i] = d
				sum += d
				h.Record(d)
			}
			slices.Sort(samples)
			s := h.Snapshot()
			if s.Count != uint64(tt.n) || s.Sum != sum || s.Min != samples[0] || s.Max != samples[tt.n-1] {
				t.Fatalf("Snapshot = {Count %d, Sum %v, Min %v, Max %v}, want {%d, %v, %v, %v}",
					s.Count, s.Sum, s.Min, s.Max, tt.n, sum, samples[0], samples[tt.n-1])
			}
			if want := sum / time.Duration(tt.n); s.Mean() != want {
				t.Errorf("Mean() = %v, want %v", s.Mean(), want)
			}
			for _, q := range testQuantiles {
				got, want := s.Quantile(q), exactQuantile(samples, q)
				if !withinBound(got, want) {
					t.Errorf("Quantile(%v) = %v, want %v within %.2f%%: %s",
						q, got, want, 100*relErrBound, tt.reason)
				}
			}
			if got := s.Quantile(0); got != samples[0] {
				t.Errorf("Quantile(0) = %v, want Min %v", got, samples[0])
			}
			if got := s.Quantile(1); got != samples[tt.n-1] {
				t.Errorf("Quantile(1) = %v, want Max %v", got, samples[tt.n-1])
			}
		})
	}
}

func TestHistogramEdgeValues(t *testing.T) {
	tests := []struct {
		name     string
		record   []time.Duration
		wantMin  time.Duration
		wantMax  time.Duration
		wantSum  time.Duration
		wantP50  time.Duration
		checkP50 func(time.Duration) bool
		reason   string
	}{
		{
			name:    "negative becomes zero",
			record:  []time.Duration{-time.Second, -1},
			wantMin: 0, wantMax: 0, wantSum: 0, wantP50: 0,
			reason: "negative durations are recorded as 0",
		},
		{
			name:    "zero",
			record:  []time.Duration{0, 0, 0},
			wantMin: 0, wantMax: 0, wantSum: 0, wantP50: 0,
			reason: "0 lands in the first bucket",
		},
		{
			name:    "above range",
			record:  []time.Duration{200 * time.Second, 300 * time.Second, 400 * time.Second},
			wantMin: 200 * time.Second, wantMax: 400 * time.Second, wantSum: 900 * time.Second,
			checkP50: func(d time.Duration) bool { return d >= HistogramMaxTracked && d <= 400*time.Second },
			reason:   "values past the range are clamped into the last bucket; Min and Max stay exact",
		},
		{
			name:    "max duration",
			record:  []time.Duration{math.MaxInt64, math.MaxInt64},
			wantMin: math.MaxInt64, wantMax: math.MaxInt64, wantSum: -2,
			wantP50: math.MaxInt64,
			reason:  "the largest Duration must not index out of range (Sum wraps, as documented)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, d := range tt.record {
				h.Record(d)
			}
			s := h.Snapshot()
			if s.Count != uint64(len(tt.record)) {
				t.Errorf("Count = %d, want %d: %s", s.Count, len(tt.record), tt.reason)
			}
			if s.Min != tt.wantMin || s.Max != tt.wantMax || s.Sum != tt.wantSum {
				t.Errorf("Min, Max, Sum = %v, %v, %v, want %v, %v, %v: %s",
					s.Min, s.Max, s.Sum, tt.wantMin, tt.wantMax, tt.wantSum, tt.reason)
			}
			p50 := s.Quantile(0.5)
			if tt.checkP50 != nil {
				if !tt.checkP50(p50) {
					t.Errorf("Quantile(0.5) = %v: %s", p50, tt.reason)
				}
			} else if p50 != tt.wantP50 {
				t.Errorf("Quantile(0.5) = %v, want %v: %s", p50, tt.wantP50, tt.reason)
			}
		})
	}
}

func TestQuantileArgument(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	s := h.Snapshot()
	tests := []struct {
		name   string
		q      float64
		want   time.Duration
		reason string
	}{
		{name: "negative", q: -1, want: time.Millisecond, reason: "q below 0 is clamped to 0, which is Min"},
		{name: "NaN", q: math.NaN(), want: time.Millisecond, reason: "NaN is treated as 0"},
		{name: "above one", q: 2, want: 100 * time.Millisecond, reason: "q above 1 is clamped to 1, which is Max"},
		{name: "plus infinity", q: math.Inf(1), want: 100 * time.Millisecond, reason: "+Inf is clamped to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v: %s", tt.q, got, tt.want, tt.reason)
			}
		})
	}
}

func TestHistogramZeroValue(t *testing.T) {
	var h Histogram
	tests := []struct {
		name   string
		s      Snapshot
		reason string
	}{
		{name: "snapshot of zero Histogram", s: h.Snapshot(), reason: "a Histogram is ready to use without initialization"},
		{name: "zero Snapshot", s: Snapshot{}, reason: "the zero Snapshot is an empty snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.Count != 0 || tt.s.Sum != 0 || tt.s.Min != 0 || tt.s.Max != 0 {
				t.Errorf("got {Count %d, Sum %v, Min %v, Max %v}, want all zero: %s",
					tt.s.Count, tt.s.Sum, tt.s.Min, tt.s.Max, tt.reason)
			}
			for _, q := range testQuantiles {
				if got := tt.s.Quantile(q); got != 0 {
					t.Errorf("Quantile(%v) = %v, want 0: %s", q, got, tt.reason)
				}
			}
			if got := tt.s.Mean(); got != 0 {
				t.Errorf("Mean() = %v, want 0: %s", got, tt.reason)
			}
		})
	}
}

func TestBucketLayout(t *testing.T) {
	// Buckets tile [0, HistogramMaxTracked) without gaps or overlaps.
	var next uint64
	for i := range histBuckets {
		lo, width := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if width > max(2, lo/histSubCount) {
			t.Fatalf("bucket %d = [%d, %d) is wider than max(2ns, lo/32)", i, lo, lo+width)
		}
		next = lo + width
	}
	if next != uint64(HistogramMaxTracked) {
		t.Fatalf("buckets end at %d, want HistogramMaxTracked = %d", next, HistogramMaxTracked)
	}
	if HistogramMaxTracked < 100*time.Second {
		t.Fatalf("HistogramMaxTracked = %v, want at least 100s", HistogramMaxTracked)
	}

	// Every value maps into the bucket that contains it.
	check := func(v uint64) {
		i := bucketIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketIndex(%d) = %d, out of range", v, i)
		}
		if v >= uint64(HistogramMaxTracked) {
			if i != histBuckets-1 {
				t.Fatalf("bucketIndex(%d) = %d, want last bucket %d", v, i, histBuckets-1)
			}
			return
		}
		if lo, width := bucketBounds(i); v < lo || v >= lo+width {
			t.Fatalf("bucketIndex(%d) = %d = [%d, %d), does not contain it", v, i, lo, lo+width)
		}
	}
	for v := range uint64(1 << 14) {
		check(v)
	}
	for i := range histBuckets { // both edges of every bucket
		lo, width := bucketBounds(i)
		check(lo)
		check(lo + width - 1)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		check(r.Uint64() >> r.UintN(64))
	}
	check(math.MaxUint64)
}

func TestHistogramSize(t *testing.T) {
	if size := unsafe.Sizeof(Histogram{}); size > 9*1024 {
		t.Errorf("Histogram is %d bytes, want at most 9 KiB: fixed memory should stay modest", size)
	}
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	d := time.Duration(0)
	if allocs := testing.AllocsPerRun(1000, func() {
		d += 977 * time.Nanosecond
		h.Record(d)
	}); allocs != 0 {
		t.Errorf("Record allocates %v times per call, want 0", allocs)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	const (
		goroutines = 8
		perG       = 5000
	)
	var h Histogram
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				// Values 1..goroutines*perG microseconds, each recorded once.
				h.Record(time.Duration(1+g+i*goroutines) * time.Microsecond)
			}
		})
	}

	// Snapshots taken during the writes must be internally consistent.
	stop := make(chan struct{})
	var readerErr atomic.Value
	var rwg sync.WaitGroup
	rwg.Go(func() {
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := h.Snapshot()
			if s.Count < last {
				readerErr.Store("Count went backwards")
				return
			}
			last = s.Count
			if s.Count == 0 {
				continue
			}
			for _, q := range testQuantiles {
				if v := s.Quantile(q); v < s.Min || v > s.Max {
					readerErr.Store("quantile outside [Min, Max]")
					return
				}
			}
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	if msg := readerErr.Load(); msg != nil {
		t.Fatal(msg)
	}

	const n = goroutines * perG
	s := h.Snapshot()
	if s.Count != n {
		t.Errorf("Count = %d, want %d", s.Count, n)
	}
	if want := time.Duration(n*(n+1)/2) * time.Microsecond; s.Sum != want {
		t.Errorf("Sum = %v, want %v", s.Sum, want)
	}
	if s.Min != time.Microsecond || s.Max != n*time.Microsecond {
		t.Errorf("Min, Max = %v, %v, want %v, %v", s.Min, s.Max, time.Microsecond, n*time.Microsecond)
	}
	for _, q := range testQuantiles {
		want := exactQuantileOfRange(n, q) * time.Microsecond
		if got := s.Quantile(q); !withinBound(got, want) {
			t.Errorf("Quantile(%v) = %v, want %v within %.2f%%", q, got, want, 100*relErrBound)
		}
	}
}

// exactQuantileOfRange is the nearest-rank q-quantile of 1..n.
func exactQuantileOfRange(n int, q float64) time.Duration {
	return time.Duration(min(max(int(math.Ceil(q*float64(n))), 1), n))
}

// BenchmarkHistogramRecord measures Record from parallel callers.
func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(rand.Int64N(int64(time.Millisecond)))
		for pb.Next() {
			d = d*5/4 + 1
			if d > time.Second {
				d = 100
			}
			h.Record(d)
		}
	})
}
