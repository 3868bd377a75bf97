package dualrun

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// outbox is one publisher's bounded queue for one experiment. Its drain
// goroutine starts when a report arrives and exits when the queue is empty,
// so nothing runs at rest.
type outbox struct {
	pub     Publisher
	name    string
	exp     *core
	dropOpt []metric.AddOption
	labels  context.Context

	mu      sync.Mutex
	buf     []*Report // ring
	head, n int
	running bool
}

func newOutbox(e *core, p Publisher, capacity int) *outbox {
	name := publisherName(p)
	return &outbox{
		pub:  p,
		name: name,
		exp:  e,
		buf:  make([]*Report, capacity),
		dropOpt: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			e.tel.expAttr, AttrExporter.String(name)))},
		labels: pprof.WithLabels(context.Background(), pprof.Labels(
			"dualrun.experiment", e.name, "dualrun.exporter", name)),
	}
}

// push queues r, or drops and counts it when the queue is full. It never
// blocks.
func (o *outbox) push(r *Report) {
	o.mu.Lock()
	if o.n == len(o.buf) {
		o.mu.Unlock()
		o.drop()
		return
	}
	o.buf[(o.head+o.n)%len(o.buf)] = r
	o.n++
	o.exp.queued.Add(1)
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		go o.drain()
	}
}

func (o *outbox) drop() {
	o.exp.reportsDropped.Add(1)
	o.exp.tel.dropped.Add(context.Background(), 1, o.dropOpt...)
}

func (o *outbox) drain() {
	pprof.SetGoroutineLabels(o.labels)
	for {
		o.mu.Lock()
		if o.n == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		r := o.buf[o.head]
		o.buf[o.head] = nil
		o.head = (o.head + 1) % len(o.buf)
		o.n--
		o.mu.Unlock()

		if err := safePublish(context.Background(), o.pub, r); err != nil {
			o.drop()
			handle(fmt.Errorf("dualrun: %s: publisher %s: %w", o.exp.name, o.name, err))
		} else {
			o.exp.reportsPublished.Add(1)
		}
		o.exp.queued.Add(-1)
		o.exp.notifyIdle()
	}
}
