package compare

import (
	"testing"
)

func BenchmarkScratchEngine(b *testing.B) {
	x, y := newBenchRecord(1), newBenchRecord(1)
	eng := mustNewB[benchRecord](b)
	for b.Loop() {
		eng.Compare(x, nil, y, nil)
	}
}
