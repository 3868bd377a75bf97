package dualrun

import "runtime"

// compareGate bounds how many comparisons that may be CPU-heavy (go-cmp
// walks, user comparers and normalizers) run at once in the process: half
// of GOMAXPROCS at start-up, at least one. Shadows already cost the process
// CPU the primaries would otherwise have; a burst of large comparisons at
// the in-flight limit must not take every P from the callers as well. A
// shadow that waits here holds its slot, so the in-flight limit still
// bounds the waiting goroutines; the comparison budget (WithCompareBudget)
// bounds each comparison's own time.
//
// Comparisons with == (plain comparable T, no options) cost nanoseconds and
// skip the gate.
var compareGate = newGate(max(1, runtime.GOMAXPROCS(0)/2))

// gate is a counting semaphore on a buffered channel: uncontended, an
// acquire and a release are two channel operations.
type gate chan struct{}

func newGate(n int) gate { return make(gate, n) }

// acquire waits for a free place and reports true (for release).
func (g gate) acquire() bool {
	g <- struct{}{}
	return true
}

// release frees a place taken by acquire, if taken is true.
func (g gate) release(taken bool) {
	if taken {
		<-g
	}
}
