package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Strict reports whether missing tools fail a test instead of skipping it:
// on CI (CI=true), or when asked for (DUALRUN_E2E=1).
func Strict() bool { return os.Getenv("CI") == "true" || os.Getenv("DUALRUN_E2E") == "1" }

// NeedTools returns the paths of the named programs, looked up on PATH. When
// one is missing it skips the test, or fails it when [Strict], with a
// message that says how to install it.
func NeedTools(t testing.TB, names ...string) map[string]string {
	t.Helper()
	paths := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing = append(missing, n)
			continue
		}
		paths[n] = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the end-to-end test needs %s on PATH (scripts/install-e2e-deps.sh installs Debian's prometheus package)",
			strings.Join(missing, ", "))
		if Strict() {
			t.Fatal(msg + "; failing because CI=true or DUALRUN_E2E=1")
		}
		t.Skip(msg + "; skipped (CI=true or DUALRUN_E2E=1 make this a failure)")
	}
	return paths
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// PollInterval is how often [Eventually] calls its function.
const PollInterval = 250 * time.Millisecond

// Poll calls f every interval until it returns nil, and returns nil then.
// When timeout passes (or ctx ends) first, it returns f's last error that
// was not caused by the end of the wait, wrapped with what and the
// timeout.
func Poll(ctx context.Context, timeout, interval time.Duration, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %v: %w", what, timeout, last)
		case <-tick.C:
		}
	}
}

// Eventually calls f every [PollInterval] until it returns nil, and fails
// the test with f's last error when timeout passes first. The processes
// it waits for are real ones: there is no clock to fake.
func Eventually(ctx context.Context, t testing.TB, timeout time.Duration, what string, f func(context.Context) error) {
	t.Helper()
	if err := Poll(ctx, timeout, PollInterval, what, f); err != nil {
		t.Fatal(err)
	}
}

// BuildGo builds the Go package pkg (such as "./service") of the module in
// dir with the go command at goBin, into a temporary directory of the test,
// and returns the binary's path. A failed build fails the test with the
// compiler's output.
func BuildGo(ctx context.Context, t testing.TB, goBin, dir, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(pkg)
	if name == "." || name == string(filepath.Separator) {
		name = "bin"
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(goBin, "build", "-o", bin, pkg)
	cmd.Dir = abs
	if out, err := Run(ctx, t, "go build "+pkg, cmd); err != nil {
		t.Fatalf("building %s in %s: %v\n%s", pkg, abs, err, out)
	}
	return bin
}
