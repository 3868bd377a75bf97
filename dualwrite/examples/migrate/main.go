// Command migrate walks a table through a migration from an old schema to
// a new one with dualwrite: shadow writes to the new table, a backfill by
// the reconciler, the cut-over (the new table becomes primary), a forced
// rollback, and the final reconciliation report. It is bounded: a fixed
// number of writes per phase, then it exits, with status 1 if the stores
// differ at the end.
//
// The old table is customers(id, name, email, age) in a SQLite file; the
// new one is customers_v2(id, first_name, last_name, email, age) in
// another SQLite file, or in PostgreSQL with -postgres:
//
//	go run ./examples/migrate
//	go run ./examples/migrate -postgres 'host=127.0.0.1 port=5432 user=postgres dbname=demo sslmode=disable'
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	_ "modernc.org/sqlite"             // "sqlite"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/rollout"
)

// Customer is the record, as the application sees it.
type Customer struct {
	First string
	Last  string
	Email string
	Age   int
}

type config struct {
	dir      string // where the SQLite files go ("": a temporary directory)
	postgres string // DSN of the new store's database ("": SQLite)
	seed     int    // customers in the old table before the migration starts
	writes   int    // writes per phase
	workers  int    // concurrent writers
}

func main() {
	var cfg config
	flag.StringVar(&cfg.dir, "dir", "", "directory for the SQLite files (default: a temporary one)")
	flag.StringVar(&cfg.postgres, "postgres", "", "PostgreSQL DSN for the new table (default: SQLite)")
	flag.IntVar(&cfg.seed, "seed", 500, "customers in the old table at the start")
	flag.IntVar(&cfg.writes, "writes", 400, "writes per phase")
	flag.IntVar(&cfg.workers, "workers", 4, "concurrent writers")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func oldTable() dualwrite.Table[Customer] {
	return dualwrite.Table[Customer]{
		Name: "customers", Key: "id", Columns: []string{"name", "email", "age"},
		Values: func(c Customer) ([]any, error) { return []any{c.First + " " + c.Last, c.Email, c.Age}, nil },
		Scan: func(scan func(...any) error) (Customer, error) {
			var c Customer
			var name string
			err := scan(&name, &c.Email, &c.Age)
			c.First, c.Last, _ = strings.Cut(name, " ")
			return c, err
		},
	}
}

func newTable() dualwrite.Table[Customer] {
	return dualwrite.Table[Customer]{
		Name: "customers_v2", Key: "id", Columns: []string{"first_name", "last_name", "email", "age"},
		Values: func(c Customer) ([]any, error) { return []any{c.First, c.Last, c.Email, c.Age}, nil },
		Scan: func(scan func(...any) error) (Customer, error) {
			var c Customer
			return c, scan(&c.First, &c.Last, &c.Email, &c.Age)
		},
	}
}

func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dualwrite.SQLiteDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	if cfg.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "dualwrite-migrate-"); err != nil {
			return err
		}
		defer os.RemoveAll(cfg.dir)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// The old table, with the data of the service before the migration.
	oldDB, err := openSQLite(filepath.Join(cfg.dir, "old.db"))
	if err != nil {
		return err
	}
	defer oldDB.Close()
	if _, err := oldDB.ExecContext(ctx, `CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, age INTEGER NOT NULL)`); err != nil {
		return err
	}
	for i := range cfg.seed {
		c := customer(i, 0)
		if _, err := oldDB.ExecContext(ctx, `INSERT INTO customers VALUES (?, ?, ?, ?)`, key(i), c.First+" "+c.Last, c.Email, c.Age); err != nil {
			return err
		}
	}

	// The new table, in the new schema, empty.
	var newDB *sql.DB
	dialect := dualwrite.SQLite
	ddl := `CREATE TABLE customers_v2 (id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT NOT NULL, age INTEGER NOT NULL)`
	where := "SQLite"
	if cfg.postgres != "" {
		if newDB, err = sql.Open("pgx", cfg.postgres); err != nil {
			return err
		}
		dialect, where = dualwrite.Postgres, "PostgreSQL"
		ddl = strings.Replace(ddl, "id TEXT PRIMARY KEY", `id TEXT COLLATE "C" PRIMARY KEY`, 1)
		// A rerun on the same database starts over.
		for _, t := range []string{"customers_v2", "dualwrite_versions", "dualwrite_journal"} {
			if _, err := newDB.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return err
			}
		}
	} else if newDB, err = openSQLite(filepath.Join(cfg.dir, "new.db")); err != nil {
		return err
	}
	defer newDB.Close()
	if _, err := newDB.ExecContext(ctx, ddl); err != nil {
		return err
	}
	say("old table: customers (name in one column), %d rows, SQLite", cfg.seed)
	say("new table: customers_v2 (first_name, last_name), empty, %s", where)

	old, err := dualwrite.NewSQLStore(ctx, oldDB, dualwrite.SQLite, oldTable())
	if err != nil {
		return err
	}
	neu, err := dualwrite.NewSQLStore(ctx, newDB, dialect, newTable())
	if err != nil {
		return err
	}
	// The flag: old table primary, every read compared with the new one.
	// A write waits up to 100ms for the other table, so that the reads
	// that follow it compare fresh rows.
	flag := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	w, err := dualwrite.New("customers", old, neu, dualwrite.WithRollout(flag),
		dualwrite.WithSyncBudget(100*time.Millisecond), dualwrite.WithPollInterval(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(context.WithoutCancel(ctx)); err == nil {
			err = cerr
		}
	}()

	// 1. Shadow writes: the service writes through the writer; the new
	// table gets every write, the old one stays the truth.
	say("\n== 1. shadow writes (old table primary)")
	if err := load(ctx, w, cfg, 1); err != nil {
		return err
	}
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithMaxListed(0))
	if err != nil {
		return err
	}
	say("dry run: %s", rep)
	say("reads:   %s (the rows not yet copied differ)", reads(w))

	// 2. Backfill: the reconciler copies what the new table lacks.
	say("\n== 2. backfill (reconcile with repair)")
	if rep, err = w.Reconcile(ctx, dualwrite.WithRate(5000), dualwrite.WithRepair(), dualwrite.WithMaxListed(0)); err != nil {
		return err
	}
	say("repair:  %s", rep)
	if err := drainAndCheck(ctx, w, say); err != nil {
		return err
	}

	// 3. Cut-over: the new table becomes primary, under write load.
	say("\n== 3. cut-over (new table primary)")
	var wg sync.WaitGroup
	var loadErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		loadErr = load(ctx, w, cfg, 2)
	}()
	flag.Set(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All})
	wg.Wait()
	if loadErr != nil {
		return loadErr
	}
	say("primary for %s: %s", key(0), w.Primary(ctx, key(0)))
	say("reads:   %s", reads(w))
	if err := drainAndCheck(ctx, w, say); err != nil {
		return err
	}

	// 4. A forced rollback: say an alert fired. Flip the flag back, under
	// write load; both tables have every write, so nothing is lost.
	say("\n== 4. forced rollback (old table primary again)")
	wg.Add(1)
	go func() {
		defer wg.Done()
		loadErr = load(ctx, w, cfg, 3)
	}()
	flag.Set(rollout.Static{Shadow: rollout.All})
	wg.Wait()
	if loadErr != nil {
		return loadErr
	}
	say("primary for %s: %s", key(0), w.Primary(ctx, key(0)))
	say("reads:   %s", reads(w))
	if err := drainAndCheck(ctx, w, say); err != nil {
		return err
	}

	// 5. The final report.
	say("\n== 5. final reconciliation")
	if rep, err = w.Reconcile(ctx, dualwrite.WithRate(0)); err != nil {
		return err
	}
	say("%s", rep.Summary())
	st := w.Stats()
	say("secondary writes: %d, applied %d (skipped as superseded %d), retries %d, given up %d, pending %d",
		st.Writes.Compared, st.Applied, st.Skipped, st.Retries, st.Failures, st.Pending[0]+st.Pending[1])
	if rep.Divergent() != 0 {
		return errors.New("the tables differ")
	}
	say("the tables agree")
	return nil
}

// reads describes the read comparisons since the last call.
var lastReads dualrun.Stats

func reads(w *dualwrite.Writer[Customer]) string {
	st := w.Stats().Reads
	d := fmt.Sprintf("%d compared, %d match, %d mismatch",
		st.Compared-lastReads.Compared,
		st.Outcomes[dualrun.Match]-lastReads.Outcomes[dualrun.Match],
		st.Outcomes[dualrun.Mismatch]-lastReads.Outcomes[dualrun.Mismatch])
	lastReads = st
	return d
}

func key(i int) string { return fmt.Sprintf("cust-%05d", i) }

func customer(i, phase int) Customer {
	return Customer{
		First: fmt.Sprintf("Ada%d", i), Last: fmt.Sprintf("Lovelace%d", phase),
		Email: fmt.Sprintf("ada%d.p%d@example.com", i, phase), Age: 20 + (i+phase)%60,
	}
}

// load runs cfg.writes writes (puts, some deletes, some new keys) with
// cfg.workers writers, and a read of another customer every tenth write.
func load(ctx context.Context, w *dualwrite.Writer[Customer], cfg config, phase int) error {
	var wg sync.WaitGroup
	errs := make(chan error, cfg.workers)
	for g := range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < cfg.writes; i += cfg.workers {
				k := (i*7 + phase*13) % (cfg.seed + cfg.writes)
				var err error
				if i%25 == 24 {
					_, err = w.Delete(ctx, key(k))
				} else {
					_, err = w.Put(ctx, key(k), customer(k, phase))
				}
				if err != nil {
					errs <- err
					return
				}
				if i%10 == 0 { // a read of another customer
					if _, err := w.Get(ctx, key((k*3+1)%cfg.seed)); err != nil && !errors.Is(err, dualwrite.ErrNotFound) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// drainAndCheck waits until the journal is applied, then reports the
// reconciler's dry run.
func drainAndCheck(ctx context.Context, w *dualwrite.Writer[Customer], say func(string, ...any)) error {
	if err := w.Drain(ctx); err != nil {
		return err
	}
	rep, err := w.Reconcile(ctx, dualwrite.WithRate(0), dualwrite.WithMaxListed(0))
	if err != nil {
		return err
	}
	say("check:   %s", rep)
	if rep.Divergent() != 0 {
		return fmt.Errorf("divergence: %s", rep)
	}
	return nil
}
