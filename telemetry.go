package dualrun

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dualrun/dualrun/rollout"
)

// Attribute keys of the telemetry contract. Dashboards depend on them.
const (
	AttrExperiment   = attribute.Key("dualrun.experiment")
	AttrPrimary      = attribute.Key("dualrun.primary")
	AttrCompared     = attribute.Key("dualrun.compared")
	AttrOutcome      = attribute.Key("dualrun.outcome")
	AttrMismatchKind = attribute.Key("dualrun.mismatch.kind")
	AttrSide         = attribute.Key("dualrun.side")
	AttrRole         = attribute.Key("dualrun.role")
	AttrField        = attribute.Key("dualrun.field")
	AttrExporter     = attribute.Key("dualrun.exporter")
	AttrErrorType    = attribute.Key("error.type")
)

// Instrument names of the telemetry contract.
const (
	MetricCalls          = "dualrun.calls"
	MetricComparisons    = "dualrun.comparisons"
	MetricCallDuration   = "dualrun.call.duration"
	MetricShadowInFlight = "dualrun.shadow.inflight"
	MetricMismatchFields = "dualrun.mismatch.fields"
	MetricReportsDropped = "dualrun.reports.dropped"
)

// SpanEventMismatch is the event added to a shadow span on a mismatch.
const SpanEventMismatch = "dualrun.mismatch"

// durationBuckets suit function calls: tens of microseconds to tens of
// seconds, in seconds.
var durationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

const (
	roleShadow  = 1
	rolePrimary = 0
	otherLabel  = "_OTHER"
	otherField  = "other"
)

// telemetry holds an experiment's instruments and every attribute set it
// records with, built once so that recording allocates nothing.
type telemetry struct {
	name       string
	spanName   string
	tracer     trace.Tracer
	noSpans    bool
	expAttr    attribute.KeyValue
	comparison metric.Int64ObservableCounter
	duration   metric.Float64Histogram
	fields     metric.Int64Counter
	dropped    metric.Int64Counter
	calls      metric.Int64ObservableCounter
	inflight   metric.Int64ObservableUpDownCounter
	reg        metric.Registration

	// outcomeOpts[primary][outcome], kindOpts[primary][kind].
	outcomeOpts [2][rollout.NumOutcomes][]metric.ObserveOption
	kindOpts    [2][numKinds][]metric.ObserveOption
	// durOpts[side][role] without error.type.
	durOpts [2][2][]metric.RecordOption
	// callsOpts[primary][compared], inflightOpts.
	callsOpts    [2][2][]metric.ObserveOption
	inflightOpts []metric.ObserveOption
	// spanOpts[primary] start a shadow span.
	spanOpts [2][]trace.SpanStartOption

	mu       sync.Mutex
	errTypes map[errTypeKey][]metric.RecordOption
	nErrType int
}

type errTypeKey struct {
	side, role int
	typ        string
}

// counterSource feeds the observable instruments from in-process counters.
type counterSource interface {
	callCount(primary, compared int) int64
	outcomeCount(primary, outcome int) int64
	kindCount(primary, kind int) int64
	inFlight() int64
}

func newTelemetry(name string, mp metric.MeterProvider, tp trace.TracerProvider, src counterSource) *telemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &telemetry{
		name:     name,
		spanName: "dualrun.shadow " + name,
		expAttr:  AttrExperiment.String(name),
		errTypes: make(map[errTypeKey][]metric.RecordOption),
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	t.tracer = tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
	// With a no-op tracer a shadow span does nothing but cost a context
	// allocation per call: skip it.
	_, t.noSpans = t.tracer.(tracenoop.Tracer)

	var err error
	t.comparison, err = meter.Int64ObservableCounter(MetricComparisons,
		metric.WithUnit("{comparison}"),
		metric.WithDescription("Compared calls by outcome."))
	handle(err)
	t.duration, err = meter.Float64Histogram(MetricCallDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of each side of compared calls."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	t.fields, err = meter.Int64Counter(MetricMismatchFields,
		metric.WithUnit("{field}"),
		metric.WithDescription("Differing field paths of value mismatches."))
	handle(err)
	t.dropped, err = meter.Int64Counter(MetricReportsDropped,
		metric.WithUnit("{report}"),
		metric.WithDescription("Reports a publisher could not take: queue full or publish failed."))
	handle(err)
	t.calls, err = meter.Int64ObservableCounter(MetricCalls,
		metric.WithUnit("{call}"),
		metric.WithDescription("Calls through the experiment, compared or not."))
	handle(err)
	t.inflight, err = meter.Int64ObservableUpDownCounter(MetricShadowInFlight,
		metric.WithUnit("{call}"),
		metric.WithDescription("Shadows running now."))
	handle(err)

	sides := [2]string{rollout.Legacy.String(), rollout.Candidate.String()}
	roles := [2]string{"primary", "shadow"}
	for p := range 2 {
		pa := AttrPrimary.String(sides[p])
		for o := range rollout.NumOutcomes {
			set := attribute.NewSet(t.expAttr, pa, AttrOutcome.String(rollout.Outcome(o).String()))
			t.outcomeOpts[p][o] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		for k := MismatchKind(1); k < numKinds; k++ {
			set := attribute.NewSet(t.expAttr, pa,
				AttrOutcome.String(rollout.Mismatch.String()), AttrMismatchKind.String(k.String()))
			t.kindOpts[p][k] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		for c := range 2 {
			set := attribute.NewSet(t.expAttr, pa, AttrCompared.Bool(c == 1))
			t.callsOpts[p][c] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		for r := range 2 {
			set := attribute.NewSet(t.expAttr, AttrSide.String(sides[p]), AttrRole.String(roles[r]))
			t.durOpts[p][r] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
		t.spanOpts[p] = []trace.SpanStartOption{
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(t.expAttr, pa),
		}
	}
	t.inflightOpts = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(t.expAttr))}

	t.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for p := range 2 {
			for c := range 2 {
				o.ObserveInt64(t.calls, src.callCount(p, c), t.callsOpts[p][c]...)
			}
		}
		o.ObserveInt64(t.inflight, src.inFlight(), t.inflightOpts...)
		// Comparisons: only series that happened, as a synchronous counter
		// would have them; mismatches by kind.
		for p := range 2 {
			for oc := range rollout.NumOutcomes {
				if rollout.Outcome(oc) == rollout.Mismatch {
					continue
				}
				if n := src.outcomeCount(p, oc); n > 0 {
					o.ObserveInt64(t.comparison, n, t.outcomeOpts[p][oc]...)
				}
			}
			for k := MismatchKind(1); k < numKinds; k++ {
				if n := src.kindCount(p, int(k)); n > 0 {
					o.ObserveInt64(t.comparison, n, t.kindOpts[p][k]...)
				}
			}
		}
		return nil
	}, t.calls, t.inflight, t.comparison)
	handle(err)
	return t
}

// durationOpts returns the record options for a side and role, with
// error.type set to typ when typ is not empty. Distinct types are capped per
// experiment; beyond the cap they are recorded as _OTHER.
func (t *telemetry) durationOpts(side rollout.Side, role int, typ string) []metric.RecordOption {
	if typ == "" {
		return t.durOpts[side][role]
	}
	k := errTypeKey{int(side), role, typ}
	t.mu.Lock()
	defer t.mu.Unlock()
	if o, ok := t.errTypes[k]; ok {
		return o
	}
	if t.nErrType >= DefaultMaxErrorTypes && typ != "panic" && typ != "timeout" {
		k.typ = otherLabel
		if o, ok := t.errTypes[k]; ok {
			return o
		}
	} else {
		t.nErrType++
	}
	sides := [2]string{rollout.Legacy.String(), rollout.Candidate.String()}
	roles := [2]string{"primary", "shadow"}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
		t.expAttr, AttrSide.String(sides[side]), AttrRole.String(roles[role]), AttrErrorType.String(k.typ)))}
	t.errTypes[k] = o
	t.errTypes[errTypeKey{int(side), role, typ}] = o
	return o
}

func errorType(err error) string {
	switch err.(type) { //nolint:errorlint // error.type is the outermost error's type, not a wrapped one's
	case nil:
		return ""
	case *PanicError:
		return "panic"
	case *TimeoutError:
		return "timeout"
	}
	return fmt.Sprintf("%T", err)
}

func attributeSet(kvs ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kvs...) }

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// recordCall records the durations, differing fields and span of one
// compared call. It runs on the shadow goroutine (or the deadline timer's).
func (t *telemetry) recordCall(c *core, r *record) {
	ctx := r.ctx
	for s := range 2 {
		if !r.finished[s] {
			continue
		}
		side := Side(s)
		role := rolePrimary
		if side != r.primary {
			role = roleShadow
		}
		c.latency[s].Record(r.durations[s])
		typ := errorType(r.errs[s])
		if typ != "" {
			c.sideErrs[s].Add(1)
		}
		t.duration.Record(ctx, r.durations[s].Seconds(), t.durationOpts(side, role, typ)...)
	}
	if r.kind == ValueMismatch {
		for _, p := range r.paths {
			c.fields.add(ctx, p)
		}
	}
	r.call.endSpan(r)
}

// startSpan starts the shadow's span: a new trace root, linked to the
// caller's span.
func (t *telemetry) startSpan(ctx context.Context, caller trace.SpanContext, primary Side) (context.Context, trace.Span) {
	if t.noSpans {
		return ctx, noSpan
	}
	opts := t.spanOpts[primary]
	if caller.IsValid() {
		opts = append(opts[:len(opts):len(opts)], trace.WithLinks(trace.Link{SpanContext: caller}))
	}
	return t.tracer.Start(ctx, t.spanName, opts...)
}

// noSpan stands for the shadow span when the tracer is a no-op.
var noSpan trace.Span = tracenoop.Span{}

// endSpan sets the outcome on the shadow span and ends it.
func (ci *callInfo) endSpan(r *record) {
	s := ci.span
	if s.IsRecording() {
		s.SetAttributes(AttrOutcome.String(r.outcome.String()))
		switch r.outcome {
		case Mismatch:
			attrs := []attribute.KeyValue{AttrMismatchKind.String(r.kind.String())}
			if len(r.paths) > 0 {
				attrs = append(attrs, attribute.StringSlice("dualrun.paths", r.paths))
			}
			s.SetAttributes(attrs[0])
			s.AddEvent(SpanEventMismatch, trace.WithAttributes(attrs...))
		case Panic, Error, Timeout:
			err := r.cbErr
			if err == nil {
				err = r.errs[r.primary.Other()]
			}
			desc := r.outcome.String()
			if err != nil {
				desc = err.Error()
				s.SetAttributes(AttrErrorType.String(errorType(err)))
			}
			s.SetStatus(codes.Error, desc)
		}
	}
	s.End()
}
