package dualrun_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests assert the telemetry contract (README, Telemetry reference)
// of telemetry.go: the instruments, their scope and buckets, durations
// with error.type, and shadow spans, through the real OpenTelemetry SDK
// (the harness in helpers_test.go).

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

// TestTelemetrySpanByOutcome runs the outcome matrix (outcomeCases) and
// asserts each call's shadow span: its attributes, its status, and the
// mismatch event of a mismatch only.
func TestTelemetrySpanByOutcome(t *testing.T) {
	for _, c := range outcomeCases() {
		for _, primary := range bothPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, _ := runOutcomeCase(t, c, primary)
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

// TestTelemetryCallDurationByOutcome runs the outcome matrix (outcomeCases)
// and asserts dualrun.call.duration: one point per role that ran, with
// error.type where that side erred.
func TestTelemetryCallDurationByOutcome(t *testing.T) {
	for _, c := range outcomeCases() {
		for _, primary := range bothPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, _ := runOutcomeCase(t, c, primary)
				var want []telDur
				if !c.noShadowDuration {
					want = append(want, telDur{side: primary.Other(), role: "shadow", errType: c.shadowErrType, count: 1})
				}
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
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			c := outcomeCaseNamed(t, "error_comparer_panicked")
			reports := make(chan *dualrun.Report, 4)
			c.opts = append(slices.Clip(c.opts), dualrun.WithPublisher(dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				reports <- r
				return nil
			}))))
			h, name, exp := runOutcomeCase(t, c, primary)
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
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := outcomeCaseNamed(t, "aborted_caller_canceled")
				h, name, _ := runOutcomeCase(t, c, primary)
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

// TestTelemetryInstrumentationScope: meter and tracer use the ScopeName and
// Version of the module.
func TestTelemetryInstrumentationScope(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)))...)
	q := quoteOf(100)
	if _, err := exp.Run(context.Background(), ret(q, nil), ret(q, nil)); err != nil {
		t.Fatal(err)
	}
	waitShutdown(t, exp)

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

// TestTelemetryCalls: dualrun.calls counts every call by primary and by
// whether it was compared.
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
			policy: alwaysCompare(dualrun.Legacy), before: 3,
			want: func(n string) []metricdata.DataPoint[int64] {
				return []metricdata.DataPoint[int64]{telCall(n, dualrun.Legacy, true, 3)}
			},
		},
		{
			name:   "compared_then_shut_down",
			reason: "after Shutdown calls go on, primary only, counted as not compared",
			policy: alwaysCompare(dualrun.Candidate), before: 2, after: 3,
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
			name := expName(t)
			exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(c.policy))...)
			q := quoteOf(100)
			ctx := context.Background()
			for range c.before {
				if _, err := exp.Run(ctx, ret(q, nil), ret(q, nil)); err != nil {
					t.Fatal(err)
				}
			}
			waitShutdown(t, exp)
			for range c.after {
				if _, err := exp.Run(ctx, ret(q, nil), ret(q, nil)); err != nil {
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

// TestTelemetryUncomparedRecordsNothing: an uncompared call is counted on
// dualrun.calls and records nothing else: no other series, no span.
func TestTelemetryUncomparedRecordsNothing(t *testing.T) {
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			policy := rollout.Static{}
			if primary == dualrun.Candidate {
				policy.CandidatePrimary = rollout.All
			}
			exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(policy))...)
			const n = 7
			var shadowRuns atomic.Int64
			shadow := func(context.Context) (priceQuote, error) {
				shadowRuns.Add(1)
				return priceQuote{}, errors.New("must not run")
			}
			legacy, candidate := assignSides(primary, ret(quoteOf(100), nil), shadow)
			for range n {
				if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
					t.Fatal(err)
				}
			}
			waitShutdown(t, exp)

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

// TestTelemetryTimeout: a shadow past its deadline is recorded as timeout,
// with the shadow's duration equal to the timeout and error.type timeout.
func TestTelemetryTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	cases := []struct {
		name, reason string
		// shadow builds the shadow func; release is closed at the end.
		shadow func(release <-chan struct{}) dualrun.Func[priceQuote]
		// wait makes the deadline pass before release is closed.
		wait bool
	}{
		{
			name:   "shadow_waits_for_ctx",
			reason: "a well-behaved shadow returns the context's error at its deadline",
			shadow: func(<-chan struct{}) dualrun.Func[priceQuote] {
				return func(ctx context.Context) (priceQuote, error) {
					<-ctx.Done()
					return priceQuote{}, ctx.Err()
				}
			},
		},
		{
			name:   "shadow_ignores_ctx",
			reason: "a shadow that ignores its context is recorded at the deadline; its late result is discarded",
			shadow: func(release <-chan struct{}) dualrun.Func[priceQuote] {
				return func(context.Context) (priceQuote, error) {
					<-release
					return quoteOf(100), nil
				}
			},
			wait: true,
		},
	}
	for _, c := range cases {
		for _, primary := range bothPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newTelHarness(t)
					name := expName(t)
					exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(primary)),
						dualrun.WithShadowTimeout(timeout))...)
					release := make(chan struct{})
					legacy, candidate := assignSides(primary, ret(quoteOf(100), nil), c.shadow(release))
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
					waitShutdown(t, exp)

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

// TestTelemetryShadowInFlight: dualrun.shadow.inflight counts a slot from
// before Run returns until the shadow returns.
func TestTelemetryShadowInFlight(t *testing.T) {
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(primary)))...)
			q := quoteOf(100)
			release := make(chan struct{})
			shadow := func(context.Context) (priceQuote, error) {
				<-release
				return q, nil
			}
			legacy, candidate := assignSides(primary, ret(q, nil), shadow)
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
			waitShutdown(t, exp)
			telAssertSum(t, h.collect(t), dualrun.MetricShadowInFlight, "{call}", false, false, inflight(0))
		})
	}
}

// TestTelemetryShadowSpan: the shadow span is a child of the caller's span,
// or a linked root with WithLinkedShadowSpans, or a root without a caller
// span; the caller's span gets a dualrun.compared event.
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
			name := expName(t)
			opts := h.with(dualrun.WithRollout(alwaysCompare(c.primary)))
			if c.linked {
				opts = append(opts, dualrun.WithLinkedShadowSpans())
			}
			exp := dualrun.New[priceQuote](name, opts...)

			ctx := context.Background()
			var caller trace.Span
			if c.callerSpan {
				ctx, caller = h.tp.Tracer("checkout").Start(ctx, "POST /checkout")
			}
			q, other := quoteOf(100), quoteOf(100)
			if c.mismatch {
				other = quoteOf(101)
			}
			var primaryIsShadow atomic.Bool
			seen := make(chan trace.SpanContext, 1)
			primaryFn := func(ctx context.Context) (priceQuote, error) {
				primaryIsShadow.Store(dualrun.IsShadow(ctx))
				return q, nil
			}
			shadowFn := func(ctx context.Context) (priceQuote, error) {
				if !dualrun.IsShadow(ctx) {
					t.Error("IsShadow(ctx) = false in the shadow")
				}
				seen <- trace.SpanFromContext(ctx).SpanContext()
				return other, nil
			}
			legacy, candidate := assignSides(c.primary, primaryFn, shadowFn)
			if _, err := exp.Run(ctx, legacy, candidate); err != nil {
				t.Fatal(err)
			}
			waitShutdown(t, exp)
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
