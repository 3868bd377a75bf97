package rollout

import (
	"context"
	"sync/atomic"
)

// Live is a [Policy] whose percentages change at run time: [Live.Set]
// replaces the rollout, and the next call decides with it. It is the building
// block that flag sources (OpenFeature, a ramp, an admin endpoint) feed.
//
// The read path is one atomic load of the packed [Static] (two basis-point
// values fit in 32 bits), no lock and no allocation, then [Static.Decide]:
// the same sticky draw, so a key gets the same decision from a Live and from
// a Static holding the same percentages. Decide cannot panic, not even on a
// nil *Live (which decides as the zero Static: legacy only).
//
// The zero Live is ready to use and runs legacy only. A Live is safe for any
// number of concurrent Set, Load and Decide calls. It must not be copied
// after first use.
type Live struct {
	v atomic.Uint32 // Shadow<<16 | CandidatePrimary; go vet flags copies
}

// NewLive returns a Live policy that starts with initial.
func NewLive(initial Static) *Live {
	l := new(Live)
	l.Set(initial)
	return l
}

// Set replaces the rollout. Calls that already decided keep their decision;
// every later call uses s. Values above [All] count as All, as in Static.
func (l *Live) Set(s Static) { l.v.Store(pack(s)) }

// Load returns the current rollout.
func (l *Live) Load() Static {
	if l == nil {
		return Static{}
	}
	return unpack(l.v.Load())
}

// Swap replaces the rollout with s and returns the previous one, so a caller
// can tell whether anything changed.
func (l *Live) Swap(s Static) Static { return unpack(l.v.Swap(pack(s))) }

// Decide implements [Policy] with the current rollout.
func (l *Live) Decide(ctx context.Context, experiment string) Decision {
	if l == nil {
		return Decision{}
	}
	return unpack(l.v.Load()).Decide(ctx, experiment)
}

// String describes the current rollout, e.g.
// "live: shadow 100%, candidate primary 10%".
func (l *Live) String() string { return "live: " + l.Load().String() }

func pack(s Static) uint32 { return uint32(s.Shadow)<<16 | uint32(s.CandidatePrimary) }

func unpack(v uint32) Static {
	return Static{Shadow: BasisPoints(v >> 16), CandidatePrimary: BasisPoints(v)}
}
