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
//
// # Policies
//
//   - [Static]: fixed percentages, decided with a fixed-seed hash of
//     (experiment, key), so a key keeps its decision across calls, replicas
//     and restarts, and raising a percentage only adds keys.
//   - [Live]: percentages changed at run time with [Live.Set]; one atomic
//     load per call, and the same decision per key as a Static with the same
//     percentages. Flag sources feed it.
//   - [Ramp]: steps such as shadow 1% → 10% → 100%, then candidate primary
//     1% → 10% → 50% → 100% ([DefaultSteps]), advanced after a hold time and
//     a number of comparisons while a guard holds (mismatch rate, candidate
//     failure rate, candidate p99 over legacy p99), and rolled back by
//     itself when the guard breaks.
//     The decision logic is exported, free of clocks and counters:
//     [Guard] judges [WindowStats] and [StepMachine] decides a step's
//     transition, for controllers that read the signals elsewhere (the
//     fleet ramp, module github.com/dualrun/dualrun/fleetramp).
//   - Feature flags: the module github.com/dualrun/dualrun/rollout/openfeature
//     reads a flag per experiment through an OpenFeature client.
//
// Static, Live and Ramp cannot panic and describe themselves with String,
// for logs and debug pages.
package rollout
