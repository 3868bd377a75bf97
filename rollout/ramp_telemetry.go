package rollout

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meters and tracers the
// rollout package creates: its import path.
const ScopeName = "github.com/dualrun/dualrun/rollout"

// version is the instrumentation scope version: the version of the dualrun
// module (dualrun.Version, which this package cannot import).
const version = "0.1.0"

// Attribute keys of the ramp's telemetry.
const (
	attrExperiment = attribute.Key("dualrun.experiment")
	attrReason     = attribute.Key("reason")
	attrSignal     = attribute.Key("dualrun.ramp.signal")
	attrFrom       = attribute.Key("dualrun.ramp.from")
	attrTo         = attribute.Key("dualrun.ramp.to")
	attrStepName   = attribute.Key("dualrun.ramp.step.name")
	attrValue      = attribute.Key("dualrun.ramp.value")
	attrThreshold  = attribute.Key("dualrun.ramp.threshold")
	attrPaused     = attribute.Key("dualrun.ramp.paused")
)

// rampTelemetry holds a ramp's instruments, made once in NewRamp.
type rampTelemetry struct {
	tracer      trace.Tracer
	spanName    string
	transitions metric.Int64Counter
	reg         metric.Registration
	expAttr     attribute.KeyValue
	expSet      metric.MeasurementOption
}

func newRampTelemetry(r *Ramp, mp metric.MeterProvider, tp trace.TracerProvider) *rampTelemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &rampTelemetry{
		tracer:   tp.Tracer(ScopeName, trace.WithInstrumentationVersion(version)),
		spanName: "dualrun.ramp " + r.name,
		expAttr:  attrExperiment.String(r.name),
	}
	t.expSet = metric.WithAttributeSet(attribute.NewSet(t.expAttr))
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(version))
	var err error
	t.transitions, err = m.Int64Counter("dualrun.ramp.transitions",
		metric.WithUnit("{transition}"),
		metric.WithDescription("Changes of a ramp's state: promote, rollback, halt, manual, pause, resume."))
	otelHandle(err)
	step, err := m.Int64ObservableGauge("dualrun.ramp.step",
		metric.WithUnit("{step}"),
		metric.WithDescription("Index of the ramp's current step, from 0."))
	otelHandle(err)
	paused, err := m.Int64ObservableGauge("dualrun.ramp.paused",
		metric.WithUnit("1"),
		metric.WithDescription("1 while the ramp is paused (by hand or by its guard), else 0."))
	otelHandle(err)
	// The callback reads two atomics: collection never waits for the
	// ramp's lock.
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(step, int64(r.stepIdx.Load()), t.expSet)
		o.ObserveInt64(paused, b2i(r.pausedNow.Load()), t.expSet)
		return nil
	}, step, paused)
	otelHandle(err)
	return t
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func otelHandle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// record counts a transition and records it as an event on a span of its
// own (a transition happens on the ramp's timer, outside any request).
func (t *rampTelemetry) record(tr *Transition, steps []Step) {
	attrs := []attribute.KeyValue{t.expAttr, attrReason.String(string(tr.Reason))}
	if tr.Signal != "" {
		attrs = append(attrs, attrSignal.String(string(tr.Signal)))
	}
	t.transitions.Add(context.Background(), 1, metric.WithAttributes(attrs...))

	_, span := t.tracer.Start(context.Background(), t.spanName,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(t.expAttr), trace.WithTimestamp(tr.At))
	ev := append(attrs,
		attrFrom.Int(tr.From), attrTo.Int(tr.To), attrStepName.String(steps[tr.To].label()),
		attrPaused.Bool(tr.Paused))
	if tr.Signal != "" {
		ev = append(ev, attrValue.Float64(tr.Value), attrThreshold.Float64(tr.Threshold))
	}
	span.AddEvent("dualrun.ramp.transition", trace.WithAttributes(ev...), trace.WithTimestamp(tr.At))
	span.End(trace.WithTimestamp(tr.At))
}

// close unregisters the gauge callback, so a closed ramp is not kept alive
// by the meter provider.
func (t *rampTelemetry) close() {
	if t.reg != nil {
		otelHandle(t.reg.Unregister())
	}
}
