package dualwrite_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// storeContract runs the Store contract on s: the write modes, versions,
// tombstones, Get and Scan order. Every Store of the package must pass it.
func storeContract(t *testing.T, s dualwrite.Store[Customer]) {
	ctx := testCtx(t, time.Minute)
	apply := func(w dualwrite.Write[Customer]) dualwrite.Applied {
		t.Helper()
		a, err := s.Apply(ctx, w)
		if err != nil {
			t.Fatalf("Apply(%+v): %v", w, err)
		}
		return a
	}
	steps := []struct {
		name, reason string
		w            dualwrite.Write[Customer]
		want         dualwrite.Applied
		value        *Customer // the record afterwards; nil: absent
	}{
		{
			name: "primary-new", reason: "a primary write of a new key takes its version",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(1), Version: 10, Mode: dualwrite.ModePrimary},
			want: dualwrite.Applied{Version: 10}, value: ptr(customer(1)),
		},
		{
			name: "primary-stale-proposal", reason: "a primary write is never skipped: it goes above the stored version",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(2), Version: 5, Mode: dualwrite.ModePrimary},
			want: dualwrite.Applied{Version: 11}, value: ptr(customer(2)),
		},
		{
			name: "replica-duplicate", reason: "a replayed write changes nothing",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(9), Version: 11, Mode: dualwrite.ModeReplica},
			want: dualwrite.Applied{Version: 11, Skipped: true}, value: ptr(customer(2)),
		},
		{
			name: "replica-older", reason: "an older write is never applied over a newer one",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(9), Version: 3, Mode: dualwrite.ModeReplica},
			want: dualwrite.Applied{Version: 11, Skipped: true}, value: ptr(customer(2)),
		},
		{
			name: "replica-newer", reason: "a newer copied write is applied with its own version",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(3), Version: 20, Mode: dualwrite.ModeReplica},
			want: dualwrite.Applied{Version: 20}, value: ptr(customer(3)),
		},
		{
			name: "repair-equal", reason: "a repair applies at the same version (a store that drifted)",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(4), Version: 20, Mode: dualwrite.ModeRepair},
			want: dualwrite.Applied{Version: 20}, value: ptr(customer(4)),
		},
		{
			name: "repair-older", reason: "a repair never goes over a newer write",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(5), Version: 19, Mode: dualwrite.ModeRepair},
			want: dualwrite.Applied{Version: 20, Skipped: true}, value: ptr(customer(4)),
		},
		{
			name: "delete", reason: "a delete leaves a tombstone version",
			w:    dualwrite.Write[Customer]{Key: "b", Delete: true, Version: 30, Mode: dualwrite.ModeReplica},
			want: dualwrite.Applied{Version: 30},
		},
		{
			name: "replica-after-delete", reason: "an older put replayed after a delete does not resurrect the record",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(6), Version: 25, Mode: dualwrite.ModeReplica},
			want: dualwrite.Applied{Version: 30, Skipped: true},
		},
		{
			name: "primary-after-delete", reason: "a new primary write after a delete goes above the tombstone",
			w:    dualwrite.Write[Customer]{Key: "b", Value: customer(7), Version: 1, Mode: dualwrite.ModePrimary},
			want: dualwrite.Applied{Version: 31}, value: ptr(customer(7)),
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := apply(st.w)
			if got != st.want {
				t.Fatalf("%s: Apply = %+v, want %+v", st.reason, got, st.want)
			}
			r, err := s.Get(ctx, st.w.Key)
			switch {
			case st.value == nil && !errors.Is(err, dualwrite.ErrNotFound):
				t.Fatalf("%s: Get = %+v, %v; want ErrNotFound", st.reason, r, err)
			case st.value != nil && (err != nil || r.Value != *st.value || r.Version != st.want.Version || r.Key != st.w.Key):
				t.Fatalf("%s: Get = %+v, %v; want %+v@%d", st.reason, r, err, *st.value, st.want.Version)
			}
		})
	}
	t.Run("scan", func(t *testing.T) {
		// Keys chosen so that byte order differs from a locale's order.
		for i, k := range []string{"a", "B", "c", "_x", "Z"} {
			apply(dualwrite.Write[Customer]{Key: k, Value: customer(i), Version: 1, Mode: dualwrite.ModePrimary})
		}
		apply(dualwrite.Write[Customer]{Key: "c", Delete: true, Version: 5, Mode: dualwrite.ModePrimary})
		var keys []string
		after := ""
		for {
			recs, err := s.Scan(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			if len(recs) > 2 {
				t.Fatalf("Scan returned %d records for limit 2", len(recs))
			}
			for _, r := range recs {
				keys = append(keys, r.Key)
			}
			after = recs[len(recs)-1].Key
		}
		want := "B Z _x a b"
		if got := strings.Join(keys, " "); got != want {
			t.Fatalf("Scan order: got %q, want byte order %q (deleted keys left out)", got, want)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestStoreContract(t *testing.T) {
	t.Run("mem", func(t *testing.T) { storeContract(t, dualwrite.NewMemStore[Customer]()) })
	t.Run("sqlite", func(t *testing.T) {
		db := openSQLite(t, t.TempDir(), "s.db")
		mustExec(t, db, newDDL(dualwrite.SQLite, "customers_v2"))
		storeContract(t, sqlStore(t, db, dualwrite.SQLite, newTable("customers_v2")))
	})
	t.Run("postgres", func(t *testing.T) {
		db, _ := pgtest.NewDB(t, pgtest.Shared(t))
		mustExec(t, db, newDDL(dualwrite.Postgres, "customers_v2"))
		storeContract(t, sqlStore(t, db, dualwrite.Postgres, newTable("customers_v2")))
	})
}

func TestSQLStoreSchemaMismatch(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	dbs := map[string]struct {
		db *sql.DB
		d  dualwrite.Dialect
	}{}
	lite := openSQLite(t, t.TempDir(), "s.db")
	dbs["sqlite"] = struct {
		db *sql.DB
		d  dualwrite.Dialect
	}{lite, dualwrite.SQLite}
	pg, _ := pgtest.NewDB(t, pgtest.Shared(t))
	dbs["postgres"] = struct {
		db *sql.DB
		d  dualwrite.Dialect
	}{pg, dualwrite.Postgres}
	for name, x := range dbs {
		t.Run(name, func(t *testing.T) {
			// The new table was created from an older migration: no age.
			mustExec(t, x.db, `CREATE TABLE customers_v2 (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT)`)
			_, err := dualwrite.NewSQLStore(ctx, x.db, x.d, newTable("customers_v2"))
			var se *dualwrite.SchemaError
			if !errors.As(err, &se) || se.Table != "customers_v2" {
				t.Fatalf("NewSQLStore = %v, want a *SchemaError for customers_v2", err)
			}
			if !strings.Contains(err.Error(), "age") {
				t.Fatalf("the error does not name the missing column: %v", err)
			}
		})
	}
}

func TestSQLStoreBadTables(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, t.TempDir(), "s.db")
	good := newTable("customers_v2")
	tests := []struct {
		name, reason string
		edit         func(*dualwrite.Table[Customer])
		want         string
	}{
		{name: "no-name", reason: "a table needs a name", edit: func(t *dualwrite.Table[Customer]) { t.Name = "" }, want: "Table.Name"},
		{name: "no-key", reason: "a table needs a key column", edit: func(t *dualwrite.Table[Customer]) { t.Key = "" }, want: "Table.Key"},
		{name: "no-columns", reason: "a table needs value columns", edit: func(t *dualwrite.Table[Customer]) { t.Columns = nil }, want: "Columns is empty"},
		{name: "nul", reason: "a NUL in a name is refused", edit: func(t *dualwrite.Table[Customer]) { t.Columns = []string{"a\x00b"} }, want: "NUL"},
		{name: "no-funcs", reason: "Values and Scan are required", edit: func(t *dualwrite.Table[Customer]) { t.Scan = nil }, want: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := good
			tt.edit(&tbl)
			_, err := dualwrite.NewSQLStore(ctx, db, dualwrite.SQLite, tbl)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: err = %v, want one mentioning %q", tt.reason, err, tt.want)
			}
		})
	}
	if _, err := dualwrite.NewSQLStore(ctx, db, dualwrite.Dialect(9), good); err == nil {
		t.Fatal("an unknown dialect was accepted")
	}
	if _, err := dualwrite.NewSQLStore[Customer](ctx, nil, dualwrite.SQLite, good); err == nil {
		t.Fatal("a nil db was accepted")
	}
}

// TestSQLStorePermanentErrors pins which database errors the applier gives
// up on at once: a value the new schema rejects cannot be fixed by retrying.
func TestSQLStorePermanentErrors(t *testing.T) {
	for _, d := range []dualwrite.Dialect{dualwrite.SQLite, dualwrite.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			var db *sql.DB
			if d == dualwrite.SQLite {
				db = openSQLite(t, t.TempDir(), "s.db")
			} else {
				db, _ = pgtest.NewDB(t, pgtest.Shared(t))
			}
			mustExec(t, db, newDDL(d, "customers_v2"))
			s := sqlStore(t, db, d, newTable("customers_v2"))
			tests := []struct {
				name, reason string
				value        Customer
				permanent    bool
			}{
				{name: "ok", reason: "a valid record is written", value: customer(1)},
				{name: "check", reason: "a CHECK constraint violation is permanent", value: Customer{First: "A", Last: "B", Email: "a@b", Age: -1}, permanent: true},
				{name: "too-long", reason: "a value too long for the column is permanent", value: Customer{First: "A", Last: "B", Email: strings.Repeat("x", 50), Age: 1}, permanent: true},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := s.Apply(ctx, dualwrite.Write[Customer]{Key: key(i), Value: tt.value, Version: 1, Mode: dualwrite.ModeReplica})
					if tt.permanent != errors.Is(err, dualwrite.ErrPermanent) || (!tt.permanent && err != nil) {
						t.Fatalf("%s: err = %v", tt.reason, err)
					}
				})
			}
		})
	}
}

// TestSQLStoreHostileTable: Table funcs that panic, lie about their arity
// or do not scan make errors, never a crash; a value the Values func
// refuses is permanent (retrying cannot change it).
func TestSQLStoreHostileTable(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	db := openSQLite(t, t.TempDir(), "s.db")
	mustExec(t, db, newDDL(dualwrite.SQLite, "customers_v2"))
	good := newTable("customers_v2")
	if _, err := sqlStore(t, db, dualwrite.SQLite, good).Apply(ctx, dualwrite.Write[Customer]{Key: "k", Value: customer(1), Version: 1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, reason string
		edit         func(*dualwrite.Table[Customer])
		op           string // "apply" or "get"
		want         string
	}{
		{
			name: "values-panic", reason: "a panicking Values func", op: "apply", want: "panic",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Values = func(Customer) ([]any, error) { panic("boom") }
			},
		},
		{
			name: "values-arity", reason: "too few values", op: "apply", want: "returned 1 values for 4 columns",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Values = func(Customer) ([]any, error) { return []any{1}, nil }
			},
		},
		{
			name: "values-error", reason: "a value the func refuses", op: "apply", want: "refused",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Values = func(Customer) ([]any, error) { return nil, errors.New("refused") }
			},
		},
		{
			name: "scan-panic", reason: "a panicking Scan func", op: "get", want: "panic",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Scan = func(func(...any) error) (Customer, error) { panic("boom") }
			},
		},
		{
			name: "scan-not-called", reason: "a Scan func that never scans", op: "get", want: "did not call scan",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Scan = func(func(...any) error) (Customer, error) { return Customer{}, nil }
			},
		},
		{
			name: "scan-arity", reason: "a Scan func with too few destinations", op: "get", want: "1 destinations for 4 columns",
			edit: func(tb *dualwrite.Table[Customer]) {
				tb.Scan = func(scan func(...any) error) (Customer, error) {
					var s string
					return Customer{}, scan(&s)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := good
			tt.edit(&tb)
			s := sqlStore(t, db, dualwrite.SQLite, tb)
			var err error
			if tt.op == "apply" {
				_, err = s.Apply(ctx, dualwrite.Write[Customer]{Key: "k2", Value: customer(2), Version: 1})
				if !errors.Is(err, dualwrite.ErrPermanent) {
					t.Fatalf("%s: not permanent: %v", tt.reason, err)
				}
			} else {
				_, err = s.Get(ctx, "k")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: err = %v, want %q", tt.reason, err, tt.want)
			}
		})
	}
}
