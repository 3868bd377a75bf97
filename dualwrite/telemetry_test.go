package dualwrite_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/rollout"
)

// TestTelemetrySeries: every dualwrite series of a writer exists from its
// start, at zero, with its unit, under the scope of the package, so that
// alerts see the first occurrence.
func TestTelemetrySeries(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	j := openJournal(t, t.TempDir())
	defer j.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	newWriter(t, "tel", dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer](),
		dualwrite.WithJournal(j), dualwrite.WithMeterProvider(mp))
	// One round of the applier, for the gauges.
	waitFor(t, ctx, "the first applier round", func() bool {
		var rm metricdata.ResourceMetrics
		_ = reader.Collect(ctx, &rm)
		return strings.Contains(strings.Join(describe(rm), "\n"), dualwrite.MetricPending)
	})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := describe(rm)
	want := []string{
		"dualwrite.applied {write} dualrun.experiment=tel,dualrun.side=candidate,dualwrite.result=applied = 0",
		"dualwrite.applied {write} dualrun.experiment=tel,dualrun.side=candidate,dualwrite.result=skipped = 0",
		"dualwrite.applied {write} dualrun.experiment=tel,dualrun.side=legacy,dualwrite.result=applied = 0",
		"dualwrite.applied {write} dualrun.experiment=tel,dualrun.side=legacy,dualwrite.result=skipped = 0",
		"dualwrite.failed {write} dualrun.experiment=tel,dualrun.side=candidate = 0",
		"dualwrite.failed {write} dualrun.experiment=tel,dualrun.side=legacy = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=candidate,dualwrite.reason=exhausted = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=candidate,dualwrite.reason=malformed = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=candidate,dualwrite.reason=rejected = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=legacy,dualwrite.reason=exhausted = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=legacy,dualwrite.reason=malformed = 0",
		"dualwrite.failures {write} dualrun.experiment=tel,dualrun.side=legacy,dualwrite.reason=rejected = 0",
		"dualwrite.pending {write} dualrun.experiment=tel,dualrun.side=candidate = 0",
		"dualwrite.pending {write} dualrun.experiment=tel,dualrun.side=legacy = 0",
		"dualwrite.pending.oldest_age s dualrun.experiment=tel,dualrun.side=candidate = 0",
		"dualwrite.pending.oldest_age s dualrun.experiment=tel,dualrun.side=legacy = 0",
		"dualwrite.reconcile.records {record} dualrun.experiment=tel,dualwrite.divergence=changed = 0",
		"dualwrite.reconcile.records {record} dualrun.experiment=tel,dualwrite.divergence=extra = 0",
		"dualwrite.reconcile.records {record} dualrun.experiment=tel,dualwrite.divergence=match = 0",
		"dualwrite.reconcile.records {record} dualrun.experiment=tel,dualwrite.divergence=missing = 0",
		"dualwrite.reconcile.records {record} dualrun.experiment=tel,dualwrite.divergence=pending = 0",
		"dualwrite.reconcile.repairs {record} dualrun.experiment=tel = 0",
		"dualwrite.retries {retry} dualrun.experiment=tel,dualrun.side=candidate = 0",
		"dualwrite.retries {retry} dualrun.experiment=tel,dualrun.side=legacy = 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// describe lists the dualwrite scope's series as "name unit attrs = value".
func describe(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != dualwrite.ScopeName || sm.Scope.Version != dualwrite.Version {
			continue
		}
		for _, m := range sm.Metrics {
			add := func(attrs string, v any) {
				out = append(out, fmt.Sprintf("%s %s %s = %v", m.Name, m.Unit, attrs, v))
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					add(attrString(dp.Attributes.ToSlice()), dp.Value)
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					add(attrString(dp.Attributes.ToSlice()), dp.Value)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func attrString(kvs []attribute.KeyValue) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + "=" + kv.Value.AsString()
	}
	return strings.Join(parts, ",")
}

// TestReadPolicyObserved: the writer's reads go to the same primary as its
// writes (the policy is asked under the writer's name), and a policy that
// observes (a rollout.Ramp) sees the reads' outcomes under that name.
func TestReadPolicyObserved(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	j := openJournal(t, t.TempDir())
	defer j.Close()
	ramp := rollout.NewRamp("customers", rollout.DefaultSteps(), rollout.WithStartStep(2))
	defer ramp.Close()
	old, neu := dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer]()
	w := newWriter(t, "customers-table", old, neu, dualwrite.WithJournal(j),
		dualwrite.WithRollout(ramp), dualwrite.WithPolicyName("customers"))
	for i := range 20 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := w.Get(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "the ramp to observe the compared reads", func() bool {
		return ramp.State().StepComparisons == w.Stats().Reads.Compared && w.Stats().Reads.Compared > 0
	})
	if w.Stats().Reads.Outcomes[dualrun.Mismatch] != 0 {
		t.Fatalf("reads: %+v", w.Stats().Reads.Outcomes)
	}
}
