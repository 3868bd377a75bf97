package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A test's outside programs (Prometheus, the service example, a controller,
// go build) run so that none outlives the test: each runs in a process
// group of its own, is stopped with its group when the test ends
// (t.Cleanup, also after a failure), and gets SIGKILL from the kernel if
// the test binary itself dies (Pdeathsig).

// OutputLimit bounds what an [Output] keeps; the rest is counted and
// dropped.
const OutputLimit = 1 << 20

// StopGrace is how long [Process.Stop] waits after SIGTERM before it sends
// SIGKILL.
const StopGrace = 10 * time.Second

// Output keeps what a process writes (up to [OutputLimit] bytes) and lets a
// test wait for a line. It is safe for concurrent use; use [NewOutput] to
// make one.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
	changed chan struct{} // closed and replaced on every write
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

// Write keeps p, or the part of it that fits under [OutputLimit]. It
// never fails.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := max(OutputLimit-o.buf.Len(), 0); len(p) > room {
		o.buf.Write(p[:room])
		o.dropped += len(p) - room
	} else {
		o.buf.Write(p)
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// String returns what was kept, with a note of how much was dropped.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	if o.dropped > 0 {
		s += fmt.Sprintf("\n[%d bytes dropped]", o.dropped)
	}
	return s
}

// Line waits until a whole line (ended by a newline) starting with prefix
// has been written, and returns the rest of the first such line. It
// returns an error when ctx ends first.
func (o *Output) Line(ctx context.Context, prefix string) (string, error) {
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

// Process is a running outside program, started by [Start].
type Process struct {
	// Name names the process in messages.
	Name string
	// Cmd is the started command.
	Cmd *exec.Cmd
	// Stdout and Stderr keep what the process writes.
	Stdout, Stderr *Output

	done chan struct{}
	err  error // set before done is closed
}

// Start starts cmd in a process group of its own, with its standard output
// and error captured, and stops the group when the test ends. If the test
// failed, the end of both outputs is logged then. A command that cannot be
// started fails the test.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, Stdout: NewOutput(), Stderr: NewOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s: %v\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s", name, p.err, Tail(p.Stdout.String()), Tail(p.Stderr.String()))
		}
	})
	return p
}

// Tail returns the last 4000 bytes of s, marked as cut when longer.
func Tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "[...]" + s[len(s)-n:]
	}
	return s
}

// Signal sends sig to the process's group, unless the process has been
// waited for (its group ID may then name another group).
func (p *Process) Signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Stop ends the process group: SIGTERM, then SIGKILL after [StopGrace].
// It returns once the process has been waited for. It is idempotent.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopGrace):
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Wait waits for the process to exit by itself and returns its exit error.
// When ctx ends first, it kills the process group and returns an error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not exit in time: %w", p.Name, ctx.Err())
	}
}

// Exited reports whether the process has exited, with its exit error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Run runs cmd to completion like [Start] (killed when ctx ends) and
// returns its standard output and error, concatenated.
func Run(ctx context.Context, t testing.TB, name string, cmd *exec.Cmd) (string, error) {
	t.Helper()
	p := Start(t, name, cmd)
	err := p.Wait(ctx)
	return p.Stdout.String() + p.Stderr.String(), err
}
