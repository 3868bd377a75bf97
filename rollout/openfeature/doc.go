// Package openfeature lets a feature flag pick the primary side of each
// dualrun call site, through an OpenFeature client: cut-over and rollback in
// the flag system the team already runs, without a redeploy.
//
//	import (
//		of "github.com/open-feature/go-sdk/openfeature"
//		dualrunof "github.com/dualrun/dualrun/rollout/openfeature"
//	)
//
//	policy := dualrunof.NewPolicy(of.NewDefaultClient())
//	defer policy.Close()
//	priceExp := dualrun.New[Money]("checkout.price", dualrun.WithRollout(policy))
//
// It is a module of its own, so that the dualrun core never pulls the
// OpenFeature SDK into its users' builds.
//
// # Flags
//
// Each experiment reads the flag whose key is its name ([WithFlagKey] maps
// names to other keys). The flag is a string or an object.
//
// A string names one of four states:
//
//	"legacy"          legacy only: the code before the migration
//	"shadow"          legacy primary, the candidate shadowed on every call
//	"candidate"       candidate primary, legacy shadowed on every call
//	"candidate-only"  candidate only: the migration is done
//
// An object sets percentages, each optional:
//
//	{"primary": "candidate", "candidate_primary_percent": 10, "shadow_percent": 100}
//
// "primary" is "legacy" or "candidate". An absent candidate_primary_percent
// is 100 when primary is "candidate" and 0 otherwise; an absent
// shadow_percent is 0; explicit percentages win over what primary implies.
// Percentages run from 0 to 100 and may be fractional: they are rounded to
// the nearest basis point (0.01%). The object above makes the candidate
// primary for 10% of keys and compares every call; {} is legacy only.
//
// In flagd's flag file, the states are variants of a string flag (flagd
// wants every variant of a flag to have the same type), or of an object
// flag for percentages:
//
//	{"flags": {"checkout.price": {
//	  "state": "ENABLED",
//	  "variants": {"legacy": "legacy", "shadow": "shadow", "candidate": "candidate", "candidate-only": "candidate-only"},
//	  "defaultVariant": "shadow"}}}
//
// A flag that is disabled, or resolves to no value (flagd's fallback to the
// code default), means the code's default: legacy only.
//
// # Two evaluation modes
//
// Cached, the default: the flag is evaluated without call context when the
// provider becomes ready, whenever it emits a configuration-change event,
// and every [WithRefreshInterval] (one minute by default) as a fallback.
// Each call then draws with dualrun's own sticky hash ([rollout.WithKey]) on
// the cached value: a map lookup and an atomic load, no allocation, and the
// same decision for a key as [rollout.Static] with the same percentages. An
// experiment the policy has not seen is evaluated in the background on its
// first call and runs legacy only until then; name experiments with
// [WithExperiments] to evaluate them before NewPolicy returns.
//
// Per call ([WithPerCallEvaluation]): the flag is evaluated on every call,
// with the call's key as the targeting key and, with [WithEvaluationContext],
// attributes built from the call's context, so the flag system's own
// targeting decides (per tenant, flagd's "fractional" splits). Its cost is
// that of an OpenFeature evaluation. Measured on a shared 2-core machine
// with OpenFeature Go SDK v1.20.0 (medians of 10 runs, -cpu 1 and 2): about
// 3.3 µs, 740 B and 12 allocations per call with the in-memory provider,
// and 7–9 µs, 1.8 KiB and 38 allocations with flagd v0.6.0 in in-process
// mode; the cached mode adds 13–24 ns to a [rollout.Static] decision and
// allocates nothing. Use per-call evaluation where targeting needs the
// call's attributes, and the cached mode everywhere else.
//
// # Bad flag data
//
// Whatever is wrong (a missing flag, a value of the wrong type, an unknown
// side, a percentage out of range or NaN, an unknown field in the object, a
// provider that is not ready, fails or panics), the policy never panics and
// the caller never sees it: the last good value of that flag stays in force
// (before any good value, legacy only). Each distinct problem is reported
// once per flag through otel.Handle as a [*FlagError] (again after a good
// value came in between) and every failed evaluation is counted by the
// metric dualrun.rollout.errors (unit {error}, attributes
// dualrun.experiment and error.type, one of the ErrorType constants).
// [Policy.Flags] and [Policy.String] show the value in force and the latest
// problem of every flag.
//
// # flagd in file mode
//
// With the flagd provider's in-process file mode
// (flagd.WithFileResolver, flagd.WithOfflineFilePath), rewriting the flag
// file moves the primary of running experiments. Replace the file
// atomically: write a temporary file in the same directory, then rename it
// over the old one. Measured on Linux (inotify) from the start of such a
// write to the first call that follows the new value: a median of 1.3–2 ms
// over 5 runs of 7 edits (extremes 1 and 13 ms), of which the write itself
// takes about 1 ms. A watcher that polls (network file systems) adds its
// polling period.
package openfeature
