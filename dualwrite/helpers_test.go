package dualwrite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// Customer is the record of the tests: the old schema keeps the name in one
// column, the new one in two, with a constraint on age.
type Customer struct {
	First string
	Last  string
	Email string
	Age   int
}

// oldTable is the old schema: customers(id, name, email, age).
func oldTable(name string) dualwrite.Table[Customer] {
	return dualwrite.Table[Customer]{
		Name:    name,
		Key:     "id",
		Columns: []string{"name", "email", "age"},
		Values: func(c Customer) ([]any, error) {
			return []any{c.First + " " + c.Last, c.Email, c.Age}, nil
		},
		Scan: func(scan func(...any) error) (Customer, error) {
			var c Customer
			var full string
			if err := scan(&full, &c.Email, &c.Age); err != nil {
				return c, err
			}
			c.First, c.Last, _ = strings.Cut(full, " ")
			return c, nil
		},
	}
}

// newTable is the new schema: customers_v2(id, first_name, last_name,
// email, age).
func newTable(name string) dualwrite.Table[Customer] {
	return dualwrite.Table[Customer]{
		Name:    name,
		Key:     "id",
		Columns: []string{"first_name", "last_name", "email", "age"},
		Values: func(c Customer) ([]any, error) {
			return []any{c.First, c.Last, c.Email, c.Age}, nil
		},
		Scan: func(scan func(...any) error) (Customer, error) {
			var c Customer
			err := scan(&c.First, &c.Last, &c.Email, &c.Age)
			return c, err
		},
	}
}

func oldDDL(d dualwrite.Dialect, name string) string {
	coll := ""
	if d == dualwrite.Postgres {
		coll = ` COLLATE "C"`
	}
	return fmt.Sprintf(`CREATE TABLE %s (id TEXT%s PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, age INTEGER NOT NULL)`, name, coll)
}

func newDDL(d dualwrite.Dialect, name string) string {
	coll := ""
	if d == dualwrite.Postgres {
		coll = ` COLLATE "C"`
	}
	return fmt.Sprintf(`CREATE TABLE %s (id TEXT%s PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
		email VARCHAR(40) NOT NULL CHECK (length(email) <= 40), age INTEGER NOT NULL CHECK (age >= 0))`, name, coll)
}

// openSQLite opens (creating) a SQLite database file in t's directory.
func openSQLite(t testing.TB, dir, name string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dualwrite.SQLiteDSN(filepath.Join(dir, name)))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// storePair is an old store and a new one, with their databases.
type storePair struct {
	oldDB, newDB *sql.DB
	old, neu     *dualwrite.SQLStore[Customer]
}

func sqlStore(t testing.TB, db *sql.DB, d dualwrite.Dialect, tbl dualwrite.Table[Customer], opts ...dualwrite.SQLOption) *dualwrite.SQLStore[Customer] {
	t.Helper()
	s, err := dualwrite.NewSQLStore(context.Background(), db, d, tbl, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sqlitePair makes the old and new tables in two SQLite files.
func sqlitePair(t testing.TB) storePair {
	t.Helper()
	dir := t.TempDir()
	p := storePair{oldDB: openSQLite(t, dir, "old.db"), newDB: openSQLite(t, dir, "new.db")}
	mustExec(t, p.oldDB, oldDDL(dualwrite.SQLite, "customers"))
	mustExec(t, p.newDB, newDDL(dualwrite.SQLite, "customers_v2"))
	p.old = sqlStore(t, p.oldDB, dualwrite.SQLite, oldTable("customers"))
	p.neu = sqlStore(t, p.newDB, dualwrite.SQLite, newTable("customers_v2"))
	return p
}

// sqlitePGPair makes the old table in SQLite and the new one in a fresh
// PostgreSQL database of c.
func sqlitePGPair(t testing.TB, c *pgtest.Cluster) storePair {
	t.Helper()
	p := storePair{oldDB: openSQLite(t, t.TempDir(), "old.db")}
	p.newDB, _ = pgtest.NewDB(t, c)
	mustExec(t, p.oldDB, oldDDL(dualwrite.SQLite, "customers"))
	mustExec(t, p.newDB, newDDL(dualwrite.Postgres, "customers_v2"))
	p.old = sqlStore(t, p.oldDB, dualwrite.SQLite, oldTable("customers"))
	p.neu = sqlStore(t, p.newDB, dualwrite.Postgres, newTable("customers_v2"))
	return p
}

func customer(i int) Customer {
	return Customer{First: fmt.Sprintf("First%d", i), Last: fmt.Sprintf("Last%d", i), Email: fmt.Sprintf("c%d@example.com", i), Age: 20 + i%50}
}

func key(i int) string { return fmt.Sprintf("c%05d", i) }

// newWriter makes a writer and closes it when t ends.
func newWriter(t testing.TB, name string, old, neu dualwrite.Store[Customer], opts ...dualwrite.Option) *dualwrite.Writer[Customer] {
	t.Helper()
	w, err := dualwrite.New(name, old, neu, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// testCtx is a context bounded for a test's own waits.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// reconcileClean reconciles w without a rate limit and fails t unless the
// stores agree on every record.
func reconcileClean(t testing.TB, ctx context.Context, w *dualwrite.Writer[Customer]) *dualwrite.Reconciliation {
	t.Helper()
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0))
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if rep.Divergent() != 0 || rep.Counts[dualwrite.InFlight] != 0 {
		t.Fatalf("reconciler found divergence: %s", rep.Summary())
	}
	return rep
}

// acked is an acknowledged write, as the test saw it.
type acked struct {
	key     string
	value   Customer
	deleted bool
	version uint64
}

// checkAcked fails t unless both stores hold, for every key, the
// acknowledged write of the highest version (or a newer one).
func checkAcked(t testing.TB, ctx context.Context, stores [2]dualwrite.Store[Customer], acks []acked) {
	t.Helper()
	last := map[string]acked{}
	for _, a := range acks {
		if cur, ok := last[a.key]; !ok || a.version > cur.version {
			last[a.key] = a
		}
	}
	for k, a := range last {
		for side, s := range stores {
			r, err := s.Get(ctx, k)
			if a.deleted {
				if err == nil {
					t.Errorf("store %d: key %s: acknowledged delete (version %d) but the record is there: %+v", side, k, a.version, r)
				}
				continue
			}
			if err != nil {
				t.Errorf("store %d: key %s: acknowledged write (version %d) missing: %v", side, k, a.version, err)
				continue
			}
			// A later write may have reached the stores without being
			// acknowledged (a process killed before it saw the ack): then
			// the version is higher. Never lower.
			if r.Version < a.version || (r.Version == a.version && r.Value != a.value) {
				t.Errorf("store %d: key %s: have %+v@%d, want the last acknowledged write %+v@%d", side, k, r.Value, r.Version, a.value, a.version)
			}
		}
	}
}
