package dualwrite_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// versionLog records, with a trigger, every version a database's
// dualwrite_versions takes: the order in which writes were applied.
func versionLog(t testing.TB, db *sql.DB, d dualwrite.Dialect) {
	t.Helper()
	if d == dualwrite.Postgres {
		mustExec(t, db, `CREATE TABLE version_log (id BIGSERIAL PRIMARY KEY, k TEXT NOT NULL, version BIGINT NOT NULL)`)
		mustExec(t, db, `CREATE FUNCTION log_version() RETURNS trigger AS $$
			BEGIN INSERT INTO version_log (k, version) VALUES (NEW.k, NEW.version); RETURN NEW; END $$ LANGUAGE plpgsql`)
		mustExec(t, db, `CREATE TRIGGER log_version AFTER INSERT OR UPDATE ON dualwrite_versions
			FOR EACH ROW EXECUTE FUNCTION log_version()`)
		return
	}
	mustExec(t, db, `CREATE TABLE version_log (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL, version INTEGER NOT NULL)`)
	for _, ev := range []string{"INSERT", "UPDATE"} {
		mustExec(t, db, `CREATE TRIGGER log_version_`+ev+` AFTER `+ev+` ON dualwrite_versions
			BEGIN INSERT INTO version_log (k, version) VALUES (NEW.k, NEW.version); END`)
	}
}

// checkOrder fails t unless every key's applied versions only grew: no
// write was applied out of order per key. It returns how many writes were
// applied.
func checkOrder(t testing.TB, ctx context.Context, db *sql.DB, store string) int {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT k, version FROM version_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	last := map[string]int64{}
	n := 0
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if v <= last[k] {
			t.Errorf("%s store: key %s: version %d applied after %d: out of order", store, k, v, last[k])
		}
		last[k] = v
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// metricSum returns the sum of the data points of the named Int64 sum
// metric whose attributes include every pair of match.
func metricSum(t testing.TB, r *sdkmetric.ManualReader, name string, match ...string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is a %T", name, m.Data)
			}
		points:
			for _, dp := range sum.DataPoints {
				for i := 0; i+1 < len(match); i += 2 {
					v, ok := dp.Attributes.Value(attrKey(match[i]))
					if !ok || v.AsString() != match[i+1] {
						continue points
					}
				}
				found = true
				total += dp.Value
			}
		}
	}
	if !found {
		t.Fatalf("no %s series with %v", name, match)
	}
	return total
}

// waitFor polls cond (real time, bounded by ctx): for tests that wait on a
// real database or process.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSecondaryDown: PostgreSQL (the new store, secondary) is stopped
// while writes go on, then restarted. Every write is acknowledged while it
// is down, the journal holds them, the applier retries, and after the
// restart both stores hold every acknowledged write.
func TestSecondaryDown(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	c := pgtest.Own(t)
	p := sqlitePGPair(t, c)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	w := newWriter(t, "down", p.old, p.neu, dualwrite.WithMeterProvider(mp),
		dualwrite.WithSecondaryTimeout(500*time.Millisecond), dualwrite.WithApplyTimeout(2*time.Second),
		dualwrite.WithBackoff(20*time.Millisecond, 200*time.Millisecond), dualwrite.WithPollInterval(100*time.Millisecond))
	var acks []acked
	put := func(i int) {
		t.Helper()
		a, err := w.Put(ctx, key(i%40), customer(i))
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		acks = append(acks, acked{key: key(i % 40), value: customer(i), version: a.Version})
	}
	for i := range 40 {
		put(i)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}

	c.Stop()
	for i := 40; i < 140; i++ {
		put(i) // acknowledged with the secondary down
	}
	waitFor(t, ctx, "failed attempts while PostgreSQL is down", func() bool { return w.Stats().Retries > 0 })
	waitFor(t, ctx, "the applier to count the backlog", func() bool { return w.Stats().Pending[dualrun.Candidate] > 0 })
	if n := metricSum(t, reader, dualwrite.MetricPending, "dualrun.side", "candidate"); n == 0 {
		t.Fatal("dualwrite.pending is 0 while the secondary is down")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 140; i < 160; i++ {
		put(i)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	reconcileClean(t, ctx, w)
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
	if n := metricSum(t, reader, dualwrite.MetricRetries, "dualrun.side", "candidate"); n == 0 {
		t.Fatal("dualwrite.retries counted nothing")
	}
	if n := metricSum(t, reader, dualwrite.MetricFailures); n != 0 {
		t.Fatalf("dualwrite.failures = %d: a transient outage must not give writes up", n)
	}
}

// TestSecondarySlow: the new store is slow (a lock holds its table);
// writes are acknowledged at the primary's pace all the same, the slow
// secondary writes time out (outcome timeout) and the applier catches up.
func TestSecondarySlow(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	p := sqlitePGPair(t, pgtest.Shared(t))
	w := newWriter(t, "slow", p.old, p.neu,
		dualwrite.WithSecondaryTimeout(200*time.Millisecond), dualwrite.WithApplyTimeout(300*time.Millisecond),
		dualwrite.WithBackoff(50*time.Millisecond, 200*time.Millisecond), dualwrite.WithPollInterval(100*time.Millisecond))

	lock, err := p.newDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, `LOCK TABLE customers_v2 IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var acks []acked
	for i := range 60 {
		a, err := w.Put(ctx, key(i%15), customer(i))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, acked{key: key(i % 15), value: customer(i), version: a.Version})
	}
	// Every write above was acknowledged while the secondary's table was
	// locked: the caller does not wait for the secondary.
	waitFor(t, ctx, "a secondary write to time out", func() bool {
		return w.Stats().Writes.Outcomes[dualrun.Timeout] > 0
	})
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	reconcileClean(t, ctx, w)
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
}

// TestDuplicateDelivery: every journal entry is delivered twice more (the
// applier crashed between applying and removing it, or a copy of the row
// came back); the copies change nothing.
func TestDuplicateDelivery(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	p := sqlitePGPair(t, pgtest.Shared(t))
	versionLog(t, p.newDB, dualwrite.Postgres)
	// Keep a copy of every outbox row of the old (primary) store.
	mustExec(t, p.oldDB, `CREATE TABLE journal_copy AS SELECT * FROM dualwrite_journal WHERE 0`)
	mustExec(t, p.oldDB, `CREATE TRIGGER keep_copy AFTER INSERT ON dualwrite_journal
		BEGIN INSERT INTO journal_copy SELECT * FROM dualwrite_journal WHERE seq = NEW.seq; END`)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	w := newWriter(t, "dup", p.old, p.neu, dualwrite.WithMeterProvider(mp))
	var acks []acked
	for i := range 30 {
		a, err := w.Put(ctx, key(i%10), customer(i))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, acked{key: key(i % 10), value: customer(i), version: a.Version})
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	applied := checkOrder(t, ctx, p.newDB, "new")
	before := metricSum(t, reader, dualwrite.MetricApplied, "dualwrite.result", "skipped")

	mustExec(t, p.oldDB, `DROP TRIGGER keep_copy`)
	cols := `writer, target, k, op, version, id, payload, created_at, next_at`
	for range 2 {
		mustExec(t, p.oldDB, `INSERT INTO dualwrite_journal (`+cols+`) SELECT `+cols+` FROM journal_copy ORDER BY seq`)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := metricSum(t, reader, dualwrite.MetricApplied, "dualwrite.result", "skipped") - before; got != 60 {
		t.Fatalf("%d duplicate deliveries skipped, want 60", got)
	}
	if n := checkOrder(t, ctx, p.newDB, "new"); n != applied {
		t.Fatalf("duplicates were applied: %d writes applied before, %d after", applied, n)
	}
	reconcileClean(t, ctx, w)
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
}

// TestConcurrentWritersSameKeys: writers race on a few keys; each store
// applies each key's writes in one order (versions only grow), and both
// end with the last acknowledged write of every key.
func TestConcurrentWritersSameKeys(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	p := sqlitePGPair(t, pgtest.Shared(t))
	versionLog(t, p.oldDB, dualwrite.SQLite)
	versionLog(t, p.newDB, dualwrite.Postgres)
	w := newWriter(t, "race", p.old, p.neu)
	var (
		mu   sync.Mutex
		acks []acked
		wg   sync.WaitGroup
	)
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				n := g*1000 + i
				k := key(n % 5)
				a, err := w.Put(ctx, k, customer(n))
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", g, err)
					return
				}
				mu.Lock()
				acks = append(acks, acked{key: k, value: customer(n), version: a.Version})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := checkOrder(t, ctx, p.oldDB, "old"); n != 320 {
		t.Fatalf("the primary applied %d writes, want 320", n)
	}
	checkOrder(t, ctx, p.newDB, "new")
	reconcileClean(t, ctx, w)
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
}

func attrKey(s string) attribute.Key { return attribute.Key(s) }
