package dualrun

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerIdle is how long idle shadow workers are kept. Short enough that
// goroutine-leak checks (which retry for about 400ms) see no dualrun
// goroutine soon after the last call; long enough that a steady stream of
// compared calls reuses warm workers.
const workerIdle = 100 * time.Millisecond

// task is one compared call's shadow side, run by a worker.
type task interface{ run() }

// workers runs shadows on reused goroutines. A fresh goroutine per shadow
// pays goroutine creation and, above all, stack growth on its first deep
// calls (comparison, telemetry); a warm worker has its stack already.
//
// There is no queue: a shadow goes to a worker idle right now, or to a new
// goroutine that then stays as a worker. Workers therefore never outnumber
// the shadows admitted at once plus those finishing their bookkeeping. An
// idle worker waits on a plain channel receive, the cheapest wait there is;
// a reaper timer (not a goroutine) ends idle workers once a period passes
// with no new shadow, and stops itself when no worker is left, so nothing of
// dualrun runs at rest.
type workers struct {
	tasks chan task // unbuffered: a send succeeds only into an idle worker
	live  atomic.Int64
	count func() int64 // shadows started so far, to see activity

	mu     sync.Mutex
	reaper *time.Timer
	armed  bool
	seen   int64
	closed bool // tasks is closed
}

func newWorkers(count func() int64) *workers {
	return &workers{tasks: make(chan task), count: count}
}

// submit runs t on an idle worker, or on a new one. It never blocks.
func (w *workers) submit(t task) {
	select {
	case w.tasks <- t:
	default:
		w.live.Add(1)
		w.armReaper()
		go w.work(t)
	}
}

func (w *workers) work(t task) {
	defer w.live.Add(-1)
	for t != nil {
		t.run()
		t = <-w.tasks // nil: the reaper says stop
	}
}

func (w *workers) armReaper() {
	w.mu.Lock()
	if !w.armed {
		w.armed = true
		w.seen = w.count()
		if w.reaper == nil {
			w.reaper = time.AfterFunc(workerIdle, w.reap)
		} else {
			w.reaper.Reset(workerIdle)
		}
	}
	w.mu.Unlock()
}

// reap ends the idle workers if no shadow started in the last period, and
// keeps watching while any worker is left.
func (w *workers) reap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.armed = false
		return
	}
	if n := w.count(); n != w.seen {
		w.seen = n
		w.reaper.Reset(workerIdle)
		return
	}
	w.stopIdle()
	if w.live.Load() > 0 {
		w.reaper.Reset(workerIdle)
		return
	}
	w.armed = false
}

// close ends every worker once it is idle. The experiment must be shut
// down with no shadow running, so that nothing submits any more.
func (w *workers) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.tasks)
		if w.reaper != nil {
			w.reaper.Stop()
			w.armed = false
		}
	}
	w.mu.Unlock()
}

// stopIdle ends every worker that is idle now. w.mu is held.
func (w *workers) stopIdle() {
	for {
		select {
		case w.tasks <- nil:
		default:
			return
		}
	}
}
