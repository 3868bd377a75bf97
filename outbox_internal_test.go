package dualrun

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// TestOutbox pins the report queue: bounded (a full queue drops and
// counts), drained in order by a goroutine that exits when the queue is
// empty, and wait returns once everything is published.
func TestOutbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCore("outbox.test", newConfig(nil))
		defer c.tel.releaseInstruments()
		var mu sync.Mutex
		var got []string
		gate := make(chan struct{})
		o := newOutbox(PublisherFunc(func(_ context.Context, r *Report) error {
			<-gate
			mu.Lock()
			got = append(got, r.ID)
			mu.Unlock()
			return nil
		}), 2)
		// One report in the publisher, two queued, the fourth dropped.
		for _, id := range []string{"a", "b", "c", "d"} {
			o.push(c, &Report{ID: id})
			synctest.Wait()
		}
		if d := c.reportsDropped.Load(); d != 1 {
			t.Fatalf("dropped %d, want 1 (queue of 2 behind a blocked publisher)", d)
		}
		close(gate)
		if err := o.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("published %q, want a b c in order", got)
		}
		if c.queued.Load() != 0 || c.reportsPublished.Load() != 3 {
			t.Fatalf("queued %d, published %d", c.queued.Load(), c.reportsPublished.Load())
		}
		synctest.Wait() // the drain goroutine has exited: synctest would report it otherwise
	})
}
