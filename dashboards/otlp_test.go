package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Names as the service's OTLP exporters send them.
const (
	scopeName       = "github.com/dualrun/dualrun"
	serviceName     = "dualrun-example-service"
	shadowSpanName  = "dualrun.shadow " + experiment
	serverSpanName  = "POST /v1/quote"
	mismatchEvent   = "dualrun.mismatch"
	comparedEvent   = "dualrun.compared"
	comparisonsName = "dualrun.comparisons"
	durationName    = "dualrun.call.duration"
	fieldsName      = "dualrun.mismatch.fields"
)

// checkCollector checks what the Collector received over OTLP from the
// service, which has exited (and flushed): the comparison counter, the
// duration histogram and the differing fields with the model's counts; one
// shadow span per call, a child of its request's span, with the outcome and
// the dualrun.mismatch events; and the same metric names the dashboards use
// on the Collector's Prometheus exporter.
func checkCollector(ctx context.Context, t *testing.T, col *collector, m inputModel, labelNames map[string]bool) {
	t.Run("metrics", func(t *testing.T) {
		e2e.Eventually(ctx, t, 30*time.Second, "final metrics in the Collector's file", func(context.Context) error {
			return checkOTLPMetrics(col.metricsFile, m)
		})
	})
	t.Run("traces", func(t *testing.T) {
		e2e.Eventually(ctx, t, 30*time.Second, "every span in the Collector's file", func(context.Context) error {
			return checkOTLPTraces(col.tracesFile, m)
		})
	})
	t.Run("prometheus exporter", func(t *testing.T) {
		transport := &http.Transport{}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport}
		e2e.Eventually(ctx, t, 30*time.Second, "the Collector's Prometheus exporter", func(ctx context.Context) error {
			body, err := col.scrape(ctx, client)
			if err != nil {
				return err
			}
			return checkCollectorPrometheus(t, body, m, labelNames)
		})
	})
}

// attrKey is a printable, ordered form of an attribute map.
func attrKey(attrs pcommon.Map) string {
	raw := attrs.AsRaw()
	parts := make([]string, 0, len(raw))
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, raw[k]))
	}
	return strings.Join(parts, ",")
}

func attrString(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.AsString()
	}
	return ""
}

// latestPoints keeps, per metric name and attribute set, the data point
// with the latest timestamp: the exporters send cumulative totals.
type latestPoints struct {
	sums  map[string]map[string]pmetric.NumberDataPoint
	hists map[string]map[string]pmetric.HistogramDataPoint
	units map[string]string
	// counters are the sums that are cumulative and monotonic.
	counters map[string]bool
}

func collectMetrics(batches []pmetric.Metrics) (latestPoints, error) {
	lp := latestPoints{
		sums:     map[string]map[string]pmetric.NumberDataPoint{},
		hists:    map[string]map[string]pmetric.HistogramDataPoint{},
		units:    map[string]string{},
		counters: map[string]bool{},
	}
	for _, md := range batches {
		for _, rm := range md.ResourceMetrics().All() {
			if got := attrString(rm.Resource().Attributes(), "service.name"); got != serviceName {
				return lp, fmt.Errorf("resource service.name %q, want %q", got, serviceName)
			}
			for _, sm := range rm.ScopeMetrics().All() {
				if sm.Scope().Name() != scopeName {
					continue // otelhttp's own metrics
				}
				for _, mt := range sm.Metrics().All() {
					lp.units[mt.Name()] = mt.Unit()
					switch mt.Type() {
					case pmetric.MetricTypeSum:
						lp.counters[mt.Name()] = mt.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative &&
							mt.Sum().IsMonotonic()
						pts := lp.sums[mt.Name()]
						if pts == nil {
							pts = map[string]pmetric.NumberDataPoint{}
							lp.sums[mt.Name()] = pts
						}
						for _, dp := range mt.Sum().DataPoints().All() {
							k := attrKey(dp.Attributes())
							if old, ok := pts[k]; !ok || dp.Timestamp() >= old.Timestamp() {
								pts[k] = dp
							}
						}
					case pmetric.MetricTypeHistogram:
						pts := lp.hists[mt.Name()]
						if pts == nil {
							pts = map[string]pmetric.HistogramDataPoint{}
							lp.hists[mt.Name()] = pts
						}
						for _, dp := range mt.Histogram().DataPoints().All() {
							k := attrKey(dp.Attributes())
							if old, ok := pts[k]; !ok || dp.Timestamp() >= old.Timestamp() {
								pts[k] = dp
							}
						}
					}
				}
			}
		}
	}
	return lp, nil
}

// checkOTLPMetrics checks the final totals the Collector wrote.
func checkOTLPMetrics(path string, m inputModel) error {
	batches, err := readMetrics(path)
	if err != nil {
		return err
	}
	lp, err := collectMetrics(batches)
	if err != nil {
		return err
	}
	for name, unit := range map[string]string{comparisonsName: "{comparison}", durationName: "s", fieldsName: "{field}"} {
		if lp.units[name] != unit {
			return fmt.Errorf("%s: unit %q, want %q (have %v)", name, lp.units[name], unit, slices.Sorted(maps.Keys(lp.units)))
		}
	}
	for _, name := range []string{comparisonsName, fieldsName} {
		if !lp.counters[name] {
			return fmt.Errorf("%s: want a cumulative monotonic sum", name)
		}
	}

	// dualrun.comparisons: every outcome and kind, with the model's counts.
	outcomes, kinds := map[string]int64{}, map[string]int64{}
	for _, dp := range lp.sums[comparisonsName] {
		if e := attrString(dp.Attributes(), "dualrun.experiment"); e != experiment {
			return fmt.Errorf("%s point of experiment %q", comparisonsName, e)
		}
		o := attrString(dp.Attributes(), "dualrun.outcome")
		outcomes[o] += dp.IntValue()
		if o == "mismatch" {
			kinds[attrString(dp.Attributes(), "dualrun.mismatch.kind")] += dp.IntValue()
		}
	}
	if err := sameCounts(comparisonsName+" by outcome", outcomes, m.outcomes); err != nil {
		return err
	}
	if err := sameCounts(comparisonsName+" mismatches by kind", kinds, m.kinds); err != nil {
		return err
	}

	// dualrun.call.duration: one observation per side and call, counts
	// consistent with the buckets.
	sides := map[string]int64{}
	for k, dp := range lp.hists[durationName] {
		if len(dp.ExplicitBounds().AsRaw()) == 0 || dp.BucketCounts().Len() != dp.ExplicitBounds().Len()+1 {
			return fmt.Errorf("%s %s: %d bounds, %d buckets", durationName, k, dp.ExplicitBounds().Len(), dp.BucketCounts().Len())
		}
		var total uint64
		for _, c := range dp.BucketCounts().AsRaw() {
			total += c
		}
		if total != dp.Count() {
			return fmt.Errorf("%s %s: buckets hold %d, count %d", durationName, k, total, dp.Count())
		}
		sides[attrString(dp.Attributes(), "dualrun.side")] += int64(dp.Count())
	}
	if sides["candidate"] != int64(m.n) || sides["legacy"] > int64(m.n) || sides["legacy"] < int64(m.n-m.untimedLegacy()) {
		return fmt.Errorf("%s by side: %v, want %d each (legacy: %d may be untimed)", durationName, sides, m.n, m.untimedLegacy())
	}

	// dualrun.mismatch.fields.
	fields := map[string]int64{}
	for _, dp := range lp.sums[fieldsName] {
		fields[attrString(dp.Attributes(), "dualrun.field")] += dp.IntValue()
	}
	return sameCounts(fieldsName+" by field", fields, m.fields)
}

// sameCounts compares counts by key, absent meaning 0.
func sameCounts(what string, got map[string]int64, want map[string]int) error {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		if got[k] != int64(want[k]) {
			return fmt.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	return nil
}

// checkOTLPTraces checks the spans the Collector wrote.
func checkOTLPTraces(path string, m inputModel) error {
	batches, err := readTraces(path)
	if err != nil {
		return err
	}
	type spanRef struct{ trace, span string }
	servers := map[spanRef]ptrace.Span{}
	var shadows []ptrace.Span
	for _, td := range batches {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					switch {
					case sp.Name() == shadowSpanName:
						if ss.Scope().Name() != scopeName {
							return fmt.Errorf("shadow span of scope %q, want %q", ss.Scope().Name(), scopeName)
						}
						shadows = append(shadows, sp)
					case sp.Kind() == ptrace.SpanKindServer:
						servers[spanRef{sp.TraceID().String(), sp.SpanID().String()}] = sp
					}
				}
			}
		}
	}
	if len(servers) != m.n || len(shadows) != m.n {
		return fmt.Errorf("%d request spans and %d shadow spans, want %d of each", len(servers), len(shadows), m.n)
	}

	outcomes, kinds, paths := map[string]int64{}, map[string]int64{}, map[string]int64{}
	shadowIDs := map[spanRef]bool{}
	for _, sp := range shadows {
		parent := spanRef{sp.TraceID().String(), sp.ParentSpanID().String()}
		if sp.ParentSpanID().IsEmpty() {
			return fmt.Errorf("shadow span %s is a root: want a child of the request span", sp.SpanID())
		}
		if srv, ok := servers[parent]; !ok || srv.Name() != serverSpanName {
			return fmt.Errorf("shadow span %s: parent %v is not a request span", sp.SpanID(), parent)
		}
		shadowIDs[spanRef{sp.TraceID().String(), sp.SpanID().String()}] = true
		if e := attrString(sp.Attributes(), "dualrun.experiment"); e != experiment {
			return fmt.Errorf("shadow span %s: dualrun.experiment %q", sp.SpanID(), e)
		}
		outcome := attrString(sp.Attributes(), "dualrun.outcome")
		outcomes[outcome]++
		nEvents := 0
		for _, ev := range sp.Events().All() {
			if ev.Name() != mismatchEvent {
				continue
			}
			nEvents++
			kind := attrString(ev.Attributes(), "dualrun.mismatch.kind")
			kinds[kind]++
			if v, ok := ev.Attributes().Get("dualrun.paths"); ok {
				for _, p := range v.Slice().AsRaw() {
					paths[fmt.Sprint(p)]++
				}
			} else if kind == "value" {
				return fmt.Errorf("shadow span %s: value mismatch event without dualrun.paths", sp.SpanID())
			}
			if kind == "error" && attrString(ev.Attributes(), "dualrun.erred") == "" {
				return fmt.Errorf("shadow span %s: error mismatch event without dualrun.erred", sp.SpanID())
			}
		}
		if want := btoi(outcome == "mismatch"); nEvents != want {
			return fmt.Errorf("shadow span %s (outcome %s): %d %s events, want %d", sp.SpanID(), outcome, nEvents, mismatchEvent, want)
		}
	}
	if err := sameCounts("shadow spans by dualrun.outcome", outcomes, m.outcomes); err != nil {
		return err
	}
	if err := sameCounts(mismatchEvent+" events by kind", kinds, m.kinds); err != nil {
		return err
	}
	if err := sameCounts(mismatchEvent+" events' dualrun.paths", paths, m.fields); err != nil {
		return err
	}

	// The request span's dualrun.compared event names its shadow span. It
	// is added as the shadow starts, so it is dropped when the request
	// span has ended by then: most requests have it, not all need to.
	compared := 0
	for ref, srv := range servers {
		for _, ev := range srv.Events().All() {
			if ev.Name() != comparedEvent {
				continue
			}
			compared++
			sh := spanRef{attrString(ev.Attributes(), "dualrun.shadow.trace_id"), attrString(ev.Attributes(), "dualrun.shadow.span_id")}
			if !shadowIDs[sh] || sh.trace != ref.trace {
				return fmt.Errorf("request span %v: %s event names %v, not one of its shadow spans", ref, comparedEvent, sh)
			}
		}
	}
	if compared < m.n/2 {
		return fmt.Errorf("%d of %d request spans have the %s event, want most", compared, m.n, comparedEvent)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// metricToken finds the dualrun_ names of an expression that are not the
// middle of a recorded name (level:name:operations).
var metricToken = regexp.MustCompile(`(?:^|[^:A-Za-z0-9_])(dualrun_[A-Za-z0-9_]*)(?:[^:A-Za-z0-9_]|$)`)

// usedMetrics returns the metric families the queries select: their
// dualrun_ names that are not label names, without the histogram series
// suffixes.
func usedMetrics(queries []query, labelNames map[string]bool) []string {
	used := map[string]bool{}
	for _, q := range queries {
		// The pattern consumes the character after a name: scan from the
		// name's end so that adjacent names are all found.
		for rest := q.expr; ; {
			loc := metricToken.FindStringSubmatchIndex(rest)
			if loc == nil {
				break
			}
			name := rest[loc[2]:loc[3]]
			rest = rest[loc[3]:]
			if labelNames[name] {
				continue
			}
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				name = strings.TrimSuffix(name, suffix)
			}
			used[name] = true
		}
	}
	return slices.Sorted(maps.Keys(used))
}

// checkCollectorPrometheus checks that the Collector's Prometheus exporter
// serves every metric the dashboard and the rules use, under the same
// names, with the model's mismatch count: the dashboards work whether
// Prometheus scrapes the service or the Collector. labelNames are the
// label names Prometheus knows, to tell them from metric names.
func checkCollectorPrometheus(t *testing.T, body []byte, m inputModel, labelNames map[string]bool) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parsing the Collector's exposition: %w", err)
	}
	dq, err := dashboardQueries(readDashboard(t))
	if err != nil {
		return err
	}
	rq, err := ruleQueries(readRules(t))
	if err != nil {
		return err
	}
	used := usedMetrics(append(dq, rq...), labelNames)
	if len(used) < 5 {
		return fmt.Errorf("only %v found in the queries", used)
	}
	for _, name := range used {
		if _, ok := families[name]; !ok {
			return fmt.Errorf("the Collector's Prometheus exporter has no %s (has %v)", name, slices.Sorted(maps.Keys(families)))
		}
	}
	var mismatches float64
	for _, mt := range families["dualrun_comparisons_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range mt.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["dualrun_experiment"] != experiment {
			return fmt.Errorf("dualrun_comparisons_total series without dualrun_experiment=%q: %v", experiment, labels)
		}
		if labels["dualrun_outcome"] == "mismatch" {
			mismatches += mt.GetCounter().GetValue()
		}
	}
	if mismatches != float64(m.outcomes["mismatch"]) {
		return fmt.Errorf("the Collector's dualrun_comparisons_total has %v mismatches, want %d", mismatches, m.outcomes["mismatch"])
	}
	return nil
}

// TestUsedMetrics pins how metric names are told from label names and
// recorded names in the queries.
func TestUsedMetrics(t *testing.T) {
	labels := map[string]bool{"dualrun_experiment": true, "dualrun_side": true}
	tests := []struct {
		name   string
		reason string
		expr   string
		want   []string
	}{
		{"selector", "a metric with matchers", `rate(dualrun_comparisons_total{dualrun_experiment="x"}[5m])`, []string{"dualrun_comparisons_total"}},
		{
			"histogram", "bucket series belong to the histogram family",
			`histogram_quantile(0.5, sum by (dualrun_side, le) (rate(dualrun_call_duration_seconds_bucket[5m])))`,
			[]string{"dualrun_call_duration_seconds"},
		},
		{
			"recorded", "the middle of level:name:operations is not a metric",
			`experiment:dualrun_mismatch_ratio:rate5m > 0.01`, nil,
		},
		{
			"adjacent", "two names in a row are both found",
			`dualrun_a_total/dualrun_b_count`,
			[]string{"dualrun_a_total", "dualrun_b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usedMetrics([]query{{key: "q", expr: tt.expr}}, labels)
			if !slices.Equal(got, tt.want) {
				t.Errorf("usedMetrics(%q) = %v, want %v (%s)", tt.expr, got, tt.want, tt.reason)
			}
		})
	}
}
