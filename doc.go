// Package dualrun runs two implementations of a call site side by side while
// a service migrates from one to the other, returns the authoritative one's
// result, and proves, with OpenTelemetry metrics and spans, how often and
// where the other one differs.
//
// # One call site
//
// Wrap the call site once:
//
//	price, err := dualrun.Run(ctx, legacyPrice, newPrice, dualrun.WithName("checkout.price"))
//
// or, on a hot path, keep the experiment in a package variable:
//
//	var priceExp = dualrun.New[Money]("checkout.price")
//
//	price, err := priceExp.Run(ctx, legacyPrice, newPrice)
//
// Per call, the rollout policy ([WithRollout], package rollout) decides which
// side is primary (its result is returned) and whether the other side runs as
// a shadow. By default legacy is primary and every call is compared, bounded
// by the in-flight limit: this doubles the work of the wrapped call, so choose
// a rollout percentage for expensive calls.
//
// # What the caller can count on
//
//   - The primary runs on the caller's goroutine and its (T, error) is
//     returned as soon as it returns, whatever the shadow does.
//   - The primary is never recovered: a panic or runtime.Goexit in it unwinds
//     the caller exactly as without dualrun. The shadow's panics are
//     recovered into a [PanicError] and never reach the caller.
//   - The shadow gets a context detached from the caller's cancellation,
//     with the caller's values, [IsShadow] true, and a deadline of the earlier
//     of the caller's deadline and start + the shadow timeout
//     ([WithShadowTimeout], default 1s).
//   - Shadows are admitted, never queued: at most [WithMaxInFlight] per
//     experiment (default 64) and [SetProcessMaxInFlight] per process
//     (default 1,024) run at once; a call that finds no slot runs its primary
//     only and is counted as shed. A slot is released once the shadow
//     function has returned and its comparison is recorded (never at the
//     deadline), so a shadow that ignores its context holds at most the
//     limit of goroutines.
//   - Without a shadow the call costs nanoseconds: no goroutine, no clock
//     read, no instrument call, no allocation (for functions that capture
//     nothing; a capturing closure costs the caller its one allocation, as it
//     would for any function that may run it on another goroutine).
//   - [DisableShadows] (or DUALRUN_DISABLE_SHADOWS=1 at start) turns every
//     shadow in the process off at once.
//
// # Comparison
//
// Values are compared with == when T is comparable and holds no pointers,
// interfaces or floats, and with go-cmp's cmp.Equal otherwise, using
// [WithCmpOptions]; [WithComparer] replaces both. [WithNormalizer] cleans
// both values first; [WithIgnore] accepts known differences. Errors are
// equivalent when both are nil or both non-nil unless [WithErrorComparer]
// says otherwise; values are compared only when both sides succeeded. The
// comparison is always compare(legacy, candidate), whichever side was
// primary. go-cmp may panic (unexported fields without an option, for one):
// that, like any panic in a user callback, is recorded as outcome error,
// never a crash and never a silent match.
//
// Values are shared, not copied: the comparison reads the same value the
// caller got, so treat results as immutable, or use [WithClone].
//
// # Outcomes
//
// Each compared call has one outcome: match, mismatch (kind value, error or
// errors_differ), ignored, timeout, panic, error, aborted (the primary
// panicked, called Goexit, or failed because the caller canceled) or shed.
// The mismatch rate is mismatch / (match + mismatch + ignored).
//
// # Telemetry
//
// Metrics (scope [ScopeName]): dualrun.calls, dualrun.comparisons,
// dualrun.call.duration, dualrun.shadow.inflight, dualrun.mismatch.fields and
// dualrun.reports.dropped. Spans "dualrun.shadow <experiment>" are children
// of the caller's span, so they follow its sampling decision
// ([WithLinkedShadowSpans] makes them linked roots instead); the caller's
// span gets a dualrun.compared event, and a mismatch adds a dualrun.mismatch
// event to the shadow's. Providers come from [WithMeterProvider] and
// [WithTracerProvider], defaulting to the globals; dualrun imports the OTel
// API only. The same numbers are kept in process: [Experiment.Stats] and
// [AllStats]. Shadow goroutines carry the pprof labels dualrun.experiment
// and dualrun.side.
//
// # Reports
//
// Mismatches, timeouts, panics and errors become a [Report] (folded paths,
// a size-limited diff, both span contexts) handed to each [Publisher]
// asynchronously, rate-limited and deduplicated per experiment, through a
// bounded queue that drops and counts rather than block.
//
// # Noise and batches
//
// [WithCalibration] runs legacy a second time on a fraction of the
// compared calls and learns which paths differ between legacy and itself
// (ids, timestamps, map order); a mismatch made only of such noise is
// recorded as ignored. [Stats] lists the learned paths and the mismatch
// classes (the sets of paths that differ together). [CompareKeyed]
// compares two result sets of a batch job by key, with the same outcomes,
// telemetry and Reports.
//
// # Lifecycle
//
// [Experiment.Shutdown] and the package-level [Shutdown] (for experiments
// made by Run, and the process-wide publishers) stop new shadows and wait
// for running ones and queued reports; metrics and Stats stay until
// [Experiment.Unregister] (or [Unregister] for a Run name) releases them.
// [Experiment.PauseShadows] stops one experiment's shadows for a while. A
// process holds at most [SetMaxExperiments] registered experiments (10,000
// by default): names must be stable and few, never made from request data.
// Nothing of dualrun runs at rest: goroutine-leak checks in your tests stay
// green.
//
// # Hostile input
//
// Whatever the wrapped functions and the callbacks do, the caller's call is
// unchanged and dualrun keeps its bounds: a nil context is
// context.Background(); a shadow or callback that panics or calls
// runtime.Goexit is recorded (outcome panic or error, cause kept for
// errors.Is), never crashes the process, never leaks a slot or wedges a
// queue; errors whose Error method panics and cyclic values are described
// safely; a policy returning an invalid Side runs legacy only.
//
// # Extending dualrun
//
// The extension points are interfaces, each optional part named:
//
//   - [Publisher] receives Reports ([PublisherFunc] adapts a function);
//     [NamedPublisher], [Flusher] and [Shutdowner] add a name and a
//     lifecycle. Attach one to an experiment with [WithPublisher], or to
//     every experiment of the process with [AddPublisher]. A [Report] has an
//     ID, a JSON form ([Report.JSON], value-free unless asked) and a
//     slog.LogValuer form.
//   - rollout.Policy decides each call; rollout.Observer, when the policy
//     also implements it, sees every finished comparison (guarded ramps use
//     it). rollout.Static and rollout.Live are called without recover, any
//     other policy behind it.
//   - [Experiment.Decide] and [Experiment.RunDecision] split a call so an
//     adapter (HTTP, gRPC) pays for what only compared calls need;
//     [WithSequentialShadow] and [PrimaryResult] give the shadow the
//     primary's result (dual writes).
//   - Package dualruntest runs both sides synchronously in unit tests with
//     the same comparison engine, and its Recorder collects Reports.
package dualrun
