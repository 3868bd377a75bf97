package dualruntest

import (
	"context"
	"sync"

	"github.com/dualrun/dualrun"
)

// Recorder is a [dualrun.Publisher] that keeps every Report it is given,
// for tests that check what an experiment reported:
//
//	rec := dualruntest.NewRecorder()
//	exp := dualrun.New[Money]("checkout.price", dualrun.WithPublisher(rec))
//	// ... run calls ...
//	reports, err := rec.Wait(ctx, 1) // or exp.Shutdown(ctx), then rec.Reports()
//
// It is safe for concurrent use; its zero value is ready to use. Reports
// are shared with the experiment's other publishers: treat them as
// read-only.
type Recorder struct {
	mu      sync.Mutex
	reports []*dualrun.Report
	// changed is closed, and replaced, whenever reports changes: Wait
	// blocks on it.
	changed chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Name returns "dualruntest.Recorder", the dualrun.exporter attribute of
// the reports it drops (it drops none: Publish never fails).
func (r *Recorder) Name() string { return "dualruntest.Recorder" }

// Publish records rep. It never blocks and never fails.
func (r *Recorder) Publish(_ context.Context, rep *dualrun.Report) error {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.notifyLocked()
	r.mu.Unlock()
	return nil
}

// notifyLocked wakes the waiters. r.mu is held.
func (r *Recorder) notifyLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Reports returns a copy of the reports recorded so far, in the order
// they were published.
func (r *Recorder) Reports() []*dualrun.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*dualrun.Report(nil), r.reports...)
}

// Len returns how many reports were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reports)
}

// Reset forgets the recorded reports.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reports = nil
	r.notifyLocked()
	r.mu.Unlock()
}

// Wait blocks until at least n reports are recorded, or ctx ends, and
// returns a copy of the reports recorded by then. When ctx ends first it
// returns them with ctx.Err(). Reports are published asynchronously, so a
// test that expects one waits for it here (or shuts the experiment down,
// which publishes every queued report, and reads Reports).
func (r *Recorder) Wait(ctx context.Context, n int) ([]*dualrun.Report, error) {
	for {
		r.mu.Lock()
		if len(r.reports) >= n {
			out := append([]*dualrun.Report(nil), r.reports...)
			r.mu.Unlock()
			return out, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Reports(), ctx.Err()
		}
	}
}
