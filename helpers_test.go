package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// This file holds the helpers shared by the package's external tests: the
// values the tests compare, making and shutting down experiments, running a
// scenario in a child process, the telemetry harness with its metric
// assertions, and the outcome matrix (outcomeCases) that the outcome,
// metric, span and duration tests all run.

// price is a small value type compared with ==.
type price struct {
	Cents    int64
	Currency string
}

var eur100 = price{100, "EUR"}

// ret returns a Func that returns v and err.
func ret[T any](v T, err error) dualrun.Func[T] {
	return func(context.Context) (T, error) { return v, err }
}

// legacyPrice and candidatePrice are plain funcs, not closures: the
// allocation tests pass them without allocating.
func legacyPrice(context.Context) (price, error)    { return eur100, nil }
func candidatePrice(context.Context) (price, error) { return eur100, nil }

// quoteItem and priceQuote are a cart's price quote, compared with go-cmp,
// whose paths fold to ".Items[*].Price".
type quoteItem struct {
	SKU   string
	Price int64
}

type priceQuote struct {
	Currency string
	Items    []quoteItem
}

// quoteOf returns a quote in EUR with one item per price.
func quoteOf(prices ...int64) priceQuote {
	q := priceQuote{Currency: "EUR"}
	for i, p := range prices {
		q.Items = append(q.Items, quoteItem{SKU: fmt.Sprintf("sku-%d", i), Price: p})
	}
	return q
}

// wide has ten plainly comparable fields: a distinct differing path per
// field, for the field bound and for Reports that deduplication must not
// merge.
type wide struct{ A, B, C, D, E, F, G, H, I, J int }

// wideWith returns a wide that differs from the zero wide in field i (0 to
// 9) only.
func wideWith(i int) wide {
	var w wide
	fields := []*int{&w.A, &w.B, &w.C, &w.D, &w.E, &w.F, &w.G, &w.H, &w.I, &w.J}
	*fields[i] = 1
	return w
}

// typedNilErr is an error type whose Error method dereferences its
// receiver: a typed-nil *typedNilErr returned as an error panics when
// described.
type typedNilErr struct{ msg string }

func (e *typedNilErr) Error() string { return e.msg }

var expSeq atomic.Int64

// expName returns an experiment name no other test (or -count run) uses:
// experiments are registered process-wide and live until unregistered.
func expName(tb testing.TB) string {
	return fmt.Sprintf("%s.%d", strings.ReplaceAll(tb.Name(), "/", "."), expSeq.Add(1))
}

// newExp makes an experiment with a unique name.
func newExp[T any](t *testing.T, opts ...dualrun.Option) *dualrun.Experiment[T] {
	t.Helper()
	return dualrun.New[T](expName(t), opts...)
}

// waitShutdown shuts e down with a bound, failing the test if it does not
// complete: a leaked slot or a wedged report queue shows as a timeout here.
// Once it returned, every shadow of e is recorded and every Report
// published.
func waitShutdown(tb testing.TB, e interface{ Shutdown(context.Context) error }) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, true)]
		tb.Fatalf("Shutdown did not complete: %v (a slot or a report is stuck); goroutines:\n%s", err, buf)
	}
}

// alwaysCompare is an always-compare policy with the given primary side.
func alwaysCompare(primary dualrun.Side) rollout.Static {
	if primary == dualrun.Candidate {
		return rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}
	}
	return rollout.Static{Shadow: rollout.All}
}

// candidatePrimary compares every call, with the candidate primary.
func candidatePrimary() dualrun.Option {
	return dualrun.WithRollout(alwaysCompare(dualrun.Candidate))
}

// bothPrimaries are the sides a test runs with as primary: before and
// after cut-over.
var bothPrimaries = []dualrun.Side{dualrun.Legacy, dualrun.Candidate}

// assignSides maps (primary, shadow) funcs to (legacy, candidate).
func assignSides[T any](primary dualrun.Side, p, s dualrun.Func[T]) (legacy, candidate dualrun.Func[T]) {
	if primary == dualrun.Candidate {
		return s, p
	}
	return p, s
}

// runRecover calls exp.Run and recovers a panic of the primary, which
// dualrun must let unwind the caller untouched.
func runRecover[T any](ctx context.Context, exp *dualrun.Experiment[T], legacy, candidate dualrun.Func[T]) (v T, panicked any, err error) {
	defer func() { panicked = recover() }()
	v, err = exp.Run(ctx, legacy, candidate)
	return v, nil, err
}

// mustPanic fails the test unless f panics with a value that mentions want.
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

// childEnv names the test a child process runs.
const childEnv = "DUALRUN_TEST_CHILD"

// inChild runs body in a fresh process: this test binary started again on
// the calling test alone. A scenario that would crash the process (a stack
// overflow cannot be recovered) or that changes process-wide state (the
// package-level Shutdown, the experiment cap) then fails its test instead of
// killing the test binary or leaking into other tests. The child's output
// is shown when it fails.
func inChild(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		body(t)
		return
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process for %s failed: %v\n%s", t.Name(), err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("child process for %s did not report PASS:\n%s", t.Name(), out)
	}
}

// errCapture collects what is passed to otel.Handle while a test runs.
type errCapture struct {
	mu   sync.Mutex
	errs []string
}

// captureOtelErrors installs an OpenTelemetry error handler that collects
// what otel.Handle is given, until the test ends.
func captureOtelErrors(t *testing.T) *errCapture {
	t.Helper()
	c := &errCapture{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		c.mu.Lock()
		c.errs = append(c.errs, err.Error())
		c.mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return c
}

// about returns the captured errors that mention s.
func (c *errCapture) about(s string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.errs {
		if strings.Contains(e, s) {
			out = append(out, e)
		}
	}
	return out
}

// The telemetry harness: the real OpenTelemetry SDK, a ManualReader for
// metrics and a SpanRecorder for spans, both passed in with options. Every
// test makes its own providers and a fresh experiment name (expName),
// because experiments are registered process-wide.

// telHarness is one test's SDK providers and the options that install them.
type telHarness struct {
	reader *sdkmetric.ManualReader
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	opts   []dualrun.Option
}

// newTelHarness makes the providers, shut down when the test ends.
func newTelHarness(t *testing.T) *telHarness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		ctx := context.Background()
		if err := mp.Shutdown(ctx); err != nil {
			t.Errorf("MeterProvider.Shutdown: %v", err)
		}
		if err := tp.Shutdown(ctx); err != nil {
			t.Errorf("TracerProvider.Shutdown: %v", err)
		}
	})
	return &telHarness{
		reader: reader,
		rec:    rec,
		tp:     tp,
		opts:   []dualrun.Option{dualrun.WithMeterProvider(mp), dualrun.WithTracerProvider(tp)},
	}
}

// with returns the harness's options followed by opts.
func (h *telHarness) with(opts ...dualrun.Option) []dualrun.Option {
	return append(slices.Clip(h.opts), opts...)
}

// collect returns what the meter has recorded so far.
func (h *telHarness) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return rm
}

// shadowSpans returns the ended shadow spans of experiment name.
func (h *telHarness) shadowSpans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == "dualrun.shadow "+name {
			out = append(out, s)
		}
	}
	return out
}

// telMetric returns the metric called name from dualrun's scope.
func telMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != dualrun.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// telPoints counts the data points of a metric, whatever its type.
func telPoints(m metricdata.Metrics) int {
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Sum[float64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	case metricdata.Histogram[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		return len(d.DataPoints)
	case nil:
		return 0
	}
	return -1
}

// telAssertNoData fails if the metric has any data point.
func telAssertNoData(t *testing.T, rm metricdata.ResourceMetrics, name string) {
	t.Helper()
	if m, ok := telMetric(rm, name); ok && telPoints(m) != 0 {
		t.Errorf("%s: got %d data points (%+v), want none", name, telPoints(m), m.Data)
	}
}

// telPoint is an Int64 data point of value v with the attributes kvs.
func telPoint(v int64, kvs ...attribute.KeyValue) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kvs...), Value: v}
}

// telAssertSum asserts an Int64 sum metric with exactly the given points.
// Observable counters report every attribute set they know, zero or not;
// with dropZeros, points of value 0 are left out before comparing, so a
// non-zero point that should not be there still fails.
func telAssertSum(t *testing.T, rm metricdata.ResourceMetrics, name, unit string, monotonic, dropZeros bool, want ...metricdata.DataPoint[int64]) {
	t.Helper()
	got, ok := telMetric(rm, name)
	if !ok {
		if len(want) > 0 {
			t.Errorf("%s: metric not collected; want %d data points", name, len(want))
		}
		return
	}
	if dropZeros {
		if s, ok := got.Data.(metricdata.Sum[int64]); ok {
			s.DataPoints = slices.DeleteFunc(slices.Clone(s.DataPoints), func(p metricdata.DataPoint[int64]) bool { return p.Value == 0 })
			got.Data = s
		}
	}
	if want == nil {
		want = []metricdata.DataPoint[int64]{}
	}
	exp := metricdata.Metrics{
		Name:        name,
		Description: got.Description, // free text, not part of the contract
		Unit:        unit,
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: monotonic,
			DataPoints:  want,
		},
	}
	if s, ok := got.Data.(metricdata.Sum[int64]); ok && len(s.DataPoints) == 0 && len(want) == 0 {
		return
	}
	metricdatatest.AssertEqual(t, exp, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// telComparisons asserts dualrun.comparisons of experiment name: every
// outcome series (mismatch by kind) for both primaries, at zero but for the
// points in want.
func telComparisons(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...metricdata.DataPoint[int64]) {
	t.Helper()
	telAssertSum(t, rm, dualrun.MetricComparisons, "{comparison}", true, false, telAllComparisons(name, want...)...)
}

// telAllComparisons returns every series of dualrun.comparisons that an
// experiment exports once it has had a call to compare: for both primaries,
// each outcome but mismatch, and mismatch by kind. Each is 0 unless a point
// of nonzero has its attributes, whose value it then takes.
func telAllComparisons(name string, nonzero ...metricdata.DataPoint[int64]) []metricdata.DataPoint[int64] {
	var out []metricdata.DataPoint[int64]
	for _, p := range bothPrimaries {
		for o := dualrun.Match; int(o) < rollout.NumOutcomes; o++ {
			if o == dualrun.Mismatch {
				for _, k := range []dualrun.MismatchKind{dualrun.ValueMismatch, dualrun.OneSideErred, dualrun.ErrorsDiffer} {
					out = append(out, telComparisonN(name, p, o, k, 0))
				}
				continue
			}
			out = append(out, telComparisonN(name, p, o, dualrun.NoMismatch, 0))
		}
	}
	for _, nz := range nonzero {
		found := false
		for i := range out {
			if out[i].Attributes.Equals(&nz.Attributes) {
				out[i].Value, found = nz.Value, true
			}
		}
		if !found {
			out = append(out, nz)
		}
	}
	return out
}

// telCalls asserts the non-zero points of dualrun.calls.
func telCalls(t *testing.T, rm metricdata.ResourceMetrics, want ...metricdata.DataPoint[int64]) {
	t.Helper()
	telAssertSum(t, rm, dualrun.MetricCalls, "{call}", true, true, want...)
}

// telComparison is the dualrun.comparisons point of one call recorded as
// outcome (and kind).
func telComparison(name string, primary dualrun.Side, outcome dualrun.Outcome, kind dualrun.MismatchKind) metricdata.DataPoint[int64] {
	return telComparisonN(name, primary, outcome, kind, 1)
}

// telComparisonN is a dualrun.comparisons point of value n.
func telComparisonN(name string, primary dualrun.Side, outcome dualrun.Outcome, kind dualrun.MismatchKind, n int64, extra ...attribute.KeyValue) metricdata.DataPoint[int64] {
	kvs := []attribute.KeyValue{
		dualrun.AttrExperiment.String(name),
		dualrun.AttrPrimary.String(primary.String()),
		dualrun.AttrOutcome.String(outcome.String()),
	}
	if kind != dualrun.NoMismatch {
		kvs = append(kvs, dualrun.AttrMismatchKind.String(kind.String()))
	}
	return telPoint(n, append(kvs, extra...)...)
}

// telCall is a dualrun.calls point of value n.
func telCall(name string, primary dualrun.Side, compared bool, n int64) metricdata.DataPoint[int64] {
	return telPoint(n, dualrun.AttrExperiment.String(name),
		dualrun.AttrPrimary.String(primary.String()), dualrun.AttrCompared.Bool(compared))
}

// telSpanAttrs returns a span's attributes by key.
func telSpanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// outcomeCase is one compared call of the outcome matrix with everything it
// must be recorded as: the outcome and mismatch kind (Stats, Reports,
// dualrun.comparisons), the shadow span's status, and the error.type of each
// role on dualrun.call.duration. primary and shadow are the functions of the
// primary and the shadow side; each case runs with legacy primary and with
// candidate primary. A new case is added to outcomeCases once, and every
// test of the matrix runs it: TestOutcomes, TestTelemetryComparisonsByOutcome,
// TestTelemetrySpanByOutcome and TestTelemetryCallDurationByOutcome.
type outcomeCase struct {
	name, reason string
	opts         []dualrun.Option
	primary      dualrun.Func[priceQuote]
	shadow       dualrun.Func[priceQuote]
	cancelCaller bool // the caller's ctx is canceled before the primary runs
	primaryPanic any  // the value the primary panics with, if it does

	outcome dualrun.Outcome
	kind    dualrun.MismatchKind
	status  codes.Code // the shadow span's status

	// dualrun.call.duration: error.type of each role ("" when that side did
	// not err), and whether each role's duration is recorded at all.
	primaryErrType, shadowErrType       string
	noPrimaryDuration, noShadowDuration bool
}

func outcomeCases() []outcomeCase {
	base := quoteOf(500, 690)
	repriced := quoteOf(500, 700)
	lowercase := quoteOf(500, 690)
	lowercase.Currency = "eur"
	errA, errB := errors.New("a"), errors.New("b")
	fail := func(msg string) dualrun.Func[priceQuote] { return ret(priceQuote{}, errors.New(msg)) }
	return []outcomeCase{
		{
			name:    "match",
			reason:  "both sides succeed with equal values",
			primary: ret(base, nil), shadow: ret(base, nil),
			outcome: dualrun.Match,
		},
		{
			name:    "match_both_erred",
			reason:  "by default any two errors are equivalent",
			primary: fail("db down"), shadow: fail("upstream 503"),
			outcome:        dualrun.Match,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:    "match_equal_messages",
			reason:  "ErrorMessagesEqual treats errors with the same message as equivalent",
			opts:    []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			primary: fail("unknown sku"), shadow: fail("unknown sku"),
			outcome:        dualrun.Match,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:    "match_values_differ_only_after_error",
			reason:  "values are not compared when both erred",
			primary: ret(quoteOf(1), errA), shadow: ret(quoteOf(2), errA),
			outcome:        dualrun.Match,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:   "match_normalized",
			reason: "a normalizer removes the difference",
			opts: []dualrun.Option{dualrun.WithNormalizer(func(q priceQuote) priceQuote {
				q.Currency = strings.ToUpper(q.Currency)
				return q
			})},
			primary: ret(base, nil), shadow: ret(lowercase, nil),
			outcome: dualrun.Match,
		},
		{
			name:   "match_custom_comparer",
			reason: "a custom comparer replaces the default comparison",
			opts: []dualrun.Option{dualrun.WithComparer(func(l, c priceQuote) bool {
				return l.Currency == c.Currency
			})},
			primary: ret(base, nil), shadow: ret(repriced, nil),
			outcome: dualrun.Match,
		},
		{
			name:    "mismatch_value",
			reason:  "both succeed with different values",
			primary: ret(base, nil), shadow: ret(repriced, nil),
			outcome: dualrun.Mismatch, kind: dualrun.ValueMismatch,
		},
		{
			name:    "mismatch_error_shadow_erred",
			reason:  "exactly one side erred: the shadow",
			primary: ret(base, nil), shadow: fail("tax service 500"),
			outcome: dualrun.Mismatch, kind: dualrun.OneSideErred,
			shadowErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_error_primary_erred",
			reason:  "exactly one side erred: the primary",
			primary: fail("tax service 500"), shadow: ret(base, nil),
			outcome: dualrun.Mismatch, kind: dualrun.OneSideErred,
			primaryErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_errors_differ",
			reason:  "both erred, and ErrorMessagesEqual says the errors differ",
			opts:    []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			primary: fail("unknown sku"), shadow: fail("sku not found"),
			outcome: dualrun.Mismatch, kind: dualrun.ErrorsDiffer,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_ignore_rule_declines",
			reason:  "rules only turn a difference into ignored when they say so",
			opts:    []dualrun.Option{dualrun.WithIgnore(func(_, _ dualrun.Result[priceQuote]) bool { return false })},
			primary: ret(base, nil), shadow: ret(repriced, nil),
			outcome: dualrun.Mismatch, kind: dualrun.ValueMismatch,
		},
		{
			name:   "ignored",
			reason: "the values differ but an ignore rule accepts the difference",
			opts: []dualrun.Option{dualrun.WithIgnore(func(l, c dualrun.Result[priceQuote]) bool {
				return len(l.Value.Items) == len(c.Value.Items)
			})},
			primary: ret(base, nil), shadow: ret(repriced, nil),
			outcome: dualrun.Ignored,
		},
		{
			name:    "panic",
			reason:  "a shadow panic is recovered and recorded as panic",
			primary: ret(base, nil),
			shadow:  func(context.Context) (priceQuote, error) { panic("shadow exploded") },
			outcome: dualrun.Panic, status: codes.Error,
			shadowErrType: "panic",
		},
		{
			name:   "error_comparer_panicked",
			reason: "a panicking user comparer is outcome error, never a crash",
			opts: []dualrun.Option{dualrun.WithComparer(func(_, _ priceQuote) bool {
				panic("comparer bug")
			})},
			primary: ret(base, nil), shadow: ret(base, nil),
			outcome: dualrun.Error, status: codes.Error,
		},
		{
			name:   "error_normalizer_panicked",
			reason: "a panicking normalizer is outcome error",
			opts: []dualrun.Option{dualrun.WithNormalizer(func(priceQuote) priceQuote {
				panic("normalizer bug")
			})},
			primary: ret(base, nil), shadow: ret(base, nil),
			outcome: dualrun.Error, status: codes.Error,
		},
		{
			name:   "error_ignore_rule_panicked",
			reason: "a panicking ignore rule is outcome error",
			opts: []dualrun.Option{dualrun.WithIgnore(func(_, _ dualrun.Result[priceQuote]) bool {
				panic("rule bug")
			})},
			primary: ret(base, nil), shadow: ret(repriced, nil),
			outcome: dualrun.Error, status: codes.Error,
		},
		{
			name:    "error_error_comparer_panicked",
			reason:  "a panicking error comparer is outcome error; both sides erred",
			opts:    []dualrun.Option{dualrun.WithErrorComparer(func(_, _ error) bool { panic("error comparer bug") })},
			primary: ret(priceQuote{}, errA), shadow: ret(priceQuote{}, errB),
			outcome: dualrun.Error, status: codes.Error,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:   "error_shadow_context_hook_panicked",
			reason: "a panicking WithShadowContext hook: the shadow does not run; outcome error",
			opts: []dualrun.Option{dualrun.WithShadowContext(func(context.Context) context.Context {
				panic("hook bug")
			})},
			primary: ret(base, nil), shadow: ret(base, nil),
			outcome: dualrun.Error, status: codes.Error,
			noShadowDuration: true,
		},
		{
			name:              "aborted_primary_panicked",
			reason:            "the primary's panic unwinds the caller; nothing fair to compare",
			primary:           func(context.Context) (priceQuote, error) { panic("primary exploded") },
			shadow:            ret(base, nil),
			primaryPanic:      "primary exploded",
			outcome:           dualrun.Aborted,
			noPrimaryDuration: true,
		},
		{
			name:           "aborted_caller_canceled",
			reason:         "the primary failed because the caller canceled; nothing fair to compare",
			primary:        func(ctx context.Context) (priceQuote, error) { return priceQuote{}, ctx.Err() },
			shadow:         ret(base, nil),
			cancelCaller:   true,
			outcome:        dualrun.Aborted,
			primaryErrType: "canceled",
		},
	}
}

// outcomeCaseNamed returns the case of outcomeCases called name.
func outcomeCaseNamed(t *testing.T, name string) outcomeCase {
	t.Helper()
	for _, c := range outcomeCases() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no outcome case %q", name)
	return outcomeCase{}
}

// runOutcomeCase runs c once with the given primary side through a fresh
// experiment with its own telemetry harness, checks that the caller got
// exactly what the primary returned (or its panic), and waits for the
// shadow work to be recorded and published.
func runOutcomeCase(t *testing.T, c outcomeCase, primary dualrun.Side) (*telHarness, string, *dualrun.Experiment[priceQuote]) {
	t.Helper()
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[priceQuote](name, h.with(append([]dualrun.Option{dualrun.WithRollout(alwaysCompare(primary))}, c.opts...)...)...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		returned bool
		pv       priceQuote
		perr     error
	)
	p := func(ctx context.Context) (priceQuote, error) {
		if c.cancelCaller {
			cancel()
		}
		pv, perr = c.primary(ctx)
		returned = true
		return pv, perr
	}
	legacy, candidate := assignSides(primary, p, c.shadow)
	v, panicked, err := runRecover(ctx, exp, legacy, candidate)
	if panicked != c.primaryPanic {
		t.Errorf("caller recovered %v, want the primary's own panic value %v", panicked, c.primaryPanic)
	}
	if returned && (!reflect.DeepEqual(v, pv) || err != perr) { //nolint:errorlint // Run returns the primary's error itself, unwrapped
		t.Errorf("Run = %v, %v; want the primary's %v, %v", v, err, pv, perr)
	}
	if c.cancelCaller && !errors.Is(err, context.Canceled) {
		t.Errorf("caller got error %v, want the primary's context.Canceled", err)
	}
	waitShutdown(t, exp)
	return h, name, exp
}
