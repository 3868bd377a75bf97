package dualrun_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin call.go, the per-call state machine: the compared and
// sequential runs, the shadow side, timeouts and clones, and what panics,
// runtime.Goexit and hostile values in user code do to a call.

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
		waitShutdown(t, exp)
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
	waitShutdown(t, exp)
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
			waitShutdown(t, exp)
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
	waitShutdown(t, exp)
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
	waitShutdown(t, exp)
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
	waitShutdown(t, exp)
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
	waitShutdown(t, exp)
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
		waitShutdown(t, exp)
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
			waitShutdown(t, exp)
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
			waitShutdown(t, exp)
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
	waitShutdown(t, exp)
	if n := exp.Stats().Count(dualrun.Error); n != 1 {
		t.Fatalf("errors %d, want 1", n)
	}
}

// TestSequentialShadow pins WithSequentialShadow: the shadow starts after
// the primary returned, sees its result through PrimaryResult, and a
// primary that panics starts no shadow.
func TestSequentialShadow(t *testing.T) {
	t.Run("order-and-result", func(t *testing.T) {
		for _, primary := range []dualrun.Side{dualrun.Legacy, dualrun.Candidate} {
			var mu sync.Mutex
			var events []string
			var seen dualrun.Result[string]
			var seenOK bool
			opts := []dualrun.Option{dualrun.WithSequentialShadow()}
			if primary == dualrun.Candidate {
				opts = append(opts, candidatePrimary())
			}
			exp := newExp[string](t, opts...)
			fn := func(s dualrun.Side) dualrun.Func[string] {
				return func(ctx context.Context) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, s.String())
					if dualrun.IsShadow(ctx) {
						seen, seenOK = dualrun.PrimaryResult[string](ctx)
						return "id-42", nil
					}
					return "id-42", nil
				}
			}
			v, err := exp.Run(context.Background(), fn(dualrun.Legacy), fn(dualrun.Candidate))
			waitShutdown(t, exp)
			mu.Lock()
			if v != "id-42" || err != nil || len(events) != 2 || events[0] != primary.String() {
				t.Fatalf("primary %v: Run = %q, %v; events %v; want the primary first", primary, v, err, events)
			}
			if !seenOK || seen.Value != "id-42" || seen.Err != nil {
				t.Errorf("primary %v: PrimaryResult = %+v, %v", primary, seen, seenOK)
			}
			mu.Unlock()
			if s := exp.Stats(); s.Count(dualrun.Match) != 1 || !s.Config.Sequential {
				t.Errorf("outcomes %v, sequential %v", s.Outcomes, s.Config.Sequential)
			}
		}
	})
	t.Run("primary-panics", func(t *testing.T) {
		exp := newExp[string](t, dualrun.WithSequentialShadow())
		shadowRan := false
		func() {
			defer func() { _ = recover() }()
			_, _ = exp.Run(context.Background(), func(context.Context) (string, error) { panic("primary bug") },
				func(context.Context) (string, error) { shadowRan = true; return "", nil })
		}()
		waitShutdown(t, exp)
		if s := exp.Stats(); shadowRan || s.Count(dualrun.Aborted) != 1 || s.InFlight != 0 {
			t.Fatalf("shadow ran %v; outcomes %v; in flight %d", shadowRan, s.Outcomes, s.InFlight)
		}
	})
	t.Run("not-outside", func(t *testing.T) {
		if _, ok := dualrun.PrimaryResult[string](context.Background()); ok {
			t.Error("PrimaryResult outside a sequential shadow reported true")
		}
		//nolint:staticcheck // SA1012: nil is allowed here
		if _, ok := dualrun.PrimaryResult[string](nil); ok {
			t.Error("PrimaryResult(nil) reported true")
		}
	})
	t.Run("timeout-counts-from-shadow-start", func(t *testing.T) {
		// The primary takes longer than the shadow timeout; the shadow,
		// which starts afterwards, still has its whole budget.
		exp := newExp[string](t, dualrun.WithSequentialShadow(), dualrun.WithShadowTimeout(time.Hour))
		_, _ = exp.Run(context.Background(), func(context.Context) (string, error) { return "a", nil },
			func(ctx context.Context) (string, error) {
				if _, ok := ctx.Deadline(); !ok {
					return "", errors.New("no deadline")
				}
				return "a", nil
			})
		waitShutdown(t, exp)
		if s := exp.Stats(); s.Count(dualrun.Match) != 1 {
			t.Errorf("outcomes %v", s.Outcomes)
		}
	})
}

// goexitObserver is a policy whose observer calls runtime.Goexit.
type goexitObserver struct{}

func (goexitObserver) Decide(context.Context, string) rollout.Decision {
	return rollout.Decision{Shadow: true}
}

func (goexitObserver) Observe(rollout.Observation) { runtime.Goexit() }

// TestCallbackGoexit pins that runtime.Goexit in any user callback (a test
// helper calling t.FailNow, say) is treated like a panic: the call is
// recorded as outcome error with ErrGoexit as the cause, the slots are
// released, Shutdown completes, and the experiment keeps working.
func TestCallbackGoexit(t *testing.T) {
	other := price{200, "EUR"}
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name      string
		reason    string
		opts      []dualrun.Option
		legacy    dualrun.Func[price]
		candidate dualrun.Func[price]
		// onCaller: the callback runs on the caller's goroutine, which
		// then ends as the callback asked.
		onCaller bool
	}{
		{
			name: "clone", reason: "WithClone runs on the caller's goroutine after the primary returned",
			opts:   []dualrun.Option{dualrun.WithClone(func(price) price { runtime.Goexit(); return price{} })},
			legacy: ret(eur100, nil), candidate: ret(eur100, nil), onCaller: true,
		},
		{
			name: "shadow-context-hook", reason: "the hook runs on the shadow goroutine before the shadow",
			opts:   []dualrun.Option{dualrun.WithShadowContext(func(context.Context) context.Context { runtime.Goexit(); return nil })},
			legacy: ret(eur100, nil), candidate: ret(eur100, nil),
		},
		{
			name: "comparer", reason: "a comparer runs on the shadow goroutine",
			opts:   []dualrun.Option{dualrun.WithComparer(func(price, price) bool { runtime.Goexit(); return false })},
			legacy: ret(eur100, nil), candidate: ret(other, nil),
		},
		{
			name: "normalizer", reason: "a normalizer runs before the comparer",
			opts:   []dualrun.Option{dualrun.WithNormalizer(func(price) price { runtime.Goexit(); return price{} })},
			legacy: ret(eur100, nil), candidate: ret(other, nil),
		},
		{
			name: "ignore-rule", reason: "an ignore rule runs once the sides differ",
			opts:   []dualrun.Option{dualrun.WithIgnore(func(_, _ dualrun.Result[price]) bool { runtime.Goexit(); return false })},
			legacy: ret(eur100, nil), candidate: ret(other, nil),
		},
		{
			name: "error-comparer", reason: "an error comparer runs when both sides erred",
			opts:   []dualrun.Option{dualrun.WithErrorComparer(func(error, error) bool { runtime.Goexit(); return false })},
			legacy: ret(price{}, errA), candidate: ret(price{}, errB),
		},
		{
			name: "observer", reason: "a policy observer runs after every comparison",
			opts:   []dualrun.Option{dualrun.WithRollout(goexitObserver{})},
			legacy: ret(eur100, nil), candidate: ret(eur100, nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				reports []*dualrun.Report
			)
			pub := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				mu.Lock()
				reports = append(reports, r)
				mu.Unlock()
				return nil
			})
			opts := append([]dualrun.Option{dualrun.WithPublisher(pub), dualrun.WithReportDedup(0)}, tt.opts...)
			exp := newExp[price](t, opts...)
			var wg sync.WaitGroup
			returned := false
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = exp.Run(context.Background(), tt.legacy, tt.candidate)
				returned = true
			}()
			wg.Wait()
			if returned == tt.onCaller {
				t.Errorf("caller returned = %v; want %v (%s)", returned, !tt.onCaller, tt.reason)
			}
			waitShutdown(t, exp)
			s := exp.Stats()
			if got := s.Count(dualrun.Error); got != 1 {
				t.Fatalf("outcome error = %d, want 1 (outcomes %v) (%s)", got, s.Outcomes, tt.reason)
			}
			if s.InFlight != 0 || dualrun.ProcessInFlight() != 0 {
				t.Errorf("slots leaked: in flight %d, process %d", s.InFlight, dualrun.ProcessInFlight())
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reports) != 1 || !errors.Is(reports[0].CallbackErr, dualrun.ErrGoexit) {
				t.Fatalf("reports = %v; want one whose CallbackErr is ErrGoexit", reports)
			}
			var pe *dualrun.PanicError
			if !errors.As(reports[0].CallbackErr, &pe) {
				t.Errorf("CallbackErr %v is not a *PanicError", reports[0].CallbackErr)
			}
		})
	}
}

// cyclic returns a map that contains itself: legal, and fatal to format
// naively (the stack overflows).
func cyclic(v int) map[string]any {
	m := map[string]any{"v": v}
	m["self"] = m
	return m
}

// TestHostileValues runs the crash classes in a child process: errors
// whose Error method panics and cyclic values, on every outcome path that
// describes them (diffs, Reports, their JSON and log forms, spans and
// error.type), must neither crash the process nor lose the comparison.
func TestHostileValues(t *testing.T) {
	inChild(t, func(t *testing.T) {
		var typedNil *typedNilErr
		var hostile error = typedNil
		var reports []*dualrun.Report
		var mu sync.Mutex
		pub := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
			// Everything a publisher may do with a Report.
			_, _ = r.JSON(dualrun.JSONOptions{Values: true, Key: true})
			_ = r.String()
			_ = r.LogValue().Resolve()
			mu.Lock()
			reports = append(reports, r)
			mu.Unlock()
			return nil
		})
		type m = map[string]any
		tests := []struct {
			name              string
			legacy, candidate dualrun.Func[m]
			opts              []dualrun.Option
			want              dualrun.Outcome
		}{
			{"cyclic-values-differ", func(context.Context) (m, error) { return cyclic(1), nil }, func(context.Context) (m, error) { return cyclic(2), nil }, nil, dualrun.Mismatch},
			{"cyclic-values-equal", func(context.Context) (m, error) { return cyclic(1), nil }, func(context.Context) (m, error) { return cyclic(1), nil }, nil, dualrun.Match},
			{"cyclic-vs-error", func(context.Context) (m, error) { return cyclic(1), nil }, func(context.Context) (m, error) { return nil, errors.New("x") }, nil, dualrun.Mismatch},
			{"typed-nil-vs-value", func(context.Context) (m, error) { return nil, hostile }, func(context.Context) (m, error) { return cyclic(1), nil }, nil, dualrun.Mismatch},
			{"typed-nil-both-messages", func(context.Context) (m, error) { return nil, hostile }, func(context.Context) (m, error) { return nil, errors.New("y") }, []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)}, dualrun.Error},
			{"typed-nil-shadow-panics", func(context.Context) (m, error) { return nil, hostile }, func(context.Context) (m, error) { panic(hostile) }, nil, dualrun.Panic},
		}
		for _, tt := range tests {
			// The real SDK, so that spans and error.type describe the
			// hostile values too.
			h := newTelHarness(t)
			exp := dualrun.New[m]("hostile."+tt.name, h.with(append([]dualrun.Option{
				dualrun.WithPublisher(pub), dualrun.WithReportDedup(0),
			}, tt.opts...)...)...)
			primaries := bothPrimaries
			if tt.want == dualrun.Panic {
				// A primary's panic is the caller's: only the shadow may panic.
				primaries = primaries[:1]
			}
			for _, primary := range primaries {
				_, _ = exp.RunDecision(context.Background(), dualrun.Decision{Primary: primary, Shadow: true}, tt.legacy, tt.candidate)
			}
			waitShutdown(t, exp)
			if got := exp.Stats().Count(tt.want); got != int64(len(primaries)) {
				t.Errorf("%s: outcome %v = %d, want %d (outcomes %v)", tt.name, tt.want, got, len(primaries), exp.Stats().Outcomes)
			}
			exp.Unregister()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reports) == 0 {
			t.Fatal("no report published")
		}
	})
}

// TestHugeShadowTimeout: a timeout of centuries must not overflow the
// deadline arithmetic into the past (every shadow would time out).
func TestHugeShadowTimeout(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 / 2, 200 * 365 * 24 * time.Hour} {
		exp := newExp[price](t, dualrun.WithShadowTimeout(d))
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
		waitShutdown(t, exp)
		if s := exp.Stats(); s.Count(dualrun.Match) != 1 {
			t.Errorf("WithShadowTimeout(%v): outcomes %v, want one match", d, s.Outcomes)
		}
	}
}

// hostileCtx is a caller context whose Deadline panics.
type hostileCtx struct{ context.Context }

func (hostileCtx) Deadline() (time.Time, bool) { panic("hostile Deadline") }

// TestHostileCallerContext: a caller context that panics when the shadow
// side reads it costs the comparison (outcome error), never a slot.
func TestHostileCallerContext(t *testing.T) {
	exp := newExp[price](t)
	v, err := exp.Run(hostileCtx{context.Background()}, ret(eur100, nil), ret(eur100, nil))
	waitShutdown(t, exp)
	s := exp.Stats()
	if v != eur100 || err != nil || s.Count(dualrun.Error) != 1 || dualrun.ProcessInFlight() != 0 {
		t.Fatalf("Run = %v, %v; outcomes %v; process in flight %d", v, err, s.Outcomes, dualrun.ProcessInFlight())
	}
}
