package dualrun

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	prev, next *callInfo

	// primaryWG is done when the primary has finished, however; pdone says
	// so without waiting. The fields below are written by the caller
	// before either.
	primaryWG sync.WaitGroup
	pdone     atomic.Bool
	aborted   bool
	preturned bool // the primary returned (normally or with an error)
	queued    bool // in the deadline queue; here, not above, to pack the struct
	pdur      time.Duration
	cloneErr  error
}

// caller is the caller's context. It is kept once, in the shadow context,
// which wraps it: the call record stays within 512 bytes, the largest size
// the Go allocator serves without a per-object header.
func (ci *callInfo) caller() context.Context { return ci.sctx.caller }

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

// run is the shadow side, on a worker goroutine. The recording (the
// deepest work of a call: comparison telemetry through the metrics SDK)
// runs here, once shadow's frames are gone: a worker's stack, shrunk by
// the garbage collector while it idles, then rarely needs to grow again.
func (cl *call[T]) run() {
	e := cl.exp
	pprof.SetGoroutineLabels(e.c.labels[cl.primary.Other()])
	if r := e.shadow(cl, cl.fn); r != nil {
		e.c.finish(r)
	}
	pprof.SetGoroutineLabels(context.Background())
}

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
	cl := &call[T]{callInfo: callInfo{primary: side, sctx: detachedContext{caller: ctx}}, exp: e, fn: shadow}
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
// compares (afterShadow). It returns the record for run to finish, or nil
// when the call is done with. Everything after the slot was taken is inside
// the deferred part, so nothing the caller's context or a callback does
// can leak the slot: if this goroutine is ending (runtime.Goexit), the
// deferred part finishes the record itself.
func (e *Experiment[T]) shadow(cl *call[T], fn Func[T]) (rec *record) {
	c := e.c
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
		// A hook that called runtime.Goexit is in hookErr already.
		goexit := !normal && hookErr != nil
		if !normal && hookErr == nil {
			// The shadow (or dualrun's setup) panicked or called
			// runtime.Goexit.
			r := recover()
			if r == nil {
				r, goexit = safe.ErrGoexit, true // the goroutine ends after this
			}
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
		if !started {
			// The setup itself failed (a hostile caller context): the
			// shadow never ran.
			hookErr, pe = safe.Recovered("shadow setup", pe.Value), nil
			if cl.span == nil {
				// It broke before the span started: the shadow's
				// context and no span stand in. The call never entered
				// the deadline queue; it is recorded right away.
				cl.spanCtx, cl.span = sc, noSpan
			}
		}
		rec = e.afterShadow(cl, sc, v, err, pe, hookErr)
		if goexit && rec != nil {
			c.finish(rec) // run will not
			rec = nil
		}
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
	return nil // set by the deferred part
}

// setup starts the shadow's span and deadline. The caller's context and
// the tracer are user code and may panic: the deferred recording in shadow
// then stands in for what setup did not set (the span).
func (e *Experiment[T]) setup(cl *call[T], sc *detachedContext) {
	c := e.c
	// The shadow's budget starts now: the earlier of the caller's deadline
	// and now + the shadow timeout.
	cl.start = monoNow()
	cl.deadline = addSat(cl.start, c.cfg.shadowTimeout)
	sc.deadline = cl.deadline
	caller := sc.caller
	if d, ok := caller.Deadline(); ok {
		if dm := monoOf(d); dm < cl.deadline {
			cl.deadline, sc.deadline = dm, dm
		}
	}
	cl.callerSpan = trace.SpanContextFromContext(caller)
	sc.init(caller)
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
// compares and returns the record for core.finish, which records it and
// then releases the slot, or nil when the call is done with (slot
// released). Holding the slot through the bookkeeping keeps the number of
// shadow goroutines within the limit even when the CPUs are saturated.
func (e *Experiment[T]) afterShadow(cl *call[T], sc *detachedContext, v T, err error, pe *PanicError, hookErr error) *record {
	c := e.c
	end := monoNow()
	d := end - cl.start
	sc.release()
	if !cl.state.CompareAndSwap(stateRunning, stateReturned) {
		// Recorded as timeout at the deadline; the late result is
		// discarded.
		c.releaseSlot()
		return nil
	}
	c.deadlines.remove(&cl.callInfo)
	if end >= cl.deadline && hookErr == nil {
		// It returned, but only once its deadline had passed (typically
		// with the context's error): that is a timeout, as if the timer
		// had won.
		defer c.releaseSlot()
		e.recordTimeout(cl)
		return nil
	}
	cl.primaryWG.Wait()

	side := cl.primary.Other()
	r := &cl.rec // still zero: only this goroutine, having won the state, fills it
	r.primary, r.call = cl.primary, &cl.callInfo
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
		if e.cmp.cheapMatch(lv, lerr, cv, cerr) {
			// == decided, and == on such a T runs no user code and
			// cannot panic: nothing to guard or to gate.
			r.outcome = Match
		} else {
			e.compareGuarded(r, lv, lerr, cv, cerr)
		}
		if c.noise.sample() && r.outcome != Error {
			var raw []string
			if r.outcome == Mismatch && r.kind == ValueMismatch {
				raw = r.paths
			}
			c.noise.classify(r)
			defer c.releaseSlot()
			defer c.donePending()
			c.record(r)
			e.calibrate(cl, lv, lerr, raw)
			return nil
		}
		c.noise.classify(r)
	}
	return r
}

// compareGuarded compares behind recover, through the comparison gate when
// the experiment's comparisons can be heavy. A comparison callback that
// calls runtime.Goexit ends this goroutine: the hook records the call as
// error on the way out and lets it go (core.finish).
func (e *Experiment[T]) compareGuarded(r *record, lv T, lerr error, cv T, cerr error) {
	c := e.c
	gated := e.heavy && compareGate.acquire()
	failed := safe.Call("comparison", func() {
		e.cmp.compare(r, lv, lerr, cv, cerr)
	}, func(err error) {
		compareGate.release(gated)
		e.cmp.fail(r, err)
		c.finish(r)
	})
	compareGate.release(gated)
	if failed != nil {
		e.cmp.fail(r, failed)
	}
	if r.outcome == Error && !c.cmpAdvised.Swap(true) {
		handle(r.cbErr)
	}
}

// expireCall is the deadline queue's expire func for calls of type T.
// Every callInfo the queue holds is the first field of a call[T] (begin
// makes them; TestCallInfoFirst pins the offset), so its address is the
// call's.
func expireCall[T any](ci *callInfo) { (*call[T])(unsafe.Pointer(ci)).expire() }

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
	r := &cl.rec // still zero: only the side that won the state fills it
	r.outcome, r.primary, r.call = Timeout, cl.primary, &cl.callInfo
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
	ci := &callInfo{primary: Legacy, span: noSpan, spanCtx: ctx, sctx: detachedContext{caller: ctx}}
	r := &ci.rec
	*r = record{primary: Legacy, call: ci}
	return r
}
