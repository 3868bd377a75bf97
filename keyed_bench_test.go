package dualrun_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/dualrun/dualrun"
)

// keyedBenchRow is a batch output row: comparable without pointers, so
// that the benchmark measures the keyed machinery (reading, matching,
// recording) rather than go-cmp.
type keyedBenchRow struct {
	ID       int64
	Account  int32
	Day      int32
	Cents    int64
	Currency [3]byte
}

func keyedBenchID(r keyedBenchRow) int64 { return r.ID }

// keyedBenchInputs are generated lazily, so that the heap holds only what
// CompareKeyed keeps. Legacy has IDs 0, 2, 4, ... (2i for record i); the
// candidate changes 1% of the records (Cents), lacks 0.1% (missing) and
// adds 0.1% with odd IDs (extra). Sorted, records come in order of i;
// unsorted, in the order of a permutation of i, a different one per side.
type keyedBenchInputs struct {
	n      int64
	sorted bool
	heap   *keyedHeapSampler
}

func keyedBenchRowOf(i int64) keyedBenchRow {
	return keyedBenchRow{ID: 2 * i, Account: int32(i % 9973), Day: int32(i % 365), Cents: i * 7 % 100_000, Currency: [3]byte{'E', 'U', 'R'}}
}

// order returns the i of the j-th record: j itself when sorted, else j*a
// mod n (a prime that divides no n of the benchmark).
func (in keyedBenchInputs) order(j, a int64) int64 {
	if in.sorted {
		return j
	}
	return j * a % in.n
}

func (in keyedBenchInputs) legacy(yield func(keyedBenchRow) bool) {
	for j := range in.n {
		in.heap.tick(j)
		if !yield(keyedBenchRowOf(in.order(j, 7_368_787))) {
			return
		}
	}
}

func (in keyedBenchInputs) candidate(yield func(keyedBenchRow) bool) {
	for j := range in.n {
		in.heap.tick(j)
		if j == in.n-1 {
			in.heap.retained()
		}
		i := in.order(j, 2_750_159)
		if i%1000 == 7 {
			continue // missing
		}
		r := keyedBenchRowOf(i)
		if i%100 == 3 {
			r.Cents++ // changed
		}
		if !yield(r) {
			return
		}
		if i%1000 == 500 {
			extra := keyedBenchRowOf(i)
			extra.ID++
			if !yield(extra) {
				return
			}
		}
	}
}

// keyedHeapSampler reads the heap every 4,096 records, from the iterators
// (no goroutine, no stop-the-world): the peak of the heap's objects (live
// and not yet collected) and of the live heap as of the last collection.
// At the last candidate record, with the timer stopped, it also collects
// and reads what CompareKeyed retains then.
type keyedHeapSampler struct {
	b                *testing.B
	samples          []metrics.Sample
	baseObj, baseLiv uint64
	peakObj, peakLiv uint64
	peakRetained     uint64
}

func newKeyedHeapSampler(b *testing.B) *keyedHeapSampler {
	h := &keyedHeapSampler{b: b, samples: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}}
	runtime.GC()
	metrics.Read(h.samples)
	h.baseObj, h.baseLiv = h.samples[0].Value.Uint64(), h.samples[1].Value.Uint64()
	return h
}

func (h *keyedHeapSampler) tick(j int64) {
	if j%4096 != 0 {
		return
	}
	metrics.Read(h.samples)
	h.peakObj = max(h.peakObj, h.samples[0].Value.Uint64())
	h.peakLiv = max(h.peakLiv, h.samples[1].Value.Uint64())
}

// retained collects and records the live heap.
func (h *keyedHeapSampler) retained() {
	h.b.StopTimer()
	runtime.GC()
	metrics.Read(h.samples)
	h.peakRetained = max(h.peakRetained, h.samples[1].Value.Uint64())
	h.b.StartTimer()
}

// report adds the peaks above the baseline, in MB.
func (h *keyedHeapSampler) report(b *testing.B) {
	mb := func(peak, base uint64) float64 {
		if peak < base {
			return 0
		}
		return float64(peak-base) / 1e6
	}
	b.ReportMetric(mb(h.peakObj, h.baseObj), "peak-heap-MB")
	b.ReportMetric(mb(h.peakLiv, h.baseLiv), "peak-live-MB")
	b.ReportMetric(mb(h.peakRetained, h.baseLiv), "retained-MB")
}

// BenchmarkCompareKeyed compares two outputs of n records each (1% changed,
// 0.1% missing, 0.1% extra) in both modes, and reports time and
// allocations per record, and the heap above the baseline: peak-heap-MB
// (the peak of the heap's objects, garbage included, as the process sees
// it), peak-live-MB (the peak of the live heap as of each collection) and
// retained-MB (the live heap at the last record, after a collection). The
// sorted merge's stay flat from 100k to 1M records; the hash join's grow
// with the input. The 100k and 1M sizes are skipped under -short (the smoke run
// uses 1k).
func BenchmarkCompareKeyed(b *testing.B) {
	sizes := []int64{100_000, 1_000_000}
	if testing.Short() {
		sizes = []int64{1000}
	}
	for _, mode := range []string{"sorted", "hash"} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/n=%d", mode, n), func(b *testing.B) {
				exp := dualrun.New[keyedBenchRow](fmt.Sprintf("bench.keyed.%s.%d", mode, n))
				defer exp.Unregister()
				var opts []dualrun.Option
				if mode == "sorted" {
					opts = append(opts, dualrun.WithSortedInputs())
				}
				heap := newKeyedHeapSampler(b)
				in := keyedBenchInputs{n: n, sorted: mode == "sorted", heap: heap}
				var sum dualrun.KeyedSummary
				var mallocs [2]runtime.MemStats
				runtime.ReadMemStats(&mallocs[0])
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					var err error
					sum, err = dualrun.CompareKeyedIn(context.Background(), exp, in.legacy, in.candidate, keyedBenchID, opts...)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&mallocs[1])
				if sum.Legacy.Records != n || sum.Missing != n/1000 || sum.Extra != n/1000 || sum.ChangedMismatch != n/100 {
					b.Fatalf("summary %v: want %d records, %d missing and extra, %d changed", sum, n, n/1000, n/100)
				}
				records := float64(b.N) * float64(sum.Legacy.Records+sum.Candidate.Records)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
				b.ReportMetric(float64(mallocs[1].Mallocs-mallocs[0].Mallocs)/records, "allocs/record")
				heap.report(b)
				if err := exp.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
