package dualrun

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

type shadowKey struct{}

// IsShadow reports whether ctx is the context of a shadow call: code shared
// by both implementations can use it to skip side effects (sending e-mail,
// charging a card, writing to the system of record) when it runs as shadow.
func IsShadow(ctx context.Context) bool {
	v, _ := ctx.Value(shadowKey{}).(bool)
	return v
}

// AsShadow returns a copy of ctx for which IsShadow reports true, keeping
// ctx's values, deadline and cancellation. dualrun makes shadow contexts
// itself; this is for tests and tools that run a candidate outside an
// experiment (dualruntest does) and want code guarded by IsShadow to take
// its shadow path.
func AsShadow(ctx context.Context) context.Context {
	return context.WithValue(ctx, shadowKey{}, true)
}

// ShadowContext is the former name of [AsShadow].
//
// Deprecated: use AsShadow; the name was easy to confuse with
// [WithShadowContext].
func ShadowContext(ctx context.Context) context.Context { return AsShadow(ctx) }

type primaryKey struct{}

// PrimaryResult returns, in the context of a shadow of an experiment with
// [WithSequentialShadow], the primary's result: the shadow runs after the
// primary returned, and may need its ids or idempotency keys (a dual write
// applies to the second store what the first one assigned). It reports
// false in any other context, or when T is not the experiment's type.
func PrimaryResult[T any](ctx context.Context) (Result[T], bool) {
	if ctx == nil {
		return Result[T]{}, false
	}
	r, ok := ctx.Value(primaryKey{}).(*Result[T])
	if !ok || r == nil {
		return Result[T]{}, false
	}
	return *r, true
}

// errNilContext is the failure of a WithShadowContext hook that returned
// nil.
var errNilContext = errors.New("returned a nil context")

// detachedContext is the shadow's context: the caller's values, none of its
// cancellation, and a deadline of its own.
//
// A deadline context from the standard library costs a timer and several
// allocations per call, and many shadow functions never look at Done. So the
// real context.WithDeadline is made lazily, on the first Done (or Err past the
// deadline). Once made, Value delegates to it so that contexts derived from
// the shadow context attach to its cancellation directly instead of starting
// a propagation goroutine.
type detachedContext struct {
	caller   context.Context
	deadline mono
	inner    atomic.Pointer[innerContext]
	primary  any // *Result[T] of a sequential shadow
}

// cancelCtxKey is the key under which the context package finds a parent's
// cancellation (context.Cause and WithCancel ask Value for it). The shadow
// context answers nil for it, as context.WithoutCancel does, so that the
// caller's cancellation stays invisible; answering it ourselves saves the
// WithoutCancel allocation per call. The key is unexported, so it is read
// once by asking context.Cause about a probing context; if that ever stops
// working, the shadow context falls back to a real WithoutCancel.
var cancelCtxKey = probeCancelKey()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(k any) any {
	if p.key == nil {
		p.key = k
	}
	return p.Context.Value(k)
}

func probeCancelKey() any {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Cause asks Value only of a canceled context
	p := &keyProbe{Context: ctx}
	_ = context.Cause(p)
	// Check the probe: the key must find ctx's cancellation.
	if p.key == nil || ctx.Value(p.key) == nil {
		return nil
	}
	return p.key
}

type innerContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// init sets up a shadow context in place (it lives inside its call, to
// save an allocation). The deadline is set before the shadow runs.
func (c *detachedContext) init(caller context.Context) {
	if cancelCtxKey == nil {
		caller = context.WithoutCancel(caller)
	}
	c.caller = caller
}

func (c *detachedContext) materialize() *innerContext {
	if in := c.inner.Load(); in != nil {
		return in
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(c.caller), timeOf(c.deadline))
	in := &innerContext{ctx: ctx, cancel: cancel}
	if c.inner.CompareAndSwap(nil, in) {
		return in
	}
	cancel()
	return c.inner.Load()
}

// release cancels the lazily made deadline context, if any, freeing its
// timer. It is called when the shadow function returns.
func (c *detachedContext) release() {
	if in := c.inner.Load(); in != nil {
		in.cancel()
	}
}

func (c *detachedContext) Deadline() (time.Time, bool) { return timeOf(c.deadline), true }

func (c *detachedContext) Done() <-chan struct{} { return c.materialize().ctx.Done() }

func (c *detachedContext) Err() error {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Err()
	}
	if monoNow() < c.deadline {
		return nil
	}
	return c.materialize().ctx.Err()
}

func (c *detachedContext) Value(key any) any {
	switch key {
	case shadowKey{}:
		return true
	case primaryKey{}:
		if c.primary != nil {
			return c.primary
		}
	}
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	if key == cancelCtxKey {
		return nil
	}
	return c.caller.Value(key)
}

func (c *detachedContext) String() string { return "dualrun.detachedContext" }
