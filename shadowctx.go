package dualrun

import (
	"context"
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

// shadowContext is the shadow's context: the caller's values, none of its
// cancellation, and a deadline of its own.
//
// A deadline context from the standard library costs a timer and several
// allocations per call, and many shadow functions never look at Done. So the
// real context.WithDeadline is made lazily, on the first Done (or Err past the
// deadline). Once made, Value delegates to it so that contexts derived from
// the shadow context attach to its cancellation directly instead of starting
// a propagation goroutine.
type shadowContext struct {
	parent   context.Context // context.WithoutCancel(caller)
	deadline time.Time
	inner    atomic.Pointer[innerContext]
}

type innerContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newShadowContext(caller context.Context, deadline time.Time) *shadowContext {
	return &shadowContext{parent: context.WithoutCancel(caller), deadline: deadline}
}

func (c *shadowContext) materialize() *innerContext {
	if in := c.inner.Load(); in != nil {
		return in
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	in := &innerContext{ctx: ctx, cancel: cancel}
	if c.inner.CompareAndSwap(nil, in) {
		return in
	}
	cancel()
	return c.inner.Load()
}

// release cancels the lazily made deadline context, if any, freeing its
// timer. It is called when the shadow function returns.
func (c *shadowContext) release() {
	if in := c.inner.Load(); in != nil {
		in.cancel()
	}
}

func (c *shadowContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *shadowContext) Done() <-chan struct{} { return c.materialize().ctx.Done() }

func (c *shadowContext) Err() error {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Err()
	}
	if time.Now().Before(c.deadline) {
		return nil
	}
	return c.materialize().ctx.Err()
}

func (c *shadowContext) Value(key any) any {
	if key == (shadowKey{}) {
		return true
	}
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	return c.parent.Value(key)
}

func (c *shadowContext) String() string { return "dualrun.shadowContext" }
