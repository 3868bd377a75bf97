package proptest_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/dualrun/dualrun"
)

// TestIsNoiseProperty checks the classifier against the rule computed in
// integers, for random counts.
func TestIsNoiseProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		samples := rapid.Int64Range(0, 1<<20).Draw(t, "samples")
		raw := rapid.Int64Range(0, samples).Draw(t, "raw")
		noise := rapid.Int64Range(0, samples).Draw(t, "noise")
		// rel = 1/4, abs = 1/1024: exact in binary, so the float rule and
		// this integer one must agree at the boundaries too.
		d := raw - noise
		if d < 0 {
			d = -d
		}
		isReal := raw > noise && 4*d > raw+noise && 1024*d > samples
		want := !isReal && samples >= dualrun.MinNoiseSamples && raw+noise > 0
		if got := dualrun.IsNoise(raw, noise, samples, 0.25, 1.0/1024); got != want {
			t.Fatalf("IsNoise(%d, %d, %d) = %v, want %v", raw, noise, samples, got, want)
		}
	})
}
