package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests assert the telemetry contract (the README's telemetry
// reference) through the real OpenTelemetry SDK: a ManualReader for metrics
// and a SpanRecorder for spans, both passed in with options. Every test makes
// its own providers and a fresh experiment name, because experiments are
// registered process-wide and live until the process ends.

// telHarness is one test's SDK providers and the options that install them.
type telHarness struct {
	reader *sdkmetric.ManualReader
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	opts   []dualrun.Option
}

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

var telSeq atomic.Int64

// telName returns an experiment name no other test (or -count run) uses.
func telName(t *testing.T) string {
	return fmt.Sprintf("tel.%s.%d", strings.ReplaceAll(t.Name(), "/", "."), telSeq.Add(1))
}

// telShutdown waits until all shadow work of exp is recorded and published.
func telShutdown(t *testing.T, exp interface{ Shutdown(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// telPolicy is an always-compare policy with the given primary side.
func telPolicy(primary dualrun.Side) rollout.Static {
	if primary == dualrun.Candidate {
		return rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}
	}
	return rollout.Static{Shadow: rollout.All}
}

// telSides maps (primary, shadow) funcs to (legacy, candidate).
func telSides[T any](primary dualrun.Side, p, s dualrun.Func[T]) (legacy, candidate dualrun.Func[T]) {
	if primary == dualrun.Candidate {
		return s, p
	}
	return p, s
}

var telPrimaries = []dualrun.Side{dualrun.Legacy, dualrun.Candidate}

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
	for _, p := range telPrimaries {
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

func telComparison(name string, primary dualrun.Side, outcome dualrun.Outcome, kind dualrun.MismatchKind) metricdata.DataPoint[int64] {
	return telComparisonN(name, primary, outcome, kind, 1)
}

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

func telCall(name string, primary dualrun.Side, compared bool, n int64) metricdata.DataPoint[int64] {
	return telPoint(n, dualrun.AttrExperiment.String(name),
		dualrun.AttrPrimary.String(primary.String()), dualrun.AttrCompared.Bool(compared))
}

// telDur is one expected dualrun.call.duration data point.
type telDur struct {
	side    dualrun.Side
	role    string // "primary" or "shadow"
	errType string // "" when the side did not err
	count   uint64
	sum     float64 // checked only when checkSum
}

// telAssertDurations asserts dualrun.call.duration's attribute sets, its
// counts, and the function-call bucket boundaries.
func telAssertDurations(t *testing.T, rm metricdata.ResourceMetrics, name string, checkSum bool, want ...telDur) {
	t.Helper()
	got, ok := telMetric(rm, dualrun.MetricCallDuration)
	if !ok {
		if len(want) > 0 {
			t.Errorf("%s: metric not collected; want %d data points", dualrun.MetricCallDuration, len(want))
		}
		return
	}
	wantPts := make([]metricdata.HistogramDataPoint[float64], 0, len(want))
	byAttrs := make(map[attribute.Distinct]telDur, len(want))
	for _, w := range want {
		kvs := []attribute.KeyValue{
			dualrun.AttrExperiment.String(name),
			dualrun.AttrSide.String(w.side.String()),
			dualrun.AttrRole.String(w.role),
		}
		if w.errType != "" {
			kvs = append(kvs, dualrun.AttrErrorType.String(w.errType))
		}
		set := attribute.NewSet(kvs...)
		wantPts = append(wantPts, metricdata.HistogramDataPoint[float64]{Attributes: set})
		byAttrs[set.Equivalent()] = w
	}
	exp := metricdata.Metrics{
		Name:        dualrun.MetricCallDuration,
		Description: got.Description,
		Unit:        "s",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints:  wantPts,
		},
	}
	metricdatatest.AssertEqual(t, exp, got, metricdatatest.IgnoreTimestamp(),
		metricdatatest.IgnoreExemplars(), metricdatatest.IgnoreValue())
	h, ok := got.Data.(metricdata.Histogram[float64])
	if !ok {
		return
	}
	for _, p := range h.DataPoints {
		w, ok := byAttrs[p.Attributes.Equivalent()]
		if !ok {
			continue // reported by AssertEqual
		}
		if p.Count != w.count {
			t.Errorf("duration %s: count = %d, want %d", p.Attributes.Encoded(attribute.DefaultEncoder()), p.Count, w.count)
		}
		if checkSum && p.Sum != w.sum {
			t.Errorf("duration %s: sum = %v s, want %v s", p.Attributes.Encoded(attribute.DefaultEncoder()), p.Sum, w.sum)
		}
		telAssertBounds(t, p.Bounds)
	}
}

// telAssertBounds checks the buckets are set for function calls: from 10µs
// to tens of seconds.
func telAssertBounds(t *testing.T, b []float64) {
	t.Helper()
	if len(b) == 0 || b[0] != 1e-05 || !slices.Contains(b, 1) || !slices.Contains(b, 10) || !slices.IsSorted(b) {
		t.Errorf("duration bucket bounds = %v, want sorted, starting at 1e-05 and including 1 and 10", b)
	}
}

func telSpanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// telItem and telQuote are a cart quote whose go-cmp paths fold to
// ".Items[*].Price".
type telItem struct {
	SKU   string
	Price int64
}

type telQuote struct {
	Currency string
	Items    []telItem
}

func telQuoteOf(prices ...int64) telQuote {
	q := telQuote{Currency: "EUR"}
	for i, p := range prices {
		q.Items = append(q.Items, telItem{SKU: fmt.Sprintf("sku-%d", i), Price: p})
	}
	return q
}

func telOK[T any](v T) dualrun.Func[T] {
	return func(context.Context) (T, error) { return v, nil }
}

func telFail[T any](msg string) dualrun.Func[T] {
	return func(context.Context) (T, error) {
		var zero T
		return zero, errors.New(msg)
	}
}

// telRun calls exp.Run and recovers a panic of the primary, which dualrun
// must let unwind the caller untouched.
func telRun[T any](ctx context.Context, exp *dualrun.Experiment[T], legacy, candidate dualrun.Func[T]) (v T, panicked any, err error) {
	defer func() { panicked = recover() }()
	v, err = exp.Run(ctx, legacy, candidate)
	return v, nil, err
}

// telWide has five plainly comparable fields: distinct differing paths for
// the field bound and for reports that deduplication must not merge.
type telWide struct{ A, B, C, D, E int }

func telWideWith(i int) telWide {
	var w telWide
	switch i {
	case 0:
		w.A = 1
	case 1:
		w.B = 1
	case 2:
		w.C = 1
	case 3:
		w.D = 1
	case 4:
		w.E = 1
	}
	return w
}

// telCase is one compared call with the outcome it must be recorded as.
// primary and shadow are the functions of the primary and the shadow side;
// each case runs with legacy primary and with candidate primary.
type telCase struct {
	name, reason string
	opts         []dualrun.Option
	primary      dualrun.Func[telQuote]
	shadow       dualrun.Func[telQuote]
	cancelCaller bool // the caller's ctx is canceled before the primary runs
	primaryPanic any  // the value the primary panics with, if it does

	outcome dualrun.Outcome
	kind    dualrun.MismatchKind
	status  codes.Code // the shadow span's status

	// dualrun.call.duration: error.type of each role ("" when that side did
	// not err), and whether the primary's duration is recorded at all.
	primaryErrType, shadowErrType string
	noPrimaryDuration             bool
}

func telCases() []telCase {
	base := telQuoteOf(500, 690)
	repriced := telQuoteOf(500, 700)
	return []telCase{
		{
			name:    "match",
			reason:  "both sides succeed with equal values",
			primary: telOK(base), shadow: telOK(base),
			outcome: dualrun.Match,
		},
		{
			name:    "match_both_erred",
			reason:  "by default any two errors are equivalent",
			primary: telFail[telQuote]("db down"), shadow: telFail[telQuote]("upstream 503"),
			outcome:        dualrun.Match,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:    "match_equal_messages",
			reason:  "ErrorMessagesEqual treats errors with the same message as equivalent",
			opts:    []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			primary: telFail[telQuote]("unknown sku"), shadow: telFail[telQuote]("unknown sku"),
			outcome:        dualrun.Match,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_value",
			reason:  "both succeed with different values",
			primary: telOK(base), shadow: telOK(repriced),
			outcome: dualrun.Mismatch, kind: dualrun.ValueMismatch,
		},
		{
			name:    "mismatch_error_shadow_erred",
			reason:  "exactly one side erred: the shadow",
			primary: telOK(base), shadow: telFail[telQuote]("tax service 500"),
			outcome: dualrun.Mismatch, kind: dualrun.OneSideErred,
			shadowErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_error_primary_erred",
			reason:  "exactly one side erred: the primary",
			primary: telFail[telQuote]("tax service 500"), shadow: telOK(base),
			outcome: dualrun.Mismatch, kind: dualrun.OneSideErred,
			primaryErrType: "*errors.errorString",
		},
		{
			name:    "mismatch_errors_differ",
			reason:  "both erred, and ErrorMessagesEqual says the errors differ",
			opts:    []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			primary: telFail[telQuote]("unknown sku"), shadow: telFail[telQuote]("sku not found"),
			outcome: dualrun.Mismatch, kind: dualrun.ErrorsDiffer,
			primaryErrType: "*errors.errorString", shadowErrType: "*errors.errorString",
		},
		{
			name:   "ignored",
			reason: "the values differ but an ignore rule accepts the difference",
			opts: []dualrun.Option{dualrun.WithIgnore(func(l, c dualrun.Result[telQuote]) bool {
				return len(l.Value.Items) == len(c.Value.Items)
			})},
			primary: telOK(base), shadow: telOK(repriced),
			outcome: dualrun.Ignored,
		},
		{
			name:    "panic",
			reason:  "a shadow panic is recovered and recorded as panic",
			primary: telOK(base),
			shadow:  func(context.Context) (telQuote, error) { panic("shadow exploded") },
			outcome: dualrun.Panic, status: codes.Error,
			shadowErrType: "panic",
		},
		{
			name:   "error_comparer_panicked",
			reason: "a panicking user comparer is outcome error, never a crash",
			opts: []dualrun.Option{dualrun.WithComparer(func(_, _ telQuote) bool {
				panic("comparer bug")
			})},
			primary: telOK(base), shadow: telOK(base),
			outcome: dualrun.Error, status: codes.Error,
		},
		{
			name:              "aborted_primary_panicked",
			reason:            "the primary's panic unwinds the caller; nothing fair to compare",
			primary:           func(context.Context) (telQuote, error) { panic("primary exploded") },
			shadow:            telOK(base),
			primaryPanic:      "primary exploded",
			outcome:           dualrun.Aborted,
			noPrimaryDuration: true,
		},
		{
			name:           "aborted_caller_canceled",
			reason:         "the primary failed because the caller canceled; nothing fair to compare",
			primary:        func(ctx context.Context) (telQuote, error) { return telQuote{}, ctx.Err() },
			shadow:         telOK(base),
			cancelCaller:   true,
			outcome:        dualrun.Aborted,
			primaryErrType: "canceled",
		},
	}
}

// telRunCase runs c once with the given primary side and waits for its
// shadow work to be recorded.
func telRunCase(t *testing.T, c telCase, primary dualrun.Side) (*telHarness, string, *dualrun.Experiment[telQuote]) {
	t.Helper()
	h := newTelHarness(t)
	name := telName(t)
	exp := dualrun.New[telQuote](name, h.with(append([]dualrun.Option{dualrun.WithRollout(telPolicy(primary))}, c.opts...)...)...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := c.primary
	if c.cancelCaller {
		p = func(ctx context.Context) (telQuote, error) {
			cancel()
			return c.primary(ctx)
		}
	}
	legacy, candidate := telSides(primary, p, c.shadow)
	_, panicked, err := telRun(ctx, exp, legacy, candidate)
	if panicked != c.primaryPanic {
		t.Errorf("caller recovered %v, want the primary's own panic value %v", panicked, c.primaryPanic)
	}
	if c.cancelCaller && !errors.Is(err, context.Canceled) {
		t.Errorf("caller got error %v, want the primary's context.Canceled", err)
	}
	telShutdown(t, exp)
	return h, name, exp
}

func TestTelemetryComparisonsByOutcome(t *testing.T) {
	for _, c := range telCases() {
		for _, primary := range telPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, exp := telRunCase(t, c, primary)
				rm := h.collect(t)
				telComparisons(t, rm, name, telComparison(name, primary, c.outcome, c.kind))
				telCalls(t, rm, telCall(name, primary, true, 1))
				if s := exp.Stats(); s.Count(c.outcome) != 1 || s.Compared != 1 {
					t.Errorf("Stats: %s = %d, compared = %d; want 1, 1 (%s)", c.outcome, s.Count(c.outcome), s.Compared, c.reason)
				}
			})
		}
	}
}

func TestTelemetrySpanByOutcome(t *testing.T) {
	for _, c := range telCases() {
		for _, primary := range telPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, _ := telRunCase(t, c, primary)
				spans := h.shadowSpans(name)
				if len(spans) != 1 {
					t.Fatalf("got %d shadow spans, want 1", len(spans))
				}
				s := spans[0]
				attrs := telSpanAttrs(s)
				for k, want := range map[attribute.Key]string{
					dualrun.AttrExperiment: name,
					dualrun.AttrPrimary:    primary.String(),
					dualrun.AttrOutcome:    c.outcome.String(),
				} {
					if got := attrs[k].AsString(); got != want {
						t.Errorf("span attribute %s = %q, want %q", k, got, want)
					}
				}
				if got := s.Status().Code; got != c.status {
					t.Errorf("span status = %v (%q), want %v (%s)", got, s.Status().Description, c.status, c.reason)
				}
				var events []sdktrace.Event
				for _, e := range s.Events() {
					if e.Name == dualrun.SpanEventMismatch {
						events = append(events, e)
					}
				}
				if c.outcome != dualrun.Mismatch {
					if len(events) != 0 {
						t.Errorf("span has %d %s events on outcome %s, want none", len(events), dualrun.SpanEventMismatch, c.outcome)
					}
					if _, ok := attrs[dualrun.AttrMismatchKind]; ok {
						t.Errorf("span has %s on outcome %s", dualrun.AttrMismatchKind, c.outcome)
					}
					return
				}
				if len(events) != 1 {
					t.Fatalf("span has %d %s events, want 1", len(events), dualrun.SpanEventMismatch)
				}
				var kind string
				for _, kv := range events[0].Attributes {
					if kv.Key == dualrun.AttrMismatchKind {
						kind = kv.Value.AsString()
					}
				}
				if kind != c.kind.String() {
					t.Errorf("mismatch event %s = %q, want %q", dualrun.AttrMismatchKind, kind, c.kind)
				}
			})
		}
	}
}

func TestTelemetryCallDurationByOutcome(t *testing.T) {
	for _, c := range telCases() {
		for _, primary := range telPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, _ := telRunCase(t, c, primary)
				want := []telDur{{side: primary.Other(), role: "shadow", errType: c.shadowErrType, count: 1}}
				if !c.noPrimaryDuration {
					want = append(want, telDur{side: primary, role: "primary", errType: c.primaryErrType, count: 1})
				}
				telAssertDurations(t, h.collect(t), name, false, want...)
			})
		}
	}
}

// TestTelemetryComparerPanicNotChargedToShadowSide is a regression test: a
// panicking WithComparer func (outcome error) was charged to the shadow side
// as if the shadow had panicked. The contract puts error.type on
// dualrun.call.duration only "where a side erred"; here neither side did,
// yet the shadow's duration carried error.type="panic", Stats counted a
// shadow error, the rollout Observer was told the shadow failed (a ramp
// guard on the candidate error rate would roll back because of a comparer
// bug), and the Report put the comparer's panic in the shadow's error.
func TestTelemetryComparerPanicNotChargedToShadowSide(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			var c telCase
			for _, tc := range telCases() {
				if tc.name == "error_comparer_panicked" {
					c = tc
				}
			}
			reports := make(chan *dualrun.Report, 4)
			c.opts = append(slices.Clip(c.opts), dualrun.WithPublisher(dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				reports <- r
				return nil
			}))))
			h, name, exp := telRunCase(t, c, primary)
			telAssertDurations(t, h.collect(t), name, false,
				telDur{side: primary, role: "primary", count: 1},
				telDur{side: primary.Other(), role: "shadow", count: 1},
			)
			s := exp.Stats()
			if s.Legacy.Errors != 0 || s.Candidate.Errors != 0 {
				t.Errorf("Stats side errors: legacy %d, candidate %d; want 0, 0: neither side erred, the comparer did",
					s.Legacy.Errors, s.Candidate.Errors)
			}
			if len(reports) != 1 {
				t.Fatalf("published %d reports, want 1 (outcome error is reported)", len(reports))
			}
			r := <-reports
			if r.Outcome != dualrun.Error || r.LegacyErr != nil || r.CandidateErr != nil {
				t.Errorf("report: outcome %v, legacy error %v, candidate error %v; want error, <nil>, <nil>",
					r.Outcome, r.LegacyErr, r.CandidateErr)
			}
		})
	}
}

// TestTelemetryCanceledPrimaryDurationWhenClockStands is a regression test:
// when the primary returns an error after the caller canceled (outcome
// aborted), its duration must still be recorded, because it did return.
// dualrun used to decide "the primary returned" from its measured duration
// being > 0, so when the clock did not move during the call
// (testing/synctest, the clock users are told to test with; coarse clocks)
// the primary's duration was lost.
func TestTelemetryCanceledPrimaryDurationWhenClockStands(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var c telCase
				for _, tc := range telCases() {
					if tc.name == "aborted_caller_canceled" {
						c = tc
					}
				}
				h, name, _ := telRunCase(t, c, primary)
				rm := h.collect(t)
				telComparisons(t, rm, name, telComparison(name, primary, dualrun.Aborted, dualrun.NoMismatch))
				telAssertDurations(t, rm, name, true,
					telDur{side: primary, role: "primary", errType: "canceled", count: 1, sum: 0},
					telDur{side: primary.Other(), role: "shadow", count: 1, sum: 0},
				)
			})
		})
	}
}

func TestTelemetryInstrumentationScope(t *testing.T) {
	h := newTelHarness(t)
	name := telName(t)
	exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(telPolicy(dualrun.Legacy)))...)
	q := telQuoteOf(100)
	if _, err := exp.Run(context.Background(), telOK(q), telOK(q)); err != nil {
		t.Fatal(err)
	}
	telShutdown(t, exp)

	rm := h.collect(t)
	if len(rm.ScopeMetrics) != 1 {
		t.Fatalf("got %d instrumentation scopes, want 1", len(rm.ScopeMetrics))
	}
	if sc := rm.ScopeMetrics[0].Scope; sc.Name != dualrun.ScopeName || sc.Version != dualrun.Version {
		t.Errorf("meter scope = %q %q, want %q %q", sc.Name, sc.Version, dualrun.ScopeName, dualrun.Version)
	}
	if dualrun.ScopeName != "github.com/dualrun/dualrun" {
		t.Errorf("ScopeName = %q, want the module path", dualrun.ScopeName)
	}
	spans := h.shadowSpans(name)
	if len(spans) != 1 {
		t.Fatalf("got %d shadow spans, want 1", len(spans))
	}
	if sc := spans[0].InstrumentationScope(); sc.Name != dualrun.ScopeName || sc.Version != dualrun.Version {
		t.Errorf("tracer scope = %q %q, want %q %q", sc.Name, sc.Version, dualrun.ScopeName, dualrun.Version)
	}
}

func TestTelemetryCalls(t *testing.T) {
	cases := []struct {
		name, reason string
		policy       rollout.Static
		before       int // calls before Shutdown
		after        int // calls after Shutdown: primary only
		want         func(name string) []metricdata.DataPoint[int64]
	}{
		{
			name:   "uncompared_legacy",
			reason: "the zero Static runs legacy only; every call is still counted",
			policy: rollout.Static{}, before: 5,
			want: func(n string) []metricdata.DataPoint[int64] {
				return []metricdata.DataPoint[int64]{telCall(n, dualrun.Legacy, false, 5)}
			},
		},
		{
			name:   "uncompared_candidate",
			reason: "after cut-over without shadow, calls count under primary=candidate",
			policy: rollout.Static{CandidatePrimary: rollout.All}, before: 4,
			want: func(n string) []metricdata.DataPoint[int64] {
				return []metricdata.DataPoint[int64]{telCall(n, dualrun.Candidate, false, 4)}
			},
		},
		{
			name:   "compared_legacy",
			reason: "every call compared",
			policy: telPolicy(dualrun.Legacy), before: 3,
			want: func(n string) []metricdata.DataPoint[int64] {
				return []metricdata.DataPoint[int64]{telCall(n, dualrun.Legacy, true, 3)}
			},
		},
		{
			name:   "compared_then_shut_down",
			reason: "after Shutdown calls go on, primary only, counted as not compared",
			policy: telPolicy(dualrun.Candidate), before: 2, after: 3,
			want: func(n string) []metricdata.DataPoint[int64] {
				return []metricdata.DataPoint[int64]{
					telCall(n, dualrun.Candidate, true, 2),
					telCall(n, dualrun.Candidate, false, 3),
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(c.policy))...)
			q := telQuoteOf(100)
			ctx := context.Background()
			for range c.before {
				if _, err := exp.Run(ctx, telOK(q), telOK(q)); err != nil {
					t.Fatal(err)
				}
			}
			telShutdown(t, exp)
			for range c.after {
				if _, err := exp.Run(ctx, telOK(q), telOK(q)); err != nil {
					t.Fatal(err)
				}
			}
			telCalls(t, h.collect(t), c.want(name)...)
			if s := exp.Stats(); s.Calls != int64(c.before+c.after) {
				t.Errorf("Stats.Calls = %d, want %d", s.Calls, c.before+c.after)
			}
		})
	}
}

func TestTelemetryUncomparedRecordsNothing(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			policy := rollout.Static{}
			if primary == dualrun.Candidate {
				policy.CandidatePrimary = rollout.All
			}
			exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(policy))...)
			const n = 7
			var shadowRuns atomic.Int64
			shadow := func(context.Context) (telQuote, error) {
				shadowRuns.Add(1)
				return telQuote{}, errors.New("must not run")
			}
			legacy, candidate := telSides(primary, telOK(telQuoteOf(100)), shadow)
			for range n {
				if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
					t.Fatal(err)
				}
			}
			telShutdown(t, exp)

			rm := h.collect(t)
			telAssertNoData(t, rm, dualrun.MetricComparisons)
			telAssertNoData(t, rm, dualrun.MetricCallDuration)
			telAssertNoData(t, rm, dualrun.MetricMismatchFields)
			telAssertNoData(t, rm, dualrun.MetricReportsDropped)
			telCalls(t, rm, telCall(name, primary, false, n))
			if got := shadowRuns.Load(); got != 0 {
				t.Errorf("the other side ran %d times, want 0", got)
			}
			if spans := h.rec.Ended(); len(spans) != 0 {
				t.Errorf("got %d spans, want none", len(spans))
			}
		})
	}
}

func TestTelemetryShed(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			var reports atomic.Int64
			pub := dualrun.NamePublisher("count", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
				reports.Add(1)
				return nil
			}))
			exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(telPolicy(primary)),
				dualrun.WithMaxInFlight(1), dualrun.WithPublisher(pub))...)

			q := telQuoteOf(100)
			release := make(chan struct{})
			var shadowRuns atomic.Int64
			shadow := func(context.Context) (telQuote, error) {
				shadowRuns.Add(1)
				<-release
				return q, nil
			}
			legacy, candidate := telSides(primary, telOK(q), shadow)
			ctx := context.Background()
			// The first call takes the only slot, synchronously, and its
			// shadow holds it until released.
			if _, err := exp.Run(ctx, legacy, candidate); err != nil {
				t.Fatal(err)
			}
			// The second call finds no slot: primary only, counted shed.
			if got, err := exp.Run(ctx, legacy, candidate); err != nil || len(got.Items) != 1 {
				t.Fatalf("shed call returned %+v, %v; want the primary's result", got, err)
			}
			close(release)
			telShutdown(t, exp)

			rm := h.collect(t)
			telComparisons(t, rm, name,
				telComparison(name, primary, dualrun.Match, dualrun.NoMismatch),
				telComparison(name, primary, dualrun.Shed, dualrun.NoMismatch))
			telCalls(t, rm, telCall(name, primary, true, 1), telCall(name, primary, false, 1))
			if got := shadowRuns.Load(); got != 1 {
				t.Errorf("shadow ran %d times, want 1", got)
			}
			if got := len(h.shadowSpans(name)); got != 1 {
				t.Errorf("got %d shadow spans, want 1 (none for the shed call)", got)
			}
			if got := reports.Load(); got != 0 {
				t.Errorf("published %d reports, want 0: shed is never reported", got)
			}
			if s := exp.Stats(); s.Count(dualrun.Shed) != 1 || s.Compared != 1 || s.Calls != 2 {
				t.Errorf("Stats: shed %d, compared %d, calls %d; want 1, 1, 2", s.Count(dualrun.Shed), s.Compared, s.Calls)
			}
		})
	}
}

func TestTelemetryTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	cases := []struct {
		name, reason string
		// shadow builds the shadow func; release is closed at the end.
		shadow func(release <-chan struct{}) dualrun.Func[telQuote]
		// wait makes the deadline pass before release is closed.
		wait bool
	}{
		{
			name:   "shadow_waits_for_ctx",
			reason: "a well-behaved shadow returns the context's error at its deadline",
			shadow: func(<-chan struct{}) dualrun.Func[telQuote] {
				return func(ctx context.Context) (telQuote, error) {
					<-ctx.Done()
					return telQuote{}, ctx.Err()
				}
			},
		},
		{
			name:   "shadow_ignores_ctx",
			reason: "a shadow that ignores its context is recorded at the deadline; its late result is discarded",
			shadow: func(release <-chan struct{}) dualrun.Func[telQuote] {
				return func(context.Context) (telQuote, error) {
					<-release
					return telQuoteOf(100), nil
				}
			},
			wait: true,
		},
	}
	for _, c := range cases {
		for _, primary := range telPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newTelHarness(t)
					name := telName(t)
					exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(telPolicy(primary)),
						dualrun.WithShadowTimeout(timeout))...)
					release := make(chan struct{})
					legacy, candidate := telSides(primary, telOK(telQuoteOf(100)), c.shadow(release))
					if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
						t.Fatal(err)
					}
					if c.wait {
						time.Sleep(2 * timeout) // fake time: the deadline passes
						synctest.Wait()
						if s := exp.Stats(); s.Count(dualrun.Timeout) != 1 || s.InFlight != 1 {
							t.Errorf("at the deadline: timeouts %d, in flight %d; want 1 recorded, slot still held",
								s.Count(dualrun.Timeout), s.InFlight)
						}
					}
					close(release)
					telShutdown(t, exp)

					rm := h.collect(t)
					telComparisons(t, rm, name, telComparison(name, primary, dualrun.Timeout, dualrun.NoMismatch))
					// The fake clock stands still except while everything
					// waits: the primary took 0 s, the shadow exactly its
					// timeout.
					telAssertDurations(t, rm, name, true,
						telDur{side: primary, role: "primary", count: 1, sum: 0},
						telDur{side: primary.Other(), role: "shadow", errType: "timeout", count: 1, sum: timeout.Seconds()},
					)
					spans := h.shadowSpans(name)
					if len(spans) != 1 {
						t.Fatalf("got %d shadow spans, want 1", len(spans))
					}
					if got := spans[0].Status().Code; got != codes.Error {
						t.Errorf("span status = %v, want Error", got)
					}
					if got := telSpanAttrs(spans[0])[dualrun.AttrOutcome].AsString(); got != "timeout" {
						t.Errorf("span outcome = %q, want timeout", got)
					}
					if s := exp.Stats(); s.Count(dualrun.Timeout) != 1 || s.Count(dualrun.Match) != 0 {
						t.Errorf("Stats: timeouts %d, matches %d; want 1, 0", s.Count(dualrun.Timeout), s.Count(dualrun.Match))
					}
				})
			})
		}
	}
}

func TestTelemetryShadowInFlight(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(telPolicy(primary)))...)
			q := telQuoteOf(100)
			release := make(chan struct{})
			shadow := func(context.Context) (telQuote, error) {
				<-release
				return q, nil
			}
			legacy, candidate := telSides(primary, telOK(q), shadow)
			if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
				t.Fatal(err)
			}
			inflight := func(n int64) metricdata.DataPoint[int64] {
				return telPoint(n, dualrun.AttrExperiment.String(name))
			}
			// The slot is taken before Run returns and held until the
			// shadow returns.
			telAssertSum(t, h.collect(t), dualrun.MetricShadowInFlight, "{call}", false, false, inflight(1))
			if got := exp.Stats().InFlight; got != 1 {
				t.Errorf("Stats.InFlight = %d while the shadow is blocked, want 1", got)
			}
			close(release)
			telShutdown(t, exp)
			telAssertSum(t, h.collect(t), dualrun.MetricShadowInFlight, "{call}", false, false, inflight(0))
		})
	}
}

func TestTelemetryMismatchFields(t *testing.T) {
	field := func(name, path string, n int64) metricdata.DataPoint[int64] {
		return telPoint(n, dualrun.AttrExperiment.String(name), dualrun.AttrField.String(path))
	}
	cases := []struct {
		name, reason string
		run          func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats }
		want         []dualrun.FieldCount
	}{
		{
			name:   "slice_index_folded",
			reason: "slice indices fold to [*]: prices differing in any item count as one field",
			run: func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats } {
				exp := dualrun.New[telQuote](name, h.with(dualrun.WithRollout(telPolicy(dualrun.Legacy)))...)
				for _, c := range []telQuote{telQuoteOf(1, 2, 999), telQuoteOf(999, 2, 3)} {
					if _, err := exp.Run(context.Background(), telOK(telQuoteOf(1, 2, 3)), telOK(c)); err != nil {
						t.Fatal(err)
					}
				}
				telShutdown(t, exp)
				return exp
			},
			want: []dualrun.FieldCount{{Path: ".Items[*].Price", Count: 2}},
		},
		{
			name:   "bounded_into_other",
			reason: "WithMaxFields(2): the paths (sorted) beyond the first two fold into \"_OTHER\"",
			run: func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats } {
				exp := dualrun.New[telWide](name, h.with(dualrun.WithRollout(telPolicy(dualrun.Candidate)),
					dualrun.WithMaxFields(2))...)
				if _, err := exp.Run(context.Background(), telOK(telWide{}), telOK(telWide{A: 1, B: 1, C: 1})); err != nil {
					t.Fatal(err)
				}
				telShutdown(t, exp)
				return exp
			},
			want: []dualrun.FieldCount{{Path: ".A", Count: 1}, {Path: ".B", Count: 1}, {Path: "_OTHER", Count: 1}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			exp := c.run(t, h, name)
			var want []metricdata.DataPoint[int64]
			for _, f := range c.want {
				want = append(want, field(name, f.Path, f.Count))
			}
			telAssertSum(t, h.collect(t), dualrun.MetricMismatchFields, "{field}", true, false, want...)
			if got := exp.Stats().Fields; !slices.Equal(got, c.want) {
				t.Errorf("Stats.Fields = %v, want %v (%s)", got, c.want, c.reason)
			}
		})
	}
}

func TestTelemetryReportsDropped(t *testing.T) {
	for _, primary := range telPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newTelHarness(t)
				name := telName(t)
				entered := make(chan *dualrun.Report, 8)
				release := make(chan struct{})
				slow := dualrun.NamePublisher("slow", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
					entered <- r
					<-release
					return nil
				}))
				exp := dualrun.New[telWide](name, h.with(dualrun.WithRollout(telPolicy(primary)),
					dualrun.WithPublisher(slow), dualrun.WithReportQueue(1), dualrun.WithReportRate(0, 1))...)
				const calls = 5
				for i := range calls {
					// A distinct differing path per call, so that
					// deduplication does not suppress any report.
					legacy, candidate := telOK(telWide{}), telOK(telWideWith(i))
					if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
						t.Fatal(err)
					}
					// The shadow has recorded and pushed its report; the
					// publisher holds the first one.
					synctest.Wait()
				}
				if got := len(entered); got != 1 {
					t.Fatalf("the slow publisher got %d reports while blocked, want 1", got)
				}
				// One report is in Publish, one waits in the queue of 1,
				// the other three were dropped.
				const wantDropped = calls - 2
				close(release)
				telShutdown(t, exp)

				telAssertSum(t, h.collect(t), dualrun.MetricReportsDropped, "{report}", true, false,
					telPoint(wantDropped, dualrun.AttrExperiment.String(name), dualrun.AttrExporter.String("slow")))
				s := exp.Stats()
				if s.ReportsDropped != wantDropped || s.ReportsPublished != 2 || s.ReportsSuppressed != 0 {
					t.Errorf("Stats reports: dropped %d, published %d, suppressed %d; want %d, 2, 0",
						s.ReportsDropped, s.ReportsPublished, s.ReportsSuppressed, wantDropped)
				}
				if got := len(entered); got != 2 {
					t.Errorf("the slow publisher got %d reports in all, want 2", got)
				}
			})
		})
	}
}

func TestTelemetryShadowSpan(t *testing.T) {
	cases := []struct {
		name, reason string
		linked       bool // WithLinkedShadowSpans
		callerSpan   bool
		primary      dualrun.Side
		mismatch     bool
	}{
		{name: "child_legacy_primary", reason: "by default the shadow span is a child of the caller's span", callerSpan: true, primary: dualrun.Legacy},
		{name: "child_candidate_primary", reason: "the same after cut-over", callerSpan: true, primary: dualrun.Candidate, mismatch: true},
		{name: "linked_legacy_primary", reason: "WithLinkedShadowSpans: a new root linked to the caller's span", linked: true, callerSpan: true, primary: dualrun.Legacy},
		{name: "linked_candidate_primary", reason: "the same after cut-over", linked: true, callerSpan: true, primary: dualrun.Candidate, mismatch: true},
		{name: "no_caller_span", reason: "without a caller span the shadow span is a root, with nothing to link", primary: dualrun.Legacy, mismatch: true},
		{name: "no_caller_span_candidate_primary", reason: "the same after cut-over", primary: dualrun.Candidate},
		{name: "no_caller_span_linked", reason: "the same in the linked mode", linked: true, primary: dualrun.Legacy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			opts := h.with(dualrun.WithRollout(telPolicy(c.primary)))
			if c.linked {
				opts = append(opts, dualrun.WithLinkedShadowSpans())
			}
			exp := dualrun.New[telQuote](name, opts...)

			ctx := context.Background()
			var caller trace.Span
			if c.callerSpan {
				ctx, caller = h.tp.Tracer("checkout").Start(ctx, "POST /checkout")
			}
			q, other := telQuoteOf(100), telQuoteOf(100)
			if c.mismatch {
				other = telQuoteOf(101)
			}
			var primaryIsShadow atomic.Bool
			seen := make(chan trace.SpanContext, 1)
			primaryFn := func(ctx context.Context) (telQuote, error) {
				primaryIsShadow.Store(dualrun.IsShadow(ctx))
				return q, nil
			}
			shadowFn := func(ctx context.Context) (telQuote, error) {
				if !dualrun.IsShadow(ctx) {
					t.Error("IsShadow(ctx) = false in the shadow")
				}
				seen <- trace.SpanFromContext(ctx).SpanContext()
				return other, nil
			}
			legacy, candidate := telSides(c.primary, primaryFn, shadowFn)
			if _, err := exp.Run(ctx, legacy, candidate); err != nil {
				t.Fatal(err)
			}
			telShutdown(t, exp)
			if caller != nil {
				// Ended after the shadow span started, so the
				// dualrun.compared event is kept.
				caller.End()
			}
			if primaryIsShadow.Load() {
				t.Error("IsShadow(ctx) = true in the primary")
			}

			spans := h.shadowSpans(name)
			if len(spans) != 1 {
				t.Fatalf("got %d spans named %q, want 1", len(spans), "dualrun.shadow "+name)
			}
			s := spans[0]
			links := s.Links()
			switch {
			case !c.callerSpan:
				if s.Parent().IsValid() || len(links) != 0 {
					t.Errorf("shadow span parent %v, links %+v; want a root without links (%s)", s.Parent(), links, c.reason)
				}
			case c.linked:
				callerSC := caller.SpanContext()
				if s.Parent().IsValid() {
					t.Errorf("shadow span has parent %v, want a new root (%s)", s.Parent(), c.reason)
				}
				if s.SpanContext().TraceID() == callerSC.TraceID() {
					t.Error("shadow span is in the caller's trace, want a trace of its own")
				}
				if len(links) != 1 || !links[0].SpanContext.Equal(callerSC) {
					t.Errorf("shadow span links = %+v, want exactly one, to the caller's span %v", links, callerSC)
				}
			default:
				callerSC := caller.SpanContext()
				if !s.Parent().Equal(callerSC) {
					t.Errorf("shadow span parent = %v, want the caller's span %v (%s)", s.Parent(), callerSC, c.reason)
				}
				if len(links) != 0 {
					t.Errorf("shadow span links = %+v, want none for a child", links)
				}
			}
			if c.callerSpan {
				telAssertComparedEvent(t, h, name, c.primary, s.SpanContext())
			}
			attrs := telSpanAttrs(s)
			wantOutcome := "match"
			if c.mismatch {
				wantOutcome = "mismatch"
			}
			for k, want := range map[attribute.Key]string{
				dualrun.AttrExperiment: name,
				dualrun.AttrPrimary:    c.primary.String(),
				dualrun.AttrOutcome:    wantOutcome,
			} {
				if got := attrs[k].AsString(); got != want {
					t.Errorf("span attribute %s = %q, want %q", k, got, want)
				}
			}
			select {
			case sc := <-seen:
				if !sc.IsValid() || !sc.Equal(s.SpanContext()) {
					t.Errorf("span in the shadow's ctx = %v, want the shadow span %v", sc, s.SpanContext())
				}
			default:
				t.Error("the shadow did not run")
			}
		})
	}
}

// telAssertComparedEvent asserts that the ended caller span "POST
// /checkout" has exactly one dualrun.compared event, naming the experiment,
// the primary and the shadow span.
func telAssertComparedEvent(t *testing.T, h *telHarness, name string, primary dualrun.Side, shadow trace.SpanContext) {
	t.Helper()
	var callers []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == "POST /checkout" {
			callers = append(callers, s)
		}
	}
	if len(callers) != 1 {
		t.Fatalf("got %d caller spans, want 1", len(callers))
	}
	var events []sdktrace.Event
	for _, e := range callers[0].Events() {
		if e.Name == dualrun.SpanEventCompared {
			events = append(events, e)
		}
	}
	if len(events) != 1 {
		t.Fatalf("caller span has %d %s events, want 1", len(events), dualrun.SpanEventCompared)
	}
	got := make(map[attribute.Key]string)
	for _, kv := range events[0].Attributes {
		got[kv.Key] = kv.Value.String()
	}
	want := map[attribute.Key]string{
		dualrun.AttrExperiment:    name,
		dualrun.AttrPrimary:       primary.String(),
		dualrun.AttrShadowTraceID: shadow.TraceID().String(),
		dualrun.AttrShadowSpanID:  shadow.SpanID().String(),
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s event attributes = %v, want %v", dualrun.SpanEventCompared, got, want)
	}
}

func TestTelemetryReportContents(t *testing.T) {
	const diffLimit = 128
	cases := []struct {
		name, reason string
		reportKeys   bool
		primary      dualrun.Side
		wantKey      string
	}{
		{name: "key_withheld", reason: "keys can be personal data: left out by default", primary: dualrun.Legacy},
		{name: "key_withheld_candidate_primary", reason: "the same after cut-over", primary: dualrun.Candidate},
		{name: "key_reported", reason: "WithReportKeys lets the key through", reportKeys: true, primary: dualrun.Legacy, wantKey: "customer-42"},
		{name: "key_reported_candidate_primary", reason: "the same after cut-over", reportKeys: true, primary: dualrun.Candidate, wantKey: "customer-42"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := telName(t)
			reports := make(chan *dualrun.Report, 4)
			pub := dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				reports <- r
				return nil
			}))
			opts := h.with(dualrun.WithRollout(telPolicy(c.primary)), dualrun.WithPublisher(pub),
				dualrun.WithDiffLimit(diffLimit))
			if c.reportKeys {
				opts = append(opts, dualrun.WithReportKeys())
			}
			exp := dualrun.New[telQuote](name, opts...)

			ctx := dualrun.WithKey(context.Background(), "customer-42")
			ctx, caller := h.tp.Tracer("checkout").Start(ctx, "POST /checkout")
			// Twenty repriced items: a diff far longer than the limit.
			var lp, cp []int64
			for i := range 20 {
				lp = append(lp, int64(1000+i))
				cp = append(cp, int64(2000+i))
			}
			if _, err := exp.Run(ctx, telOK(telQuoteOf(lp...)), telOK(telQuoteOf(cp...))); err != nil {
				t.Fatal(err)
			}
			telShutdown(t, exp)
			caller.End()

			if len(reports) != 1 {
				t.Fatalf("published %d reports, want 1", len(reports))
			}
			r := <-reports
			spans := h.shadowSpans(name)
			if len(spans) != 1 {
				t.Fatalf("got %d shadow spans, want 1", len(spans))
			}
			if r.Experiment != name || r.Outcome != dualrun.Mismatch || r.Kind != dualrun.ValueMismatch || r.Primary != c.primary {
				t.Errorf("report = %s (%v/%v, primary %v), want %s: mismatch/value (primary %v)",
					r.Experiment, r.Outcome, r.Kind, r.Primary, name, c.primary)
			}
			if want := []string{".Items[*].Price"}; !slices.Equal(r.Paths, want) {
				t.Errorf("Paths = %q, want %q", r.Paths, want)
			}
			if r.Diff == "" || len(r.Diff) > diffLimit {
				t.Errorf("len(Diff) = %d, want 1..%d:\n%s", len(r.Diff), diffLimit, r.Diff)
			}
			if !r.CallerSpan.IsValid() || !r.CallerSpan.Equal(caller.SpanContext()) {
				t.Errorf("CallerSpan = %v, want %v", r.CallerSpan, caller.SpanContext())
			}
			if !r.ShadowSpan.IsValid() || !r.ShadowSpan.Equal(spans[0].SpanContext()) {
				t.Errorf("ShadowSpan = %v, want the recorded shadow span %v", r.ShadowSpan, spans[0].SpanContext())
			}
			if r.Key != c.wantKey {
				t.Errorf("Key = %q, want %q (%s)", r.Key, c.wantKey, c.reason)
			}
			if r.LegacyErr != nil || r.CandidateErr != nil {
				t.Errorf("errors = %v, %v; want none", r.LegacyErr, r.CandidateErr)
			}
		})
	}
}
