package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// serviceName is the service.name resource attribute (job in Prometheus,
// when the Collector's Prometheus exporter serves the metrics).
const serviceName = "dualrun-example-service"

// telemetry is the service's OpenTelemetry SDK: metrics for a Prometheus
// scrape endpoint (always) and for OTLP/HTTP, and traces for OTLP/HTTP
// (when an OTLP endpoint is set; without one no span is made).
type telemetry struct {
	registry       *prometheus.Registry
	meterProvider  *sdkmetric.MeterProvider
	tracerProvider trace.TracerProvider
	sdkTracer      *sdktrace.TracerProvider // nil without OTLP
}

// telemetryConfig says where telemetry goes.
type telemetryConfig struct {
	// otlpEndpoint is the base URL of an OTLP/HTTP receiver, such as
	// http://127.0.0.1:4318; empty: no OTLP.
	otlpEndpoint string
	// otlpInterval is how often metrics are pushed over OTLP.
	otlpInterval time.Duration
}

// newTelemetry sets up the SDK.
func newTelemetry(ctx context.Context, cfg telemetryConfig) (*telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", serviceName)))
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promExporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}
	tel := &telemetry{registry: reg, tracerProvider: tracenoop.NewTracerProvider()}
	if base := strings.TrimSuffix(cfg.otlpEndpoint, "/"); base != "" {
		mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(base+"/v1/metrics"))
		if err != nil {
			return nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp,
			sdkmetric.WithInterval(cfg.otlpInterval))))
		texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(base+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		tel.sdkTracer = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
			sdktrace.WithBatcher(texp, sdktrace.WithBatchTimeout(cfg.otlpInterval)))
		tel.tracerProvider = tel.sdkTracer
	}
	tel.meterProvider = sdkmetric.NewMeterProvider(mopts...)
	return tel, nil
}

// shutdown flushes and stops the providers: the last spans and metrics are
// sent over OTLP.
func (t *telemetry) shutdown(ctx context.Context) error {
	var errs []error
	if t.sdkTracer != nil {
		errs = append(errs, t.sdkTracer.Shutdown(ctx))
	}
	errs = append(errs, t.meterProvider.Shutdown(ctx))
	return errors.Join(errs...)
}
