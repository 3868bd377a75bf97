package dualrun_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

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

// TestPublisherGoexit: a publisher that calls runtime.Goexit loses that
// report (counted as dropped), and the next ones are still published.
func TestPublisherGoexit(t *testing.T) {
	var n atomic.Int64
	pub := dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		if n.Add(1) == 1 {
			runtime.Goexit()
		}
		return nil
	})
	exp := newExp[price](t, dualrun.WithPublisher(pub), dualrun.WithReportDedup(0))
	for range 3 {
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
	}
	waitShutdown(t, exp)
	s := exp.Stats()
	if n.Load() != 3 || s.ReportsDropped != 1 || s.ReportsPublished != 2 {
		t.Fatalf("publish calls %d, dropped %d, published %d; want 3, 1, 2", n.Load(), s.ReportsDropped, s.ReportsPublished)
	}
}

// typedNilErr is an error type whose Error method dereferences its
// receiver: a typed-nil *typedNilErr returned as an error panics when
// described.
type typedNilErr struct{ msg string }

func (e *typedNilErr) Error() string { return e.msg }

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
			exp := dualrun.New[m]("hostile."+tt.name, append([]dualrun.Option{
				dualrun.WithPublisher(pub), dualrun.WithReportDedup(0),
				dualrun.WithMeterProvider(newMeterProvider(t)), dualrun.WithTracerProvider(newTracerProvider(t)),
			}, tt.opts...)...)
			primaries := []dualrun.Side{dualrun.Legacy, dualrun.Candidate}
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

// TestNilContext: a nil context is context.Background() for the policy,
// the primary and the shadow.
func TestNilContext(t *testing.T) {
	var got [2]bool
	exp := newExp[price](t)
	//nolint:staticcheck // SA1012: a nil context is the point of the test
	if d := exp.Decide(nil); !d.Shadow {
		t.Errorf("Decide(nil) = %+v, want a shadow", d)
	}
	//nolint:staticcheck // SA1012: a nil context is the point of the test
	v, err := exp.Run(nil, func(ctx context.Context) (price, error) {
		got[0] = ctx != nil
		return eur100, nil
	}, func(ctx context.Context) (price, error) {
		got[1] = ctx != nil && dualrun.IsShadow(ctx)
		return eur100, nil
	})
	waitShutdown(t, exp)
	if v != eur100 || err != nil || !got[0] || !got[1] || exp.Stats().Count(dualrun.Match) != 1 {
		t.Fatalf("Run(nil) = %v, %v; contexts non-nil %v; outcomes %v", v, err, got, exp.Stats().Outcomes)
	}
}

// badSidePolicy returns a Side that does not exist.
type badSidePolicy struct{}

func (badSidePolicy) Decide(context.Context, string) rollout.Decision {
	return rollout.Decision{Primary: 7, Shadow: true}
}

// TestPolicyBadSide: an out-of-range Side from a policy runs legacy,
// uncompared, counted; no slot leaks and Shutdown completes.
func TestPolicyBadSide(t *testing.T) {
	exp := newExp[string](t, dualrun.WithRollout(badSidePolicy{}))
	ranCandidate := false
	v, err := exp.Run(context.Background(), func(context.Context) (string, error) { return "l", nil },
		func(context.Context) (string, error) { ranCandidate = true; return "c", nil })
	waitShutdown(t, exp)
	s := exp.Stats()
	if v != "l" || err != nil || ranCandidate || s.PolicyFailures != 1 || s.Compared != 0 || dualrun.ProcessInFlight() != 0 {
		t.Fatalf("Run = %q, %v; candidate ran %v; policy failures %d, compared %d, process in flight %d",
			v, err, ranCandidate, s.PolicyFailures, s.Compared, dualrun.ProcessInFlight())
	}
	// RunDecision with a bad Side directly: legacy, uncompared.
	v, _ = exp.RunDecision(context.Background(), dualrun.Decision{Primary: 200, Shadow: true},
		func(context.Context) (string, error) { return "l", nil },
		func(context.Context) (string, error) { return "c", nil })
	if v != "l" {
		t.Errorf("RunDecision(bad side) = %q, want legacy", v)
	}
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
