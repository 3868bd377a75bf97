package dualrun_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// price is a small value type compared with ==.
type price struct {
	Cents    int64
	Currency string
}

func ret(p price, err error) dualrun.Func[price] {
	return func(context.Context) (price, error) { return p, err }
}

var eur100 = price{100, "EUR"}

var testSeq atomic.Int64

// newExp makes an experiment with a unique name.
func newExp[T any](t *testing.T, opts ...dualrun.Option) *dualrun.Experiment[T] {
	t.Helper()
	return dualrun.New[T](fmt.Sprintf("%s#%d", t.Name(), testSeq.Add(1)), opts...)
}

func mustShutdown(t *testing.T, e interface{ Shutdown(context.Context) error }) {
	t.Helper()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func candidatePrimary() dualrun.Option {
	return dualrun.WithRollout(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All})
}

// TestOutcomes pins every outcome and mismatch kind of the outcome table,
// with either side primary.
func TestOutcomes(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name      string
		reason    string
		legacy    dualrun.Func[price]
		candidate dualrun.Func[price]
		opts      []dualrun.Option
		want      dualrun.Outcome
		kind      int64 // expected value/error/errors_differ counters: 1 = value, 2 = error, 3 = errors_differ
	}{
		{"match", "equal values", ret(eur100, nil), ret(eur100, nil), nil, dualrun.Match, 0},
		{"both erred", "errors are equivalent by nil-ness by default", ret(price{}, errA), ret(price{}, errB), nil, dualrun.Match, 0},
		{"value", "different values", ret(eur100, nil), ret(price{101, "EUR"}, nil), nil, dualrun.Mismatch, 1},
		{"candidate erred", "exactly one side erred", ret(eur100, nil), ret(price{}, errB), nil, dualrun.Mismatch, 2},
		{"legacy erred", "exactly one side erred, the other way", ret(price{}, errA), ret(eur100, nil), nil, dualrun.Mismatch, 2},
		{
			"errors differ", "both erred with errors the error comparer tells apart",
			ret(price{}, errA), ret(price{}, errB),
			[]dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			dualrun.Mismatch, 3,
		},
		{
			"errors same message", "the error comparer finds them equivalent",
			ret(price{}, errors.New("x")), ret(price{}, errors.New("x")),
			[]dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			dualrun.Match, 0,
		},
		{
			"values differ only after error", "values are not compared when both erred",
			ret(price{1, "X"}, errA), ret(price{2, "Y"}, errA), nil, dualrun.Match, 0,
		},
		{
			"ignored", "an ignore rule accepts the difference",
			ret(eur100, nil), ret(price{101, "EUR"}, nil),
			[]dualrun.Option{dualrun.WithIgnore(func(l, c dualrun.Result[price]) bool { return c.Value.Cents-l.Value.Cents == 1 })},
			dualrun.Ignored, 0,
		},
		{
			"ignore rule does not match", "rules only turn a difference into ignored when they say so",
			ret(eur100, nil), ret(price{150, "EUR"}, nil),
			[]dualrun.Option{dualrun.WithIgnore(func(_, _ dualrun.Result[price]) bool { return false })},
			dualrun.Mismatch, 1,
		},
		{
			"normalized", "a normalizer removes the difference",
			ret(eur100, nil), ret(price{100, "eur"}, nil),
			[]dualrun.Option{dualrun.WithNormalizer(func(p price) price { p.Currency = strings.ToUpper(p.Currency); return p })},
			dualrun.Match, 0,
		},
		{
			"comparer", "a custom comparer replaces ==",
			ret(eur100, nil), ret(price{104, "EUR"}, nil),
			[]dualrun.Option{dualrun.WithComparer(func(l, c price) bool { return c.Cents-l.Cents < 5 })},
			dualrun.Match, 0,
		},
		{
			"shadow panic", "the non-primary side panicked",
			ret(eur100, nil), func(context.Context) (price, error) { panic("boom") }, nil, dualrun.Panic, 0,
		},
		{
			"comparer panics", "a user callback failing is outcome error",
			ret(eur100, nil), ret(eur100, nil),
			[]dualrun.Option{dualrun.WithComparer(func(_, _ price) bool { panic("bad comparer") })},
			dualrun.Error, 0,
		},
		{
			"normalizer panics", "a user callback failing is outcome error",
			ret(eur100, nil), ret(eur100, nil),
			[]dualrun.Option{dualrun.WithNormalizer(func(price) price { panic("bad normalizer") })},
			dualrun.Error, 0,
		},
		{
			"ignore rule panics", "a user callback failing is outcome error",
			ret(eur100, nil), ret(price{1, "EUR"}, nil),
			[]dualrun.Option{dualrun.WithIgnore(func(_, _ dualrun.Result[price]) bool { panic("bad rule") })},
			dualrun.Error, 0,
		},
		{
			"error comparer panics", "a user callback failing is outcome error",
			ret(price{}, errA), ret(price{}, errB),
			[]dualrun.Option{dualrun.WithErrorComparer(func(_, _ error) bool { panic("bad") })},
			dualrun.Error, 0,
		},
		{
			"shadow context hook panics", "the shadow does not run; outcome error",
			ret(eur100, nil), ret(eur100, nil),
			[]dualrun.Option{dualrun.WithShadowContext(func(context.Context) context.Context { panic("bad hook") })},
			dualrun.Error, 0,
		},
	}
	for _, tt := range tests {
		for _, primary := range []dualrun.Side{dualrun.Legacy, dualrun.Candidate} {
			t.Run(tt.name+"/"+primary.String(), func(t *testing.T) {
				opts := tt.opts
				if primary == dualrun.Candidate {
					opts = append(opts[:len(opts):len(opts)], candidatePrimary())
				}
				legacy, candidate := tt.legacy, tt.candidate
				if primary == dualrun.Candidate && tt.want == dualrun.Panic {
					// The panicking side must be the shadow.
					legacy, candidate = tt.candidate, tt.legacy
				}
				exp := newExp[price](t, opts...)
				v, err := exp.Run(context.Background(), legacy, candidate)
				primaryFn := legacy
				if primary == dualrun.Candidate {
					primaryFn = candidate
				}
				wantV, wantErr := primaryFn(context.Background())
				if v != wantV || err != wantErr { //nolint:errorlint // Run returns the primary's error itself, unwrapped
					t.Errorf("Run = %v, %v; want the primary's %v, %v", v, err, wantV, wantErr)
				}
				mustShutdown(t, exp)
				s := exp.Stats()
				for o := range rollout.NumOutcomes {
					want := int64(0)
					if dualrun.Outcome(o) == tt.want {
						want = 1
					}
					if got := s.Count(dualrun.Outcome(o)); got != want {
						t.Errorf("%s: outcome %v counted %d, want %d (%s)", tt.reason, dualrun.Outcome(o), got, want, tt.reason)
					}
				}
				kinds := []int64{s.ValueMismatches, s.ErrorMismatches, s.ErrorsDiffer}
				for i, n := range kinds {
					want := int64(0)
					if tt.kind == int64(i+1) {
						want = 1
					}
					if n != want {
						t.Errorf("mismatch kind %d counted %d, want %d", i+1, n, want)
					}
				}
				if s.Calls != 1 || s.Compared != 1 {
					t.Errorf("Calls, Compared = %d, %d; want 1, 1", s.Calls, s.Compared)
				}
			})
		}
	}
}

// TestCallerReturnsBeforeSlowShadow: the primary's result comes back while
// the shadow is still running, and the shadow is compared afterwards.
func TestCallerReturnsBeforeSlowShadow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		exp := newExp[price](t, dualrun.WithShadowTimeout(time.Hour))
		v, err := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			<-release
			return eur100, nil
		})
		if v != eur100 || err != nil {
			t.Fatalf("Run = %v, %v", v, err)
		}
		synctest.Wait()
		if s := exp.Stats(); s.InFlight != 1 || s.Count(dualrun.Match) != 0 {
			t.Fatalf("after Run returned: InFlight %d, matches %d; want the shadow still running", s.InFlight, s.Count(dualrun.Match))
		}
		close(release)
		mustShutdown(t, exp)
		if s := exp.Stats(); s.InFlight != 0 || s.Count(dualrun.Match) != 1 {
			t.Fatalf("after the shadow returned: InFlight %d, matches %d", s.InFlight, s.Count(dualrun.Match))
		}
	})
}

// TestShadowStartsFirst: the shadow is started before the primary runs, so
// a primary can wait for it.
func TestShadowStartsFirst(t *testing.T) {
	started := make(chan struct{})
	exp := newExp[price](t)
	_, _ = exp.Run(context.Background(), func(context.Context) (price, error) {
		<-started // would block forever if the shadow only started after the primary
		return eur100, nil
	}, func(context.Context) (price, error) {
		close(started)
		return eur100, nil
	})
	mustShutdown(t, exp)
}

// TestPrimaryPanicUnwindsCaller: the primary's panic reaches the caller with
// its original value, the shadow side records aborted and frees its slot.
func TestPrimaryPanicUnwindsCaller(t *testing.T) {
	for _, primary := range []dualrun.Side{dualrun.Legacy, dualrun.Candidate} {
		t.Run(primary.String(), func(t *testing.T) {
			type boom struct{ n int }
			want := &boom{42}
			var opts []dualrun.Option
			if primary == dualrun.Candidate {
				opts = append(opts, candidatePrimary())
			}
			exp := newExp[price](t, opts...)
			panicking := func(context.Context) (price, error) { panic(want) }
			legacy, candidate := panicking, ret(eur100, nil)
			if primary == dualrun.Candidate {
				legacy, candidate = candidate, panicking
			}
			got := func() (r any) {
				defer func() { r = recover() }()
				_, _ = exp.Run(context.Background(), legacy, candidate)
				t.Error("Run returned normally")
				return nil
			}()
			if got != want {
				t.Fatalf("recovered %v (%T), want the primary's own panic value %v", got, got, want)
			}
			mustShutdown(t, exp)
			s := exp.Stats()
			if s.Count(dualrun.Aborted) != 1 || s.InFlight != 0 {
				t.Fatalf("aborted %d, in flight %d; want 1, 0", s.Count(dualrun.Aborted), s.InFlight)
			}
		})
	}
}

// TestPrimaryGoexit: runtime.Goexit in the primary ends the caller's
// goroutine as it would without dualrun; the call is aborted, no slot leaks.
func TestPrimaryGoexit(t *testing.T) {
	exp := newExp[price](t)
	after := false
	deferred := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { deferred = true }()
		_, _ = exp.Run(context.Background(), func(context.Context) (price, error) {
			runtime.Goexit()
			return eur100, nil
		}, ret(eur100, nil))
		after = true
	}()
	<-done
	if after || !deferred {
		t.Fatalf("after Run: %v, caller's deferred call ran: %v; want the goroutine to exit through its defers", after, deferred)
	}
	mustShutdown(t, exp)
	if s := exp.Stats(); s.Count(dualrun.Aborted) != 1 || s.InFlight != 0 {
		t.Fatalf("aborted %d, in flight %d; want 1, 0", s.Count(dualrun.Aborted), s.InFlight)
	}
}

// TestCallerCanceled: a primary that fails because the caller canceled is
// aborted, not a mismatch; the shadow is not canceled with the caller.
func TestCallerCanceled(t *testing.T) {
	exp := newExp[price](t)
	ctx, cancel := context.WithCancel(context.Background())
	shadowErr := make(chan error, 1)
	_, err := exp.Run(ctx, func(ctx context.Context) (price, error) {
		cancel()
		return price{}, ctx.Err()
	}, func(sctx context.Context) (price, error) {
		<-ctx.Done() // the caller is canceled...
		shadowErr <- sctx.Err()
		return eur100, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	mustShutdown(t, exp)
	if e := <-shadowErr; e != nil {
		t.Errorf("shadow context error after the caller canceled = %v, want nil (detached)", e)
	}
	if s := exp.Stats(); s.Count(dualrun.Aborted) != 1 || s.Count(dualrun.Mismatch) != 0 {
		t.Fatalf("outcomes %v, want one aborted", s.Outcomes)
	}
}

// TestShadowPanicRecorded: a shadow panic becomes a PanicError with the
// value and the stack, is counted as panic, and never reaches the caller.
func TestShadowPanicRecorded(t *testing.T) {
	sentinel := errors.New("sentinel")
	var got *dualrun.Report
	exp := newExp[price](t, dualrun.WithPublisher(dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		got = r
		return nil
	}))))
	v, err := exp.Run(context.Background(), ret(eur100, nil), panicsInShadow(sentinel))
	if v != eur100 || err != nil {
		t.Fatalf("Run = %v, %v", v, err)
	}
	mustShutdown(t, exp)
	if got == nil || got.Outcome != dualrun.Panic {
		t.Fatalf("report = %v, want a panic report", got)
	}
	var pe *dualrun.PanicError
	if !errors.As(got.CandidateErr, &pe) {
		t.Fatalf("CandidateErr = %T, want *PanicError", got.CandidateErr)
	}
	if pe.Value != sentinel || !errors.Is(got.CandidateErr, sentinel) { //nolint:errorlint // Value must be the panic value itself
		t.Errorf("PanicError.Value = %v; errors.Is(sentinel) = %v", pe.Value, errors.Is(got.CandidateErr, sentinel))
	}
	if !bytes.Contains(pe.Stack, []byte("panicsInShadow")) {
		t.Errorf("stack does not show the panicking function:\n%s", pe.Stack)
	}
}

func panicsInShadow(v any) dualrun.Func[price] {
	return func(context.Context) (price, error) { panic(v) }
}

// TestShadowGoexit: runtime.Goexit in the shadow is recorded as a panic and
// does not leak the slot.
func TestShadowGoexit(t *testing.T) {
	exp := newExp[price](t)
	_, _ = exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
		runtime.Goexit()
		return eur100, nil
	})
	mustShutdown(t, exp)
	s := exp.Stats()
	if s.Count(dualrun.Panic) != 1 || s.InFlight != 0 {
		t.Fatalf("panic %d, in flight %d; want 1, 0", s.Count(dualrun.Panic), s.InFlight)
	}
}

// TestShadowTimeout: at the deadline the call is recorded as timeout; the
// caller is unaffected; the slot stays taken until the shadow returns; the
// late result is discarded.
func TestShadowTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var reports []*dualrun.Report
		var mu sync.Mutex
		exp := newExp[price](t, dualrun.WithShadowTimeout(100*time.Millisecond),
			dualrun.WithPublisher(dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				mu.Lock()
				reports = append(reports, r)
				mu.Unlock()
				return nil
			}))))
		start := time.Now()
		v, err := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			<-release // ignores its context
			return price{999, "USD"}, nil
		})
		if v != eur100 || err != nil || time.Since(start) != 0 {
			t.Fatalf("Run = %v, %v after %v; want the primary's result at once", v, err, time.Since(start))
		}
		time.Sleep(99 * time.Millisecond) // fake time: nothing recorded yet
		synctest.Wait()
		if n := exp.Stats().Count(dualrun.Timeout); n != 0 {
			t.Fatalf("timeout recorded %v before the deadline", time.Since(start))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		s := exp.Stats()
		if s.Count(dualrun.Timeout) != 1 || s.InFlight != 1 {
			t.Fatalf("at the deadline: timeouts %d, in flight %d; want 1 and the slot still held", s.Count(dualrun.Timeout), s.InFlight)
		}
		close(release)
		mustShutdown(t, exp)
		s = exp.Stats()
		if s.Count(dualrun.Timeout) != 1 || s.Count(dualrun.Mismatch) != 0 || s.InFlight != 0 {
			t.Fatalf("after the late return: %v, in flight %d; want the late result discarded", s.Outcomes, s.InFlight)
		}
		if len(reports) != 1 || reports[0].Outcome != dualrun.Timeout {
			t.Fatalf("reports %v, want one timeout", reports)
		}
		var te *dualrun.TimeoutError
		if !errors.As(reports[0].CandidateErr, &te) || !errors.Is(te, context.DeadlineExceeded) {
			t.Errorf("CandidateErr = %v, want a *TimeoutError wrapping DeadlineExceeded", reports[0].CandidateErr)
		}
	})
}

// TestShadowContext pins rule 4: detached from cancellation, deadline =
// min(caller's deadline, start + timeout), values kept, IsShadow true, the
// hook applied, pprof labels set.
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
				mustShutdown(t, exp)
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
		mustShutdown(t, exp)
	})
}

// TestInFlightLimit: at most the limit of shadows run at once, the excess is
// shed and counted; a candidate that ignores its context holds at most the
// limit of goroutines, also past its deadline.
func TestInFlightLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, calls = 4, 10
		release := make(chan struct{})
		var running, maxRunning atomic.Int64
		exp := newExp[price](t, dualrun.WithMaxInFlight(limit), dualrun.WithShadowTimeout(10*time.Millisecond))
		for range calls {
			v, err := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
				n := running.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				<-release // ignores its context
				running.Add(-1)
				return eur100, nil
			})
			if v != eur100 || err != nil {
				t.Fatalf("Run = %v, %v", v, err)
			}
		}
		time.Sleep(time.Second) // far past every deadline
		synctest.Wait()
		s := exp.Stats()
		if s.InFlight != limit || running.Load() != limit {
			t.Fatalf("past the deadline: in flight %d, running %d; want the limit %d (slots are released on return)", s.InFlight, running.Load(), limit)
		}
		if s.Count(dualrun.Shed) != calls-limit || s.Count(dualrun.Timeout) != limit {
			t.Fatalf("shed %d, timeouts %d; want %d, %d", s.Count(dualrun.Shed), s.Count(dualrun.Timeout), calls-limit, limit)
		}
		if s.Calls != calls || s.Compared != limit {
			t.Fatalf("calls %d compared %d", s.Calls, s.Compared)
		}
		close(release)
		mustShutdown(t, exp)
		if maxRunning.Load() != limit || exp.Stats().InFlight != 0 {
			t.Fatalf("max running %d, in flight after shutdown %d", maxRunning.Load(), exp.Stats().InFlight)
		}
	})
}

// TestProcessLimit: the process-wide cap sheds across experiments.
func TestProcessLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dualrun.SetProcessMaxInFlight(2)
		defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
		release := make(chan struct{})
		hang := func(context.Context) (price, error) { <-release; return eur100, nil }
		a, b := newExp[price](t), newExp[price](t)
		_, _ = a.Run(context.Background(), ret(eur100, nil), hang)
		_, _ = b.Run(context.Background(), ret(eur100, nil), hang)
		_, _ = b.Run(context.Background(), ret(eur100, nil), hang)
		if dualrun.ProcessInFlight() != 2 || b.Stats().Count(dualrun.Shed) != 1 {
			t.Fatalf("process in flight %d, b shed %d; want 2, 1", dualrun.ProcessInFlight(), b.Stats().Count(dualrun.Shed))
		}
		close(release)
		mustShutdown(t, a)
		mustShutdown(t, b)
		if dualrun.ProcessInFlight() != 0 {
			t.Fatalf("process in flight %d after shutdown", dualrun.ProcessInFlight())
		}
	})
}

// TestCompareOrder: compare(legacy, candidate) whichever side is primary.
func TestCompareOrder(t *testing.T) {
	for _, primary := range []dualrun.Side{dualrun.Legacy, dualrun.Candidate} {
		t.Run(primary.String(), func(t *testing.T) {
			var got [2]string
			opts := []dualrun.Option{dualrun.WithComparer(func(l, c string) bool {
				got = [2]string{l, c}
				return true
			})}
			if primary == dualrun.Candidate {
				opts = append(opts, candidatePrimary())
			}
			exp := newExp[string](t, opts...)
			v, _ := exp.Run(context.Background(),
				func(context.Context) (string, error) { return "legacy", nil },
				func(context.Context) (string, error) { return "candidate", nil })
			if v != primary.String() {
				t.Errorf("Run = %q, want the %s side's value", v, primary)
			}
			mustShutdown(t, exp)
			if got != [2]string{"legacy", "candidate"} {
				t.Fatalf("comparer called with %q, want (legacy, candidate)", got)
			}
		})
	}
}

// TestValuesShared: the comparison reads the value the caller got;
// WithClone gives the caller a copy instead.
func TestValuesShared(t *testing.T) {
	type cart struct{ Items []int }
	for _, clone := range []bool{false, true} {
		t.Run(fmt.Sprintf("clone=%v", clone), func(t *testing.T) {
			var compared *cart
			opts := []dualrun.Option{dualrun.WithComparer(func(l, _ *cart) bool { compared = l; return true })}
			if clone {
				opts = append(opts, dualrun.WithClone(func(c *cart) *cart {
					return &cart{Items: append([]int(nil), c.Items...)}
				}))
			}
			exp := newExp[*cart](t, opts...)
			orig := &cart{Items: []int{1}}
			v, _ := exp.Run(context.Background(),
				func(context.Context) (*cart, error) { return orig, nil },
				func(context.Context) (*cart, error) { return &cart{Items: []int{1}}, nil })
			mustShutdown(t, exp)
			if compared != orig {
				t.Errorf("comparer got %p, want the primary's own value %p", compared, orig)
			}
			if (v == orig) == clone {
				t.Errorf("caller got %p (original %p), clone=%v", v, orig, clone)
			}
		})
	}
}

// TestClonePanics: a panicking clone gives the caller the original value
// and records outcome error.
func TestClonePanics(t *testing.T) {
	exp := newExp[price](t, dualrun.WithClone(func(price) price { panic("bad clone") }))
	v, err := exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	if v != eur100 || err != nil {
		t.Fatalf("Run = %v, %v", v, err)
	}
	mustShutdown(t, exp)
	if n := exp.Stats().Count(dualrun.Error); n != 1 {
		t.Fatalf("errors %d, want 1", n)
	}
}

// panicPolicy panics on every decision.
type panicPolicy struct{}

func (panicPolicy) Decide(context.Context, string) rollout.Decision { panic("policy bug") }

// TestPolicyPanic: a policy that panics is recovered: legacy primary, no
// shadow, counted.
func TestPolicyPanic(t *testing.T) {
	exp := newExp[string](t, dualrun.WithRollout(panicPolicy{}))
	ran := ""
	v, err := exp.Run(context.Background(),
		func(context.Context) (string, error) { ran += "legacy"; return "l", nil },
		func(context.Context) (string, error) { ran += "candidate"; return "c", nil })
	mustShutdown(t, exp)
	s := exp.Stats()
	if v != "l" || err != nil || ran != "legacy" || s.PolicyFailures != 1 || s.Compared != 0 {
		t.Fatalf("Run = %q, %v; ran %q; stats %+v", v, err, ran, s)
	}
}

// observingPolicy records observations; it can be told to panic.
type observingPolicy struct {
	rollout.Static
	mu    sync.Mutex
	seen  []rollout.Observation
	panic bool
}

func (p *observingPolicy) Observe(o rollout.Observation) {
	if p.panic {
		panic("observer bug")
	}
	p.mu.Lock()
	p.seen = append(p.seen, o)
	p.mu.Unlock()
}

// TestObserver: policies that observe get every compared call's outcome; a
// panicking observer is outcome error.
func TestObserver(t *testing.T) {
	p := &observingPolicy{Static: rollout.Static{Shadow: rollout.All}}
	exp := newExp[price](t, dualrun.WithRollout(p))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, errors.New("x")))
	mustShutdown(t, exp)
	if len(p.seen) != 1 || p.seen[0].Outcome != dualrun.Mismatch || !p.seen[0].CandidateErr || p.seen[0].LegacyErr {
		t.Fatalf("observations %+v", p.seen)
	}

	p2 := &observingPolicy{Static: rollout.Static{Shadow: rollout.All}, panic: true}
	exp2 := newExp[price](t, dualrun.WithRollout(p2))
	_, _ = exp2.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	mustShutdown(t, exp2)
	if s := exp2.Stats(); s.Count(dualrun.Error) != 1 || s.Count(dualrun.Match) != 0 {
		t.Fatalf("outcomes %v, want one error", s.Outcomes)
	}
}

// TestKillSwitch: DisableShadows stops every shadow; calls go on.
func TestKillSwitch(t *testing.T) {
	exp := newExp[price](t)
	dualrun.DisableShadows()
	if dualrun.ShadowsEnabled() {
		t.Fatal("ShadowsEnabled after DisableShadows")
	}
	ranCandidate := false
	v, _ := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
		ranCandidate = true
		return eur100, nil
	})
	dualrun.EnableShadows()
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	mustShutdown(t, exp)
	s := exp.Stats()
	if v != eur100 || ranCandidate || s.Calls != 2 || s.Compared != 1 {
		t.Fatalf("ran candidate %v; calls %d compared %d", ranCandidate, s.Calls, s.Compared)
	}
}

// TestUncomparedDoesNotAllocate: the uncompared path makes no allocation.
func TestUncomparedDoesNotAllocate(t *testing.T) {
	for _, policy := range []rollout.Static{{}, {Shadow: rollout.Percent(0.01)}, {CandidatePrimary: rollout.All}} {
		exp := newExp[price](t, dualrun.WithRollout(policy))
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			_, _ = exp.Run(ctx, legacyPrice, candidatePrice)
		})
		if allocs != 0 && policy.Shadow == 0 {
			t.Errorf("policy %+v: %v allocs per uncompared call, want 0", policy, allocs)
		}
		mustShutdown(t, exp)
	}
}

func legacyPrice(context.Context) (price, error)    { return eur100, nil }
func candidatePrice(context.Context) (price, error) { return eur100, nil }

// TestShutdown: idempotent, safe against concurrent Run, waits for shadows,
// and returns ctx.Err() while a shadow is stuck.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		exp := newExp[price](t, dualrun.WithShadowTimeout(time.Hour))
		_, _ = exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			<-release
			return eur100, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := exp.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a stuck shadow = %v, want DeadlineExceeded", err)
		}
		// After Shutdown, calls go on, primary only.
		ranCandidate := false
		v, _ := exp.Run(context.Background(), ret(eur100, nil), func(context.Context) (price, error) {
			ranCandidate = true
			return eur100, nil
		})
		if v != eur100 || ranCandidate {
			t.Fatalf("after Shutdown: Run = %v, candidate ran %v", v, ranCandidate)
		}
		done := make(chan error, 2)
		go func() { done <- exp.Shutdown(context.Background()) }()
		go func() { done <- exp.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a shadow is still running", err)
		default:
		}
		close(release)
		for range 2 {
			if err := <-done; err != nil {
				t.Fatalf("Shutdown = %v", err)
			}
		}
		if err := exp.Shutdown(context.Background()); err != nil || !exp.Stats().ShutDown {
			t.Fatalf("second Shutdown = %v", err)
		}
	})
}

// TestShutdownConcurrentRun hammers Run from several goroutines while
// Shutdown runs: no slot may leak and no call may fail.
func TestShutdownConcurrentRun(t *testing.T) {
	exp := newExp[price](t, dualrun.WithMaxInFlight(8))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v, err := exp.Run(context.Background(), legacyPrice, candidatePrice); v != eur100 || err != nil {
					t.Errorf("Run = %v, %v", v, err)
					return
				}
			}
		})
	}
	for exp.Stats().Compared < 100 {
		runtime.Gosched()
	}
	mustShutdown(t, exp)
	s := exp.Stats()
	close(stop)
	wg.Wait()
	if s.InFlight != 0 || dualrun.ProcessInFlight() != 0 {
		t.Fatalf("after Shutdown: in flight %d, process %d", s.InFlight, dualrun.ProcessInFlight())
	}
	total := int64(0)
	for _, n := range s.Outcomes {
		total += n
	}
	if total-s.Count(dualrun.Shed) != s.Compared {
		t.Fatalf("outcomes %v do not add up to %d compared calls", s.Outcomes, s.Compared)
	}
}

// TestRunRegistry: Run needs a name, keeps one experiment per name (the
// first options win) and panics on a second type.
func TestRunRegistry(t *testing.T) {
	name := fmt.Sprintf("%s#%d", t.Name(), testSeq.Add(1))
	mustPanic(t, "missing WithName", func() {
		_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice)
	})
	_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice, dualrun.WithName(name),
		dualrun.WithRollout(rollout.Static{}))
	// Later options are ignored: this would compare every call.
	_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice, dualrun.WithName(name))
	mustPanic(t, "was first used with type", func() {
		_, _ = dualrun.Run(context.Background(),
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { return 1, nil }, dualrun.WithName(name))
	})
	if err := dualrun.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var s dualrun.Stats
	for _, st := range dualrun.AllStats() {
		if st.Name == name {
			s = st
		}
	}
	if s.Calls != 2 || s.Compared != 0 || !s.ShutDown {
		t.Fatalf("stats of %q: calls %d compared %d shut down %v; want the first call's options", name, s.Calls, s.Compared, s.ShutDown)
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("panic %v, want one mentioning %q", r, want)
		}
	}()
	f()
}

// TestProgrammerErrors: bad options panic with a clear message.
func TestProgrammerErrors(t *testing.T) {
	tests := []struct {
		name string
		want string
		f    func()
	}{
		{"empty name", "name is empty", func() { dualrun.New[int]("") }},
		{"zero timeout", "WithShadowTimeout", func() { dualrun.WithShadowTimeout(0) }},
		{"zero in-flight", "WithMaxInFlight", func() { dualrun.WithMaxInFlight(0) }},
		{"process limit", "SetProcessMaxInFlight", func() { dualrun.SetProcessMaxInFlight(0) }},
		{"comparer type", "WithComparer", func() {
			dualrun.New[int]("wrong-comparer", dualrun.WithComparer(func(a, b string) bool { return a == b }))
		}},
		{"normalizer type", "WithNormalizer", func() {
			dualrun.New[int]("wrong-normalizer", dualrun.WithNormalizer(func(s string) string { return s }))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustPanic(t, tt.want, tt.f) })
	}
}

// TestCmpPanicIsError: go-cmp panicking on unexported fields is outcome
// error with advice, never a crash and never a silent match.
func TestCmpPanicIsError(t *testing.T) {
	type hidden struct {
		Public  *int
		private int
	}
	var got *dualrun.Report
	exp := newExp[hidden](t, dualrun.WithPublisher(dualrun.NamePublisher("c", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		got = r
		return nil
	}))))
	one := 1
	_, _ = exp.Run(context.Background(),
		func(context.Context) (hidden, error) { return hidden{&one, 1}, nil },
		func(context.Context) (hidden, error) { return hidden{&one, 1}, nil })
	mustShutdown(t, exp)
	if s := exp.Stats(); s.Count(dualrun.Error) != 1 || got == nil {
		t.Fatalf("outcomes %v report %v", s.Outcomes, got)
	}
	if got.CandidateErr != nil || got.CallbackErr == nil || !strings.Contains(got.CallbackErr.Error(), "IgnoreUnexported") {
		t.Errorf("candidate error %v, callback error %v; want the comparer's failure, with advice", got.CandidateErr, got.CallbackErr)
	}
}

// TestCmpPathsAndDiff: values that == cannot compare use go-cmp with the
// experiment's options; paths are folded.
func TestCmpPathsAndDiff(t *testing.T) {
	type item struct {
		SKU   string
		Price float64
	}
	type order struct {
		Items []item
		Total float64
	}
	var got *dualrun.Report
	exp := newExp[order](t, dualrun.WithPublisher(dualrun.NamePublisher("c", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		got = r
		return nil
	}))), dualrun.WithDiffLimit(200))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (order, error) { return order{[]item{{"a", 1}, {"b", 2}}, 3}, nil },
		func(context.Context) (order, error) { return order{[]item{{"a", 1}, {"b", 2.5}}, 3.5}, nil })
	mustShutdown(t, exp)
	if got == nil {
		t.Fatal("no report")
	}
	if fmt.Sprint(got.Paths) != "[.Items[*].Price .Total]" {
		t.Errorf("paths %v", got.Paths)
	}
	if len(got.Diff) == 0 || len(got.Diff) > 200 || !strings.Contains(got.Diff, "2.5") {
		t.Errorf("diff (%d bytes):\n%s", len(got.Diff), got.Diff)
	}
	f := exp.Stats().Fields
	if len(f) != 2 || f[0].Count != 1 {
		t.Errorf("fields %v", f)
	}
}

// TestReportRateAndDedup: identical path sets are published once per
// window; the rate limit caps the rest; both are counted as suppressed.
func TestReportRateAndDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		pub := dualrun.NamePublisher("count", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { n.Add(1); return nil }))
		exp := newExp[price](t, dualrun.WithPublisher(pub), dualrun.WithReportRate(1, 2))
		// Five identical mismatches: one report.
		for range 5 {
			_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
		}
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("identical mismatches published %d times, want 1", n.Load())
		}
		// Distinct signatures: the burst of 2 allows one more right away.
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{100, "USD"}, nil))
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, errors.New("x")))
		synctest.Wait()
		if n.Load() != 2 {
			t.Fatalf("published %d, want 2 (rate limit burst 2)", n.Load())
		}
		time.Sleep(time.Minute) // the window passes and the bucket refills
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
		mustShutdown(t, exp)
		if s := exp.Stats(); n.Load() != 3 || s.ReportsPublished != 3 || s.ReportsSuppressed != 5 {
			t.Fatalf("published %d (stats %d), suppressed %d", n.Load(), s.ReportsPublished, s.ReportsSuppressed)
		}
	})
}

// tenFields differs in a different field per call, so that every mismatch
// has its own path set and deduplication lets it through.
type tenFields struct{ F0, F1, F2, F3, F4, F5, F6, F7, F8, F9 int }

func differAt(i int) tenFields {
	var v tenFields
	reflectSet(&v, i)
	return v
}

func reflectSet(v *tenFields, i int) {
	p := []*int{&v.F0, &v.F1, &v.F2, &v.F3, &v.F4, &v.F5, &v.F6, &v.F7, &v.F8, &v.F9}
	*p[i] = 1
}

// TestSlowPublisherNeverBlocks: a publisher that blocks fills its queue;
// further reports are dropped and counted, and callers are not delayed.
func TestSlowPublisherNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := dualrun.NamePublisher("slow", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { <-release; return nil }))
		exp := newExp[tenFields](t, dualrun.WithPublisher(slow), dualrun.WithReportQueue(2), dualrun.WithReportRate(0, 1))
		start := time.Now()
		for i := range 10 {
			_, _ = exp.Run(context.Background(),
				func(context.Context) (tenFields, error) { return tenFields{}, nil },
				func(context.Context) (tenFields, error) { return differAt(i), nil })
			synctest.Wait()
		}
		if time.Since(start) != 0 {
			t.Fatalf("callers were delayed by %v", time.Since(start))
		}
		// One report is being published (blocked), two wait in the queue,
		// seven were dropped.
		if s := exp.Stats(); s.ReportsDropped != 7 || s.Count(dualrun.Mismatch) != 10 || s.InFlight != 0 {
			t.Fatalf("while the publisher blocks: dropped %d, mismatches %d, in flight %d; want 7, 10, 0",
				s.ReportsDropped, s.Count(dualrun.Mismatch), s.InFlight)
		}
		close(release)
		mustShutdown(t, exp)
		if s := exp.Stats(); s.ReportsPublished != 3 || s.ReportsDropped != 7 || s.ReportsSuppressed != 0 {
			t.Fatalf("published %d, dropped %d, suppressed %d; want 3, 7, 0", s.ReportsPublished, s.ReportsDropped, s.ReportsSuppressed)
		}
	})
}

// TestPublisherPanics: a panicking publisher is recovered and counted as a
// dropped report.
func TestPublisherPanics(t *testing.T) {
	exp := newExp[price](t, dualrun.WithPublisher(dualrun.NamePublisher("bad", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		panic("publisher bug")
	}))))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, nil))
	mustShutdown(t, exp)
	if s := exp.Stats(); s.ReportsDropped != 1 || s.Count(dualrun.Mismatch) != 1 {
		t.Fatalf("dropped %d, outcomes %v", s.ReportsDropped, s.Outcomes)
	}
}

// TestMismatchRate pins the formula: mismatch / (match + mismatch + ignored).
func TestMismatchRate(t *testing.T) {
	var s dualrun.Stats
	if s.MismatchRate() != 0 {
		t.Fatal("empty stats rate != 0")
	}
	s.Outcomes[dualrun.Match] = 6
	s.Outcomes[dualrun.Mismatch] = 3
	s.Outcomes[dualrun.Ignored] = 1
	s.Outcomes[dualrun.Timeout] = 100
	s.Outcomes[dualrun.Shed] = 100
	if got := s.MismatchRate(); got != 0.3 {
		t.Fatalf("rate %v, want 0.3", got)
	}
}
