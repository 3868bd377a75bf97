package stats

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token-bucket rate limiter: it holds up to burst tokens, gains
// perSecond tokens per second, and [Limiter.Allow] spends one token if one is
// available. A new Limiter starts full.
//
// Time is supplied by the caller, which keeps Limiter deterministic under
// test. Internally it tracks the bucket in its equivalent "theoretical arrival
// time" form in integer nanoseconds: the time to earn one token is 1/perSecond
// rounded to the nanosecond, and fractional rates do not accumulate
// floating-point drift however often Allow is called.
//
// Create Limiters with [NewLimiter]; the zero value is unlimited. All methods
// are safe for concurrent use.
type Limiter struct {
	interval time.Duration // time to earn one token; 0 means unlimited
	slack    time.Duration // (burst-1)*interval: how far tat may run ahead of now

	mu   sync.Mutex
	tat  time.Time // theoretical arrival time: when the bucket will next be full
	last time.Time // latest time passed to Allow
}

// NewLimiter returns a Limiter that allows perSecond events per second on
// average with bursts of up to burst events. A burst below 1 is treated as 1.
// perSecond <= 0 (or NaN) means unlimited, as does a rate so high that one
// token is earned in under half a nanosecond.
//
// Configurations that would take longer than the largest Duration (about 292
// years) to refill an empty bucket are not representable: one token per 292
// years is the slowest rate, and burst is capped at the number of tokens
// earned in 292 years (over nine billion at one token per second).
func NewLimiter(perSecond float64, burst int) *Limiter {
	interval := math.Round(float64(time.Second) / perSecond)
	if !(perSecond > 0) || interval < 1 {
		return &Limiter{}
	}
	d := time.Duration(math.MaxInt64)
	if interval < math.MaxInt64 {
		d = time.Duration(interval)
	}
	b := min(int64(max(burst, 1)), math.MaxInt64/int64(d))
	// b*d <= MaxInt64, so neither slack nor tat-now (at most b*d) overflows.
	return &Limiter{interval: d, slack: time.Duration(b-1) * d}
}

// Allow reports whether an event may happen at now, and if so spends a token.
// Times that go backwards (earlier than a time already seen) are treated as
// the latest time seen: they neither earn tokens nor lock the limiter out.
func (l *Limiter) Allow(now time.Time) bool {
	if l.interval == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.last) {
		now = l.last
	} else {
		l.last = now
	}
	if l.tat.Before(now) {
		l.tat = now // the bucket is full
	}
	if l.tat.Sub(now) > l.slack {
		return false // fewer than one token left
	}
	l.tat = l.tat.Add(l.interval)
	return true
}
