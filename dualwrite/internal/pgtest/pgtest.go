// Package pgtest starts throw-away PostgreSQL clusters for the tests of
// the dualwrite module: initdb into a temporary directory, then the server
// on a free loopback port, torn down even when the test binary dies.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Cluster is a PostgreSQL cluster started by the tests: initdb into a temporary
// directory, then the postgres server as a child process of the test
// binary, on a free loopback port, with its unix socket in that directory.
//
// The server runs as a direct child rather than daemonized by pg_ctl, so
// that it cannot outlive the test binary: it gets SIGKILL from the kernel
// when the binary dies (Pdeathsig), even on a test timeout that skips
// every cleanup, and its backends exit when it does. Stopping it is what
// `pg_ctl stop -m fast` does (SIGINT), then SIGKILL to its process group
// if it is not gone within 10 s.
//
// PostgreSQL refuses to run as root. As root (CI), initdb and postgres run
// as the `postgres` system user that Debian's package creates (the
// directory is chowned to it), through the process credentials; as any
// other user, as that user.
type Cluster struct {
	bin  string
	dir  string // owns data/ and the socket
	port int
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when the server process has exited
}

// BinDir finds initdb and postgres: $DUALRUN_PG_BIN, Debian's
// /usr/lib/postgresql/<major>/bin (newest first), then PATH.
func BinDir() (string, error) {
	ok := func(d string) bool {
		for _, p := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, p)); err != nil || st.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("DUALRUN_PG_BIN"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("DUALRUN_PG_BIN=%s holds no initdb and postgres", d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb and postgres not found (Debian: apt-get install postgresql, or run scripts/install-postgres.sh; or set DUALRUN_PG_BIN)")
}

// New makes a cluster in a new temporary directory and starts it.
func New() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dualwrite-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: no postgres user to run it as (%w)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for range 5 { // a free port may be taken between the probe and the start
		if c.port, err = freePort(); err != nil {
			break
		}
		if err = c.Start(); err == nil {
			return c, nil
		}
	}
	c.Destroy()
	return nil, err
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs the server and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data(),
		"-p", strconv.Itoa(c.port), "-k", c.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	c.cmd, c.exit = cmd, exit

	db, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		c.stopLocked()
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exit:
			c.cmd = nil
			log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			return fmt.Errorf("postgres exited at start: %s", tail(string(log), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stopLocked()
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop shuts the server down (fast shutdown), killing it if it lingers.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *Cluster) stopLocked() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exit:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exit
	}
	c.cmd = nil
}

// Destroy stops the server and removes its directory.
func (c *Cluster) Destroy() {
	c.Stop()
	_ = os.RemoveAll(c.dir)
}

// DSN returns the data source name of database db, for the pgx driver.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=5", c.port, db)
}

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
	dbSeq      atomic.Int64
)

// StopShared destroys the shared cluster, if one was started: call it
// from TestMain after the tests ran.
func StopShared() {
	if shared != nil {
		shared.Destroy()
	}
}

// pgUnavailable skips the test, or fails it where PostgreSQL is required
// (CI=true or DUALRUN_E2E=1).
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv("DUALRUN_E2E") == "1" {
		t.Fatalf("PostgreSQL is required here (CI=true or DUALRUN_E2E=1) but cannot be started: %v\n(run scripts/install-postgres.sh)", err)
	}
	t.Skipf("PostgreSQL not available, skipping: %v (run scripts/install-postgres.sh, or set DUALRUN_E2E=1 to make this a failure)", err)
}

// Shared returns the test binary's shared cluster, started on first use.
// Where PostgreSQL cannot be started, it skips t, or fails it when CI=true
// or DUALRUN_E2E=1.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New() })
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return shared
}

// Own starts a cluster for t alone (a test that stops and restarts
// it), destroyed when t ends.
func Own(t testing.TB) *Cluster {
	t.Helper()
	c, err := New()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(c.Destroy)
	return c
}

// NewDB creates a fresh database in c for t and opens it; it returns the
// database and its DSN.
func NewDB(t testing.TB, c *Cluster) (*sql.DB, string) {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	admin, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	dsn := c.DSN(name)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dsn
}
