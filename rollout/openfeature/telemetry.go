package openfeature

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ScopeName is the instrumentation scope of the meter this package creates:
// its import path.
const ScopeName = "github.com/dualrun/dualrun/rollout/openfeature"

// version is the instrumentation scope version (the dualrun module's).
const version = "0.1.0"

// newErrorCounter makes dualrun.rollout.errors. An instrument error goes to
// otel.Handle, and a no-op counter is used if none came back.
func newErrorCounter(mp metric.MeterProvider) metric.Int64Counter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, err := mp.Meter(ScopeName, metric.WithInstrumentationVersion(version)).Int64Counter(
		"dualrun.rollout.errors",
		metric.WithUnit("{error}"),
		metric.WithDescription("Flag evaluations that could not be used; the last good value stayed in force."))
	if err != nil {
		otel.Handle(err)
	}
	if c == nil {
		return noop.Int64Counter{}
	}
	return c
}

// errorAttrs is the attribute set of one experiment and error type.
func errorAttrs(experiment, typ string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(
		attribute.String("dualrun.experiment", experiment),
		attribute.String("error.type", typ)))
}
