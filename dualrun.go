package dualrun

import (
	"context"
	"fmt"
	"reflect"
)

// Func is one implementation of a call site: the legacy or the candidate.
type Func[T any] func(context.Context) (T, error)

// Experiment is one call site under migration. Make it once with [New] and
// call [Experiment.Run] on every request; it is safe for concurrent use. The
// zero value is not usable.
type Experiment[T any] struct {
	c     *core
	cmp   comparer[T]
	clone func(T) T
	heavy bool // comparisons may be CPU-heavy: they pass compareGate
}

// New makes the experiment name for values of type T. Keep it in a package
// variable: an experiment registers its instruments and its statistics once
// and keeps them until its Shutdown, which releases them.
//
// New panics on programmer errors: an empty name, or a typed option
// (WithComparer, WithNormalizer, WithIgnore, WithClone) for a type other
// than T. Beyond [SetMaxExperiments] live experiments it does not panic: it
// returns an experiment that runs the primary only, registers nothing, and
// reports [ErrTooManyExperiments] through the OpenTelemetry error handler.
func New[T any](name string, opts ...Option) *Experiment[T] {
	if name == "" {
		panic("dualrun: New: the experiment name is empty; give every call site a stable name such as \"checkout.price\"")
	}
	cfg := newConfig(opts)
	cfg.name = name
	e := &Experiment[T]{cmp: newComparer[T](name, cfg)}
	e.heavy = !e.cmp.cheap
	if cfg.clone != nil {
		e.clone = typed[func(T) T](name, "WithClone", cfg.clone)
	}
	e.c = newCore(name, cfg)
	e.c.deadlines.expire = expireCall[T]
	return e
}

// typed asserts a typed option's function to the experiment's type.
func typed[F any](name, option string, fn any) F {
	f, ok := fn.(F)
	if !ok {
		panic(fmt.Sprintf("dualrun: experiment %q: %s was given a %T, want %v",
			name, option, fn, reflect.TypeFor[F]()))
	}
	return f
}

// Name returns the experiment's name.
func (e *Experiment[T]) Name() string { return e.c.name }

// Stats returns a snapshot of the experiment's in-process statistics and
// its effective configuration.
func (e *Experiment[T]) Stats() Stats { return e.c.Stats() }

// Shutdown stops new shadows (calls go on, primary only), then waits until
// every shadow slot is released, every compared call is recorded and every
// queued Report is published, and flushes the publishers that implement
// [Flusher]. It returns ctx.Err() if shadows or reports are still pending
// when ctx ends, and cancels the contexts given to its publishers then. It
// is idempotent and safe to call concurrently with Run. After Shutdown, Run
// keeps running the primary its policy picks; the experiment's metrics,
// Stats and AllStats entry stay, so that a final metric export at exit sees
// every count. [Experiment.Unregister] releases them.
func (e *Experiment[T]) Shutdown(ctx context.Context) error { return e.c.Shutdown(ctx) }

// Unregister releases what the experiment registered in the process: its
// entry in [AllStats], its OpenTelemetry callbacks (its series disappear
// from later collections) and, for an experiment made by [Run], its name,
// which a later Run makes anew. It stops new shadows; call Shutdown first to
// wait for running ones. The Experiment stays usable (primary only) and its
// Stats readable. An experiment costs a few tens of kilobytes while
// registered (the README has the measured figure): a service that makes
// and drops experiments should Unregister them. It is idempotent.
func (e *Experiment[T]) Unregister() { e.c.release() }

// PauseShadows stops this experiment's shadows until [Experiment.ResumeShadows]:
// calls go on with the primary their policy picks, uncompared. Shadows
// already running finish. It is the per-experiment kill switch
// ([DisableShadows] is the process-wide one).
func (e *Experiment[T]) PauseShadows() { e.c.setPaused(true) }

// ResumeShadows undoes [Experiment.PauseShadows].
func (e *Experiment[T]) ResumeShadows() { e.c.setPaused(false) }

// Run runs one call.
//
// The policy decides which side is primary and whether the other runs as a
// shadow. Without a shadow, Run calls the primary inline and returns its
// result: no goroutine, no clock read, no instrument call, no allocation.
// With one, Run hands the shadow to a worker goroutine, runs the primary on the
// caller's goroutine and returns the primary's (T, error) as soon as it
// returns, whatever the shadow does; the shadow's result is compared in the
// background. The primary is never recovered: its panic or runtime.Goexit
// unwinds the caller exactly as without dualrun, and the comparison is
// recorded as aborted. The shadow's panics never reach the caller.
//
// A nil ctx is treated as context.Background(), for the policy, the shadow
// and the primary alike.
//
// Run is [Experiment.Decide] followed by [Experiment.RunDecision].
func (e *Experiment[T]) Run(ctx context.Context, legacy, candidate Func[T]) (T, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := e.c
	var d Decision
	if s := c.static; s != nil {
		d = s.Decide(ctx, c.name) // core.decide's first case, without the call
	} else {
		d = c.decide(ctx) // a valid Side: decideSafe checks user policies
	}
	if !d.Shadow || !c.shadowsAllowed() {
		c.calls.Inc(int(d.Primary) << 1)
		if d.Primary == Candidate {
			return candidate(ctx)
		}
		return legacy(ctx)
	}
	return e.compared(ctx, d.Primary, legacy, candidate)
}

// Decide asks the experiment's rollout policy about one call without running
// anything: which side will be primary, and whether the other will run as a
// shadow. Shadow is false whenever no shadow can start: the policy says so,
// shadows are paused or disabled process-wide, or the experiment is shut
// down. A call decided to be compared may still be shed by RunDecision when
// no shadow slot is free.
//
// It lets adapters pay for what only compared calls need (buffering a
// request body, say) before running the call with [Experiment.RunDecision].
// It costs what the uncompared path of Run costs: nanoseconds, no
// allocation. A nil ctx is treated as context.Background().
func (e *Experiment[T]) Decide(ctx context.Context) Decision {
	c := e.c
	if s := c.static; s != nil && ctx != nil {
		// Small enough to be inlined at the call site: the common case,
		// a rollout.Static, without a call of its own.
		d := s.Decide(ctx, c.name)
		d.Shadow = d.Shadow && c.shadowsAllowed()
		return d
	}
	return e.decide(ctx)
}

// decide is Decide for every other policy, and a nil ctx.
func (e *Experiment[T]) decide(ctx context.Context) Decision {
	if ctx == nil {
		ctx = context.Background()
	}
	d := e.c.decide(ctx)
	if d.Shadow && !e.c.shadowsAllowed() {
		d.Shadow = false
	}
	return d
}

// RunDecision runs one call as d says, with the contract of
// [Experiment.Run]: d is normally what [Experiment.Decide] returned for the
// same call. A d with Shadow true still sheds when no slot is free, and runs
// uncompared when shadows were paused, disabled or shut down meanwhile. A d
// with a Primary other than Legacy or Candidate runs legacy, uncompared.
func (e *Experiment[T]) RunDecision(ctx context.Context, d Decision, legacy, candidate Func[T]) (T, error) {
	if d == (Decision{}) && ctx != nil {
		// Legacy alone, the usual uncompared call: small enough to be
		// inlined at the call site.
		e.c.calls.Inc(int(Legacy) << 1)
		return legacy(ctx)
	}
	return e.runDecision(ctx, d, legacy, candidate)
}

// runDecision is RunDecision for every other decision, and a nil ctx.
func (e *Experiment[T]) runDecision(ctx context.Context, d Decision, legacy, candidate Func[T]) (T, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := e.c
	if d.Primary > Candidate {
		d = Decision{}
	}
	if !d.Shadow || !c.shadowsAllowed() {
		c.calls.Inc(int(d.Primary) << 1)
		if d.Primary == Candidate {
			return candidate(ctx)
		}
		return legacy(ctx)
	}
	return e.compared(ctx, d.Primary, legacy, candidate)
}

// compared runs a call decided to be compared, in the experiment's mode.
func (e *Experiment[T]) compared(ctx context.Context, side Side, legacy, candidate Func[T]) (T, error) {
	primary, shadow := legacy, candidate
	if side == Candidate {
		primary, shadow = candidate, legacy
	}
	if e.c.cfg.sequential {
		return e.runSequential(ctx, side, primary, shadow)
	}
	return e.runCompared(ctx, side, primary, shadow)
}

// Run runs one call through the experiment named by WithName, making it on
// first use with the options of that first call (later calls' options are
// ignored). It returns the primary side's result as soon as the primary
// returns; see [Experiment.Run] for the per-call contract.
//
// Run panics if WithName is missing, or if the same name was used with
// another type T; a first call whose options panic (a typed option for
// another T) leaves nothing behind, so the name stays usable. After the
// package-level [Shutdown], Run keeps running the primary its policy picks
// and starts no shadow. On hot paths prefer a package-level [New]
// experiment: Run looks the name up on every call.
func Run[T any](ctx context.Context, legacy, candidate Func[T], opts ...Option) (T, error) {
	var name string
	for _, o := range opts {
		if n, ok := o.(nameOption); ok {
			name = string(n)
		}
	}
	if name == "" {
		panic("dualrun.Run: missing WithName option: every call site needs a stable experiment name, such as dualrun.WithName(\"checkout.price\")")
	}
	return runExperiment[T](name, opts).Run(ctx, legacy, candidate)
}
