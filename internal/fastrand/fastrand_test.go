package fastrand

import (
	"math"
	"math/bits"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBitBalance: every output bit is set about half the time (±6 sigma).
func TestBitBalance(t *testing.T) {
	const n = 200_000
	var ones [64]int
	for range n {
		v := Uint64()
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
}

// TestBuckets: draws spread evenly over 100 buckets (chi-square, 99 degrees
// of freedom, threshold far in the tail).
func TestBuckets(t *testing.T) {
	const n, k = 1_000_000, 100
	var count [k]int
	for range n {
		hi, _ := bits.Mul64(Uint64(), k)
		count[hi]++
	}
	chi := 0.0
	for _, c := range count {
		d := float64(c) - n/k
		chi += d * d / (n / k)
	}
	if chi > 180 { // p < 1e-6 for 99 dof
		t.Fatalf("chi-square %v over %d buckets", chi, k)
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

func BenchmarkUint64(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		var s uint64
		for pb.Next() {
			s += Uint64()
		}
		_ = s
	})
}
