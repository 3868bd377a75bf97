package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

func TestOutputLine(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		writes []string
		prefix string
		want   string
		found  bool
	}{
		{"whole line", "the rest of the line", []string{"listening on http://x\n"}, "listening on ", "http://x", true},
		{"split writes", "a line may come in pieces", []string{"listen", "ing on a", "b\n"}, "listening on ", "ab", true},
		{"no newline yet", "a partial line is not a line", []string{"listening on http://x"}, "listening on ", "", false},
		{"first match", "the first such line wins", []string{"x 1\nx 2\n"}, "x ", "1", true},
		{"not at the start", "a prefix starts the line", []string{"say listening on y\n"}, "listening on ", "", false},
		{"later line", "any line", []string{"noise\n", "ready 7\n"}, "ready ", "7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := e2e.NewOutput()
			for _, w := range tt.writes {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			got, err := o.Line(ctx, tt.prefix)
			if (err == nil) != tt.found || got != tt.want {
				t.Errorf("Line(%q) = %q, %v; want %q, found %v (%s)", tt.prefix, got, err, tt.want, tt.found, tt.reason)
			}
			if !tt.found && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Line error %v, want the context's", err)
			}
		})
	}
}

// TestOutputLineWaits: Line returns as soon as another goroutine writes
// the line.
func TestOutputLineWaits(t *testing.T) {
	o := e2e.NewOutput()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			fmt.Fprintf(o, "tick %d\n", i)
		}
		fmt.Fprintf(o, "done 42\n")
	})
	defer wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := o.Line(ctx, "done "); err != nil || got != "42" {
		t.Errorf("Line = %q, %v", got, err)
	}
}

func TestOutputLimit(t *testing.T) {
	o := e2e.NewOutput()
	chunk := strings.Repeat("x", 1000)
	total := 0
	for total <= e2e.OutputLimit+5000 {
		n, err := o.Write([]byte(chunk))
		if n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v: a full Output must not fail the writer", n, err)
		}
		total += n
	}
	s := o.String()
	wantDropped := fmt.Sprintf("[%d bytes dropped]", total-e2e.OutputLimit)
	if !strings.HasSuffix(s, wantDropped) || len(s) != e2e.OutputLimit+len("\n")+len(wantDropped) {
		t.Errorf("String: %d bytes ending %q, want %d kept and %q", len(s), e2e.Tail(s)[max(0, len(e2e.Tail(s))-40):], e2e.OutputLimit, wantDropped)
	}
}

func TestTail(t *testing.T) {
	if got := e2e.Tail("short"); got != "short" {
		t.Errorf("Tail(short) = %q", got)
	}
	long := strings.Repeat("a", 5000) + "END"
	if got := e2e.Tail(long); !strings.HasPrefix(got, "[...]") || !strings.HasSuffix(got, "END") || len(got) != 4005 {
		t.Errorf("Tail(long): %d bytes", len(got))
	}
}

// TestStartCapturesAndStops runs a real shell: its output is captured, and
// stopping it ends its whole process group, a child included.
func TestStartCapturesAndStops(t *testing.T) {
	sh := e2e.NeedTools(t, "sh")["sh"]
	// The shell starts a child that ignores nothing and sleeps, prints
	// the child's PID, and waits.
	p := e2e.Start(t, "sh", exec.Command(sh, "-c", `sleep 60 & echo "child $!"; echo oops >&2; wait`))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pidText, err := p.Stdout.Line(ctx, "child ")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stderr.Line(ctx, "oops"); err != nil {
		t.Errorf("stderr: %v", err)
	}
	if done, _ := p.Exited(); done {
		t.Fatal("exited early")
	}
	p.Stop()
	if done, err := p.Exited(); !done || err == nil {
		t.Errorf("after Stop: exited %v, %v; want exited by a signal", done, err)
	}
	// The child was in the group: it is gone too (ESRCH), or a zombie
	// until whoever adopted it reaps it; give the kernel a moment.
	if err := e2e.Poll(ctx, 5*time.Second, 10*time.Millisecond, "child gone", func(context.Context) error {
		switch err := syscall.Kill(pid, 0); {
		case errors.Is(err, syscall.ESRCH):
			return nil
		case err != nil:
			return fmt.Errorf("kill -0 %d: %w", pid, err)
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// The state follows the command's closing parenthesis.
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
				return nil
			}
		}
		return fmt.Errorf("child %d still alive", pid)
	}); err != nil {
		t.Error(err)
	}
	p.Stop() // idempotent
	p.Signal(syscall.SIGKILL)
}

func TestRun(t *testing.T) {
	sh := e2e.NeedTools(t, "sh")["sh"]
	tests := []struct {
		name    string
		reason  string
		script  string
		timeout time.Duration
		want    string
		ok      bool
	}{
		{"success", "both outputs", `echo out; echo err >&2`, 10 * time.Second, "out\nerr\n", true},
		{"failure", "the exit status is the error", `echo bad; exit 3`, 10 * time.Second, "bad\n", false},
		{"too slow", "killed when ctx ends", `echo slow; exec sleep 60`, 200 * time.Millisecond, "slow\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			out, err := e2e.Run(ctx, t, tt.name, exec.Command(sh, "-c", tt.script))
			if (err == nil) != tt.ok || out != tt.want {
				t.Errorf("Run = %q, %v; want %q, ok %v (%s)", out, err, tt.want, tt.ok, tt.reason)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
