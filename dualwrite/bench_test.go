package dualwrite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// benchDBs returns the old database (where the caller writes) and the new
// one, for a backend: both SQLite files, or old SQLite and new PostgreSQL.
func benchDBs(b *testing.B, backend string) (oldDB, newDB *sql.DB, newDialect dualwrite.Dialect) {
	dir := b.TempDir()
	oldDB = openSQLite(b, dir, "old.db")
	mustExec(b, oldDB, oldDDL(dualwrite.SQLite, "customers"))
	if backend == "postgres" {
		if testing.Short() {
			b.Skip("PostgreSQL benchmarks are skipped with -short")
		}
		newDB, _ = pgtest.NewDB(b, pgtest.Shared(b))
		newDialect = dualwrite.Postgres
	} else {
		newDB = openSQLite(b, dir, "new.db")
		newDialect = dualwrite.SQLite
	}
	mustExec(b, newDB, newDDL(newDialect, "customers_v2"))
	return oldDB, newDB, newDialect
}

// BenchmarkWrite is the caller-visible cost of one write, on 1,000 keys:
//
//   - raw: what the caller did before the migration, one upsert in a
//     transaction, by hand;
//   - store: the same write through SQLStore (plus the key's version);
//   - outbox: a dual write, with the outbox row in the same transaction (the
//     secondary write follows in the background);
//   - journal: a dual write whose primary keeps no outbox: its commit, then
//     the embedded journal's.
func BenchmarkWrite(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			b.Run("raw", func(b *testing.B) {
				oldDB, _, _ := benchDBs(b, backend)
				benchLoop(b, func(i int) error {
					tx, err := oldDB.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					c := customer(i)
					if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, name, email, age) VALUES (?, ?, ?, ?)
						ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, age = excluded.age`,
						key(i%1000), c.First+" "+c.Last, c.Email, c.Age); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				})
			})
			b.Run("store", func(b *testing.B) {
				oldDB, _, _ := benchDBs(b, backend)
				old := sqlStore(b, oldDB, dualwrite.SQLite, oldTable("customers"), dualwrite.WithoutOutbox())
				benchLoop(b, func(i int) error {
					_, err := old.Apply(ctx, dualwrite.Write[Customer]{Key: key(i % 1000), Value: customer(i), Version: uint64(i + 1)})
					return err
				})
			})
			for _, mode := range []string{"outbox", "journal"} {
				b.Run(mode, func(b *testing.B) {
					oldDB, newDB, nd := benchDBs(b, backend)
					var opts []dualwrite.SQLOption
					var wopts []dualwrite.Option
					if mode == "journal" {
						opts = append(opts, dualwrite.WithoutOutbox())
						j := openJournal(b, b.TempDir())
						b.Cleanup(func() { _ = j.Close() })
						wopts = append(wopts, dualwrite.WithJournal(j))
					}
					old := sqlStore(b, oldDB, dualwrite.SQLite, oldTable("customers"), opts...)
					neu := sqlStore(b, newDB, nd, newTable("customers_v2"))
					w := newWriter(b, "bench", old, neu, wopts...)
					benchLoop(b, func(i int) error {
						_, err := w.Put(ctx, key(i%1000), customer(i))
						return err
					})
					b.StopTimer()
					dctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					if err := w.Drain(dctx); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

func benchLoop(b *testing.B, write func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := write(i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournal is the embedded journal's throughput: writes to an
// in-memory primary, each journaled (a synced SQLite commit) before it
// returns, by one caller or by many at once (their entries share a commit).
// Secondary writes are left to the applier (shadows disabled), which runs
// alongside, removing entries in batches; "drain" measures how fast the
// applier empties a journal that a writer left full.
func BenchmarkJournal(b *testing.B) {
	dualrun.DisableShadows()
	b.Cleanup(dualrun.EnableShadows)
	ctx := context.Background()
	setup := func(b *testing.B) *dualwrite.Writer[Customer] {
		j, err := dualwrite.OpenJournal(ctx, filepath.Join(b.TempDir(), "journal.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = j.Close() })
		return newWriter(b, "journal", dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer](),
			dualwrite.WithJournal(j), dualwrite.WithPollInterval(time.Hour))
	}
	b.Run("serial", func(b *testing.B) {
		w := setup(b)
		benchLoop(b, func(i int) error {
			_, err := w.Put(ctx, key(i%1000), customer(i))
			return err
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
	b.Run("parallel", func(b *testing.B) {
		w := setup(b)
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				if _, err := w.Put(ctx, strconv.Itoa(i%1000), customer(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
	b.Run("drain", func(b *testing.B) {
		// b.N entries left by a writer whose secondary was down, then
		// applied by the next writer's applier (replay at start + Drain).
		j, err := dualwrite.OpenJournal(ctx, filepath.Join(b.TempDir(), "journal.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = j.Close() })
		old := dualwrite.NewMemStore[Customer]()
		down := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
		down.setFail(func(dualwrite.Write[Customer]) error { return errDown })
		w, err := dualwrite.New("drain", old, down, dualwrite.WithJournal(j), dualwrite.WithBackoff(time.Hour, time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		w2 := newWriter(b, "drain", old, dualwrite.NewMemStore[Customer](), dualwrite.WithJournal(j))
		dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := w2.Drain(dctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}
