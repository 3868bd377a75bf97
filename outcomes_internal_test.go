package dualrun

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The custom attribute sets of WithMetricAttributes are built once: after
// a set's first call, finding it again allocates nothing (no
// attribute.NewSet per call).

// tenantAttrs is a WithMetricAttributes hook returning a preallocated set
// per tenant, as a service would from a small table.
var tenantAttrs = func() map[string][]attribute.KeyValue {
	m := make(map[string][]attribute.KeyValue)
	for i := range MaxMetricAttributeSets {
		t := fmt.Sprintf("tenant-%02d", i)
		m[t] = []attribute.KeyValue{attribute.String("tenant", t), attribute.String("tier", "gold"), attribute.Bool("beta", i%2 == 0)}
	}
	return m
}()

type tenantKey struct{}

func tenantHook(ctx context.Context) []attribute.KeyValue {
	t, _ := ctx.Value(tenantKey{}).(string)
	return tenantAttrs[t]
}

func newAttrsTelemetry(tb testing.TB) *telemetry {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e := New[int](fmt.Sprintf("internal.%s", tb.Name()), WithMeterProvider(mp), WithMetricAttributes(tenantHook))
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e.c.tel
}

func TestMetricAttributesLookupAllocatesNothing(t *testing.T) {
	tel := newAttrsTelemetry(t)
	cases := []struct {
		name, reason string
		tenant       string
	}{
		{name: "first_set", reason: "the first set made", tenant: "tenant-00"},
		{name: "last_set", reason: "the last set under the cap: a scan of all of them", tenant: fmt.Sprintf("tenant-%02d", MaxMetricAttributeSets-1)},
		{name: "no_attributes", reason: "the base set", tenant: "unknown"},
	}
	// Make every set once.
	for tenant := range tenantAttrs {
		tel.segs.of(context.WithValue(context.Background(), tenantKey{}, tenant), tel)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), tenantKey{}, c.tenant)
			first := tel.segs.of(ctx, tel)
			allocs := testing.AllocsPerRun(100, func() {
				if tel.segs.of(ctx, tel) != first {
					t.Fatal("a known set was made again")
				}
			})
			if allocs != 0 {
				t.Errorf("finding a known set allocates %.1f times per call, want 0 (%s)", allocs, c.reason)
			}
		})
	}
}

func BenchmarkMetricAttributesLookup(b *testing.B) {
	tel := newAttrsTelemetry(b)
	for tenant := range tenantAttrs {
		tel.segs.of(context.WithValue(context.Background(), tenantKey{}, tenant), tel)
	}
	ctx := context.WithValue(context.Background(), tenantKey{}, fmt.Sprintf("tenant-%02d", MaxMetricAttributeSets-1))
	b.ReportAllocs()
	for b.Loop() {
		tel.segs.of(ctx, tel)
	}
}

// BenchmarkMetricAttributesNewSet is what the cache saves: building the
// attribute set of one series per call, as a naive hook would.
func BenchmarkMetricAttributesNewSet(b *testing.B) {
	tel := newAttrsTelemetry(b)
	ctx := context.WithValue(context.Background(), tenantKey{}, fmt.Sprintf("tenant-%02d", MaxMetricAttributeSets-1))
	b.ReportAllocs()
	for b.Loop() {
		kvs := append([]attribute.KeyValue{tel.expAttr, AttrSide.String("legacy"), AttrRole.String("primary")}, tenantHook(ctx)...)
		_ = attribute.NewSet(kvs...)
	}
}

// BenchmarkComparedDrainedSDKMetricAttributes is BenchmarkComparedDrainedSDK
// with a WithMetricAttributes hook: compare the two in one run for the cost
// of custom attributes on a compared call.
func BenchmarkComparedDrainedSDKMetricAttributes(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	attrs := tenantAttrs["tenant-03"]
	benchDrained(b, true, WithMeterProvider(mp), WithTracerProvider(tracenoop.NewTracerProvider()),
		WithMetricAttributes(func(context.Context) []attribute.KeyValue { return attrs }))
}
