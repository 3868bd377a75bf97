package openfeature_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"pgregory.net/rapid"

	"github.com/dualrun/dualrun/rollout"
	"github.com/dualrun/dualrun/rollout/openfeature"
)

const exp = "checkout.price"

// flag is an in-memory flag with a single variant.
func flag(key string, value any) memprovider.InMemoryFlag {
	return memprovider.InMemoryFlag{
		Key: key, State: memprovider.Enabled, DefaultVariant: "v", Variants: map[string]any{"v": value},
	}
}

func flags(value any) map[string]memprovider.InMemoryFlag {
	return map[string]memprovider.InMemoryFlag{exp: flag(exp, value)}
}

// newMemClient starts an isolated OpenFeature API with the in-memory
// provider and returns a client; the API is shut down when the test ends.
func newMemClient(t testing.TB, fl map[string]memprovider.InMemoryFlag) (*memprovider.InMemoryProvider, *of.Client) {
	t.Helper()
	api := isolated.NewAPI()
	prov := memprovider.NewInMemoryProvider(fl)
	if err := api.SetProviderAndWait(context.Background(), prov); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	return prov, api.NewClient()
}

// errorRecorder captures what the policy sends to otel.Handle.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errorRecorder) Handle(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *errorRecorder) take() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs
	r.errs = nil
	return errs
}

func recordErrors(t *testing.T) *errorRecorder {
	t.Helper()
	r := &errorRecorder{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(r)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return r
}

func errorCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != openfeature.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			if m.Name != "dualrun.rollout.errors" || m.Unit != "{error}" {
				t.Errorf("metric %s (%s)", m.Name, m.Unit)
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				e, _ := dp.Attributes.Value("dualrun.experiment")
				typ, _ := dp.Attributes.Value("error.type")
				got[e.AsString()+"/"+typ.AsString()] += dp.Value
			}
		}
	}
	return got
}

// decideKeys decides n keyed calls and returns how many had the candidate
// primary and how many were shadowed.
func decideKeys(p rollout.Policy, n int) (candidate, shadow int) {
	for i := range n {
		d := p.Decide(rollout.WithKey(context.Background(), fmt.Sprint("account-", i)), exp)
		if d.Primary == rollout.Candidate {
			candidate++
		}
		if d.Shadow {
			shadow++
		}
	}
	return candidate, shadow
}

// TestPolicyFollowsMemprovider: UpdateFlags on the in-memory provider moves
// the primary of a running experiment through every flag state, through
// the provider's configuration-change event (no Refresh call).
func TestPolicyFollowsMemprovider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov, client := newMemClient(t, flags("legacy"))
		p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp))
		defer p.Close()
		steps := []struct {
			value          any
			cand, shadowed int // of 1000 keys
		}{
			{"legacy", 0, 0},
			{"shadow", 0, 1000},
			{map[string]any{"primary": "candidate", "candidate_primary_percent": 10.0, "shadow_percent": 100.0}, -10, 1000},
			{"candidate", 1000, 1000},
			{"candidate-only", 1000, 0},
			{"legacy", 0, 0},
		}
		for i, s := range steps {
			if i > 0 {
				prov.UpdateFlags(flags(s.value))
				synctest.Wait() // the event is delivered and the refresh done
			}
			cand, sh := decideKeys(p, 1000)
			wantCand := s.cand
			if wantCand < 0 { // about 10%: exactly the keys whose bucket is < 1000
				wantCand = 0
				for k := range 1000 {
					if _, cb := rollout.Bucket(exp, fmt.Sprint("account-", k)); cb < 1000 {
						wantCand++
					}
				}
			}
			if cand != wantCand || sh != s.shadowed {
				t.Fatalf("flag %v: %d candidate-primary and %d shadowed of 1000; want %d and %d (%v)",
					s.value, cand, sh, wantCand, s.shadowed, p)
			}
		}
	})
}

// TestPolicyBadValues: every kind of bad flag value is reported once
// through otel.Handle with its type, counted by dualrun.rollout.errors,
// and the last good value stays in force.
func TestPolicyBadValues(t *testing.T) {
	good := map[string]any{"primary": "candidate", "candidate_primary_percent": 50.0, "shadow_percent": 100.0}
	goodStatic := rollout.Static{Shadow: rollout.All, CandidatePrimary: 5000}
	evaluator := func(fn func() (any, of.ProviderResolutionDetail)) memprovider.ContextEvaluator {
		f := func(memprovider.InMemoryFlag, of.FlattenedContext) (any, of.ProviderResolutionDetail) { return fn() }
		return &f
	}
	tests := []struct {
		name   string
		reason string
		flags  map[string]memprovider.InMemoryFlag
		want   string // error type
	}{
		{"missing flag", "the flag was deleted", map[string]memprovider.InMemoryFlag{}, openfeature.ErrorTypeFlagNotFound},
		{"boolean", "wrong type", flags(true), openfeature.ErrorTypeTypeMismatch},
		{"number", "wrong type", flags(42), openfeature.ErrorTypeTypeMismatch},
		{"unknown side", "a typo in the shorthand", flags("candidat"), openfeature.ErrorTypeUnknownSide},
		{"unknown primary", "primary must be legacy or candidate", flags(map[string]any{"primary": "both"}), openfeature.ErrorTypeUnknownSide},
		{"above 100", "out of range", flags(map[string]any{"shadow_percent": 150.0}), openfeature.ErrorTypePercentOutOfRange},
		{"negative", "out of range", flags(map[string]any{"candidate_primary_percent": -5}), openfeature.ErrorTypePercentOutOfRange},
		{"NaN", "not a number", flags(map[string]any{"shadow_percent": math.NaN()}), openfeature.ErrorTypePercentOutOfRange},
		{"unknown field", "a typo must not mean 100%", flags(map[string]any{"primary": "candidate", "candidate_percent": 1.0}), openfeature.ErrorTypeInvalidValue},
		{"percent as string", "wrong field type", flags(map[string]any{"shadow_percent": "10"}), openfeature.ErrorTypeInvalidValue},
		{
			"provider error", "the provider fails to resolve",
			map[string]memprovider.InMemoryFlag{exp: {Key: exp, State: memprovider.Enabled, ContextEvaluator: evaluator(func() (any, of.ProviderResolutionDetail) {
				// Providers hand back the default with the error.
				return "legacy", of.ProviderResolutionDetail{ResolutionError: of.NewGeneralResolutionError("backend down"), Reason: of.ErrorReason}
			})}},
			openfeature.ErrorTypeProviderError,
		},
		{
			"provider panic", "a provider that panics is user code too",
			map[string]memprovider.InMemoryFlag{exp: {Key: exp, State: memprovider.Enabled, ContextEvaluator: evaluator(func() (any, of.ProviderResolutionDetail) {
				panic("provider bug")
			})}},
			openfeature.ErrorTypeProviderError,
		},
		{
			"invalid context", "the provider rejects the context",
			map[string]memprovider.InMemoryFlag{exp: {Key: exp, State: memprovider.Enabled, ContextEvaluator: evaluator(func() (any, of.ProviderResolutionDetail) {
				return "legacy", of.ProviderResolutionDetail{ResolutionError: of.NewInvalidContextResolutionError("no tenant"), Reason: of.ErrorReason}
			})}},
			openfeature.ErrorTypeInvalidContext,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recordErrors(t)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			defer func() { _ = mp.Shutdown(context.Background()) }()
			prov, client := newMemClient(t, flags(good))
			p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp),
				openfeature.WithMeterProvider(mp), openfeature.WithRefreshInterval(0))
			defer p.Close()
			if err := p.Refresh(context.Background()); err != nil {
				t.Fatalf("good value: %v", err)
			}
			prov.UpdateFlags(tt.flags)
			for range 3 {
				err := p.Refresh(context.Background())
				var ferr *openfeature.FlagError
				if !errors.As(err, &ferr) || ferr.Type != tt.want || ferr.Experiment != exp ||
					!ferr.HadGoodValue || ferr.Keeping != goodStatic {
					t.Fatalf("%s: Refresh() = %v; want a %s FlagError keeping %v", tt.reason, err, tt.want, goodStatic)
				}
			}
			if got := p.Load(exp); got != goodStatic {
				t.Fatalf("%s: in force %v, want the last good value %v", tt.reason, got, goodStatic)
			}
			cand, sh := decideKeys(p, 1000)
			if sh != 1000 || cand < 400 || cand > 600 {
				t.Fatalf("%s: decisions %d candidate, %d shadowed of 1000: the last good value is not in force", tt.reason, cand, sh)
			}
			// Reported once, counted every time (3 refreshes, plus any
			// the provider's change event started).
			errs := rec.take()
			var ferr *openfeature.FlagError
			if len(errs) != 1 || !errors.As(errs[0], &ferr) || ferr.Type != tt.want {
				t.Fatalf("otel.Handle got %v; want one %s", errs, tt.want)
			}
			if !strings.Contains(errs[0].Error(), "keeping the last good value, shadow 100%, candidate primary 50%") {
				t.Errorf("error text %q", errs[0])
			}
			counts := errorCounts(t, reader)
			if n := counts[exp+"/"+tt.want]; n < 3 || len(counts) != 1 {
				t.Fatalf("dualrun.rollout.errors = %v; want >= 3 of %s only", counts, tt.want)
			}
			fs := p.Flags()
			if len(fs) != 1 || fs[0].Problem == nil || fs[0].Problem.Type != tt.want || !fs[0].Good {
				t.Fatalf("Flags() = %+v", fs)
			}
			if !strings.Contains(p.String(), "["+tt.want+": ") {
				t.Fatalf("String() = %q", p)
			}
			// A good value clears the problem; the same problem coming back
			// is a new incident, reported again.
			prov.UpdateFlags(flags("shadow"))
			if err := p.Refresh(context.Background()); err != nil || p.Load(exp) != (rollout.Static{Shadow: rollout.All}) {
				t.Fatalf("recovery: %v, %v", err, p.Load(exp))
			}
			prov.UpdateFlags(tt.flags)
			_ = p.Refresh(context.Background())
			if errs := rec.take(); len(errs) != 1 {
				t.Fatalf("the problem came back: otel.Handle got %v, want it once more", errs)
			}
		})
	}
}

// TestPolicyBeforeAnyGoodValue: with no good value yet, a bad flag means
// legacy primary, no shadow.
func TestPolicyBeforeAnyGoodValue(t *testing.T) {
	rec := recordErrors(t)
	_, client := newMemClient(t, flags("sideways"))
	p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp), openfeature.WithRefreshInterval(0))
	defer p.Close()
	err := p.Refresh(context.Background())
	var ferr *openfeature.FlagError
	if !errors.As(err, &ferr) || ferr.HadGoodValue || !strings.Contains(ferr.Error(), "no good value yet: legacy only") {
		t.Fatalf("Refresh() = %v", err)
	}
	if cand, sh := decideKeys(p, 500); cand != 0 || sh != 0 {
		t.Fatalf("%d candidate-primary, %d shadowed: want legacy only", cand, sh)
	}
	if len(rec.take()) != 1 {
		t.Fatal("want the problem reported once")
	}
}

// gatedProvider is the in-memory provider with an initialisation that
// waits for the test: a provider that is slow to become ready.
type gatedProvider struct {
	*memprovider.InMemoryProvider
	release chan struct{}
}

func (g gatedProvider) Init(of.EvaluationContext) error {
	<-g.release
	return nil
}

func (g gatedProvider) Shutdown() {}

// TestPolicyProviderNotReady: before the provider is ready the policy runs
// legacy only and reports provider_not_ready; the ready event then brings
// the flag's value in without any call to Refresh.
func TestPolicyProviderNotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := recordErrors(t)
		api := isolated.NewAPI()
		defer func() { _ = api.Shutdown(context.Background()) }()
		g := gatedProvider{memprovider.NewInMemoryProvider(flags("candidate")), make(chan struct{})}
		if err := api.SetProvider(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		client := api.NewClient()
		p := openfeature.NewPolicy(client, openfeature.WithRefreshInterval(0))
		defer p.Close()
		if d := p.Decide(context.Background(), exp); d != (rollout.Decision{}) {
			t.Fatalf("before ready: %+v, want legacy only", d)
		}
		synctest.Wait()
		errs := rec.take()
		var ferr *openfeature.FlagError
		if len(errs) != 1 || !errors.As(errs[0], &ferr) || ferr.Type != openfeature.ErrorTypeProviderNotReady {
			t.Fatalf("reported %v, want provider_not_ready", errs)
		}
		close(g.release)
		synctest.Wait()
		if got := p.Load(exp); got != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
			t.Fatalf("after ready: %v (%v)", got, p)
		}
	})
}

// TestPolicyFlagKeyAndDisabled: WithFlagKey maps names (a panicking mapper
// falls back to the name), and a disabled flag is the code default: legacy
// only.
func TestPolicyFlagKeyAndDisabled(t *testing.T) {
	rec := recordErrors(t)
	disabled := flag("search-flag", "candidate")
	disabled.State = memprovider.Disabled
	prov, client := newMemClient(t, map[string]memprovider.InMemoryFlag{
		"price-flag":  flag("price-flag", "candidate"),
		"search-flag": flag("search-flag", "shadow"),
		"boom":        flag("boom", "shadow"),
	})
	p := openfeature.NewPolicy(client, openfeature.WithRefreshInterval(0),
		openfeature.WithExperiments(exp, "search", "boom"),
		openfeature.WithFlagKey(func(e string) string {
			switch e {
			case exp:
				return "price-flag"
			case "search":
				return "search-flag"
			}
			panic("no key for " + e)
		}))
	defer p.Close()
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]rollout.Static{
		exp: {Shadow: rollout.All, CandidatePrimary: rollout.All}, "search": {Shadow: rollout.All}, "boom": {Shadow: rollout.All},
	}
	for e, s := range want {
		if got := p.Load(e); got != s {
			t.Errorf("%s: %v, want %v", e, got, s)
		}
	}
	if errs := rec.take(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "no key for boom") {
		t.Fatalf("reported %v; want the mapper's panic", errs)
	}
	prov.UpdateFlags(map[string]memprovider.InMemoryFlag{"search-flag": disabled})
	_ = p.Refresh(context.Background())
	if got := p.Load("search"); got != (rollout.Static{}) {
		t.Fatalf("disabled flag: %v, want legacy only", got)
	}
	if !strings.Contains(p.String(), `search (flag "search-flag") = legacy only`) {
		t.Fatalf("String() = %q", p)
	}
}

// TestPolicyCloseStopsFollowing: after Close neither the provider's events
// nor the refresh timer change the value in force, and no goroutine is left
// (goleak in TestMain). TestPolicyCloseReleasesPolicy proves the handlers
// are gone from the client.
func TestPolicyCloseStopsFollowing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov, client := newMemClient(t, flags("shadow"))
		p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp), openfeature.WithRefreshInterval(time.Minute))
		prov.UpdateFlags(flags("candidate"))
		synctest.Wait()
		if p.Load(exp) != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
			t.Fatalf("open policy missed the change: %v", p)
		}
		p.Close()
		p.Close()
		prov.UpdateFlags(flags("legacy"))
		time.Sleep(10 * time.Minute) // past several refresh intervals
		synctest.Wait()
		if p.Load(exp) != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
			t.Fatalf("closed policy still follows the flag: %v", p)
		}
	})
}

// TestPolicyPeriodicRefresh: a provider that emits no change event is
// still followed, one refresh interval later.
func TestPolicyPeriodicRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := isolated.NewAPI()
		defer func() { _ = api.Shutdown(context.Background()) }()
		// A provider without events: the in-memory one behind a type that
		// hides its event channel.
		mem := memprovider.NewInMemoryProvider(flags("shadow"))
		if err := api.SetProviderAndWait(context.Background(), quiet{mem}); err != nil {
			t.Fatal(err)
		}
		p := openfeature.NewPolicy(api.NewClient(), openfeature.WithExperiments(exp), openfeature.WithRefreshInterval(time.Minute))
		defer p.Close()
		synctest.Wait() // the refresh the ready state starts
		mem.UpdateFlags(flags("candidate"))
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if p.Load(exp) != (rollout.Static{Shadow: rollout.All}) {
			t.Fatalf("changed before the refresh: %v", p)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if p.Load(exp) != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
			t.Fatalf("periodic refresh missed the change: %v", p)
		}
	})
}

// quiet is a provider that emits no events.
type quiet struct{ m *memprovider.InMemoryProvider }

func (q quiet) Metadata() of.Metadata { return q.m.Metadata() }
func (q quiet) BooleanEvaluation(ctx context.Context, f string, d bool, c of.FlattenedContext) of.BoolResolutionDetail {
	return q.m.BooleanEvaluation(ctx, f, d, c)
}

func (q quiet) StringEvaluation(ctx context.Context, f, d string, c of.FlattenedContext) of.StringResolutionDetail {
	return q.m.StringEvaluation(ctx, f, d, c)
}

func (q quiet) FloatEvaluation(ctx context.Context, f string, d float64, c of.FlattenedContext) of.FloatResolutionDetail {
	return q.m.FloatEvaluation(ctx, f, d, c)
}

func (q quiet) IntEvaluation(ctx context.Context, f string, d int64, c of.FlattenedContext) of.IntResolutionDetail {
	return q.m.IntEvaluation(ctx, f, d, c)
}

func (q quiet) ObjectEvaluation(ctx context.Context, f string, d any, c of.FlattenedContext) of.InterfaceResolutionDetail {
	return q.m.ObjectEvaluation(ctx, f, d, c)
}
func (q quiet) Hooks() []of.Hook { return nil }

// TestPolicyConcurrentFlips: callers decide on many goroutines while the
// flag flips between "legacy" and "candidate-only" (under -race); every
// decision belongs to one of the two states, and both are seen.
func TestPolicyConcurrentFlips(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []openfeature.Option
	}{
		{"cached", nil},
		{"per call", []openfeature.Option{openfeature.WithPerCallEvaluation()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			prov, client := newMemClient(t, flags("legacy"))
			p := openfeature.NewPolicy(client, append(mode.opts, openfeature.WithExperiments(exp))...)
			defer p.Close()
			var stop atomic.Bool
			var seen [2]atomic.Int64
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					ctx := rollout.WithKey(context.Background(), fmt.Sprint("worker-", w))
					for !stop.Load() {
						switch d := p.Decide(ctx, exp); d {
						case rollout.Decision{}:
							seen[0].Add(1)
						case rollout.Decision{Primary: rollout.Candidate}:
							seen[1].Add(1)
						default:
							t.Errorf("decision %+v belongs to neither state", d)
							return
						}
					}
				})
			}
			values := []string{"legacy", "candidate-only"}
			deadline := time.Now().Add(10 * time.Second) // a guard against a hang, not a timing assertion
			for i := range 40 {
				prov.UpdateFlags(flags(values[i%2]))
				// Wait until the callers have seen the new state.
				for before := seen[i%2].Load(); seen[i%2].Load() < before+10; {
					if time.Now().After(deadline) {
						t.Fatalf("flip %d to %s never took effect: %v", i, values[i%2], p)
					}
					time.Sleep(time.Millisecond)
				}
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}

// TestPolicyPerCall: per-call evaluation hands the call's key to the flag
// system as the targeting key, and a context hook adds attributes.
func TestPolicyPerCall(t *testing.T) {
	byTenant := func(_ memprovider.InMemoryFlag, c of.FlattenedContext) (any, of.ProviderResolutionDetail) {
		if c["tenant"] == "beta" {
			return "candidate-only", of.ProviderResolutionDetail{Reason: of.TargetingMatchReason, Variant: "beta"}
		}
		if k, _ := c[of.TargetingKey].(string); strings.HasSuffix(k, "7") {
			return "candidate", of.ProviderResolutionDetail{Reason: of.TargetingMatchReason, Variant: "sevens"}
		}
		return "legacy", of.ProviderResolutionDetail{Reason: of.DefaultReason, Variant: "off"}
	}
	_, client := newMemClient(t, map[string]memprovider.InMemoryFlag{exp: {Key: exp, State: memprovider.Enabled, ContextEvaluator: &byTenant}})
	type tenantKey struct{}
	p := openfeature.NewPolicy(client, openfeature.WithEvaluationContext(func(ctx context.Context) of.EvaluationContext {
		t, _ := ctx.Value(tenantKey{}).(string)
		return of.NewTargetlessEvaluationContext(map[string]any{"tenant": t})
	}))
	defer p.Close()
	tests := []struct {
		name   string
		reason string
		key    string
		tenant string
		want   rollout.Decision
	}{
		{"default", "no rule matches", "account-1", "", rollout.Decision{}},
		{"key rule", "the targeting key reaches the provider", "account-7", "", rollout.Decision{Primary: rollout.Candidate, Shadow: true}},
		{"tenant rule", "the hook's attribute reaches the provider", "account-1", "beta", rollout.Decision{Primary: rollout.Candidate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.WithValue(rollout.WithKey(context.Background(), tt.key), tenantKey{}, tt.tenant)
			for range 3 {
				if got := p.Decide(ctx, exp); got != tt.want {
					t.Fatalf("%s: %+v, want %+v", tt.reason, got, tt.want)
				}
			}
		})
	}
}

// TestPolicyPerCallHookPanics: a context hook that panics is recovered; the
// call gets the last good value.
func TestPolicyPerCallHookPanics(t *testing.T) {
	rec := recordErrors(t)
	_, client := newMemClient(t, flags("candidate-only"))
	var fail atomic.Bool
	p := openfeature.NewPolicy(client, openfeature.WithEvaluationContext(func(context.Context) of.EvaluationContext {
		if fail.Load() {
			panic("hook bug")
		}
		return of.EvaluationContext{}
	}))
	defer p.Close()
	if d := p.Decide(context.Background(), exp); d.Primary != rollout.Candidate {
		t.Fatalf("good call: %+v", d)
	}
	fail.Store(true)
	for range 5 {
		if d := p.Decide(context.Background(), exp); d != (rollout.Decision{Primary: rollout.Candidate}) {
			t.Fatalf("hook panicked: %+v, want the last good value", d)
		}
	}
	errs := rec.take()
	var ferr *openfeature.FlagError
	if len(errs) != 1 || !errors.As(errs[0], &ferr) || ferr.Type != openfeature.ErrorTypeInvalidContext || !strings.Contains(ferr.Message, "hook bug") {
		t.Fatalf("reported %v", errs)
	}
}

// TestPolicyStickyAcrossPolicies (a property): for any percentages a flag
// holds, fractional ones included, the cached OpenFeature policy decides
// every key exactly as rollout.Static and rollout.Live with the same
// percentages do.
func TestPolicyStickyAcrossPolicies(t *testing.T) {
	prov, client := newMemClient(t, flags("legacy"))
	p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp), openfeature.WithRefreshInterval(0))
	defer p.Close()
	rapid.Check(t, func(t *rapid.T) {
		bp := func(label string) rollout.BasisPoints {
			return rollout.BasisPoints(rapid.OneOf(
				rapid.SampledFrom([]int{0, 1, 100, 5000, 9999, 10000}),
				rapid.IntRange(0, 10000),
			).Draw(t, label))
		}
		s := rollout.Static{Shadow: bp("shadow"), CandidatePrimary: bp("candidate")}
		prov.UpdateFlags(flags(map[string]any{
			"candidate_primary_percent": s.CandidatePrimary.Float(), "shadow_percent": s.Shadow.Float(),
		}))
		if err := p.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := p.Load(exp); got != s {
			t.Fatalf("flag %v read as %v", s, got)
		}
		l := rollout.NewLive(s)
		for _, key := range rapid.SliceOfN(rapid.String(), 1, 50).Draw(t, "keys") {
			ctx := rollout.WithKey(context.Background(), key)
			want := s.Decide(ctx, exp)
			if got := p.Decide(ctx, exp); got != want {
				t.Fatalf("key %q: openfeature %+v, Static %+v", key, got, want)
			}
			if got := l.Decide(ctx, exp); got != want {
				t.Fatalf("key %q: Live %+v, Static %+v", key, got, want)
			}
		}
	})
}

// TestPolicyCloseReleasesPolicy proves that Close removes the policy's
// event handlers from the client: afterwards nothing the SDK holds keeps
// the policy alive, so the garbage collector reclaims it while the client
// lives on.
func TestPolicyCloseReleasesPolicy(t *testing.T) {
	prov, client := newMemClient(t, flags("shadow"))
	reclaimed := make(chan struct{})
	func() {
		p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp))
		runtime.AddCleanup(p, func(ch chan struct{}) { close(ch) }, reclaimed)
		_ = p.Decide(context.Background(), exp)
		p.Close()
	}()
	for range 100 {
		runtime.GC()
		select {
		case <-reclaimed:
			prov.UpdateFlags(flags("legacy")) // the client still works
			return
		default:
			time.Sleep(time.Millisecond) // let the cleanup goroutine run
		}
	}
	t.Fatal("the policy is still reachable after Close: the client still holds its handlers")
}

func TestNewPolicyPanicsOnNilClient(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil client") {
			t.Fatalf("recovered %v", r)
		}
	}()
	openfeature.NewPolicy(nil)
}
