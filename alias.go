package dualrun

import (
	"context"

	"github.com/dualrun/dualrun/rollout"
)

// Side names one of the two implementations; see [rollout.Side].
type Side = rollout.Side

// Decision is a policy's per-call decision; see [rollout.Decision].
type Decision = rollout.Decision

// Outcome classifies one compared call; see [rollout.Outcome].
type Outcome = rollout.Outcome

// The sides.
const (
	Legacy    = rollout.Legacy
	Candidate = rollout.Candidate
)

// The outcomes, re-exported from rollout.
const (
	Match    = rollout.Match
	Mismatch = rollout.Mismatch
	Ignored  = rollout.Ignored
	Timeout  = rollout.Timeout
	Panic    = rollout.Panic
	Error    = rollout.Error
	Aborted  = rollout.Aborted
	Shed     = rollout.Shed
)

// WithKey returns a copy of ctx carrying the bucketing key of the call, so
// that percentage rollouts decide the same way for the same key on every
// replica and restart. It is [rollout.WithKey].
func WithKey(ctx context.Context, key string) context.Context {
	return rollout.WithKey(ctx, key)
}
