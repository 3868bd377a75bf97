package dualrun

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun/internal/safe"
	"go.opentelemetry.io/otel/trace"
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
}

// New makes the experiment name for values of type T. Keep it in a package
// variable: an experiment registers its instruments and its statistics once
// and lives until Shutdown.
//
// New panics on programmer errors: an empty name, or a typed option
// (WithComparer, WithNormalizer, WithIgnore, WithClone) for a type other
// than T.
func New[T any](name string, opts ...Option) *Experiment[T] {
	if name == "" {
		panic("dualrun: New: the experiment name is empty; give every call site a stable name such as \"checkout.price\"")
	}
	cfg := newConfig(opts)
	cfg.name = name
	e := &Experiment[T]{cmp: newComparer[T](name, cfg)}
	if cfg.clone != nil {
		e.clone = typed[func(T) T](name, "WithClone", cfg.clone)
	}
	e.c = newCore(name, cfg)
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

// runExperiments holds the experiments made by Run, by name.
var runExperiments sync.Map

// Run runs one call through the experiment named by WithName, making it on
// first use with the options of that first call (later calls' options are
// ignored). It returns the primary side's result as soon as the primary
// returns; see [Experiment.Run] for the per-call contract.
//
// Run panics if WithName is missing, or if the same name was used with
// another type T. On hot paths prefer a package-level [New] experiment: Run
// looks the name up on every call.
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
	v, ok := runExperiments.Load(name)
	if !ok {
		v, _ = runExperiments.LoadOrStore(name, newOnce[T](name, opts))
	}
	e, ok := v.(*lazyExperiment[T])
	if !ok {
		panic(fmt.Sprintf("dualrun.Run: experiment %q was first used with type %s, now with %v",
			name, v.(interface{ typeName() string }).typeName(), reflect.TypeFor[T]()))
	}
	return e.get().Run(ctx, legacy, candidate)
}

// lazyExperiment makes the experiment once, outside the registry's lock.
type lazyExperiment[T any] struct {
	once sync.Once
	name string
	opts []Option
	exp  *Experiment[T]
}

func newOnce[T any](name string, opts []Option) *lazyExperiment[T] {
	return &lazyExperiment[T]{name: name, opts: append([]Option(nil), opts...)}
}

func (l *lazyExperiment[T]) get() *Experiment[T] {
	l.once.Do(func() {
		l.exp = New[T](l.name, l.opts...)
		l.opts = nil
	})
	return l.exp
}

func (l *lazyExperiment[T]) typeName() string { return reflect.TypeFor[T]().String() }

func (l *lazyExperiment[T]) Shutdown(ctx context.Context) error {
	return l.get().Shutdown(ctx)
}

// Name returns the experiment's name.
func (e *Experiment[T]) Name() string { return e.c.name }

// Stats returns a snapshot of the experiment's in-process statistics.
func (e *Experiment[T]) Stats() Stats { return e.c.Stats() }

// Shutdown stops new shadows (calls go on, primary only), then waits until
// every shadow slot is released, every compared call is recorded and every
// queued Report is published. It returns ctx.Err() if shadows or reports
// are still pending when ctx ends. It is idempotent and safe to call
// concurrently with Run.
func (e *Experiment[T]) Shutdown(ctx context.Context) error { return e.c.Shutdown(ctx) }

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
func (e *Experiment[T]) Run(ctx context.Context, legacy, candidate Func[T]) (T, error) {
	c := e.c
	d := c.decide(ctx)
	primary := legacy
	if d.Primary == Candidate {
		primary = candidate
	}
	if !d.Shadow || shadowsOff.Load() || c.closed.Load() {
		c.calls.Inc(int(d.Primary) << 1)
		return primary(ctx)
	}
	shadow := candidate
	if d.Primary == Candidate {
		shadow = legacy
	}
	return e.runCompared(ctx, d.Primary, primary, shadow)
}

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
	sctx       shadowContext
	rec        record

	// In the experiment's deadline queue (guarded by its lock).
	self       expirer
	prev, next *callInfo
	queued     bool

	// primary is done when the primary has finished, however; pdone says
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
	exp  *Experiment[T]
	fn   Func[T] // the shadow function
	pv   T
	perr error
}

// run is the shadow side, on a worker goroutine.
func (cl *call[T]) run() { cl.exp.shadow(cl, cl.fn) }

func (e *Experiment[T]) runCompared(ctx context.Context, side Side, primary, shadow Func[T]) (v T, err error) {
	c := e.c
	ok, closed := c.acquire()
	if !ok {
		c.calls.Inc(int(side) << 1)
		if !closed {
			c.shed(side)
		}
		return primary(ctx)
	}
	c.calls.Inc(int(side)<<1 | 1)
	cl := &call[T]{callInfo: callInfo{caller: ctx, primary: side}, exp: e, fn: shadow}
	cl.primaryWG.Add(1)
	c.workers.submit(cl)
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
	cl.pdur = monoNow() - start
	cl.preturned = true
	normal = true
	cl.pv, cl.perr = v, err
	if err != nil && ctx.Err() != nil {
		cl.aborted = true // the caller canceled: nothing fair to compare
	}
	if e.clone != nil {
		v = e.safeClone(cl, v)
	}
	cl.primaryFinished()
	return v, err
}

func (e *Experiment[T]) safeClone(cl *call[T], v T) (out T) {
	defer func() {
		if r := recover(); r != nil {
			cl.cloneErr = &PanicError{Value: fmt.Errorf("WithClone func panicked: %v", r), Stack: debug.Stack()}
			out = v
		}
	}()
	return e.clone(v)
}

// shadow runs on a worker goroutine: it starts the shadow span, enters the
// experiment's deadline queue, runs the shadow function behind recover, then
// records the comparison and releases the slot (afterShadow).
func (e *Experiment[T]) shadow(cl *call[T], fn Func[T]) {
	c := e.c
	side := cl.primary.Other()
	pprof.SetGoroutineLabels(c.labels[side])
	defer pprof.SetGoroutineLabels(context.Background())

	sc := &cl.sctx
	sc.init(cl.caller)
	cl.callerSpan = trace.SpanContextFromContext(cl.caller)
	cl.spanCtx, cl.span = c.tel.startSpan(sc, cl.callerSpan, cl.primary)

	// The shadow's budget starts now: the earlier of the caller's deadline
	// and now + the shadow timeout.
	cl.start = monoNow()
	deadline := cl.start + c.cfg.shadowTimeout
	if d, ok := cl.caller.Deadline(); ok {
		deadline = min(deadline, monoOf(d))
	}
	cl.deadline = deadline
	sc.deadline = deadline
	cl.self = cl
	c.deadlines.add(&cl.callInfo)

	ctx := cl.spanCtx
	var hookErr error
	if c.cfg.shadowContext != nil {
		ctx, hookErr = safeHook(ctx, c.cfg.shadowContext)
	}

	var (
		v      T
		err    error
		pe     *PanicError
		normal bool
	)
	defer func() {
		if !normal {
			r := recover()
			if r == nil {
				r = safe.ErrGoexit // runtime.Goexit: the goroutine ends after this
			}
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
		e.afterShadow(cl, sc, v, err, pe, hookErr)
	}()
	if hookErr == nil {
		v, err = fn(ctx)
	}
	normal = true
}

func safeHook(ctx context.Context, hook func(context.Context) context.Context) (out context.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: fmt.Errorf("WithShadowContext hook panicked: %v", r), Stack: debug.Stack()}
		}
	}()
	out = hook(ctx)
	if out == nil {
		return nil, fmt.Errorf("dualrun: WithShadowContext hook returned a nil context")
	}
	return out, nil
}

// afterShadow runs when the shadow function has returned (or panicked): it
// records the comparison, then releases the slot. Holding the slot through
// the bookkeeping keeps the number of shadow goroutines within the limit
// even when the CPUs are saturated.
func (e *Experiment[T]) afterShadow(cl *call[T], sc *shadowContext, v T, err error, pe *PanicError, hookErr error) {
	c := e.c
	end := monoNow()
	d := end - cl.start
	sc.release()
	defer c.releaseSlot()
	if !cl.state.CompareAndSwap(stateRunning, stateReturned) {
		return // recorded as timeout at the deadline; the late result is discarded
	}
	c.deadlines.remove(&cl.callInfo)
	if end >= cl.deadline {
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
		e.cmp.compare(r, lv, lerr, cv, cerr)
		if r.outcome == Error && !c.cmpAdvised.Swap(true) {
			handle(r.cbErr)
		}
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
