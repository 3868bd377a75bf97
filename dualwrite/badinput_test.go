package dualwrite_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// TestMalformedJournalRows: rows of the outbox that cannot be applied
// (hand-edited, damaged, from an incompatible version) fail alone, at once,
// with an error that says what is wrong, counted as malformed; the writes
// around them, of the same key included, go on.
func TestMalformedJournalRows(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	p := sqlitePair(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	w := newWriter(t, "malformed", p.old, p.neu, dualwrite.WithMeterProvider(mp))

	ins := `INSERT INTO dualwrite_journal (writer, target, k, op, version, id, payload, created_at, next_at) VALUES `
	rows := []struct {
		name, reason, values, want string
	}{
		{name: "op", reason: "an unknown operation", values: `('malformed', 1, 'c00001', 7, 5, 'x', x'7b7d', 1, 0)`, want: "op is 7"},
		{name: "payload", reason: "a payload the codec cannot decode", values: `('malformed', 1, 'c00001', 1, 5, 'x', x'7b6e6f74', 1, 0)`, want: "payload"},
		{name: "version", reason: "text in an integer column (SQLite keeps it)", values: `('malformed', 1, 'c00001', 1, 'abc', 'x', x'7b7d', 1, 0)`, want: "unreadable row"},
		{name: "target", reason: "a target store that does not exist", values: `('malformed', 4, 'c00001', 1, 5, 'x', x'7b7d', 1, 0)`, want: "target is 4"},
		{name: "no-payload", reason: "a put without a value", values: `('malformed', 1, 'c00001', 1, 5, 'x', NULL, 1, 0)`, want: "payload is NULL"},
	}
	if _, err := w.Put(ctx, key(0), customer(0)); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		mustExec(t, p.oldDB, ins+r.values)
	}
	for i := range 4 {
		if _, err := w.Put(ctx, key(i%2), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	failed, err := w.Failed(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != len(rows) {
		t.Fatalf("%d failed entries, want %d: %+v", len(failed), len(rows), failed)
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			f := failed[i]
			if !strings.Contains(f.LastError, "malformed") || !strings.Contains(f.LastError, r.want) {
				t.Fatalf("%s: error %q does not say %q", r.reason, f.LastError, r.want)
			}
		})
	}
	if n := metricSum(t, reader, dualwrite.MetricFailures, "dualwrite.reason", "malformed"); n != int64(len(rows)) {
		t.Fatalf("dualwrite.failures{malformed} = %d", n)
	}
	reconcileClean(t, ctx, w)
}

// TestSchemaMismatchAtRuntime: the new table loses a column after the
// writer started (a botched migration). Writes go on at the primary; the
// secondary's writes fail with the database's error, are retried, then
// given up (counted); once the column is back, Retry applies them. A
// record the new schema rejects (a constraint) is given up at once and
// holds nothing else back.
func TestSchemaMismatchAtRuntime(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	p := sqlitePGPair(t, pgtest.Shared(t))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	w := newWriter(t, "schema", p.old, p.neu, dualwrite.WithMeterProvider(mp),
		dualwrite.WithBackoff(10*time.Millisecond, 20*time.Millisecond), dualwrite.WithMaxAttempts(3),
		dualwrite.WithPollInterval(50*time.Millisecond))

	bad := customer(1)
	bad.Age = -5 // the new schema's CHECK refuses it
	if _, err := w.Put(ctx, "rejected", bad); err != nil {
		t.Fatalf("the primary refused what it accepts: %v", err)
	}
	for i := range 5 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := metricSum(t, reader, dualwrite.MetricFailures, "dualwrite.reason", "rejected"); n != 1 {
		t.Fatalf("dualwrite.failures{rejected} = %d", n)
	}

	mustExec(t, p.newDB, `ALTER TABLE customers_v2 DROP COLUMN age`)
	for i := 5; i < 10; i++ {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatalf("a write failed because of the secondary's schema: %v", err)
		}
	}
	waitFor(t, ctx, "the secondary's writes to be given up", func() bool {
		return w.Stats().Failed[dualrun.Candidate] == 6
	})
	st := w.Stats()
	if !strings.Contains(st.LastError, `"age"`) {
		t.Fatalf("LastError %q does not name the missing column", st.LastError)
	}
	if metricSum(t, reader, dualwrite.MetricRetries) == 0 || metricSum(t, reader, dualwrite.MetricFailures, "dualwrite.reason", "exhausted") != 5 {
		t.Fatal("retries and exhausted writes were not counted")
	}

	mustExec(t, p.newDB, `ALTER TABLE customers_v2 ADD COLUMN age INTEGER NOT NULL DEFAULT 0 CHECK (age >= 0)`)
	if _, err := w.Retry(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the requeued writes", func() bool { return w.Stats().Failed[dualrun.Candidate] == 1 })
	// The dropped column took the ages of the rows written before with it:
	// the reconciler finds them changed, and repairs them; the rejected
	// record stays missing, and says why.
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithRepair())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[dualwrite.Changed] != 5 || rep.Repaired != 5 || rep.Counts[dualwrite.Missing] != 1 || rep.RepairFailed != 1 {
		t.Fatalf("%s", rep.Summary())
	}
	for _, d := range rep.Records {
		if d.Kind == dualwrite.Changed && (len(d.Paths) != 1 || d.Paths[0] != ".Age") {
			t.Fatalf("changed record %s: paths %v, want [.Age]", d.Key, d.Paths)
		}
		if d.Kind == dualwrite.Missing && (d.Key != "rejected" || d.RepairErr == nil) {
			t.Fatalf("missing record %+v", d)
		}
	}
	rep, err = w.Reconcile(ctx, dualwrite.WithRate(0))
	if err != nil || rep.Divergent() != 1 {
		t.Fatalf("%s, %v", rep.Summary(), err)
	}
	failed, _ := w.Failed(ctx, 10)
	if len(failed) != 1 || !strings.Contains(failed[0].LastError, "check") {
		t.Fatalf("failed writes: %+v", failed)
	}
}
