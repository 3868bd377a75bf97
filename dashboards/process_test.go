package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file runs the test's outside processes (Prometheus, the Collector,
// the service example, go build) so that none outlives the test: each runs
// in a process group of its own, is killed with its group when the test
// ends (t.Cleanup, also after a failure), and gets SIGKILL from the kernel
// if the test binary itself dies (Pdeathsig).

// strictE2E reports whether missing tools fail the test instead of skipping
// it: on CI, or when asked for.
func strictE2E() bool { return os.Getenv("CI") == "true" || os.Getenv("DUALRUN_E2E") == "1" }

// needTools returns the paths of the named programs, or skips the test
// (fails it when strictE2E) when one is missing.
func needTools(t *testing.T, names ...string) map[string]string {
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
		if strictE2E() {
			t.Fatal(msg + "; failing because CI=true or DUALRUN_E2E=1")
		}
		t.Skip(msg + "; skipped (CI=true or DUALRUN_E2E=1 make this a failure)")
	}
	return paths
}

// output keeps what a process writes (up to a bound) and lets a test wait
// for a line.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
	changed chan struct{} // closed and replaced on every write
}

const outputLimit = 1 << 20

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := outputLimit - o.buf.Len(); len(p) > room {
		o.buf.Write(p[:max(room, 0)])
		o.dropped += len(p) - max(room, 0)
	} else {
		o.buf.Write(p)
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	if o.dropped > 0 {
		s += fmt.Sprintf("\n[%d bytes dropped]", o.dropped)
	}
	return s
}

// line waits until a whole line starting with prefix has been written and
// returns the rest of it.
func (o *output) line(ctx context.Context, prefix string) (string, error) {
	for {
		o.mu.Lock()
		text, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		for l := range strings.Lines(text) {
			if rest, ok := strings.CutPrefix(l, prefix); ok && strings.HasSuffix(rest, "\n") {
				return strings.TrimSuffix(rest, "\n"), nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("no line %q: %w", prefix, ctx.Err())
		}
	}
}

// process is a running outside program.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{}
	err    error // set before done is closed
}

// start starts cmd in a process group of its own and stops the group when
// the test ends. On failure, the end of its output is logged.
func start(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s: %v\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s", name, p.err, tail(p.stdout.String()), tail(p.stderr.String()))
		}
	})
	return p
}

func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "[...]" + s[len(s)-n:]
	}
	return s
}

// signal sends sig to the process's group.
func (p *process) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// stop ends the process group: SIGTERM, then SIGKILL after 10 s. It
// returns once the process has been waited for. (Once it has been, its
// group ID may name another group: no signal is sent after that.)
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// wait waits for the process to exit by itself, killing its group when
// ctx ends first, and returns its exit error.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not exit in time: %w", p.name, ctx.Err())
	}
}

// exited reports whether the process has exited, with its error.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// runCommand runs cmd to completion under the same rules and returns its
// combined output.
func runCommand(ctx context.Context, t *testing.T, name string, cmd *exec.Cmd) (string, error) {
	t.Helper()
	p := start(t, name, cmd)
	err := p.wait(ctx)
	return p.stdout.String() + p.stderr.String(), err
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually calls f every interval until it returns nil, and fails the
// test with f's last error when timeout passes first. The processes it
// waits for are real ones: there is no clock to fake.
func eventually(ctx context.Context, t *testing.T, timeout time.Duration, what string, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error // the last failure that was not the end of ctx
	for {
		err := f(ctx)
		if err == nil {
			return
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v: %v", what, timeout, last)
		case <-tick.C:
		}
	}
}
