// Package rollout decides, per call, which side of a dualrun experiment is
// authoritative (the primary) and whether the other side runs as a shadow.
//
// The dualrun core imports this package, never the reverse: [Side],
// [Decision] and [Outcome] are defined here and re-exported by alias from
// dualrun. A [Policy] is asked once per call with the experiment name and the
// caller's context; it reads the bucketing key ([WithKey]) itself, only when
// it needs one. A policy that also implements [Observer] is told the outcome
// of every compared call, which is how guarded ramps learn.
//
// Percentages are held in basis points ([BasisPoints], 1 bp = 0.01%), and
// every percentage check is half-open: a draw r in [0, 10000) selects when
// r < p, so 0 bp never selects and 10000 bp always does.
package rollout
