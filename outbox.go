package dualrun

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun/internal/safe"
)

// outbox is one publisher's bounded queue: an experiment's own (WithPublisher)
// or a process-wide one shared by every experiment (AddPublisher). Its drain
// goroutine starts when a report arrives and exits when the queue is empty,
// so nothing runs at rest. Each queued report is counted in its
// experiment's queued counter until published or dropped, which is what
// Shutdown waits for.
type outbox struct {
	pub    Publisher
	name   string
	labels context.Context

	mu      sync.Mutex
	buf     []outItem // ring
	head, n int
	running bool
	idle    *sync.Cond // signalled when the queue is empty and not running
	ctx     context.Context
	stop    context.CancelFunc
}

type outItem struct {
	c   *core
	rep *Report
}

func newOutbox(p Publisher, capacity int) *outbox {
	name := publisherName(p)
	o := &outbox{
		pub:  p,
		name: name,
		buf:  make([]outItem, capacity),
		labels: pprof.WithLabels(context.Background(), pprof.Labels(
			"dualrun.exporter", name)),
	}
	o.idle = sync.NewCond(&o.mu)
	o.ctx, o.stop = context.WithCancel(context.Background())
	return o
}

// push queues rep of experiment c, or drops and counts it when the queue is
// full. It never blocks.
func (o *outbox) push(c *core, rep *Report) {
	o.mu.Lock()
	if o.n == len(o.buf) {
		o.mu.Unlock()
		o.drop(c)
		return
	}
	o.buf[(o.head+o.n)%len(o.buf)] = outItem{c, rep}
	o.n++
	c.queued.Add(1)
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		go o.drain()
	}
}

func (o *outbox) drop(c *core) {
	c.reportsDropped.Add(1)
	c.tel.dropped.Add(context.Background(), 1, metric.WithAttributes(c.tel.expAttr, AttrExporter.String(o.name)))
}

// drain publishes until the queue is empty. A publisher that calls
// runtime.Goexit ends this goroutine: its hook counts the report and hands
// the rest of the queue to a new drain goroutine.
func (o *outbox) drain() {
	pprof.SetGoroutineLabels(o.labels)
	for {
		o.mu.Lock()
		if o.n == 0 {
			o.running = false
			o.idle.Broadcast()
			o.mu.Unlock()
			return
		}
		it := o.buf[o.head]
		o.buf[o.head] = outItem{}
		o.head = (o.head + 1) % len(o.buf)
		o.n--
		ctx := o.ctx
		o.mu.Unlock()

		var err error
		cerr := safe.Call("publisher "+o.name, func() { err = o.pub.Publish(ctx, it.rep) }, func(err error) {
			o.done(it, err)
			go o.drain()
		})
		if cerr != nil {
			err = cerr
		}
		o.done(it, err)
	}
}

// done accounts for one report taken off the queue.
func (o *outbox) done(it outItem, err error) {
	c := it.c
	if err != nil {
		o.drop(c)
		handle(fmt.Errorf("dualrun: %s: publisher %s: %w", c.name, o.name, err))
	} else {
		c.reportsPublished.Add(1)
	}
	c.queued.Add(-1)
	c.notifyIdle()
}

// wait blocks until the queue is empty and nothing is being published, or
// ctx ends.
func (o *outbox) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		o.mu.Lock()
		o.idle.Broadcast()
		o.mu.Unlock()
	})
	defer stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.n > 0 || o.running {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o.idle.Wait()
	}
	return nil
}

// flush calls the publisher's Flush, if it has one, behind recover.
func (o *outbox) flush(ctx context.Context) error {
	f, ok := o.pub.(Flusher)
	if !ok {
		return nil
	}
	var err error
	if cerr := safe.Call("publisher "+o.name+" Flush", func() { err = f.Flush(ctx) }, nil); cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("publisher %s: %w", o.name, err)
	}
	return nil
}

// cancel cancels the context given to Publish calls under way, and gives
// later ones a fresh context.
func (o *outbox) cancel() {
	o.mu.Lock()
	o.stop()
	o.ctx, o.stop = context.WithCancel(context.Background())
	o.mu.Unlock()
}
