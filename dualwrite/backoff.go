package dualwrite

import (
	"math/rand/v2"
	"time"
)

// backoff returns the pause after the attempts-th failed attempt (1 for
// the first): initial doubled at every further failure, capped at maxPause,
// then drawn at random in its upper half ("equal jitter"), so that writes
// that failed together do not retry together, and the pause still grows.
func backoff(initial, maxPause time.Duration, attempts int) time.Duration {
	d := initial
	for i := 1; i < attempts && d < maxPause; i++ {
		d *= 2
	}
	d = min(d, maxPause)
	half := d / 2
	return half + rand.N(d-half+1)
}
