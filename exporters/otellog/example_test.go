package otellog_test

import (
	"context"
	"fmt"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/otellog"
)

// Reports as OpenTelemetry log records that open from the shadow's trace.
func ExampleNew() {
	mem := &memExporter{} // an OTLP exporter in a real application
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(mem)))
	defer func() { _ = lp.Shutdown(context.Background()) }()
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()

	remove := dualrun.AddPublisher(otellog.New(otellog.WithLoggerProvider(lp)))
	defer remove()

	exp := dualrun.New[int]("example.otellog", dualrun.WithTracerProvider(tp))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 2, nil })
	_ = exp.Shutdown(context.Background())
	exp.Unregister()

	r := mem.all()[0]
	fmt.Println(r.EventName(), r.Severity(), r.Body().AsString())
	fmt.Println("has trace id:", r.TraceID().IsValid(), "has span id:", r.SpanID().IsValid())
	// Output:
	// dualrun.report WARN example.otellog: mismatch/value (primary legacy) paths=[.]
	// has trace id: true has span id: true
}
