package fastrand

import (
	"math"
	"math/bits"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// draws are the package's two sources, for the tests of both.
var draws = []struct {
	name string
	fn   func() uint64
}{
	{"Uint64", Uint64},
	{"Draw", Draw},
}

// TestBitBalance: every output bit is set about half the time (±6 sigma).
func TestBitBalance(t *testing.T) {
	const n = 200_000
	for _, d := range draws {
		t.Run(d.name, func(t *testing.T) {
			var ones [64]int
			for range n {
				v := d.fn()
				for b := range 64 {
					ones[b] += int(v >> b & 1)
				}
			}
			sigma := math.Sqrt(n * 0.25)
			for b, c := range ones {
				if math.Abs(float64(c)-n/2) > 6*sigma {
					t.Errorf("bit %d set %d times of %d", b, c, n)
				}
			}
		})
	}
}

// TestBuckets: draws spread evenly over 100 buckets (chi-square, 99 degrees
// of freedom, threshold far in the tail).
func TestBuckets(t *testing.T) {
	const n, k = 1_000_000, 100
	for _, d := range draws {
		t.Run(d.name, func(t *testing.T) {
			var count [k]int
			for range n {
				hi, _ := bits.Mul64(d.fn(), k)
				count[hi]++
			}
			chi := 0.0
			for _, c := range count {
				e := float64(c) - n/k
				chi += e * e / (n / k)
			}
			if chi > 180 { // p < 1e-6 for 99 dof
				t.Fatalf("chi-square %v over %d buckets", chi, k)
			}
		})
	}
}

// TestDrawSequential: one goroutine's draws never repeat (the plain
// load and store lose nothing without a concurrent writer).
func TestDrawSequential(t *testing.T) {
	seen := make(map[uint64]bool, 100_000)
	for range 100_000 {
		v := Draw()
		if seen[v] {
			t.Fatalf("repeated draw %x from one goroutine", v)
		}
		seen[v] = true
	}
}

// TestConcurrentDistinct: draws from many goroutines do not repeat.
func TestConcurrentDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := make(map[uint64]bool)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			local := make([]uint64, 1000)
			for i := range local {
				local[i] = Uint64()
			}
			mu.Lock()
			for _, v := range local {
				if seen[v] {
					t.Errorf("repeated draw %x", v)
				}
				seen[v] = true
			}
			mu.Unlock()
		})
	}
	wg.Wait()
}

func BenchmarkUint64(b *testing.B) { benchDraw(b, Uint64) }

func BenchmarkDraw(b *testing.B) { benchDraw(b, Draw) }

func benchDraw(b *testing.B, fn func() uint64) {
	b.RunParallel(func(pb *testing.PB) {
		var s uint64
		for pb.Next() {
			s += fn()
		}
		_ = s
	})
}
