package rollout

import (
	"context"
	"fmt"
	"math"

	"github.com/dualrun/dualrun/internal/fastrand"
	"github.com/dualrun/dualrun/internal/hash"
)

// BasisPoints is a percentage in hundredths of a percent: 10000 is 100%.
type BasisPoints uint16

// All is 100%.
const All BasisPoints = 10000

// Percent converts a percentage in [0, 100] to basis points, rounding to the
// nearest basis point. It panics on NaN or a value outside [0, 100]: that is a
// programmer error, and a silently clamped rollout is worse than a crash at
// start-up.
func Percent(p float64) BasisPoints {
	if math.IsNaN(p) || p < 0 || p > 100 {
		panic(fmt.Sprintf("rollout: Percent(%v): want a percentage in [0, 100]", p))
	}
	return BasisPoints(math.Round(p * 100))
}

// Float returns b as a percentage.
func (b BasisPoints) Float() float64 { return float64(b) / 100 }

// String formats b as a percentage, e.g. "12.5%".
func (b BasisPoints) String() string {
	return fmt.Sprintf("%g%%", b.Float())
}

// Static is a fixed percentage rollout.
//
// Shadow is the share of calls on which the non-primary side also runs and is
// compared; CandidatePrimary is the share of calls on which the candidate is
// authoritative. Values above [All] count as All. The zero Static runs legacy
// only: no shadow, legacy primary.
//
// When the context carries a key ([WithKey]) the draw is a fixed-seed hash of
// (experiment, key), so a key keeps its decision across calls, replicas and
// restarts, and raising a percentage only adds keys. Without a key each call
// draws from a cheap striped SplitMix64 source. The two percentages use
// independent halves of the draw. At 0% and 100% nothing is drawn and no key
// is looked up.
//
// Static is a value: safe for concurrent use, and it never allocates.
type Static struct {
	Shadow           BasisPoints
	CandidatePrimary BasisPoints
}

// Decide implements [Policy].
func (s Static) Decide(ctx context.Context, experiment string) Decision {
	sh, cp := uint64(s.Shadow), uint64(s.CandidatePrimary)
	if (sh == 0 || sh >= uint64(All)) && (cp == 0 || cp >= uint64(All)) {
		return Decision{Shadow: sh >= uint64(All), Primary: Side(b2u(cp >= uint64(All)))}
	}
	var r uint64
	if keysUsed.Load() {
		r = keyDraw(ctx, experiment)
	} else {
		r = fastrand.Draw()
	}
	// Multiply-shift maps each 32-bit half onto [0, 10000); half-open r < p.
	return Decision{
		Primary: Side(b2u((r&0xffffffff)*uint64(All)>>32 < cp)),
		Shadow:  (r>>32)*uint64(All)>>32 < sh,
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// keyDraw hashes (experiment, key) when ctx carries a key, and draws at
// random otherwise.
func keyDraw(ctx context.Context, experiment string) uint64 {
	if key, ok := KeyFrom(ctx); ok {
		return hash.Key(experiment, key)
	}
	return fastrand.Draw()
}

// Bucket returns the bucket in [0, 10000) that key falls in for experiment:
// the shadow bucket and the candidate-primary bucket. A key is selected by a
// percentage p when its bucket is < p. It lets tools explain a decision.
func Bucket(experiment, key string) (shadow, candidatePrimary BasisPoints) {
	r := hash.Key(experiment, key)
	return BasisPoints(hash.Bucket(uint32(r>>32), uint32(All))),
		BasisPoints(hash.Bucket(uint32(r), uint32(All)))
}
