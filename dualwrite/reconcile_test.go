package dualwrite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/rollout"
)

// TestReconcileFindsAndRepairs: records made to differ behind the writer's
// back are found (missing, extra, changed with its field path), left alone
// by the dry run, and repaired on request.
func TestReconcileFindsAndRepairs(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	p := sqlitePair(t)
	w := newWriter(t, "recon", p.old, p.neu)
	for i := range 10 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Behind the writer's back, in the new (secondary) store.
	mustExec(t, p.newDB, `DELETE FROM customers_v2 WHERE id = ?`, key(2))
	mustExec(t, p.newDB, `UPDATE customers_v2 SET email = 'changed@example.com' WHERE id = ?`, key(5))
	mustExec(t, p.newDB, `INSERT INTO customers_v2 VALUES ('zz-extra', 'X', 'Y', 'x@y', 1)`)

	dry, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithBatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, reason string
		kind         dualwrite.Divergence
		key          string
		paths        string
	}{
		{name: "missing", reason: "a row deleted from the secondary is missing", kind: dualwrite.Missing, key: key(2)},
		{name: "changed", reason: "a changed column is reported with its field path", kind: dualwrite.Changed, key: key(5), paths: "[.Email]"},
		{name: "extra", reason: "a row only in the secondary is extra", kind: dualwrite.Extra, key: "zz-extra"},
	}
	if dry.Scanned != 11 || dry.Divergent() != 3 || dry.Counts[dualwrite.InSync] != 8 || dry.Repair || len(dry.Records) != 3 {
		t.Fatalf("dry run: %s", dry.Summary())
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dry.Records[i]
			if d.Kind != tt.kind || d.Key != tt.key || fmt.Sprint(d.Paths) != fmt.Sprint(tt.paths) && tt.paths != "" || d.Repaired {
				t.Fatalf("%s: got %+v", tt.reason, d)
			}
			if d.Primary != dualrun.Legacy {
				t.Fatalf("primary %v", d.Primary)
			}
		})
	}
	if !strings.Contains(dry.Records[1].Diff, "changed@example.com") {
		t.Fatalf("diff of the changed record: %q", dry.Records[1].Diff)
	}
	// The dry run changed nothing.
	if _, err := p.neu.Get(ctx, key(2)); !errors.Is(err, dualwrite.ErrNotFound) {
		t.Fatalf("the dry run repaired: %v", err)
	}
	// The same divergence went through dualrun's engine: outcomes,
	// telemetry and Reports of the reconcile experiment.
	st := w.Stats().Reconciles
	if st.Compared != 11 {
		t.Fatalf("reconcile experiment compared %d", st.Compared)
	}

	fixed, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithRepair())
	if err != nil || fixed.Repaired != 3 || fixed.RepairFailed != 0 {
		t.Fatalf("repair: %s, %v", fixed.Summary(), err)
	}
	reconcileClean(t, ctx, w)
	if w.Stats().LastReconciliation == nil {
		t.Fatal("no LastReconciliation in Stats")
	}
}

// TestReconcileBackfill: rows that predate the writer (no versions) are
// missing from the new store; a repairing reconciliation copies them.
func TestReconcileBackfill(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	p := sqlitePair(t)
	for i := range 25 {
		c := customer(i)
		mustExec(t, p.oldDB, `INSERT INTO customers VALUES (?, ?, ?, ?)`, key(i), c.First+" "+c.Last, c.Email, c.Age)
	}
	w := newWriter(t, "backfill", p.old, p.neu)
	// A write during the backfill wins over the copy.
	if _, err := w.Put(ctx, key(7), customer(700)); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithRepair())
	if err != nil || rep.Counts[dualwrite.Missing] != 24 || rep.Repaired != 24 {
		t.Fatalf("backfill: %s, %v", rep.Summary(), err)
	}
	reconcileClean(t, ctx, w)
	if r, _ := p.neu.Get(ctx, key(7)); r.Value != customer(700) {
		t.Fatalf("key 7 = %+v", r.Value)
	}
}

// TestReconcileOptions: normalizers apply, the primary is the policy's per
// key, a repair never goes over a newer write, and the key range bounds
// the scan.
func TestReconcileOptions(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	dir := t.TempDir()
	j := openJournal(t, dir)
	defer j.Close()
	old := dualwrite.NewMemStore[Customer]()
	neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
	w := newWriter(t, "options", old, neu, dualwrite.WithJournal(j),
		dualwrite.WithRollout(rollout.Static{CandidatePrimary: rollout.All}),
		dualwrite.WithNormalizer(func(c Customer) Customer { c.Age = 0; return c }))
	for i := range 6 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	apply := func(s dualwrite.Store[Customer], k string, c Customer, v uint64) {
		t.Helper()
		if _, err := s.Apply(ctx, dualwrite.Write[Customer]{Key: k, Value: c, Version: v, Mode: dualwrite.ModeRepair}); err != nil {
			t.Fatal(err)
		}
	}
	c1 := customer(1)
	c1.Age = 99 // normalized away: in sync
	apply(old, key(1), c1, neu.Store.(*dualwrite.MemStore[Customer]).Version(key(1)))
	c2 := customer(2)
	c2.Email = "newer@example.com" // the secondary (old) holds a newer write: cannot repair
	apply(old, key(2), c2, 1<<62)

	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithRepair(), dualwrite.WithKeyRange(key(0), key(4)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 4 || rep.LastKey != key(4) {
		t.Fatalf("range (key0, key4]: scanned %d, last %q", rep.Scanned, rep.LastKey)
	}
	if rep.Counts[dualwrite.Changed] != 1 || rep.RepairFailed != 1 || len(rep.Records) != 1 {
		t.Fatalf("%s", rep.Summary())
	}
	d := rep.Records[0]
	if d.Key != key(2) || d.Primary != dualrun.Candidate || d.Repaired || d.RepairErr == nil ||
		!strings.Contains(d.RepairErr.Error(), "newer write") {
		t.Fatalf("record %+v (%v)", d, d.RepairErr)
	}
}

// TestReconcileInFlight: a key whose write is still on its way to the
// secondary is counted in flight, not divergent.
func TestReconcileInFlight(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	j := openJournal(t, t.TempDir())
	defer j.Close()
	old := dualwrite.NewMemStore[Customer]()
	neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
	neu.setFail(func(w dualwrite.Write[Customer]) error {
		if w.Key == key(1) {
			return errDown
		}
		return nil
	})
	w := newWriter(t, "inflight", old, neu, dualwrite.WithJournal(j), dualwrite.WithBackoff(time.Hour, time.Hour))
	for i := range 3 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the secondary write of key 1 failed (it is then pending
	// with a retry in an hour) and the others are applied.
	for {
		if n, err := w.Pending(ctx); err != nil || (n == 1 && len(neu.callsFor(key(1))) > 0 && w.Stats().Retries == 1) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0))
	if err != nil || rep.Counts[dualwrite.InFlight] != 1 || rep.Divergent() != 0 || rep.Counts[dualwrite.InSync] != 2 {
		t.Fatalf("%s, %v", rep.Summary(), err)
	}
}

// TestReconcileRate: the scan keeps to its rate (fake time), and stops
// when its context ends.
func TestReconcileRate(t *testing.T) {
	// inBubble runs fn with a writer over two equal stores of 101 records.
	inBubble := func(t *testing.T, fn func(t *testing.T, ctx context.Context, w *dualwrite.Writer[Customer])) {
		dir := t.TempDir()
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			j := openJournal(t, dir)
			defer j.Close()
			old, neu := dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer]()
			w, err := dualwrite.New("rate", old, neu, dualwrite.WithJournal(j))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(ctx)
			for i := range 101 {
				for _, s := range []*dualwrite.MemStore[Customer]{old, neu} {
					if _, err := s.Apply(ctx, dualwrite.Write[Customer]{Key: key(i), Value: customer(i), Version: 1}); err != nil {
						t.Fatal(err)
					}
				}
			}
			fn(t, ctx, w)
		})
	}
	tests := []struct {
		name, reason string
		rate         float64
		want         time.Duration
	}{
		{name: "bounded", reason: "the n-th record is done no sooner than n/rate: 101 at 20/s take 5.05 s", rate: 20, want: 5050 * time.Millisecond},
		{name: "unbounded", reason: "rate 0 does not wait", rate: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T, ctx context.Context, w *dualwrite.Writer[Customer]) {
				start := time.Now()
				rep, err := w.Reconcile(ctx, dualwrite.WithRate(tt.rate), dualwrite.WithBatchSize(7))
				if err != nil || rep.Scanned != 101 || rep.Divergent() != 0 {
					t.Fatalf("%s %v", rep.Summary(), err)
				}
				if got := time.Since(start); got != tt.want {
					t.Fatalf("%s: took %v", tt.reason, got)
				}
			})
		})
	}
	t.Run("canceled", func(t *testing.T) {
		inBubble(t, func(t *testing.T, ctx context.Context, w *dualwrite.Writer[Customer]) {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			rep, err := w.Reconcile(cctx, dualwrite.WithRate(10))
			if !errors.Is(err, context.DeadlineExceeded) || rep.Scanned > 11 {
				t.Fatalf("a canceled reconciliation: %v after %d records", err, rep.Scanned)
			}
		})
	})
}
