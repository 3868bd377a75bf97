package dualwrite

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name, reason string
		attempts     int
		full         time.Duration // the pause before jitter
	}{
		{name: "first", reason: "after the first failure: the initial pause", attempts: 1, full: 100 * time.Millisecond},
		{name: "second", reason: "it doubles", attempts: 2, full: 200 * time.Millisecond},
		{name: "fifth", reason: "and doubles", attempts: 5, full: 1600 * time.Millisecond},
		{name: "capped", reason: "up to the maximum", attempts: 40, full: 3 * time.Second},
		{name: "huge", reason: "no overflow however many attempts", attempts: 1 << 30, full: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 200 {
				d := backoff(100*time.Millisecond, 3*time.Second, tt.attempts)
				if d < tt.full/2 || d > tt.full {
					t.Fatalf("%s: %v not in [%v, %v]", tt.reason, d, tt.full/2, tt.full)
				}
			}
		})
	}
}

func TestVersionClock(t *testing.T) {
	var c versionClock
	a := c.next()
	b := c.next()
	if b <= a {
		t.Fatalf("versions %d then %d: not increasing", a, b)
	}
	c.observe(b + 1_000_000_000_000) // a version from a clock far ahead
	if n := c.next(); n <= b+1_000_000_000_000 {
		t.Fatalf("after observing a newer version the clock issued %d", n)
	}
	c.observe(1) // an older one changes nothing
	if n := c.next(); n <= b+1_000_000_000_001 {
		t.Fatalf("observing an old version moved the clock back: %d", n)
	}
}
