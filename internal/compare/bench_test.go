package compare

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The benchmarks compare the engine with go-cmp alone on the same values:
// large byte leaves (the fast path), a large slice of structs and a small
// struct (where the budget checks and the fast path must cost nothing
// measurable), and a long recursive list (folded paths).

type benchLine struct {
	SKU string
	Qty int
}

// benchRecord has 10 fields, one of them a nested slice.
type benchRecord struct {
	ID       int64
	Customer string
	Country  string
	Currency string
	Total    int64
	Paid     bool
	Retries  int
	Channel  string
	Tags     [3]string
	Lines    []benchLine
}

func newBenchRecord(i int) benchRecord {
	return benchRecord{
		ID: int64(i), Customer: "c-17", Country: "NL", Currency: "EUR", Total: 12345,
		Paid: true, Retries: 1, Channel: "web", Tags: [3]string{"a", "b", "c"},
		Lines: []benchLine{{"sku-1", 1}, {"sku-2", 2}, {"sku-3", 3}, {"sku-4", 4}},
	}
}

func records(n int) []benchRecord {
	out := make([]benchRecord, n)
	for i := range out {
		out[i] = newBenchRecord(i)
	}
	return out
}

// benchCompare runs the engine's Compare and, as the baseline, cmp.Equal
// alone (with recover, as any caller of go-cmp needs) on x and y.
func benchCompare[T any](b *testing.B, x, y T, want Kind, baseline bool) {
	b.Run("engine", func(b *testing.B) {
		c := mustNewB[T](b)
		b.ReportAllocs()
		for b.Loop() {
			if v := c.Compare(x, nil, y, nil); v.Kind != want {
				b.Fatalf("verdict %v (%v), want %v", v.Kind, v.Err, want)
			}
		}
	})
	if !baseline {
		return
	}
	b.Run("go-cmp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			func() {
				defer func() { _ = recover() }()
				if cmp.Equal(x, y) != (want == Match) {
					b.Fatal("go-cmp disagrees")
				}
			}()
		}
	})
}

func mustNewB[T any](b *testing.B) *Comparer[T] {
	c, err := New[T](Spec{Budget: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkBytes10MB(b *testing.B) {
	x, y := bigPair(tenMB / 2)
	same, _ := bigPair(-1)
	// go-cmp alone needs about 20 s an operation here (and 1 GB): it runs
	// only when asked for, with DUALRUN_BENCH_GOCMP_10MB=1.
	baseline := os.Getenv("DUALRUN_BENCH_GOCMP_10MB") != ""
	b.Run("equal", func(b *testing.B) { benchCompare(b, blob{"a", x}, blob{"a", x[:len(x):len(x)]}, Match, baseline) })
	b.Run("equal-copies", func(b *testing.B) { benchCompare(b, blob{"a", same}, blob{"a", bytes.Clone(same)}, Match, false) })
	b.Run("unequal", func(b *testing.B) { benchCompare(b, blob{"a", x}, blob{"a", y}, ValuesDiffer, baseline) })
	b.Run("diff", func(b *testing.B) {
		c := mustNewB[blob](b)
		v := c.Compare(blob{"a", x}, nil, blob{"a", y}, nil)
		b.ReportAllocs()
		for b.Loop() {
			if d := v.Diff(0); len(d) == 0 {
				b.Fatal("no diff")
			}
		}
	})
}

// skipHeavy skips a benchmark of a second an operation under -short (the
// benchmark smoke run).
func skipHeavy(b *testing.B) {
	if testing.Short() {
		b.Skip("about a second an operation: skipped with -short")
	}
}

func BenchmarkStructSlice10k(b *testing.B) {
	skipHeavy(b)
	x, y := records(10_000), records(10_000)
	b.Run("equal", func(b *testing.B) { benchCompare(b, x, y, Match, true) })
	z := records(10_000)
	z[5000].Lines[2].Qty = 30
	b.Run("unequal", func(b *testing.B) { benchCompare(b, x, z, ValuesDiffer, true) })
}

func BenchmarkSmallStruct(b *testing.B) {
	x, y := newBenchRecord(1), newBenchRecord(1)
	b.Run("equal", func(b *testing.B) { benchCompare(b, x, y, Match, true) })
	z := newBenchRecord(1)
	z.Lines = append([]benchLine(nil), z.Lines...)
	z.Total++
	z.Lines[2].Qty = 30
	b.Run("unequal", func(b *testing.B) { benchCompare(b, x, z, ValuesDiffer, true) })
	// The same equality without the engine's options (no budget checks,
	// no byte-leaf filter): what the meter costs on a small value.
	b.Run("equal/unmetered", func(b *testing.B) {
		c := mustNewB[benchRecord](b)
		c.metered = false
		b.ReportAllocs()
		for b.Loop() {
			if v := c.Compare(x, nil, y, nil); v.Kind != Match {
				b.Fatal(v.Kind)
			}
		}
	})
}

func BenchmarkPathsLongList(b *testing.B) {
	skipHeavy(b)
	const n = 20_000
	x, y := list(n), list(n)
	for l := y; l != nil; l = l.Next {
		l.V = -l.V - 1
	}
	benchCompare(b, x, y, ValuesDiffer, false)
}
