package dualwrite

import (
	"sync/atomic"
	"time"
)

// versionClock issues write versions: hybrid logical clock values, that
// is, wall-clock Unix nanoseconds, pushed above every version issued or
// seen in the process. A store gives a primary write max(proposal,
// stored+1), so versions grow per key even when the clock steps back; the
// clock's part is that a write routed to the other store after a flip gets
// a version above any the process saw for that key, even if the other
// store has not applied them yet.
type versionClock struct {
	last atomic.Uint64
}

// next returns a version above every version issued or observed.
func (c *versionClock) next() uint64 {
	now := uint64(max(time.Now().UnixNano(), 1))
	for {
		l := c.last.Load()
		v := max(now, l+1)
		if c.last.CompareAndSwap(l, v) {
			return v
		}
	}
}

// observe makes later versions exceed v.
func (c *versionClock) observe(v uint64) {
	for {
		l := c.last.Load()
		if v <= l || c.last.CompareAndSwap(l, v) {
			return
		}
	}
}
