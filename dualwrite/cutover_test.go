package dualwrite_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
	"github.com/dualrun/dualrun/rollout"
)

// TestCutoverAndRollback flips the primary from the old store to the new
// one under write load, then back: no acknowledged write is lost, and no
// store applies a key's writes out of order.
func TestCutoverAndRollback(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	p := sqlitePGPair(t, pgtest.Shared(t))
	versionLog(t, p.oldDB, dualwrite.SQLite)
	versionLog(t, p.newDB, dualwrite.Postgres)
	flag := rollout.NewLive(rollout.Static{}) // old store primary
	w := newWriter(t, "cutover", p.old, p.neu, dualwrite.WithRollout(flag))

	const (
		writers = 6
		perG    = 60
		keys    = 12
	)
	var (
		mu      sync.Mutex
		acks    []acked
		done    atomic.Int64
		primary [2]atomic.Int64
		wg      sync.WaitGroup
	)
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				n := g*1000 + i
				k := key(n % keys)
				var (
					a   dualwrite.Ack
					err error
				)
				if i%9 == 8 {
					a, err = w.Delete(ctx, k)
				} else {
					a, err = w.Put(ctx, k, customer(n))
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", g, err)
					return
				}
				primary[a.Primary].Add(1)
				mu.Lock()
				acks = append(acks, acked{key: k, value: customer(n), version: a.Version, deleted: a.Deleted})
				mu.Unlock()
				switch done.Add(1) {
				case writers * perG / 3:
					flag.Set(rollout.Static{CandidatePrimary: rollout.All}) // cut-over
				case 2 * writers * perG / 3:
					flag.Set(rollout.Static{}) // rollback
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if primary[dualrun.Legacy].Load() == 0 || primary[dualrun.Candidate].Load() == 0 {
		t.Fatalf("writes by primary: %d legacy, %d candidate: the flip did not happen under load",
			primary[dualrun.Legacy].Load(), primary[dualrun.Candidate].Load())
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	oldN := checkOrder(t, ctx, p.oldDB, "old")
	newN := checkOrder(t, ctx, p.newDB, "new")
	t.Logf("%d writes (%d with the new store primary); applied: old %d, new %d (the rest superseded)",
		len(acks), primary[dualrun.Candidate].Load(), oldN, newN)
	reconcileClean(t, ctx, w)
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
	// Back on the old store: every new write goes there first.
	a, err := w.Put(ctx, key(0), customer(1))
	if err != nil || a.Primary != dualrun.Legacy {
		t.Fatalf("after the rollback: %+v, %v", a, err)
	}
}
