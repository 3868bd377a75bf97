package dualrun_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
)

// These tests pin context.go: the shadow's context, detached from the
// caller's cancellation with a deadline of its own, IsShadow, and the pprof
// labels a shadow runs with.

// TestShadowContext pins the shadow's context: detached from cancellation,
// deadline = min(caller's deadline, start + timeout), values kept, IsShadow
// true, the hook applied, pprof labels set.
func TestShadowContext(t *testing.T) {
	type key struct{}
	tests := []struct {
		name           string
		reason         string
		callerTimeout  time.Duration // 0: no caller deadline
		shadowTimeout  time.Duration
		wantDeadlineIn time.Duration
	}{
		{"shadow timeout first", "start + shadow timeout is earlier", time.Hour, time.Second, time.Second},
		{"caller deadline first", "both sides get the caller's budget", 50 * time.Millisecond, time.Second, 50 * time.Millisecond},
		{"no caller deadline", "the shadow timeout alone", 0, 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				exp := newExp[price](t, dualrun.WithShadowTimeout(tt.shadowTimeout),
					dualrun.WithShadowContext(func(ctx context.Context) context.Context {
						return context.WithValue(ctx, key{}, "hooked")
					}))
				ctx := context.WithValue(context.Background(), key{}, "caller")
				if tt.callerTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.callerTimeout)
					defer cancel()
				}
				start := time.Now()
				type seen struct {
					deadline time.Time
					ok       bool
					shadow   bool
					value    any
					primary  bool
					labels   string
				}
				got := make(chan seen, 1)
				var primaryShadow bool
				_, _ = exp.Run(ctx, func(ctx context.Context) (price, error) {
					primaryShadow = dualrun.IsShadow(ctx)
					return eur100, nil
				}, func(ctx context.Context) (price, error) {
					d, ok := ctx.Deadline()
					var buf bytes.Buffer
					_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
					got <- seen{d, ok, dualrun.IsShadow(ctx), ctx.Value(key{}), false, buf.String()}
					return eur100, nil
				})
				s := <-got
				if !s.ok || !s.deadline.Equal(start.Add(tt.wantDeadlineIn)) {
					t.Errorf("%s: shadow deadline %v (set %v), want start + %v", tt.reason, s.deadline.Sub(start), s.ok, tt.wantDeadlineIn)
				}
				if !s.shadow || primaryShadow {
					t.Errorf("IsShadow: shadow %v, primary %v; want true, false", s.shadow, primaryShadow)
				}
				if s.value != "hooked" {
					t.Errorf("value through the hook = %v, want hooked", s.value)
				}
				if !strings.Contains(s.labels, `"dualrun.experiment":"`+exp.Name()+`"`) ||
					!strings.Contains(s.labels, `"dualrun.side":"candidate"`) {
					t.Errorf("goroutine profile shows no dualrun pprof labels")
				}
				waitShutdown(t, exp)
			})
		})
	}
}

// TestShadowContextValuesAndCancel: without a hook, the caller's values are
// kept; the shadow's context is done at its own deadline only.
func TestShadowContextValuesAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		exp := newExp[price](t, dualrun.WithShadowTimeout(time.Second))
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		type seen struct {
			value              any
			childAfterCancel   error
			causeAfterCancel   error
			errAfterCancel     error
			errAtDeadline      error
			childErrAtDeadline error
		}
		got := make(chan seen, 1)
		_, _ = exp.Run(ctx, ret(eur100, nil), func(sctx context.Context) (price, error) {
			var s seen
			s.value = sctx.Value(key{})
			child, stop := context.WithCancel(sctx)
			defer stop()
			cancel()
			time.Sleep(500 * time.Millisecond)
			s.childAfterCancel = child.Err()
			s.causeAfterCancel = context.Cause(sctx)
			s.errAfterCancel = sctx.Err()
			<-sctx.Done()
			s.errAtDeadline = sctx.Err()
			<-child.Done()
			s.childErrAtDeadline = child.Err()
			got <- s
			return eur100, nil
		})
		s := <-got
		if s.value != "v" || s.errAfterCancel != nil || s.childAfterCancel != nil || s.causeAfterCancel != nil ||
			s.errAtDeadline != context.DeadlineExceeded || //nolint:errorlint // Context.Err must return the sentinel itself
			s.childErrAtDeadline != context.DeadlineExceeded { //nolint:errorlint // as above
			t.Fatalf("shadow context: %+v", s)
		}
		waitShutdown(t, exp)
	})
}
