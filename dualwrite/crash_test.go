package dualwrite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// The crash test runs the test binary again as a child process that
// writes until it is killed; childEnv names its role, the variables
// below its setup.
const (
	childEnv     = "DUALWRITE_TEST_CHILD"
	childOld     = "DUALWRITE_TEST_OLD"     // the old store's SQLite file
	childDSN     = "DUALWRITE_TEST_DSN"     // the new store's PostgreSQL database
	childJournal = "DUALWRITE_TEST_JOURNAL" // the embedded journal ("" : the outbox)
)

// slowDown makes every write to the table take 20 ms more, in PostgreSQL
// itself: the child's secondary falls behind, so that the kill finds
// writes pending.
func slowDown(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	mustExec(t, db, `CREATE FUNCTION slow_write() RETURNS trigger AS $$
		BEGIN PERFORM pg_sleep(0.02); RETURN COALESCE(NEW, OLD); END $$ LANGUAGE plpgsql`)
	mustExec(t, db, `CREATE TRIGGER slow_write BEFORE INSERT OR UPDATE OR DELETE ON `+table+`
		FOR EACH ROW EXECUTE FUNCTION slow_write()`)
}

// crashStores opens the crash test's stores as the parent and the child
// both do. With a journal path, the old store keeps no outbox.
func crashStores(ctx context.Context, oldPath, dsn, journal string) (oldDB, newDB *sql.DB, old, neu *dualwrite.SQLStore[Customer], j *dualwrite.Journal, err error) {
	if oldDB, err = sql.Open("sqlite", dualwrite.SQLiteDSN(oldPath)); err != nil {
		return
	}
	oldDB.SetMaxOpenConns(1)
	if newDB, err = sql.Open("pgx", dsn); err != nil {
		return
	}
	var opts []dualwrite.SQLOption
	if journal != "" {
		opts = append(opts, dualwrite.WithoutOutbox())
		if j, err = dualwrite.OpenJournal(ctx, journal); err != nil {
			return
		}
	}
	if old, err = dualwrite.NewSQLStore(ctx, oldDB, dualwrite.SQLite, oldTable("customers"), opts...); err != nil {
		return
	}
	neu, err = dualwrite.NewSQLStore(ctx, newDB, dualwrite.Postgres, newTable("customers_v2"))
	return
}

// runChild is the child process: it writes, printing each acknowledged
// write, until it is killed. Its secondary store is slow (slowDown).
func runChild(role string) int {
	if role != "crash-writer" {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		return 2
	}
	ctx := context.Background()
	_, _, old, neu, j, err := crashStores(ctx, os.Getenv(childOld), os.Getenv(childDSN), os.Getenv(childJournal))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Two secondary writes at a time: the others are shed to the applier,
	// which waits for them (the write's own shadow might still take them).
	opts := []dualwrite.Option{dualwrite.WithExperimentOptions(dualrun.WithMaxInFlight(2)), dualwrite.WithApplyTimeout(time.Second)}
	if j != nil {
		opts = append(opts, dualwrite.WithJournal(j))
	}
	w, err := dualwrite.New("crash", old, neu, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		k := key(i % 50)
		var a dualwrite.Ack
		if i%7 == 6 {
			a, err = w.Delete(ctx, k)
		} else {
			a, err = w.Put(ctx, k, customer(i))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(out, "ack %s %d %d %t\n", k, a.Version, i, a.Deleted)
		out.Flush()
	}
}

// TestCrashReplay: a process writing is killed with SIGKILL while its
// secondary lags; the next process replays the journal, and both stores
// end with every acknowledged write. Once with the transactional outbox
// (in the old store's SQLite file), once with the embedded journal.
func TestCrashReplay(t *testing.T) {
	for _, mode := range []string{"outbox", "journal"} {
		t.Run(mode, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			dir := t.TempDir()
			oldPath := filepath.Join(dir, "old.db")
			journal := ""
			if mode == "journal" {
				journal = filepath.Join(dir, "journal.db")
			}
			newDB, dsn := pgtest.NewDB(t, pgtest.Shared(t))
			mustExec(t, newDB, newDDL(dualwrite.Postgres, "customers_v2"))
			slowDown(t, newDB, "customers_v2")
			oldDB := openSQLite(t, dir, "old.db")
			mustExec(t, oldDB, oldDDL(dualwrite.SQLite, "customers"))
			_ = oldDB.Close()

			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=crash-writer", childOld+"="+oldPath, childDSN+"="+dsn, childJournal+"="+journal)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acks []acked
			sc := bufio.NewScanner(stdout)
			for len(acks) < 300 && sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 5 || f[0] != "ack" {
					t.Fatalf("child said %q", sc.Text())
				}
				v, _ := strconv.ParseUint(f[2], 10, 64)
				i, _ := strconv.Atoi(f[3])
				acks = append(acks, acked{key: f[1], value: customer(i), version: v, deleted: f[4] == "true"})
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if len(acks) < 300 {
				t.Fatalf("the child stopped after %d writes: %s", len(acks), stderr.String())
			}

			oldDB2, newDB2, old, neu, j, err := crashStores(ctx, oldPath, dsn, journal)
			if err != nil {
				t.Fatal(err)
			}
			defer oldDB2.Close()
			defer newDB2.Close()
			if j != nil {
				defer j.Close()
			}
			// The kill left writes for the secondary in the journal.
			jdb := oldDB2
			if j != nil {
				jdb, err = sql.Open("sqlite", dualwrite.SQLiteDSN(journal))
				if err != nil {
					t.Fatal(err)
				}
				defer jdb.Close()
			}
			var left int
			if err := jdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM dualwrite_journal`).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left == 0 {
				t.Fatal("nothing was pending at the kill: the test proves nothing")
			}
			t.Logf("%d writes acknowledged, %d journal entries left at the kill", len(acks), left)

			// Intents left by the child are resolved once they are older
			// than max(2 × secondary timeout, apply timeout): 2 s here.
			opts := []dualwrite.Option{dualwrite.WithApplyTimeout(time.Second)}
			if j != nil {
				opts = append(opts, dualwrite.WithJournal(j))
			}
			w := newWriter(t, "crash", old, neu, opts...) // replays at start
			if err := w.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			reconcileClean(t, ctx, w)
			checkAcked(t, ctx, [2]dualwrite.Store[Customer]{old, neu}, acks)
		})
	}
}
