package dualrun

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type funcTask func()

func (f funcTask) run() { f() }

// TestWorkers pins the worker pool: no queue (a task goes to an idle
// worker or a new one), workers reused while busy, every worker gone after
// the idle period, and close ends them at once.
func TestWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var started int64
		var mu sync.Mutex
		w := newWorkers(func() int64 { mu.Lock(); defer mu.Unlock(); return started })
		submit := func(f func()) {
			mu.Lock()
			started++
			mu.Unlock()
			w.submit(funcTask(f))
		}
		// Three tasks that block at once need three workers.
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			submit(func() { defer wg.Done(); <-release })
		}
		synctest.Wait()
		if n := w.live.Load(); n != 3 {
			t.Fatalf("live workers = %d, want 3 for 3 blocked tasks", n)
		}
		close(release)
		wg.Wait()
		synctest.Wait()
		// Sequential tasks reuse the idle workers: no new goroutine.
		for range 10 {
			wg.Add(1)
			submit(func() { wg.Done() })
			wg.Wait()
			synctest.Wait()
		}
		if n := w.live.Load(); n != 3 {
			t.Fatalf("live workers = %d after sequential tasks, want the 3 reused", n)
		}
		// After an idle period with no new task, the reaper ends them.
		time.Sleep(2 * workerIdle)
		synctest.Wait()
		if n := w.live.Load(); n != 0 {
			t.Fatalf("live workers = %d after %v idle, want 0", n, 2*workerIdle)
		}
		// A new task after the reap starts a worker; close ends it at once.
		wg.Add(1)
		submit(func() { wg.Done() })
		wg.Wait()
		synctest.Wait()
		w.close()
		synctest.Wait()
		if n := w.live.Load(); n != 0 {
			t.Fatalf("live workers = %d after close, want 0", n)
		}
	})
}
