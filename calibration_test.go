package dualrun_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
)

// order is a result with noisy fields: a generated id, a timestamp and tags
// from map iteration (shuffled), beside the field a migration can break.
type order struct {
	ID        string
	CreatedAt int64
	Tags      []string
	Price     int64
}

var noiseSeq atomic.Int64

// noisyOrder builds input i's order as an implementation would: the noisy
// fields differ on every call, Price is the input's.
func noisyOrder(price int64) order {
	tags := []string{"a", "b", "c", "d", "e"}
	rand.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	n := noiseSeq.Add(1)
	return order{ID: fmt.Sprintf("id-%d", n), CreatedAt: n, Tags: tags, Price: price}
}

// TestCalibrationGroundTruth is a migration with ground truth: every result
// has noisy fields (ids, timestamps, shuffled tags) and the candidate gets
// the price wrong on a known 5% of inputs. After calibration, at least 99%
// of the noise-only mismatches must be ignored and every real one still
// reported, with .Price among its paths.
func TestCalibrationGroundTruth(t *testing.T) {
	var mu sync.Mutex
	var reports []*dualrun.Report
	pub := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		mu.Lock()
		reports = append(reports, r)
		mu.Unlock()
		return nil
	})
	exp := newExp[order](t, dualrun.WithCalibration(0.2), dualrun.WithMaxInFlight(4096),
		dualrun.WithPublisher(pub), dualrun.WithReportDedup(0), dualrun.WithReportRate(0, 1))
	defer waitShutdown(t, exp)
	isReal := func(i int) bool { return i%20 == 7 } // 5% of inputs
	run := func(from, to int) {
		for i := from; i < to; i++ {
			price := int64(1000 + i)
			cand := price
			if isReal(i) {
				cand++
			}
			_, _ = exp.Run(context.Background(),
				func(context.Context) (order, error) { return noisyOrder(price), nil },
				func(context.Context) (order, error) { return noisyOrder(cand), nil })
			if i%100 == 99 {
				waitIdle(t, exp)
			}
		}
		waitIdle(t, exp)
	}
	const warm, n = 500, 2000
	run(0, warm) // calibration learns the noisy paths
	before := exp.Stats()
	mu.Lock()
	reports = nil
	mu.Unlock()
	run(warm, warm+n)
	after := exp.Stats()

	wantReal := 0
	for i := warm; i < warm+n; i++ {
		if isReal(i) {
			wantReal++
		}
	}
	noiseOnly := int64(n - wantReal)
	mismatches := after.Count(dualrun.Mismatch) - before.Count(dualrun.Mismatch)
	ignored := after.Count(dualrun.Ignored) - before.Count(dualrun.Ignored)
	if after.Count(dualrun.Shed) != 0 {
		t.Fatalf("%d calls shed: the ground truth needs every call compared", after.Count(dualrun.Shed))
	}
	if mismatches != int64(wantReal) {
		t.Errorf("mismatches = %d, want exactly the %d real ones", mismatches, wantReal)
	}
	if float64(ignored) < 0.99*float64(noiseOnly) {
		t.Errorf("ignored as noise: %d of %d noise-only mismatches, want >= 99%%", ignored, noiseOnly)
	}
	mu.Lock()
	for _, r := range reports {
		if !slices.Contains(r.Paths, ".Price") || slices.Contains(r.NoisyPaths, ".Price") {
			t.Errorf("report paths %v (noisy %v): want .Price, as a real difference", r.Paths, r.NoisyPaths)
			break
		}
		if len(r.NoisyPaths) == 0 {
			t.Errorf("report of a real mismatch lists no noisy path: %v", r.Paths)
			break
		}
	}
	if len(reports) != wantReal {
		t.Errorf("%d reports, want %d (one per real mismatch)", len(reports), wantReal)
	}
	mu.Unlock()

	cal := after.Calibration
	noisy := map[string]bool{}
	for _, p := range cal.Paths {
		noisy[p.Path] = p.Noisy
	}
	for _, p := range []string{".ID", ".CreatedAt", ".Tags[*]"} {
		if !noisy[p] {
			t.Errorf("path %s not learned as noise: %+v", p, cal.Paths)
		}
	}
	if v, ok := noisy[".Price"]; !ok || v {
		t.Errorf(".Price: learned %v, noisy %v; want a real difference", ok, v)
	}
	if cal.Calls == 0 || cal.Samples == 0 || cal.Samples > cal.Calls || cal.IgnoredAsNoise < ignored {
		t.Errorf("calibration stats %+v", cal)
	}
	t.Logf("noise-only mismatches ignored: %d of %d (%.2f%%); real mismatches: %d of %d; calibration calls %d, samples %d",
		ignored, noiseOnly, 100*float64(ignored)/float64(noiseOnly), mismatches, wantReal, cal.Calls, cal.Samples)
}

// waitIdle waits until no shadow of e runs.
func waitIdle(t *testing.T, e interface{ Stats() dualrun.Stats }) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().InFlight > 0 {
		if time.Now().After(deadline) {
			t.Fatal("shadows still running after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIgnorePaths: frozen noise paths make a mismatch ignored when every
// differing path is frozen, and only then.
func TestIgnorePaths(t *testing.T) {
	exp := newExp[order](t, dualrun.WithIgnorePaths(".ID", ".CreatedAt", ".Tags[*]"))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (order, error) { return noisyOrder(1), nil },
		func(context.Context) (order, error) { return noisyOrder(1), nil })
	_, _ = exp.Run(context.Background(),
		func(context.Context) (order, error) { return noisyOrder(1), nil },
		func(context.Context) (order, error) { return noisyOrder(2), nil })
	waitShutdown(t, exp)
	s := exp.Stats()
	if s.Count(dualrun.Ignored) != 1 || s.Count(dualrun.Mismatch) != 1 || s.Calibration.IgnoredByPaths != 1 {
		t.Fatalf("outcomes %v, ignored by paths %d; want one ignored, one mismatch", s.Outcomes, s.Calibration.IgnoredByPaths)
	}
}

// TestIsNoiseBoundaries pins the classifier's strict boundaries with
// thresholds exact in binary (1/4 and 1/1024).
func TestIsNoiseBoundaries(t *testing.T) {
	const rel, abs = 0.25, 1.0 / 1024
	tests := []struct {
		name                string
		reason              string
		raw, noise, samples int64
		want                bool
	}{
		{"unseen", "a path never seen in a sample is a real difference", 0, 0, 1000, false},
		{"too-few-samples", "nothing is noise before MinNoiseSamples samples", 0, 5, dualrun.MinNoiseSamples - 1, false},
		{"noise-only", "legacy differs from itself as often as from the candidate", 50, 50, 100, true},
		{"raw-below-noise", "raw must exceed noise", 40, 50, 100, true},
		{"relative-at-boundary", "|5-3|/8 = 1/4 is not above 1/4", 5, 3, 100, true},
		{"relative-above", "|6-3|/9 = 1/3 > 1/4", 6, 3, 100, false},
		{"absolute-at-boundary", "|1-0|/1024 = 1/1024 is not above it", 1, 0, 1024, true},
		{"absolute-above", "|1-0|/1023 > 1/1024", 1, 0, 1023, false},
		{"real", "rare but real: raw 10, noise 0", 10, 0, 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dualrun.IsNoise(tt.raw, tt.noise, tt.samples, rel, abs); got != tt.want {
				t.Errorf("IsNoise(%d, %d, %d) = %v, want %v (%s)", tt.raw, tt.noise, tt.samples, got, tt.want, tt.reason)
			}
		})
	}
}

// TestCalibrationOptionsPanic: programmer errors panic at once.
func TestCalibrationOptionsPanic(t *testing.T) {
	for _, f := range []float64{0, -1, 1.5} {
		mustPanic(t, "WithCalibration", func() { dualrun.WithCalibration(f) })
	}
	mustPanic(t, "WithNoiseThresholds", func() { dualrun.WithNoiseThresholds(2, 0) })
}
