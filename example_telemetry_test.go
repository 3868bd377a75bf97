package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dualrun/dualrun"
)

// durationSeries prints the attributes of each dualrun.call.duration series
// collected by reader, one line each, sorted.
func durationSeries(reader *sdkmetric.ManualReader, keys ...attribute.Key) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if m.Name != dualrun.MetricCallDuration || !ok {
				continue
			}
			for _, p := range h.DataPoints {
				var kvs []string
				for _, k := range keys {
					if v, ok := p.Attributes.Value(k); ok {
						kvs = append(kvs, fmt.Sprintf("%s=%s", k, v.String()))
					}
				}
				lines = append(lines, strings.Join(kvs, " "))
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// ErrNoStock is a shop's own error type: error.type names it even when it
// is wrapped.
type ErrNoStock struct{ SKU string }

func (e *ErrNoStock) Error() string { return "no stock for " + e.SKU }

func ExampleWithErrorClassifier() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	// Name the errors the team acts on; "" leaves the rest to the default:
	// the innermost error that is more than a wrapper.
	classify := func(err error) string {
		var ns *ErrNoStock
		if errors.As(err, &ns) {
			return "no_stock"
		}
		return ""
	}
	exp := dualrun.New[int64]("cart.reserve", dualrun.WithMeterProvider(mp), dualrun.WithErrorClassifier(classify))
	ctx := context.Background()
	legacy := func(context.Context) (int64, error) { return 0, fmt.Errorf("reserve: %w", &ErrNoStock{SKU: "sku-1"}) }
	candidate := func(context.Context) (int64, error) { return 0, fmt.Errorf("reserve: %w", errors.ErrUnsupported) }
	_, err := exp.Run(ctx, legacy, candidate)
	fmt.Println(err)
	if err := exp.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	durationSeries(reader, dualrun.AttrSide, dualrun.AttrErrorType)
	// Output:
	// reserve: no stock for sku-1
	// dualrun.side=candidate error.type=*errors.errorString
	// dualrun.side=legacy error.type=no_stock
}

func ExampleWithLinkedShadowSpans() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, request := tp.Tracer("shop").Start(context.Background(), "GET /cart")
	for _, linked := range []bool{false, true} {
		opts := []dualrun.Option{dualrun.WithTracerProvider(tp)}
		name := "cart.total.child"
		if linked {
			opts = append(opts, dualrun.WithLinkedShadowSpans())
			name = "cart.total.linked"
		}
		exp := dualrun.New[int64](name, opts...)
		total := func(context.Context) (int64, error) { return 1190, nil }
		if _, err := exp.Run(ctx, total, total); err != nil {
			fmt.Println(err)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			fmt.Println(err)
		}
	}
	request.End()
	for _, s := range rec.Ended() {
		if s.Name() == "GET /cart" {
			continue
		}
		fmt.Printf("%s: child of the request %v, links %d\n", s.Name(),
			s.Parent().SpanID() == request.SpanContext().SpanID(), len(s.Links()))
	}
	// Output:
	// dualrun.shadow cart.total.child: child of the request true, links 0
	// dualrun.shadow cart.total.linked: child of the request false, links 1
}

func ExampleWithMetricAttributes() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	type tierKey struct{}
	// The tenant tier of the request, set by the service's middleware.
	tier := func(ctx context.Context) []attribute.KeyValue {
		if t, ok := ctx.Value(tierKey{}).(string); ok {
			return []attribute.KeyValue{attribute.String("tenant.tier", t)}
		}
		return nil
	}
	exp := dualrun.New[int64]("cart.discount", dualrun.WithMeterProvider(mp), dualrun.WithMetricAttributes(tier))
	discount := func(context.Context) (int64, error) { return 50, nil }
	for _, t := range []string{"gold", "free"} {
		ctx := context.WithValue(context.Background(), tierKey{}, t)
		if _, err := exp.Run(ctx, discount, discount); err != nil {
			fmt.Println(err)
		}
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	durationSeries(reader, dualrun.AttrSide, "tenant.tier")
	fmt.Println("matches:", exp.Stats().Count(dualrun.Match))
	// Output:
	// dualrun.side=candidate tenant.tier=free
	// dualrun.side=candidate tenant.tier=gold
	// dualrun.side=legacy tenant.tier=free
	// dualrun.side=legacy tenant.tier=gold
	// matches: 2
}
