package dualrun

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/fastrand"
	"github.com/dualrun/dualrun/internal/safe"
)

// This file is A/A calibration: on a sampled fraction of compared calls the
// legacy side runs a second time, and the paths on which legacy differs
// from itself (ids, timestamps, map order) are learned as noise. A mismatch
// whose every differing path is noise is recorded as ignored.

// Defaults of the noise classifier (WithNoiseThresholds).
const (
	// DefaultNoiseRelative is the relative threshold: a path is a real
	// difference only if |raw−noise| / (raw+noise) is above it.
	DefaultNoiseRelative = 0.20
	// DefaultNoiseAbsolute is the absolute threshold: a path is a real
	// difference only if |raw−noise| / samples is above it (0.03%).
	DefaultNoiseAbsolute = 0.0003
	// MinNoiseSamples is how many calibration samples an experiment needs
	// before any path may be classified as noise.
	MinNoiseSamples = 10
)

// WithCalibration turns on A/A calibration, for call sites whose legacy
// side is idempotent and may run again after the call returned: on a
// fraction of the compared calls (0 < fraction <= 1), once the comparison
// is recorded, the legacy function runs a second time — even when it was
// the primary, so it must not write into anything of the caller's (a
// ResponseWriter, a reply message: dualrunhttp and dualrungrpc take care of
// theirs) — in a shadow context ([IsShadow] is true), within the call's
// shadow slot, with its own shadow timeout — and the paths on which the two
// legacy results differ are counted as noise, those on which legacy and
// candidate differ on the same sampled calls as raw differences. A path is
// noise unless raw > noise, |raw−noise|/(raw+noise) > the relative
// threshold and |raw−noise|/samples > the absolute threshold (Diffy's rule;
// [WithNoiseThresholds]); a path never seen in a sample is a real
// difference, and nothing is noise before [MinNoiseSamples] samples. A
// value mismatch whose every differing path is noise is recorded as
// ignored (Stats.Calibration.IgnoredAsNoise, the dualrun.ignored.noise
// metric); a Report lists the noisy paths of a mismatch in NoisyPaths. The
// extra legacy calls are counted (Stats.Calibration.Calls,
// dualrun.calibration.calls). Learned paths are in Stats.Calibration.Paths:
// freeze them with [WithIgnorePaths].
//
// It panics if fraction is not in (0, 1].
func WithCalibration(fraction float64) Option {
	if math.IsNaN(fraction) || fraction <= 0 || fraction > 1 {
		panic(fmt.Sprintf("dualrun: WithCalibration(%v): want a fraction in (0, 1]", fraction))
	}
	return optionFunc(func(c config) config {
		c.calibration = fraction
		return c
	})
}

// WithNoiseThresholds sets the noise classifier's relative and absolute
// thresholds (defaults [DefaultNoiseRelative] and [DefaultNoiseAbsolute]).
// It panics if either is NaN or outside [0, 1].
func WithNoiseThresholds(relative, absolute float64) Option {
	for _, v := range []float64{relative, absolute} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			panic(fmt.Sprintf("dualrun: WithNoiseThresholds(%v, %v): want values in [0, 1]", relative, absolute))
		}
	}
	return optionFunc(func(c config) config {
		c.noiseRel, c.noiseAbs = relative, absolute
		return c
	})
}

// WithIgnorePaths records a value mismatch whose every differing path is
// one of paths (folded, as in Stats.Fields: ".Items[*].UpdatedAt") as
// ignored: known noise, frozen — for instance the paths calibration
// learned.
func WithIgnorePaths(paths ...string) Option {
	return optionFunc(func(c config) config {
		c.ignorePaths = append(slices.Clip(c.ignorePaths), paths...)
		return c
	})
}

// IsNoise is the noise classifier: with raw the samples on which legacy
// and candidate differed at a path, noise those on which legacy differed
// from itself, and samples the calibrated calls, it reports whether the
// path is noise rather than a real difference. A path is a real difference
// only if raw > noise, |raw−noise|/(raw+noise) > relative, and
// |raw−noise|/samples > absolute; the boundaries are strict. A path with
// no observation at all (raw = noise = 0) is not noise, nor is anything
// before MinNoiseSamples samples.
func IsNoise(raw, noise, samples int64, relative, absolute float64) bool {
	if samples < MinNoiseSamples || raw+noise == 0 {
		return false
	}
	d := float64(raw - noise)
	if d < 0 {
		d = -d
	}
	isReal := raw > noise && d/float64(raw+noise) > relative && d/float64(samples) > absolute
	return !isReal
}

// PathNoise is what calibration learned about one path.
type PathNoise struct {
	Path string
	// Raw and Noise count the samples on which legacy differed from the
	// candidate, and from itself, at Path.
	Raw, Noise int64
	// Noisy is the classifier's verdict with the samples so far.
	Noisy bool
}

// CalibrationStats is what A/A calibration did (Stats.Calibration).
type CalibrationStats struct {
	// Enabled reports WithCalibration; Fraction is its fraction.
	Enabled  bool
	Fraction float64
	// Calls counts the extra legacy calls; Samples those whose two legacy
	// results could be compared (both succeeded, no callback failed).
	Calls, Samples int64
	// IgnoredAsNoise counts the value mismatches recorded as ignored
	// because every differing path was noise; IgnoredByPaths those ignored
	// by WithIgnorePaths.
	IgnoredAsNoise, IgnoredByPaths int64
	// Paths are the paths seen in samples, noisy ones first, then by Raw.
	Paths []PathNoise
}

// noiseTable learns noisy paths. Bounded: at most max paths, further new
// ones are not learned (and so stay real differences).
type noiseTable struct {
	fraction  float64
	threshold uint64 // fastrand draws below it are sampled
	rel, abs  float64
	max       int
	frozen    map[string]bool

	calls, samples          atomic.Int64
	ignoredNoise, ignoredBy atomic.Int64

	mu    sync.Mutex
	paths map[string]*[2]int64 // raw, noise
}

func (n *noiseTable) init(cfg *config) {
	if len(cfg.ignorePaths) > 0 {
		n.frozen = make(map[string]bool, len(cfg.ignorePaths))
		for _, p := range cfg.ignorePaths {
			n.frozen[p] = true
		}
	}
	if cfg.calibration <= 0 {
		return
	}
	n.fraction = cfg.calibration
	n.threshold = uint64(math.MaxUint64)
	if cfg.calibration < 1 {
		n.threshold = uint64(cfg.calibration * (1 << 63) * 2)
	}
	n.rel, n.abs, n.max = cfg.noiseRel, cfg.noiseAbs, cfg.maxFields
	n.paths = make(map[string]*[2]int64)
}

// sample draws whether this compared call is calibrated.
func (n *noiseTable) sample() bool {
	return n.threshold != 0 && (n.threshold == math.MaxUint64 || fastrand.Draw() < n.threshold)
}

// classify turns a value mismatch whose every path is frozen or noise into
// outcome ignored. Paths cut at the per-call bound cannot be judged whole.
func (n *noiseTable) classify(r *record) {
	if r.outcome != Mismatch || r.kind != ValueMismatch || len(r.paths) == 0 || len(r.paths) >= compare.MaxPaths {
		return
	}
	if n.frozen != nil && allIn(r.paths, n.frozen) {
		r.outcome, r.kind, r.diff = Ignored, NoMismatch, nil
		n.ignoredBy.Add(1)
		return
	}
	if n.paths == nil {
		return
	}
	samples := n.samples.Load()
	n.mu.Lock()
	var noisy []string
	for _, p := range r.paths {
		if c, ok := n.paths[p]; ok && IsNoise(c[0], c[1], samples, n.rel, n.abs) {
			noisy = append(noisy, p)
		}
	}
	n.mu.Unlock()
	if len(noisy) == len(r.paths) {
		r.outcome, r.kind, r.diff = Ignored, NoMismatch, nil
		n.ignoredNoise.Add(1)
		return
	}
	r.noisy = noisy
}

func allIn(paths []string, set map[string]bool) bool {
	for _, p := range paths {
		if !set[p] {
			return false
		}
	}
	return true
}

// observe counts one calibration sample: the paths on which legacy and the
// candidate differed, and those on which legacy differed from itself.
func (n *noiseTable) observe(raw, noise []string) {
	n.samples.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, ps := range [2][]string{raw, noise} {
		for _, p := range ps {
			c, ok := n.paths[p]
			if !ok {
				if len(n.paths) >= n.max {
					continue
				}
				c = new([2]int64)
				n.paths[p] = c
			}
			c[i]++
		}
	}
}

func (n *noiseTable) stats() CalibrationStats {
	s := CalibrationStats{
		Enabled: n.paths != nil, Fraction: n.fraction,
		Calls: n.calls.Load(), Samples: n.samples.Load(),
		IgnoredAsNoise: n.ignoredNoise.Load(), IgnoredByPaths: n.ignoredBy.Load(),
	}
	if n.paths == nil {
		return s
	}
	n.mu.Lock()
	for p, c := range n.paths {
		s.Paths = append(s.Paths, PathNoise{Path: p, Raw: c[0], Noise: c[1], Noisy: IsNoise(c[0], c[1], s.Samples, n.rel, n.abs)})
	}
	n.mu.Unlock()
	sort.Slice(s.Paths, func(i, j int) bool {
		a, b := s.Paths[i], s.Paths[j]
		if a.Noisy != b.Noisy {
			return a.Noisy
		}
		if a.Raw != b.Raw {
			return a.Raw > b.Raw
		}
		return a.Path < b.Path
	})
	return s
}

// calibrate runs the legacy side a second time for a sampled call and
// counts what differs, on the shadow goroutine, within the call's slot.
// raw are the paths on which legacy and the candidate differed.
func (e *Experiment[T]) calibrate(cl *call[T], lv T, lerr error, raw []string) {
	c := e.c
	legacy := cl.fn
	if cl.primary == Legacy {
		legacy = cl.legacy
	}
	if legacy == nil || lerr != nil {
		return
	}
	c.noise.calls.Add(1)
	ctx, cancel := context.WithTimeout(AsShadow(context.WithoutCancel(cl.caller())), c.cfg.shadowTimeout)
	defer cancel()
	var (
		v2   T
		err2 error
	)
	// A panic or Goexit of the second run costs this sample only.
	if safe.Call("calibration legacy run", func() { v2, err2 = legacy(ctx) }, nil) != nil || err2 != nil {
		return
	}
	var noise []string
	gated := e.heavy && compareGate.acquire()
	failed := safe.Call("calibration comparison", func() {
		v := e.cmp.eng.Compare(lv, nil, v2, nil)
		noise = v.Paths
	}, func(error) { compareGate.release(gated) })
	compareGate.release(gated)
	if failed != nil {
		return
	}
	c.noise.observe(raw, noise)
}

// noiseCounts feeds the dualrun.calibration.calls and dualrun.ignored.noise
// instruments.
func (c *core) noiseCounts() (calls, ignored int64, on bool) {
	n := &c.noise
	return n.calls.Load(), n.ignoredNoise.Load() + n.ignoredBy.Load(), n.paths != nil || n.frozen != nil
}
