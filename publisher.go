package dualrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun/internal/safe"
)

// Publisher receives Reports. Publish is called on a dualrun goroutine, one
// report at a time per publisher and queue, never on a caller's goroutine;
// it may block (the queue in front of it then fills and drops, counted in
// dualrun.reports.dropped), and a panic or runtime.Goexit in it is survived
// and counted as a dropped report.
//
// The context given to Publish is canceled when a Shutdown that waits for
// the publisher gives up (its own context ended) or has finished.
//
// A Publisher may also implement [NamedPublisher], [Flusher] and
// [Shutdowner].
type Publisher interface {
	// Publish delivers r. A non-nil error counts r as dropped and is passed
	// to the OpenTelemetry error handler.
	Publish(ctx context.Context, r *Report) error
}

// NamedPublisher is a [Publisher] that names itself in the dualrun.exporter
// attribute of dualrun.reports.dropped; an unnamed one is named by its Go
// type.
type NamedPublisher interface {
	Publisher
	// Name returns a short, stable name such as "slog" or "jsonl".
	Name() string
}

// Flusher is a [Publisher] with buffered output. [Experiment.Shutdown] calls
// Flush once the experiment's queued Reports are published, on its own
// publishers and on the process-wide ones; the package-level [Shutdown]
// calls it on the process-wide ones.
type Flusher interface {
	// Flush writes out what the publisher buffered.
	Flush(ctx context.Context) error
}

// Shutdowner is a [Publisher] that holds resources (a file, a connection).
// The package-level [Shutdown] calls it, after Flush, on the process-wide
// publishers ([AddPublisher]). Publishers given to one experiment with
// [WithPublisher] may be shared between experiments, so dualrun never shuts
// them down: that is their owner's job.
type Shutdowner interface {
	// Shutdown flushes and releases the publisher's resources.
	Shutdown(ctx context.Context) error
}

// PublisherFunc adapts a function to a [Publisher]. Name it with
// [NamePublisher].
type PublisherFunc func(ctx context.Context, r *Report) error

// Publish calls f(ctx, r).
func (f PublisherFunc) Publish(ctx context.Context, r *Report) error { return f(ctx, r) }

// NamePublisher returns p named name (see [NamedPublisher]). Flush and
// Shutdown are passed on to p when it has them.
func NamePublisher(name string, p Publisher) Publisher {
	return &namedPublisher{Publisher: p, name: name}
}

type namedPublisher struct {
	Publisher
	name string
}

func (p *namedPublisher) Name() string { return p.name }

func (p *namedPublisher) Flush(ctx context.Context) error {
	if f, ok := p.Publisher.(Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

func (p *namedPublisher) Shutdown(ctx context.Context) error {
	if s, ok := p.Publisher.(Shutdowner); ok {
		return s.Shutdown(ctx)
	}
	return nil
}

// publisherName is p's Name, or its Go type. The Name method is user code.
func publisherName(p Publisher) string {
	if n, ok := p.(NamedPublisher); ok {
		var s string
		if safe.Call("publisher Name", func() { s = n.Name() }, nil) == nil && s != "" {
			return safe.Cut(s, 64)
		}
	}
	return fmt.Sprintf("%T", p)
}

// global holds the process-wide publishers: one outbox each, shared by every
// experiment, consulted when a Report is dispatched (so experiments made
// before AddPublisher, and by Run, reach it too).
var global struct {
	mu       sync.Mutex
	outboxes atomic.Pointer[[]*outbox]
}

// AddPublisher attaches p to every experiment of the process, those made
// before and after, by New and by Run, until the returned func is called.
// Reports reach it through a bounded queue of [DefaultReportQueue] that
// drops (and counts) rather than block. It is the way to configure
// publishers from main for experiments that are package variables. Calling
// the returned func stops new Reports from reaching p; those already queued
// are still published. A nil p is ignored.
func AddPublisher(p Publisher) (remove func()) {
	if p == nil {
		return func() {}
	}
	o := newOutbox(p, DefaultReportQueue)
	global.mu.Lock()
	old := global.outboxes.Load()
	var next []*outbox
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, o)
	global.outboxes.Store(&next)
	global.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			global.mu.Lock()
			defer global.mu.Unlock()
			cur := global.outboxes.Load()
			if cur == nil {
				return
			}
			next := make([]*outbox, 0, len(*cur))
			for _, x := range *cur {
				if x != o {
					next = append(next, x)
				}
			}
			global.outboxes.Store(&next)
		})
	}
}

func globalOutboxes() []*outbox {
	if p := global.outboxes.Load(); p != nil {
		return *p
	}
	return nil
}

// dispatch queues rep on the experiment's publishers and the process-wide
// ones.
func (c *core) dispatch(rep *Report) {
	for _, o := range c.outboxes {
		o.push(c, rep)
	}
	for _, o := range globalOutboxes() {
		o.push(c, rep)
	}
}

// flushPublishers calls Flush on the experiment's publishers and the
// process-wide ones, behind recover.
func (c *core) flushPublishers(ctx context.Context) error {
	var errs []error
	for _, o := range append(append([]*outbox(nil), c.outboxes...), globalOutboxes()...) {
		if err := o.flush(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cancelPublishes cancels the context given to the experiment's own
// publishers.
func (c *core) cancelPublishes() {
	for _, o := range c.outboxes {
		o.cancel()
	}
}

// shutdownGlobalPublishers waits for the process-wide queues, then flushes
// and shuts down their publishers.
func shutdownGlobalPublishers(ctx context.Context) error {
	var errs []error
	for _, o := range globalOutboxes() {
		if err := o.wait(ctx); err != nil {
			o.cancel()
			return err
		}
		if err := o.flush(ctx); err != nil {
			errs = append(errs, err)
		}
		if s, ok := o.pub.(Shutdowner); ok {
			var err error
			if cerr := safe.Call("publisher "+o.name+" Shutdown", func() { err = s.Shutdown(ctx) }, nil); cerr != nil {
				err = cerr
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("publisher %s: %w", o.name, err))
			}
		}
		o.cancel()
	}
	return errors.Join(errs...)
}
