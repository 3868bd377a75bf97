package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

func TestStrict(t *testing.T) {
	tests := []struct {
		name, reason string
		ci, e2eVar   string
		want         bool
	}{
		{"neither", "a developer's machine", "", "", false},
		{"CI", "CI=true, as CI systems set it", "true", "", true},
		{"CI other", "only the value true", "1", "", false},
		{"asked for", "DUALRUN_E2E=1", "", "1", true},
		{"asked other", "only the value 1", "", "yes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("DUALRUN_E2E", tt.e2eVar)
			if got := e2e.Strict(); got != tt.want {
				t.Errorf("Strict() = %v, want %v (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

func TestNeedTools(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("DUALRUN_E2E", "")
	var found map[string]string
	t.Run("present", func(t *testing.T) {
		found = e2e.NeedTools(t, "sh")
	})
	if p, err := exec.LookPath("sh"); err != nil || found["sh"] != p {
		t.Errorf("NeedTools(sh) = %v, want %q", found, p)
	}
	reached := false
	t.Run("missing", func(t *testing.T) {
		e2e.NeedTools(t, "sh", "dualrun-no-such-tool")
		reached = true
	})
	if reached {
		t.Error("NeedTools went on with a missing tool; want the test skipped (not strict)")
	}
}

func TestFreePort(t *testing.T) {
	port := e2e.FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("port %d", port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("the free port %d: %v", port, err)
	}
	l.Close()
}

var errNotYet = errors.New("not yet")

func TestPoll(t *testing.T) {
	tests := []struct {
		name     string
		reason   string
		okAfter  int // calls before f succeeds; -1: never
		ctxErr   bool
		wantErr  error
		wantTook time.Duration
	}{
		{"at once", "no wait when f holds", 0, false, nil, 0},
		{"after three", "one interval per failed call", 3, false, nil, 3 * time.Second},
		{"never", "the last error, after the timeout", -1, false, errNotYet, 10 * time.Second},
		{"context error last", "an error caused by the end of the wait does not hide the real one", -1, true, errNotYet, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				start := time.Now()
				err := e2e.Poll(context.Background(), 10*time.Second, time.Second, "thing", func(ctx context.Context) error {
					calls++
					if tt.okAfter >= 0 && calls > tt.okAfter {
						return nil
					}
					if tt.ctxErr && ctx.Err() != nil {
						return fmt.Errorf("query: %w", ctx.Err())
					}
					return errNotYet
				})
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("Poll = %v, want %v (%s)", err, tt.wantErr, tt.reason)
				}
				if err != nil && (!strings.Contains(err.Error(), "thing: not within 10s") || errors.Is(err, context.DeadlineExceeded)) {
					t.Errorf("Poll error %q: want what, the timeout and f's own error", err)
				}
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("took %v, want %v (%s)", took, tt.wantTook, tt.reason)
				}
			})
		})
	}
}

func TestEventually(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		e2e.Eventually(context.Background(), t, time.Minute, "third call", func(context.Context) error {
			if n++; n < 3 {
				return errNotYet
			}
			return nil
		})
		if n != 3 {
			t.Errorf("%d calls, want 3", n)
		}
	})
}

func TestBuildGo(t *testing.T) {
	goBin := e2e.NeedTools(t, "go")["go"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := e2e.BuildGo(ctx, t, goBin, "testdata/hello", ".")
	out, err := e2e.Run(ctx, t, "hello", exec.Command(bin))
	if err != nil || out != "hello from a built binary\n" {
		t.Errorf("built binary: %q, %v", out, err)
	}
}
