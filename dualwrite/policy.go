package dualwrite

import (
	"context"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// defaultPolicy is the decision without WithRollout: the old store
// primary, every read compared.
var defaultPolicy = rollout.Static{Shadow: rollout.All}

// writePolicy decides the writes of a writer: the primary store from the
// user's policy, asked under the writer's policy name; the other store is
// always written (as the experiment's shadow, which the dualrun core still
// skips when shadows are paused, disabled or shed: the applier writes those
// from the journal).
type writePolicy struct {
	p    rollout.Policy
	name string
}

func (w writePolicy) Decide(ctx context.Context, _ string) dualrun.Decision {
	return dualrun.Decision{Primary: w.p.Decide(ctx, w.name).Primary, Shadow: true}
}

// readPolicy decides the reads: the user's policy asked under the writer's
// policy name, so that a key's reads and writes agree on the primary. A
// rollout.Ramp (or any Observer) observes the reads under that name.
type readPolicy struct {
	p    rollout.Policy
	name string
}

func (r readPolicy) Decide(ctx context.Context, _ string) dualrun.Decision {
	return r.p.Decide(ctx, r.name)
}

// observedReadPolicy is a readPolicy whose policy observes outcomes.
type observedReadPolicy struct {
	readPolicy
	o rollout.Observer
}

func (r observedReadPolicy) Observe(o rollout.Observation) {
	o.Experiment = r.name
	r.o.Observe(o)
}

func newReadPolicy(p rollout.Policy, name string) rollout.Policy {
	rp := readPolicy{p: p, name: name}
	if o, ok := p.(rollout.Observer); ok {
		return observedReadPolicy{readPolicy: rp, o: o}
	}
	return rp
}
