package stats

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

func TestStripeCount(t *testing.T) {
	tests := []struct {
		name   string
		procs  int
		want   int
		reason string
	}{
		{name: "zero", procs: 0, want: 8, reason: "degenerate input still gets the minimum"},
		{name: "one", procs: 1, want: 8, reason: "4*1=4 is below the minimum of 8"},
		{name: "two", procs: 2, want: 8, reason: "4*2=8 is already a power of two"},
		{name: "three", procs: 3, want: 16, reason: "4*3=12 rounds up to 16"},
		{name: "four", procs: 4, want: 16, reason: "4*4=16 is a power of two"},
		{name: "five", procs: 5, want: 32, reason: "4*5=20 rounds up to 32"},
		{name: "eight", procs: 8, want: 32, reason: "4*8=32 is a power of two"},
		{name: "twenty", procs: 20, want: 128, reason: "4*20=80 rounds up to 128"},
		{name: "thirty-two", procs: 32, want: 128, reason: "4*32=128 is exactly the maximum"},
		{name: "thirty-three", procs: 33, want: 128, reason: "4*33=132 is capped at 128"},
		{name: "huge", procs: 1 << 20, want: 128, reason: "very large machines are capped at 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stripeCount(tt.procs); got != tt.want {
				t.Errorf("stripeCount(%d) = %d, want %d: %s", tt.procs, got, tt.want, tt.reason)
			}
		})
	}
}

func TestNewStripedSize(t *testing.T) {
	s := NewStriped()
	want := stripeCount(runtime.GOMAXPROCS(0))
	if len(s.stripes) != want {
		t.Fatalf("len(stripes) = %d, want %d", len(s.stripes), want)
	}
	if int(s.mask)+1 != want {
		t.Fatalf("mask = %d, want %d", s.mask, want-1)
	}
}

func TestStripeLayout(t *testing.T) {
	if got := unsafe.Sizeof(stripe{}); got != stripeSize {
		t.Fatalf("unsafe.Sizeof(stripe{}) = %d, want %d", got, stripeSize)
	}
}

// TestStripedAlignment checks the assumption behind the padding: that the
// stripe array starts on a 128-byte boundary, so that no two stripes share a
// 128-byte block. Go's allocator places these pointer-free arrays (1 KiB to
// 16 KiB, all exact size classes) at multiples of their size within a
// page-aligned span. A failure means the runtime changed that placement and
// the padding no longer guarantees separation.
func TestStripedAlignment(t *testing.T) {
	for n := minStripes; n <= maxStripes; n <<= 1 {
		for range 16 {
			s := make([]stripe, n)
			if addr := uintptr(unsafe.Pointer(&s[0])); addr%stripeSize != 0 {
				t.Fatalf("%d stripes allocated at %#x, not %d-byte aligned", n, addr, stripeSize)
			}
		}
	}
}

func TestStripedIncLoad(t *testing.T) {
	tests := []struct {
		name   string
		incs   [Slots]int
		reason string
	}{
		{name: "none", reason: "a new Striped reads zero in every slot"},
		{name: "one slot", incs: [Slots]int{0, 5, 0, 0}, reason: "increments land only in their own slot"},
		{name: "all slots", incs: [Slots]int{1, 2, 3, 1000}, reason: "slots are independent counters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStriped()
			for slot, n := range tt.incs {
				for range n {
					s.Inc(slot)
				}
			}
			for slot, want := range tt.incs {
				if got := s.Load(slot); got != int64(want) {
					t.Errorf("Load(%d) = %d, want %d: %s", slot, got, want, tt.reason)
				}
			}
		})
	}
}

func TestStripedSlotOutOfRange(t *testing.T) {
	tests := []struct {
		name   string
		slot   int
		reason string
	}{
		{name: "negative", slot: -1, reason: "negative slots are a caller bug"},
		{name: "Slots", slot: Slots, reason: "valid slots are 0..Slots-1"},
		{name: "large", slot: 1 << 30, reason: "must not touch memory outside the stripe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStriped()
			for _, op := range []struct {
				name string
				f    func()
			}{
				{name: "Inc", f: func() { s.Inc(tt.slot) }},
				{name: "Load", f: func() { s.Load(tt.slot) }},
			} {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%s(%d) did not panic: %s", op.name, tt.slot, tt.reason)
						}
					}()
					op.f()
				}()
			}
		})
	}
}

func TestStripedConcurrent(t *testing.T) {
	const (
		goroutines = 8
		perG       = 20000
	)
	s := NewStriped()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				s.Inc((g + i) % Slots)
			}
		})
	}
	// Concurrent readers must see monotonically non-decreasing totals.
	stop := make(chan struct{})
	var readerErr atomic.Value
	var rwg sync.WaitGroup
	rwg.Go(func() {
		var last int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			var total int64
			for slot := range Slots {
				total += s.Load(slot)
			}
			if total < last {
				readerErr.Store("total went backwards")
				return
			}
			last = total
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	if msg := readerErr.Load(); msg != nil {
		t.Error(msg)
	}
	var total int64
	for slot := range Slots {
		got := s.Load(slot)
		if want := int64(goroutines * perG / Slots); got != want {
			t.Errorf("Load(%d) = %d, want %d", slot, got, want)
		}
		total += got
	}
	if total != goroutines*perG {
		t.Errorf("total = %d, want %d", total, goroutines*perG)
	}
}

func TestStripedIncDoesNotAllocate(t *testing.T) {
	s := NewStriped()
	if allocs := testing.AllocsPerRun(1000, func() { s.Inc(1) }); allocs != 0 {
		t.Errorf("Inc allocates %v times per call, want 0", allocs)
	}
}

// TestStripedStripePerGoroutine: one goroutine keeps to one stripe (that is
// what makes Inc scale), and many goroutines spread over the stripes.
func TestStripedStripePerGoroutine(t *testing.T) {
	used := func(s *Striped) int {
		n := 0
		for i := range s.stripes {
			if s.stripes[i].n[0].Load() > 0 {
				n++
			}
		}
		return n
	}
	one := NewStriped()
	for range 1000 {
		one.Inc(0)
	}
	if n := used(one); n != 1 {
		t.Errorf("one goroutine used %d stripes, want 1", n)
	}
	many := NewStriped()
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() { many.Inc(0) })
	}
	wg.Wait()
	if n := used(many); n < len(many.stripes)/2 || many.Load(0) != 256 {
		t.Errorf("256 goroutines used %d of %d stripes (sum %d); want at least half", n, len(many.stripes), many.Load(0))
	}
}

// BenchmarkStripedInc measures Striped.Inc from b.N parallel callers. Run with
// -cpu 1,2: ns/op should roughly halve as parallelism doubles.
func BenchmarkStripedInc(b *testing.B) {
	s := NewStriped() // after -cpu has set GOMAXPROCS
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Inc(0)
		}
	})
	if s.Load(0) < int64(b.N) {
		b.Fatalf("Load(0) = %d, want at least %d", s.Load(0), b.N)
	}
}

// BenchmarkSharedAtomicInc is the baseline for BenchmarkStripedInc: one
// atomic counter shared by all parallel callers.
func BenchmarkSharedAtomicInc(b *testing.B) {
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Add(1)
		}
	})
	if n.Load() < int64(b.N) {
		b.Fatalf("n = %d, want at least %d", n.Load(), b.N)
	}
}
