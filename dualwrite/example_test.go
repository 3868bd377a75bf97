package dualwrite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/rollout"
)

type Account struct {
	Owner   string
	Balance int
}

// A writer over two stores of any kind, with the embedded journal: every
// write reaches both, and the reconciler confirms it.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dualwrite-example")
	defer os.RemoveAll(dir)
	journal, err := dualwrite.OpenJournal(ctx, filepath.Join(dir, "journal.db"))
	if err != nil {
		panic(err)
	}
	defer journal.Close()

	old, neu := dualwrite.NewMemStore[Account](), dualwrite.NewMemStore[Account]()
	w, err := dualwrite.New("accounts", old, neu, dualwrite.WithJournal(journal))
	if err != nil {
		panic(err)
	}
	defer w.Close(ctx)

	ack, _ := w.Put(ctx, "a-1", Account{Owner: "ada", Balance: 10})
	_, _ = w.Put(ctx, "a-2", Account{Owner: "bob", Balance: 20})
	_, _ = w.Delete(ctx, "a-2")
	fmt.Println("primary:", ack.Primary)

	_ = w.Drain(ctx) // wait until the new store has every write
	a, _ := w.Get(ctx, "a-1")
	fmt.Println("read:", a.Owner, a.Balance)
	rep, _ := w.Reconcile(ctx)
	fmt.Println(rep)
	// Output:
	// primary: legacy
	// read: ada 10
	// accounts: 1 records: 1 in sync, 0 missing, 0 extra, 0 changed, 0 in flight (dry run)
}

// Two SQL tables with different schemas (the name split in two), the
// transactional outbox in the old database, and a cut-over that is one
// flag flip, rolled back by flipping it again.
func ExampleNewSQLStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dualwrite-example")
	defer os.RemoveAll(dir)
	open := func(name, ddl string) *sql.DB {
		db, err := sql.Open("sqlite", dualwrite.SQLiteDSN(filepath.Join(dir, name)))
		if err != nil {
			panic(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			panic(err)
		}
		return db
	}
	oldDB := open("old.db", `CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL)`)
	defer oldDB.Close()
	newDB := open("new.db", `CREATE TABLE users_v2 (id TEXT PRIMARY KEY, first TEXT NOT NULL, last TEXT NOT NULL)`)
	defer newDB.Close()

	type User struct{ First, Last string }
	old, err := dualwrite.NewSQLStore(ctx, oldDB, dualwrite.SQLite, dualwrite.Table[User]{
		Name: "users", Key: "id", Columns: []string{"name"},
		Values: func(u User) ([]any, error) { return []any{u.First + " " + u.Last}, nil },
		Scan: func(scan func(...any) error) (User, error) {
			var name string
			err := scan(&name)
			first, last, _ := strings.Cut(name, " ")
			return User{first, last}, err
		},
	})
	if err != nil {
		panic(err)
	}
	neu, err := dualwrite.NewSQLStore(ctx, newDB, dualwrite.SQLite, dualwrite.Table[User]{
		Name: "users_v2", Key: "id", Columns: []string{"first", "last"},
		Values: func(u User) ([]any, error) { return []any{u.First, u.Last}, nil },
		Scan: func(scan func(...any) error) (User, error) {
			var u User
			return u, scan(&u.First, &u.Last)
		},
	})
	if err != nil {
		panic(err)
	}

	flag := rollout.NewLive(rollout.Static{}) // the old store is primary
	w, err := dualwrite.New("users", old, neu, dualwrite.WithRollout(flag))
	if err != nil {
		panic(err)
	}
	defer w.Close(ctx)

	a, _ := w.Put(ctx, "u1", User{"Ada", "Lovelace"})
	fmt.Println("u1 written first to", a.Primary)
	flag.Set(rollout.Static{CandidatePrimary: rollout.All}) // cut-over
	a, _ = w.Put(ctx, "u2", User{"Alan", "Turing"})
	fmt.Println("u2 written first to", a.Primary)
	flag.Set(rollout.Static{}) // rollback: both stores have everything
	a, _ = w.Put(ctx, "u1", User{"Ada", "King"})
	fmt.Println("u1 written first to", a.Primary)

	_ = w.Drain(ctx)
	rep, _ := w.Reconcile(ctx)
	fmt.Println(rep)
	var first, last string
	_ = newDB.QueryRowContext(ctx, `SELECT first, last FROM users_v2 WHERE id = 'u1'`).Scan(&first, &last)
	fmt.Println("new schema:", first, last)
	// Output:
	// u1 written first to legacy
	// u2 written first to candidate
	// u1 written first to legacy
	// users: 2 records: 2 in sync, 0 missing, 0 extra, 0 changed, 0 in flight (dry run)
	// new schema: Ada King
}

// The reconciler's dry run reports what differs, field paths included; a
// second run with WithRepair copies the primary's records over (also the
// way to backfill a new store).
func ExampleWriter_Reconcile() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dualwrite-example")
	defer os.RemoveAll(dir)
	journal, err := dualwrite.OpenJournal(ctx, filepath.Join(dir, "journal.db"))
	if err != nil {
		panic(err)
	}
	defer journal.Close()
	old, neu := dualwrite.NewMemStore[Account](), dualwrite.NewMemStore[Account]()
	// Data that predates the writer: only in the old store, or changed.
	_, _ = old.Apply(ctx, dualwrite.Write[Account]{Key: "a-1", Value: Account{"ada", 10}, Version: 1})
	_, _ = old.Apply(ctx, dualwrite.Write[Account]{Key: "a-2", Value: Account{"bob", 20}, Version: 1})
	_, _ = neu.Apply(ctx, dualwrite.Write[Account]{Key: "a-2", Value: Account{"bob", 25}, Version: 1})

	w, err := dualwrite.New("accounts", old, neu, dualwrite.WithJournal(journal))
	if err != nil {
		panic(err)
	}
	rep, _ := w.Reconcile(ctx)
	fmt.Println(rep.Summary())
	rep, _ = w.Reconcile(ctx, dualwrite.WithRepair())
	fmt.Println(rep)
	rep, _ = w.Reconcile(ctx)
	fmt.Println(rep)
	_ = w.Close(ctx) // waits for dualrun's background comparisons
	fmt.Println("compared by dualrun:", w.Stats().Reconciles.Outcomes[dualrun.Mismatch], "mismatches")
	// Output:
	// accounts: 2 records: 0 in sync, 1 missing, 0 extra, 1 changed, 0 in flight (dry run)
	//   missing "a-1" (primary legacy)
	//   changed "a-2" (primary legacy) paths=[.Balance]
	// accounts: 2 records: 0 in sync, 1 missing, 0 extra, 1 changed, 0 in flight (repaired 2, repair failed 0)
	// accounts: 2 records: 2 in sync, 0 missing, 0 extra, 0 changed, 0 in flight (dry run)
	// compared by dualrun: 4 mismatches
}
