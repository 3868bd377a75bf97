package dualrun

import "time"

// epoch anchors the monotonic clock readings dualrun takes per call.
// time.Since(epoch) reads only the monotonic clock, while time.Now reads the
// wall clock too: half the clock reads on a path that takes four per
// compared call.
var epoch = time.Now()

// mono is a monotonic instant: the time since epoch.
type mono = time.Duration

// monoNow returns the current monotonic instant.
func monoNow() mono { return time.Since(epoch) }

// monoOf converts a time.Time (a deadline) to a monotonic instant.
func monoOf(t time.Time) mono { return t.Sub(epoch) }

// timeOf converts a monotonic instant back to a time.Time.
func timeOf(m mono) time.Time { return epoch.Add(m) }
