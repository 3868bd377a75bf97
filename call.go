package dualrun

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun/internal/safe"
)

// This file is the state machine of one compared call: the caller's side
// (runCompared, runSequential) and the shadow's side (shadow, afterShadow,
// expire), which meet in a callInfo.

// Shadow states: who records the call.
const (
	stateRunning  = iota // shadow running, deadline not reached
	stateReturned        // shadow returned first: the shadow goroutine records
	stateTimedOut        // deadline first: the timer records; a late result is discarded
)

// callInfo is the non-generic state of one compared call.
type callInfo struct {
	caller     context.Context
	callerSpan trace.SpanContext
	span       trace.Span
	spanCtx    context.Context
	start      mono // the shadow's start
	deadline   mono
	primary    Side
	state      atomic.Uint32
	sctx       detachedContext
	rec        record

	// In the experiment's deadline queue (guarded by its lock).
	self       expirer
	prev, next *callInfo
	queued     bool

	// primaryWG is done when the primary has finished, however; pdone says
	// so without waiting. The fields below are written by the caller
	// before either.
	primaryWG sync.WaitGroup
	pdone     atomic.Bool
	aborted   bool
	preturned bool // the primary returned (normally or with an error)
	pdur      time.Duration
	cloneErr  error
}

// primaryFinished marks the primary side done, normally or not.
func (ci *callInfo) primaryFinished() {
	ci.pdone.Store(true)
	ci.primaryWG.Done()
}

type call[T any] struct {
	callInfo
	exp    *Experiment[T]
	fn     Func[T] // the shadow function
	legacy Func[T] // the primary function, when it is legacy
	pv     T
	perr   error
}

// run is the shadow side, on a worker goroutine.
func (cl *call[T]) run() { cl.exp.shadow(cl, cl.fn) }

// begin admits a compared call: it claims a shadow slot and counts the
// call, or counts it shed (nil: run the primary alone).
func (e *Experiment[T]) begin(ctx context.Context, side Side, primary, shadow Func[T]) *call[T] {
	c := e.c
	ok, closed := c.acquire()
	if !ok {
		c.calls.Inc(int(side) << 1)
		if !closed {
			c.shed(side)
		}
		return nil
	}
	c.calls.Inc(int(side)<<1 | 1)
	cl := &call[T]{callInfo: callInfo{caller: ctx, primary: side}, exp: e, fn: shadow}
	if side == Legacy {
		cl.legacy = primary // for a second legacy run (calibration)
	}
	cl.primaryWG.Add(1)
	return cl
}

// returned notes the primary's result, which it returned start ago.
func (cl *call[T]) returned(ctx context.Context, start mono, v T, err error) {
	cl.pdur = monoNow() - start
	cl.preturned = true
	cl.pv, cl.perr = v, err
	if err != nil && ctx.Err() != nil {
		cl.aborted = true // the caller canceled: nothing fair to compare
	}
}

// runCompared runs a compared call in the concurrent mode: the shadow is
// handed to a worker first, then the primary runs on the caller's
// goroutine.
func (e *Experiment[T]) runCompared(ctx context.Context, side Side, primary, shadow Func[T]) (v T, err error) {
	cl := e.begin(ctx, side, primary, shadow)
	if cl == nil {
		return primary(ctx)
	}
	e.c.workers.submit(cl)
	start := monoNow()
	normal := false
	defer func() {
		if !normal {
			// The primary panicked or called runtime.Goexit: tell the
			// shadow side, and let the caller unwind untouched.
			cl.aborted = true
			cl.primaryFinished()
		}
	}()
	v, err = primary(ctx)
	cl.returned(ctx, start, v, err)
	normal = true
	if e.clone != nil {
		v = e.safeClone(cl, v, nil)
	}
	cl.primaryFinished()
	return v, err
}

// runSequential runs a compared call in the sequential mode
// (WithSequentialShadow): the primary runs first, on the caller's
// goroutine; only once it returned normally is the shadow handed to a worker,
// with the primary's result in its context ([PrimaryResult]).
func (e *Experiment[T]) runSequential(ctx context.Context, side Side, primary, shadow Func[T]) (v T, err error) {
	cl := e.begin(ctx, side, primary, shadow)
	if cl == nil {
		return primary(ctx)
	}
	c := e.c
	start := monoNow()
	normal := false
	defer func() {
		if !normal {
			// The primary panicked or called Goexit: no shadow runs; the
			// call is aborted and its slot released, on another goroutine:
			// no dualrun work on the caller's while it unwinds.
			cl.aborted = true
			cl.primaryFinished()
			go c.recordAbortedBeforeShadow(&cl.callInfo)
		}
	}()
	v, err = primary(ctx)
	cl.returned(ctx, start, v, err)
	normal = true
	cl.sctx.primary = &Result[T]{Value: v, Err: err}
	if e.clone != nil {
		v = e.safeClone(cl, v, func() { c.workers.submit(cl) })
	}
	cl.primaryFinished()
	c.workers.submit(cl)
	return v, err
}

// safeClone returns the caller's copy of v. If the clone func panics, the
// caller gets v itself and the call is recorded as outcome error. If it
// calls runtime.Goexit (t.FailNow in a test helper), the caller's goroutine
// ends as it asked, and the hook first tells the shadow side (then
// whatever else the mode needs, in then).
func (e *Experiment[T]) safeClone(cl *call[T], v T, then func()) T {
	out := v
	err := safe.Call("WithClone func", func() { out = e.clone(v) }, func(err error) {
		cl.cloneErr = err
		cl.primaryFinished()
		if then != nil {
			then()
		}
	})
	if err != nil {
		cl.cloneErr = err
		return v
	}
	return out
}

// shadow runs on a worker goroutine: it starts the shadow span, enters the
// experiment's deadline queue, runs the shadow function behind recover, then
// records the comparison and releases the slot (afterShadow). Everything
// after the slot was taken is inside the deferred recording, so nothing the
// caller's context or a callback does can leak the slot.
func (e *Experiment[T]) shadow(cl *call[T], fn Func[T]) {
	c := e.c
	side := cl.primary.Other()
	pprof.SetGoroutineLabels(c.labels[side])
	defer pprof.SetGoroutineLabels(context.Background())

	var (
		v       T
		err     error
		pe      *PanicError
		hookErr error
		normal  bool
		started bool
	)
	sc := &cl.sctx
	defer func() {
		if !normal && hookErr == nil {
			// The shadow (or dualrun's setup) panicked or called
			// runtime.Goexit; a hook that did is in hookErr already.
			r := recover()
			if r == nil {
				r = safe.ErrGoexit // runtime.Goexit: the goroutine ends after this
			}
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
		if !started {
			// The setup itself failed (a hostile caller context): the
			// shadow never ran.
			hookErr, pe = safe.Recovered("shadow setup", pe.Value), nil
			e.setup(cl, sc)
		}
		e.afterShadow(cl, sc, v, err, pe, hookErr)
	}()
	e.setup(cl, sc)
	started = true

	ctx := cl.spanCtx
	if c.cfg.shadowContext != nil {
		hookErr = safe.Call("WithShadowContext hook", func() {
			ctx = c.cfg.shadowContext(ctx)
		}, func(err error) { hookErr = err })
		if hookErr == nil && ctx == nil {
			hookErr = &CallbackError{Callback: "WithShadowContext hook", Err: errNilContext}
		}
	}
	if hookErr == nil {
		v, err = fn(ctx)
	}
	normal = true
}

// setup starts the shadow's span and deadline. It is idempotent, so the
// deferred recording can finish a setup that a hostile context broke.
func (e *Experiment[T]) setup(cl *call[T], sc *detachedContext) {
	c := e.c
	if cl.self != nil {
		return
	}
	cl.self = cl
	// The shadow's budget starts now: the earlier of the caller's deadline
	// and now + the shadow timeout. Safe defaults come first: the caller's
	// context is user code and may panic.
	cl.start = monoNow()
	cl.deadline = addSat(cl.start, c.cfg.shadowTimeout)
	sc.deadline = cl.deadline
	sc.init(cl.caller)
	cl.spanCtx, cl.span = context.Context(sc), noSpan
	if d, ok := cl.caller.Deadline(); ok {
		if dm := monoOf(d); dm < cl.deadline {
			cl.deadline, sc.deadline = dm, dm
		}
	}
	cl.callerSpan = trace.SpanContextFromContext(cl.caller)
	cl.spanCtx, cl.span = c.tel.startSpan(sc, cl.callerSpan, cl.primary)
	// Last: from here on the deadline timer may record the call, and reads
	// what is set above.
	c.deadlines.add(&cl.callInfo)
}

// addSat returns a + b, saturating instead of overflowing: a shadow timeout
// of years is "no timeout", not a deadline in the past.
func addSat(a mono, b time.Duration) mono {
	if b > 0 && a > (1<<63-1)-b {
		return 1<<63 - 1
	}
	return a + b
}

// afterShadow runs when the shadow function has returned (or panicked): it
// records the comparison, then releases the slot. Holding the slot through
// the bookkeeping keeps the number of shadow goroutines within the limit
// even when the CPUs are saturated.
func (e *Experiment[T]) afterShadow(cl *call[T], sc *detachedContext, v T, err error, pe *PanicError, hookErr error) {
	c := e.c
	end := monoNow()
	d := end - cl.start
	sc.release()
	defer c.releaseSlot()
	if !cl.state.CompareAndSwap(stateRunning, stateReturned) {
		return // recorded as timeout at the deadline; the late result is discarded
	}
	c.deadlines.remove(&cl.callInfo)
	if end >= cl.deadline && hookErr == nil {
		// It returned, but only once its deadline had passed (typically
		// with the context's error): that is a timeout, as if the timer
		// had won.
		e.recordTimeout(cl)
		return
	}
	cl.primaryWG.Wait()
	defer c.donePending()

	side := cl.primary.Other()
	r := &cl.rec
	*r = record{ctx: cl.spanCtx, primary: cl.primary, call: &cl.callInfo}
	r.durations[cl.primary], r.durations[side] = cl.pdur, d
	r.finished[side] = true
	r.finished[cl.primary] = cl.preturned
	r.errs[cl.primary] = cl.perr
	r.errs[side] = err
	switch {
	case cl.aborted:
		r.outcome = Aborted
		if pe != nil {
			r.errs[side] = pe
		}
	case pe != nil:
		r.outcome = Panic
		r.errs[side] = pe
	case hookErr != nil:
		r.outcome = Error
		r.cbErr = hookErr
		r.finished[side] = false // it did not run
	case cl.cloneErr != nil:
		r.outcome = Error
		r.cbErr = cl.cloneErr
	default:
		lv, cv := cl.pv, v
		lerr, cerr := cl.perr, err
		if cl.primary == Candidate {
			lv, cv, lerr, cerr = v, cl.pv, err, cl.perr
		}
		// A comparison callback that calls runtime.Goexit ends this
		// goroutine: the hook records the call as error on the way out.
		gated := e.heavy && compareGate.acquire()
		failed := safe.Call("comparison", func() {
			e.cmp.compare(r, lv, lerr, cv, cerr)
		}, func(err error) {
			compareGate.release(gated)
			e.cmp.fail(r, err)
			c.record(r)
		})
		compareGate.release(gated)
		if failed != nil {
			e.cmp.fail(r, failed)
		}
		if r.outcome == Error && !c.cmpAdvised.Swap(true) {
			handle(r.cbErr)
		}
		if c.noise.sample() && r.outcome != Error {
			var raw []string
			if r.outcome == Mismatch && r.kind == ValueMismatch {
				raw = r.paths
			}
			c.noise.classify(r)
			c.record(r)
			e.calibrate(cl, lv, lerr, raw)
			return
		}
		c.noise.classify(r)
	}
	c.record(r)
}

// expire runs when the shadow's deadline passes. If the shadow has not
// returned, the call is recorded as a timeout now.
func (cl *call[T]) expire() {
	if cl.state.CompareAndSwap(stateRunning, stateTimedOut) {
		cl.exp.recordTimeout(cl)
	}
}

// recordTimeout records a call whose shadow missed its deadline, with the
// primary's result if it is already known.
func (e *Experiment[T]) recordTimeout(cl *call[T]) {
	c := e.c
	defer c.donePending()
	side := cl.primary.Other()
	r := &cl.rec
	*r = record{ctx: cl.spanCtx, outcome: Timeout, primary: cl.primary, call: &cl.callInfo}
	r.durations[side] = monoNow() - cl.start
	r.finished[side] = true
	r.errs[side] = &TimeoutError{After: r.durations[side]}
	if cl.pdone.Load() && cl.preturned {
		r.durations[cl.primary] = cl.pdur
		r.finished[cl.primary] = true
		r.errs[cl.primary] = cl.perr
	}
	c.record(r)
}

// compareAndRecord compares two results that were computed elsewhere (a
// batch pipeline's records, say) and records the comparison as a compared
// call of the experiment: outcome, stats, metrics and a Report, without a
// shadow, a slot, a span or durations. It runs on the calling goroutine and
// returns the outcome and mismatch kind. A comparison callback that calls
// runtime.Goexit ends the calling goroutine, as in any code of the caller's;
// the call is recorded first.
func (e *Experiment[T]) compareAndRecord(ctx context.Context, legacy, candidate Result[T]) (Outcome, MismatchKind) {
	c := e.c
	r := c.syncRecord(ctx)
	r.errs[Legacy], r.errs[Candidate] = legacy.Err, candidate.Err
	failed := safe.Call("comparison", func() {
		e.cmp.compare(r, legacy.Value, legacy.Err, candidate.Value, candidate.Err)
	}, func(err error) {
		e.cmp.fail(r, err)
		c.record(r)
	})
	if failed != nil {
		e.cmp.fail(r, failed)
	}
	c.record(r)
	return r.outcome, r.kind
}

// failAndRecord records, as compareAndRecord does, a comparison that could
// not be made: outcome error, with err as the callback error.
func (e *Experiment[T]) failAndRecord(ctx context.Context, err error) Outcome {
	r := e.c.syncRecord(ctx)
	e.cmp.fail(r, err)
	e.c.record(r)
	return r.outcome
}

// syncRecord counts a compared call made on the calling goroutine and
// returns its record, ready to be filled.
func (c *core) syncRecord(ctx context.Context) *record {
	if ctx == nil {
		ctx = context.Background()
	}
	c.calls.Inc(int(Legacy)<<1 | 1)
	ci := &callInfo{caller: ctx, primary: Legacy, span: noSpan, spanCtx: ctx}
	r := &ci.rec
	*r = record{ctx: ctx, primary: Legacy, call: ci}
	return r
}
