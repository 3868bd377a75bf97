package dualrun

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// This file is the experiment's OpenTelemetry side: the instrument and
// attribute names of the telemetry contract, the telemetry options, the
// instruments and the attribute sets they record with, the recording of one
// compared call, error.type, and the shadow span. Counting outcomes (and
// exporting them as dualrun.comparisons, per custom attribute set) is in
// outcomes.go.

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

// Attribute keys of span events, and of the overflow set of
// [WithMetricAttributes].
const (
	// AttrPaths lists the folded differing paths of a value mismatch, on
	// the dualrun.mismatch event.
	AttrPaths = attribute.Key("dualrun.paths")
	// AttrErred says which side of a mismatch erred: "legacy",
	// "candidate" or "both"; absent when neither did (a value mismatch).
	AttrErred = attribute.Key("dualrun.erred")
	// AttrLegacyErrorType and AttrCandidateErrorType are the error.type
	// of each side that erred, on the dualrun.mismatch event.
	AttrLegacyErrorType    = attribute.Key("dualrun.legacy.error.type")
	AttrCandidateErrorType = attribute.Key("dualrun.candidate.error.type")
	// AttrShadowTraceID and AttrShadowSpanID identify the shadow span, in
	// hexadecimal, on the caller's dualrun.compared event.
	AttrShadowTraceID = attribute.Key("dualrun.shadow.trace_id")
	AttrShadowSpanID  = attribute.Key("dualrun.shadow.span_id")
	// AttrAttributes marks, with the value "_OTHER", the one set into which
	// the custom attribute sets of [WithMetricAttributes] fold beyond
	// MaxMetricAttributeSets, or when the hook fails.
	AttrAttributes = attribute.Key("dualrun.attributes")
)

// Instrument names of the telemetry contract.
const (
	MetricCalls          = "dualrun.calls"
	MetricComparisons    = "dualrun.comparisons"
	MetricCallDuration   = "dualrun.call.duration"
	MetricShadowInFlight = "dualrun.shadow.inflight"
	MetricMismatchFields = "dualrun.mismatch.fields"
	MetricReportsDropped = "dualrun.reports.dropped"
	// MetricCalibrationCalls counts the extra legacy calls of A/A
	// calibration (WithCalibration).
	MetricCalibrationCalls = "dualrun.calibration.calls"
	// MetricIgnoredNoise counts the value mismatches recorded as ignored
	// because every differing path was learned noise or frozen
	// (WithIgnorePaths); they are in dualrun.comparisons as ignored too.
	MetricIgnoredNoise = "dualrun.ignored.noise"
)

// Span events.
const (
	// SpanEventMismatch is added to the shadow span on a mismatch, with
	// dualrun.mismatch.kind, and where they apply dualrun.paths,
	// dualrun.erred, dualrun.legacy.error.type and
	// dualrun.candidate.error.type.
	SpanEventMismatch = "dualrun.mismatch"
	// SpanEventCompared is added to the caller's span when its call is
	// compared, with dualrun.experiment, dualrun.primary and the shadow
	// span's dualrun.shadow.trace_id and dualrun.shadow.span_id. It is
	// added by the shadow goroutine as the shadow span starts; if the
	// caller's span has ended by then, OpenTelemetry drops it.
	SpanEventCompared = "dualrun.compared"
)

// comparisonsDescription says exactly what dualrun.comparisons counts.
const comparisonsDescription = "Calls that were to be compared, by outcome: each compared call once its comparison " +
	"is recorded (match, mismatch by kind, ignored, timeout, panic, error, aborted), and each call shed because " +
	"no shadow slot was free (outcome shed: the primary ran alone, nothing was compared)."

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
	// otherLabel is the one spelling of "beyond the bound" in every
	// attribute value: error.type, dualrun.field, dualrun.attributes.
	otherLabel = "_OTHER"
	otherField = otherLabel
	// statusTextLimit bounds the shadow span's status description.
	statusTextLimit = 256
)

var (
	sideNames = [2]string{rollout.Legacy.String(), rollout.Candidate.String()}
	roleNames = [2]string{"primary", "shadow"}
)

// WithErrorClassifier sets fn to name the error.type of a side's error, the
// attribute of dualrun.call.duration, of the shadow span and of its
// dualrun.mismatch event. error.type is, in this order:
//
//   - a known sentinel, found anywhere in the error's tree: "timeout" (the
//     shadow's deadline, or anything that is context.DeadlineExceeded),
//     "canceled" (context.Canceled) or "panic" (a recovered shadow panic);
//   - fn's name for the error, if fn returns one: a short, low-cardinality
//     name such as "not_found" or "upstream_5xx" (cut to 128 bytes);
//   - otherwise the Go type, as %T prints it, of the innermost error that
//     is more than a wrapper, such as "*fs.PathError" for
//     fmt.Errorf("load: %w", pathErr). Wrappers are fmt.Errorf's and
//     errors.Join's types, [CallbackError], and by convention unexported
//     types named wrap…, with…, join… or multi… that have an Unwrap method
//     (pkg/errors' withStack, x/xerrors' wrapError).
//
// An error for which fn panics is "_OTHER", and the first such panic is
// reported through otel.Handle. Distinct names beyond DefaultMaxErrorTypes
// per experiment are recorded as "_OTHER"; the sentinels always keep their
// names. fn runs on a dualrun goroutine, at most once per erring side of a
// compared call, and must be safe for concurrent use. A nil fn is ignored.
func WithErrorClassifier(fn func(error) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.errorClassifier = fn
		}
		return c
	})
}

// WithLinkedShadowSpans makes each shadow span the root of a trace of its
// own, linked to the caller's span, as dualrun did before shadow spans
// became children of the caller's span. A new root is sampled on its own
// (so under head sampling most mismatches of sampled requests lose their
// shadow trace), but it keeps the caller's trace free of shadow spans.
// By default the shadow span is a child of the caller's span and follows
// its sampling decision; OpenTelemetry allows a child to end after its
// parent, as a shadow often does.
func WithLinkedShadowSpans() Option {
	return optionFunc(func(c config) config {
		c.linkedSpans = true
		return c
	})
}

// MaxMetricAttributeSets caps the distinct custom attribute sets of
// [WithMetricAttributes] per experiment.
const MaxMetricAttributeSets = 16

// maxCustomAttrs and maxCustomValueLen bound one custom attribute set.
const (
	maxCustomAttrs    = 8
	maxCustomValueLen = 128
)

// WithMetricAttributes adds attributes of your own, such as an input segment
// (country, tenant tier), to dualrun.comparisons and dualrun.call.duration,
// as otelhttp's WithMetricAttributesFn does. fn is called once per compared
// call with the caller's context (the one given to Run, possibly done by
// then: read its values only), when the comparison is recorded: on the
// shadow's goroutine, or for a timeout on the experiment's deadline timer,
// never on the caller's goroutine. It must be quick (a slow fn delays the
// experiment's other timeouts), safe for concurrent use, and keep the
// cardinality low.
//
// Bounds: at most MaxMetricAttributeSets distinct sets per experiment and 8
// attributes per set, with bool, int64, float64 or string values (strings
// up to 128 bytes). Keys in the dualrun. namespace and error.type are
// reserved and dropped; the same key twice keeps the last. A set beyond the
// cap or the bounds, or the call of an fn that panics (reported once
// through otel.Handle), is recorded in one overflow set,
// dualrun.attributes="_OTHER". Calls shed for want of a shadow slot are
// counted without custom attributes: nothing runs for them but the primary,
// so fn is not called. Stats count every call, whatever its attributes.
//
// The attribute sets and the options to record with them are built once,
// on the first call with each set. A nil fn is ignored.
func WithMetricAttributes(fn func(ctx context.Context) []attribute.KeyValue) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.metricAttributes = fn
		}
		return c
	})
}

// telemetry holds an experiment's instruments and every attribute set it
// records with, built once so that recording allocates nothing.
type telemetry struct {
	name       string
	spanName   string
	tracer     trace.Tracer
	noSpans    bool
	linked     bool
	classifier func(error) string
	attrsFn    func(context.Context) []attribute.KeyValue
	expAttr    attribute.KeyValue
	comparison metric.Int64ObservableCounter
	duration   metric.Float64Histogram
	fields     metric.Int64Counter
	dropped    metric.Int64Counter
	calls      metric.Int64ObservableCounter
	inflight   metric.Int64ObservableUpDownCounter
	reg        metric.Registration
	regOnce    sync.Once

	// callsOpts[primary][compared], inflightOpts.
	callsOpts    [2][2][]metric.ObserveOption
	inflightOpts []metric.ObserveOption
	// spanOpts[primary] start a shadow span.
	spanOpts [2][]trace.SpanStartOption

	// segments: the attribute sets of dualrun.comparisons and
	// dualrun.call.duration (outcomes.go).
	segs segments

	// error.type values and the record options that carry them.
	errMu    sync.Mutex
	errNames map[string]struct{}
	errOpts  map[errOptKey][]metric.RecordOption

	// Problems reported once per experiment through otel.Handle.
	classifierFailed atomic.Bool
	attrsFailed      atomic.Bool // the hook panicked
	attrsBounds      atomic.Bool // a set broke the bounds
	attrsCapped      atomic.Bool // the cap of sets was reached
}

type errOptKey struct {
	seg        *segment
	side, role int
	typ        string
}

// counterSource feeds the observable instruments from in-process counters.
type counterSource interface {
	callCount(primary, compared int) int64
	outcomeCount(primary, outcome int) int64
	kindCount(primary, kind int) int64
	inFlight() int64
	// noiseCounts returns the calibration calls and the mismatches ignored
	// as noise, and whether the experiment calibrates or freezes paths.
	noiseCounts() (calls, ignored int64, on bool)
	// telemetryConfig returns the experiment's configuration.
	telemetryConfig() *config
}

func newTelemetry(name string, mp metric.MeterProvider, tp trace.TracerProvider, src counterSource) *telemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	cfg := src.telemetryConfig()
	t := &telemetry{
		name:       name,
		spanName:   "dualrun.shadow " + name,
		linked:     cfg.linkedSpans,
		classifier: cfg.errorClassifier,
		attrsFn:    cfg.metricAttributes,
		expAttr:    AttrExperiment.String(name),
		errNames:   make(map[string]struct{}),
		errOpts:    make(map[errOptKey][]metric.RecordOption),
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	t.tracer = tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
	// With a no-op tracer a shadow span does nothing but cost a context
	// allocation per call: skip it.
	_, t.noSpans = t.tracer.(tracenoop.Tracer)

	var err error
	t.comparison, err = meter.Int64ObservableCounter(MetricComparisons,
		metric.WithUnit("{comparison}"),
		metric.WithDescription(comparisonsDescription))
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

	for p := range 2 {
		pa := AttrPrimary.String(sideNames[p])
		for c := range 2 {
			set := attribute.NewSet(t.expAttr, pa, AttrCompared.Bool(c == 1))
			t.callsOpts[p][c] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		t.spanOpts[p] = []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(t.expAttr, pa),
		}
		if t.linked {
			t.spanOpts[p] = append(t.spanOpts[p], trace.WithNewRoot())
		}
	}
	t.inflightOpts = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(t.expAttr))}
	t.segs.init(t)

	calibrations, err := meter.Int64ObservableCounter(MetricCalibrationCalls,
		metric.WithUnit("{call}"),
		metric.WithDescription("Extra legacy calls run for A/A calibration (WithCalibration)."))
	handle(err)
	ignoredNoise, err := meter.Int64ObservableCounter(MetricIgnoredNoise,
		metric.WithUnit("{comparison}"),
		metric.WithDescription("Value mismatches recorded as ignored because every differing path was noise (learned by calibration, or frozen with WithIgnorePaths)."))
	handle(err)

	t.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for p := range 2 {
			for c := range 2 {
				o.ObserveInt64(t.calls, src.callCount(p, c), t.callsOpts[p][c]...)
			}
		}
		o.ObserveInt64(t.inflight, src.inFlight(), t.inflightOpts...)
		t.observeComparisons(o, src)
		if calls, ignored, on := src.noiseCounts(); on {
			o.ObserveInt64(calibrations, calls, t.inflightOpts...)
			o.ObserveInt64(ignoredNoise, ignored, t.inflightOpts...)
		}
		return nil
	}, t.calls, t.inflight, t.comparison, calibrations, ignoredNoise)
	handle(err)
	return t
}

// releaseInstruments unregisters the callback of the observable
// instruments, so that a released experiment stops reporting and can be
// garbage-collected. It is idempotent.
func (t *telemetry) releaseInstruments() {
	t.regOnce.Do(func() {
		if t.reg != nil {
			handle(t.reg.Unregister())
		}
	})
}

// durationOpts returns the record options for a segment, side and role
// with error.type typ (already capped); without an error.type they are
// seg.durOpts[side][role].
func (t *telemetry) durationOpts(seg *segment, side Side, role int, typ string) []metric.RecordOption {
	k := errOptKey{seg, int(side), role, typ}
	t.errMu.Lock()
	defer t.errMu.Unlock()
	if o, ok := t.errOpts[k]; ok {
		return o
	}
	kvs := append([]attribute.KeyValue{
		t.expAttr, AttrSide.String(sideNames[side]),
		AttrRole.String(roleNames[role]), AttrErrorType.String(typ),
	}, seg.attrs...)
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	t.errOpts[k] = o
	return o
}

// capErrorType bounds the distinct error.type values of the experiment:
// beyond DefaultMaxErrorTypes a new value becomes "_OTHER". The sentinels
// are always kept.
func (t *telemetry) capErrorType(typ string) string {
	switch typ {
	case "", errTypeTimeout, errTypeCanceled, errTypePanic, otherLabel:
		return typ
	}
	t.errMu.Lock()
	defer t.errMu.Unlock()
	if _, ok := t.errNames[typ]; ok {
		return typ
	}
	if len(t.errNames) >= DefaultMaxErrorTypes {
		return otherLabel
	}
	t.errNames[typ] = struct{}{}
	return typ
}

// errorType returns the capped error.type of err for this experiment: a
// sentinel, the classifier's name, or the innermost meaningful Go type.
func (t *telemetry) errorType(err error) string {
	if err == nil {
		return ""
	}
	sentinel, typ := inspectError(err)
	if sentinel != "" {
		return sentinel
	}
	if t.classifier != nil {
		if s := t.classify(err); s != "" {
			return t.capErrorType(s)
		}
	}
	return t.capErrorType(typ)
}

// classify runs the user's classifier behind recover. A panic makes the
// type "_OTHER" and is reported once. A runtime.Goexit is not stopped here:
// recordCall finishes the record while the goroutine unwinds.
func (t *telemetry) classify(err error) (name string) {
	if e := safe.Call("WithErrorClassifier func", func() { name = t.classifier(err) }, nil); e != nil {
		reportOnce(&t.classifierFailed, fmtErr(t.name, "error.type is \"_OTHER\" where the classifier fails", e))
		return otherLabel
	}
	return safe.Cut(name, maxCustomValueLen)
}

func attributeSet(kvs ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kvs...) }

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// callTelemetry is what recording one compared call needs from user code
// (the metric-attributes hook, the error classifier, errors' own Unwrap and
// Is methods), resolved before anything is recorded.
type callTelemetry struct {
	seg      *segment
	errTypes [2]string // by side; "" when it did not err
	spanType string    // error.type of the shadow span's status error
}

// recordCall records the outcome series of the call's attribute set, the
// durations, the differing fields and the span of one compared call. It
// runs on the shadow goroutine (or the deadline timer's), after
// countOutcome. class is the mismatch class key, for the Report.
func (t *telemetry) recordCall(c *core, r *record, class string) {
	if t.attrsFn == nil && r.errs[Legacy] == nil && r.errs[Candidate] == nil && r.cbErr == nil {
		// The usual call runs no user code here (no error to classify,
		// no attributes hook): nothing to guard.
		ct := callTelemetry{seg: t.segs.base}
		t.emit(c, r, &ct)
		return
	}
	t.recordCallGuarded(c, r, class)
}

// recordCallGuarded is recordCall with user code to resolve (an error
// classifier, errors' own methods, the metric-attributes hook). That code
// runs first, behind recover; a runtime.Goexit in it cannot be stopped, so
// the deferred function records the call without user code (overflow
// attribute set, "_OTHER" error types) and also reports it, which
// finishRecord would have done next.
func (t *telemetry) recordCallGuarded(c *core, r *record, class string) {
	var ct callTelemetry
	resolved := false
	defer func() {
		if resolved {
			return
		}
		v := recover()
		ct.fallback(t)
		r.keepErrTypes(&ct)
		t.emit(c, r, &ct)
		if v != nil {
			// Not user code: dualrun's own bug. Keep the process alive and
			// let finishRecord go on.
			handle(fmtErr(t.name, "recording a comparison panicked", safe.Recovered("recordCall", v)))
			return
		}
		// runtime.Goexit: the goroutine ends after this, so finishRecord
		// will not run its last step.
		if reportable(r.outcome) {
			c.report(r, class)
		}
	}()
	t.resolve(r, &ct)
	resolved = true
	r.keepErrTypes(&ct)
	t.emit(c, r, &ct)
}

// keepErrTypes keeps the sides' error.type values for the Report, which
// then names errors exactly as the metrics do.
func (r *record) keepErrTypes(ct *callTelemetry) {
	for s := range 2 {
		if r.errs[s] != nil {
			r.errTypes[s] = ct.errTypes[s]
		}
	}
}

// resolve runs the user code recording needs.
func (t *telemetry) resolve(r *record, ct *callTelemetry) {
	if t.attrsFn != nil {
		ct.seg = t.segs.of(r.call.caller(), t)
	} else {
		ct.seg = t.segs.base
	}
	for s := range 2 {
		ct.errTypes[s] = t.errorType(r.errs[s])
	}
	if err := spanError(r); err != nil && r.call.span.IsRecording() {
		ct.spanType = t.errorType(err)
	}
}

// fallback completes ct without running user code.
func (ct *callTelemetry) fallback(t *telemetry) {
	if ct.seg == nil {
		ct.seg = t.segs.base
		if t.attrsFn != nil {
			ct.seg = t.segs.overflowSet(t)
		}
	}
	for s := range ct.errTypes {
		if ct.errTypes[s] == "" {
			ct.errTypes[s] = otherLabel // any non-empty: the side erred
		}
	}
	if ct.spanType == "" {
		ct.spanType = otherLabel
	}
}

// emit records a resolved call.
func (t *telemetry) emit(c *core, r *record, ct *callTelemetry) {
	ctx := r.call.spanCtx
	if ctx == nil {
		ctx = context.Background()
	}
	if t.attrsFn != nil {
		ct.seg.count(r)
	}
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
		opts := ct.seg.durOpts[side][role]
		if r.errs[s] != nil {
			c.sideErrs[s].Add(1)
			if typ := ct.errTypes[s]; typ != "" {
				opts = t.durationOpts(ct.seg, side, role, typ)
			}
		}
		t.duration.Record(ctx, r.durations[s].Seconds(), opts...)
	}
	if r.kind == ValueMismatch {
		for _, p := range r.paths {
			c.fields.add(ctx, p)
		}
	}
	r.call.endSpan(r, ct)
}

// startSpan starts the shadow's span. By default it is a child of the
// caller's span (found in ctx, which carries the caller's values), so it
// follows the caller's sampling decision; WithLinkedShadowSpans makes it a
// new root linked to the caller's span. It adds the dualrun.compared event
// to the caller's span. It runs on the shadow goroutine.
func (t *telemetry) startSpan(ctx context.Context, caller trace.SpanContext, primary Side) (context.Context, trace.Span) {
	if t.noSpans {
		return ctx, noSpan
	}
	opts := t.spanOpts[primary]
	if t.linked && caller.IsValid() {
		opts = append(opts[:len(opts):len(opts)], trace.WithLinks(trace.Link{SpanContext: caller}))
	}
	sctx, span := t.tracer.Start(ctx, t.spanName, opts...)
	if cs := trace.SpanFromContext(ctx); cs.IsRecording() {
		// The caller's span may end at any time: OpenTelemetry then
		// drops the event.
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs, t.expAttr, AttrPrimary.String(sideNames[primary]))
		if sc := span.SpanContext(); sc.IsValid() {
			attrs = append(attrs, AttrShadowTraceID.String(sc.TraceID().String()),
				AttrShadowSpanID.String(sc.SpanID().String()))
		}
		cs.AddEvent(SpanEventCompared, trace.WithAttributes(attrs...))
	}
	return sctx, span
}

// noSpan stands for the shadow span when the tracer is a no-op.
var noSpan trace.Span = tracenoop.Span{}

// spanError is the error the shadow span's status describes: the failed
// callback's, or else the shadow side's, on outcomes panic, error and
// timeout.
func spanError(r *record) error {
	switch r.outcome {
	case Panic, Error, Timeout:
		if r.cbErr != nil {
			return r.cbErr
		}
		return r.errs[r.primary.Other()]
	}
	return nil
}

// endSpan sets the outcome on the shadow span and ends it.
func (ci *callInfo) endSpan(r *record, ct *callTelemetry) {
	s := ci.span
	if s == nil {
		return
	}
	if s.IsRecording() {
		s.SetAttributes(AttrOutcome.String(r.outcome.String()))
		switch r.outcome {
		case Mismatch:
			kind := AttrMismatchKind.String(r.kind.String())
			s.SetAttributes(kind)
			s.AddEvent(SpanEventMismatch, trace.WithAttributes(mismatchAttrs(r, ct, kind)...))
		case Panic, Error, Timeout:
			desc := r.outcome.String()
			if err := spanError(r); err != nil {
				desc = safe.ErrorText(err, statusTextLimit)
				s.SetAttributes(AttrErrorType.String(ct.spanType))
			}
			s.SetStatus(codes.Error, desc)
		}
	}
	s.End()
}

// mismatchAttrs are the attributes of the dualrun.mismatch event.
func mismatchAttrs(r *record, ct *callTelemetry, kind attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, kind)
	if len(r.paths) > 0 {
		attrs = append(attrs, AttrPaths.StringSlice(r.paths))
	}
	le, ce := r.errs[Legacy] != nil, r.errs[Candidate] != nil
	switch {
	case le && ce:
		attrs = append(attrs, AttrErred.String("both"))
	case le:
		attrs = append(attrs, AttrErred.String(sideNames[Legacy]))
	case ce:
		attrs = append(attrs, AttrErred.String(sideNames[Candidate]))
	}
	if le {
		attrs = append(attrs, AttrLegacyErrorType.String(ct.errTypes[Legacy]))
	}
	if ce {
		attrs = append(attrs, AttrCandidateErrorType.String(ct.errTypes[Candidate]))
	}
	return attrs
}

// The sentinel values of error.type.
const (
	errTypeTimeout  = "timeout"
	errTypeCanceled = "canceled"
	errTypePanic    = "panic"
	errTypeBudget   = "budget"
)

// maxErrorNodes bounds the errors inspectError looks at in one error tree:
// Unwrap chains can be cyclic or absurdly long, and errors.Is would loop
// for ever on a cycle.
const maxErrorNodes = 64

// inspectError walks the tree of err (Unwrap() error and Unwrap() []error,
// depth first, as errors.Is and errors.As do, over at most maxErrorNodes
// errors) and returns:
//
//   - sentinel: the first known sentinel met: "timeout" for a *TimeoutError
//     or an error that is (or says by its Is method that it is)
//     context.DeadlineExceeded, "canceled" for context.Canceled, "panic" for
//     a recovered *PanicError, "budget" for a comparison stopped by its
//     budget (*BudgetError); or "".
//   - typ: the Go type name (as %T prints it, such as "*fs.PathError") of
//     the first error met that is more than a wrapper (see isWrapper), or
//     of the last error met if all are wrappers.
//
// Unwrap and Is are user code: a panic in them ends the walk with what was
// found so far, or the type of the error whose method panicked.
func inspectError(err error) (sentinel, typ string) {
	var (
		cur  = err
		last string
	)
	defer func() {
		if recover() != nil {
			sentinel = ""
			if typ == "" {
				typ = typeName(cur)
			}
		}
	}()
	var buf [16]error
	stack := append(buf[:0], err)
	for seen := 0; len(stack) > 0 && seen < maxErrorNodes; seen++ {
		cur = stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == nil {
			continue
		}
		if s := sentinelOf(cur); s != "" {
			return s, typ
		}
		last = typeName(cur)
		if typ == "" && !isWrapper(cur) {
			typ = last
		}
		switch u := cur.(type) { //nolint:errorlint // walking the tree by hand, bounded
		case interface{ Unwrap() error }:
			stack = append(stack, u.Unwrap())
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			for i := len(errs) - 1; i >= 0; i-- {
				stack = append(stack, errs[i])
			}
		}
	}
	if typ == "" {
		typ = last
	}
	return "", typ
}

// sentinelOf returns the sentinel error.type of one error of a tree, or "".
func sentinelOf(err error) string {
	switch err.(type) { //nolint:errorlint // one node of the tree; inspectError walks it
	case *TimeoutError:
		return errTypeTimeout
	case *PanicError:
		return errTypePanic
	case *BudgetError:
		return errTypeBudget
	}
	if err == context.DeadlineExceeded { //nolint:errorlint // one node of the tree
		return errTypeTimeout
	}
	if err == context.Canceled { //nolint:errorlint // one node of the tree
		return errTypeCanceled
	}
	if is, ok := err.(interface{ Is(error) bool }); ok { //nolint:errorlint // one node of the tree
		if is.Is(context.DeadlineExceeded) {
			return errTypeTimeout
		}
		if is.Is(context.Canceled) {
			return errTypeCanceled
		}
	}
	return ""
}

// isWrapper reports whether err's type does nothing but wrap: it adds
// context to the message of the errors it unwraps to and says nothing an
// engineer could act on by itself. The rule:
//
//   - the standard library's wrappers: fmt.Errorf's *fmt.wrapError and
//     *fmt.wrapErrors, errors.Join's *errors.joinError;
//   - dualrun's *CallbackError, which only names the callback that failed;
//   - by convention, any unexported type named wrap…, with…, join… or
//     multi… that has an Unwrap method (x/xerrors' *wrapError,
//     pkg/errors' *withStack and *withMessage, multierr's *multiError).
//
// Exported types and other unexported ones are meaningful, even when they
// wrap (*fs.PathError, *url.Error, *net.OpError).
func isWrapper(err error) bool {
	switch err.(type) { //nolint:errorlint // the type of this node itself
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
	default:
		return false
	}
	if _, ok := err.(*CallbackError); ok { //nolint:errorlint // the type of this node itself
		return true
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	if name == "" || !unicode.IsLower(rune(name[0])) {
		return false
	}
	for _, prefix := range [...]string{"wrap", "with", "join", "multi"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// typeName is err's type as %T prints it, without calling any of its
// methods.
func typeName(err error) string { return reflect.TypeOf(err).String() }
