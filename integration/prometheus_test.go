package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// scrape is one in-process Prometheus scrape of a registry fed by the
// OpenTelemetry Prometheus exporter with its default settings (the names
// users get).
type scrape struct {
	reg *prometheus.Registry
	mp  *sdkmetric.MeterProvider
}

func newScrape(t *testing.T) *scrape {
	t.Helper()
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Errorf("MeterProvider.Shutdown: %v", err)
		}
	})
	return &scrape{reg: reg, mp: mp}
}

// text returns the exposition a Prometheus server would scrape, through
// promhttp's handler.
func (s *scrape) text(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// series gathers the registry and returns the series of family name whose
// labels include experiment, each as its labels (without the exporter's
// otel_scope_* labels) and value.
func (s *scrape) series(t *testing.T, name, experiment string) map[string]float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels, ok := seriesLabels(m, experiment)
			if !ok {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				out[labels] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[labels] = float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				out[labels] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// seriesLabels formats m's labels as {a="x",b="y"} (sorted, the
// otel_scope_* labels left out), if dualrun_experiment is experiment.
func seriesLabels(m *dto.Metric, experiment string) (string, bool) {
	var parts []string
	found := false
	for _, l := range m.GetLabel() {
		if strings.HasPrefix(l.GetName(), "otel_scope_") {
			continue
		}
		if l.GetName() == "dualrun_experiment" {
			found = l.GetValue() == experiment
		}
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}", found
}

// outcomeSeries are the labels of every dualrun_comparisons_total series of
// experiment, as the exporter writes them, for both primaries.
func outcomeSeries(experiment string) []string {
	var out []string
	for _, p := range []string{"candidate", "legacy"} {
		for _, o := range []string{"match", "ignored", "timeout", "panic", "error", "aborted", "shed"} {
			out = append(out, fmt.Sprintf(`{dualrun_experiment=%q,dualrun_outcome=%q,dualrun_primary=%q}`, experiment, o, p))
		}
		for _, k := range []string{"value", "error", "errors_differ"} {
			out = append(out, fmt.Sprintf(`{dualrun_experiment=%q,dualrun_mismatch_kind=%q,dualrun_outcome="mismatch",dualrun_primary=%q}`, experiment, k, p))
		}
	}
	slices.Sort(out)
	return out
}

// TestPrometheusAfterOneMatch: after one compared call, a match, every
// outcome series of the experiment is in the scrape, at 1 for the match and
// 0 for the rest, so that increase() and alerts see the first occurrence of
// any of them.
func TestPrometheusAfterOneMatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScrape(t)
		const name = "checkout.price"
		exp := dualrun.New[int](name, dualrun.WithMeterProvider(s.mp),
			dualrun.WithRollout(rollout.Static{Shadow: rollout.All}))
		defer shutdown(t, exp)
		if _, err := exp.Run(context.Background(), ok(42), ok(42)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the shadow has compared and recorded

		got := s.series(t, "dualrun_comparisons_total", name)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		})
		if want := outcomeSeries(name); !slices.Equal(keys, want) {
			t.Fatalf("dualrun_comparisons_total series:\n got %q\nwant %q", keys, want)
		}
		for k, v := range got {
			want := 0.0
			if k == fmt.Sprintf(`{dualrun_experiment=%q,dualrun_outcome="match",dualrun_primary="legacy"}`, name) {
				want = 1
			}
			if v != want {
				t.Errorf("dualrun_comparisons_total%s = %v, want %v", k, v, want)
			}
		}
		text := s.text(t)
		for _, line := range []string{
			`# TYPE dualrun_comparisons_total counter`,
			`# TYPE dualrun_call_duration_seconds histogram`,
			`# TYPE dualrun_calls_total counter`,
			`# TYPE dualrun_shadow_inflight gauge`,
		} {
			if !strings.Contains(text, line) {
				t.Errorf("scrape has no line %q", line)
			}
		}
		if !strings.Contains(text, `dualrun_call_duration_seconds_bucket{dualrun_experiment="checkout.price",dualrun_role="shadow",dualrun_side="candidate"`) {
			t.Error("scrape has no dualrun_call_duration_seconds_bucket series of the shadow")
		}
		t.Logf("scrape after one match:\n%s", dualrunLines(text))
	})
}

// TestPrometheusErrorTypeOfWrappedError: error.type names the innermost
// meaningful error, not fmt's wrapper.
func TestPrometheusErrorTypeOfWrappedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScrape(t)
		const name = "catalog.load"
		exp := dualrun.New[int](name, dualrun.WithMeterProvider(s.mp),
			dualrun.WithRollout(rollout.Static{Shadow: rollout.All}))
		defer shutdown(t, exp)
		load := func(context.Context) (int, error) {
			return 0, fmt.Errorf("load: %w", &fs.PathError{Op: "open", Path: "/srv/catalog.json", Err: fs.ErrNotExist})
		}
		if _, err := exp.Run(context.Background(), ok(1), load); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		got := s.series(t, "dualrun_call_duration_seconds", name)
		want := map[string]float64{
			`{dualrun_experiment="catalog.load",dualrun_role="primary",dualrun_side="legacy"}`:                              1,
			`{dualrun_experiment="catalog.load",dualrun_role="shadow",dualrun_side="candidate",error_type="*fs.PathError"}`: 1,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("dualrun_call_duration_seconds counts:\n got %v\nwant %v", got, want)
		}
		text := s.text(t)
		if strings.Contains(text, "wrapError") {
			t.Error("the scrape names fmt's wrapper")
		}
		t.Logf("scrape after a wrapped *fs.PathError:\n%s", dualrunLines(text, "error_type"))
	})
}

// TestPrometheusMetricAttributes: custom attributes are labels of
// dualrun_comparisons_total and dualrun_call_duration_seconds, spelled as
// the exporter spells them (dots become underscores); a hook that fails
// counts in dualrun_attributes="_OTHER".
func TestPrometheusMetricAttributes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var handled []string
		prev := otel.GetErrorHandler()
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled = append(handled, err.Error()) }))
		defer otel.SetErrorHandler(prev)
		s := newScrape(t)
		const name = "search.rank"
		type tierKey struct{}
		exp := dualrun.New[int](name, dualrun.WithMeterProvider(s.mp),
			dualrun.WithRollout(rollout.Static{Shadow: rollout.All}),
			dualrun.WithMetricAttributes(func(ctx context.Context) []attribute.KeyValue {
				tier, _ := ctx.Value(tierKey{}).(string)
				if tier == "" {
					panic("no tier")
				}
				return []attribute.KeyValue{attribute.String("tenant.tier", tier)}
			}))
		defer shutdown(t, exp)
		for _, tier := range []string{"gold", ""} {
			if _, err := exp.Run(context.WithValue(context.Background(), tierKey{}, tier), ok(1), ok(1)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		got := s.series(t, "dualrun_comparisons_total", name)
		for k, want := range map[string]float64{
			`{dualrun_experiment="search.rank",dualrun_outcome="match",dualrun_primary="legacy",tenant_tier="gold"}`:          1,
			`{dualrun_attributes="_OTHER",dualrun_experiment="search.rank",dualrun_outcome="match",dualrun_primary="legacy"}`: 1,
			`{dualrun_experiment="search.rank",dualrun_outcome="match",dualrun_primary="legacy"}`:                             0,
		} {
			if v, found := got[k]; !found || v != want {
				t.Errorf("dualrun_comparisons_total%s = %v (present %v), want %v", k, v, found, want)
			}
		}
		if n := len(got); n != 3*20 {
			t.Errorf("%d series, want 60: 20 for each of the base, gold and overflow sets", n)
		}
		dur := s.series(t, "dualrun_call_duration_seconds", name)
		if dur[`{dualrun_experiment="search.rank",dualrun_role="shadow",dualrun_side="candidate",tenant_tier="gold"}`] != 1 {
			t.Errorf("dualrun_call_duration_seconds series: %v, want the gold shadow's", dur)
		}
		if len(handled) != 1 || !strings.Contains(handled[0], "panic: no tier") {
			t.Errorf("otel.Handle got %q, want the hook's panic once", handled)
		}
		t.Logf("scrape with WithMetricAttributes:\n%s", dualrunLines(s.text(t), "primary=\"legacy\",", "outcome=\"match\""))
	})
}

// TestPrometheusFamilies pins the name, type and labels of every dualrun
// metric family as Prometheus shows them.
func TestPrometheusFamilies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScrape(t)
		const name = "cart.total"
		type cart struct{ Total int }
		failing := dualrun.NamePublisher("audit", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
			return errors.New("audit log down")
		}))
		prev := otel.GetErrorHandler()
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) // the failed publish is reported there
		defer otel.SetErrorHandler(prev)
		exp := dualrun.New[cart](name, dualrun.WithMeterProvider(s.mp),
			dualrun.WithRollout(rollout.Static{Shadow: rollout.All}), dualrun.WithPublisher(failing))
		defer shutdown(t, exp)
		legacy := func(context.Context) (cart, error) { return cart{Total: 1}, nil }
		candidate := func(context.Context) (cart, error) { return cart{Total: 2}, nil }
		if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // compared, recorded, and its Report's publish failed

		mfs, err := s.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := make(map[string]string)
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "dualrun_") {
				continue
			}
			labels := make(map[string]bool)
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if !strings.HasPrefix(l.GetName(), "otel_scope_") {
						labels[l.GetName()] = true
					}
				}
			}
			got[mf.GetName()] = mf.GetType().String() + " " + strings.Join(slices.Sorted(maps.Keys(labels)), ",")
		}
		want := map[string]string{
			"dualrun_calls_total":           "COUNTER dualrun_compared,dualrun_experiment,dualrun_primary",
			"dualrun_comparisons_total":     "COUNTER dualrun_experiment,dualrun_mismatch_kind,dualrun_outcome,dualrun_primary",
			"dualrun_call_duration_seconds": "HISTOGRAM dualrun_experiment,dualrun_role,dualrun_side",
			"dualrun_shadow_inflight":       "GAUGE dualrun_experiment",
			"dualrun_mismatch_fields_total": "COUNTER dualrun_experiment,dualrun_field",
			"dualrun_reports_dropped_total": "COUNTER dualrun_experiment,dualrun_exporter",
		}
		if !maps.Equal(got, want) {
			t.Errorf("families:\n got %v\nwant %v", got, want)
		}
		t.Logf("scrape after one value mismatch whose Report failed to publish:\n%s",
			dualrunLines(s.text(t), "dualrun_"))
	})
}

// dualrunLines returns the lines of text about dualrun's metrics (the
// HELP/TYPE lines and the series, of histograms only the +Inf bucket),
// those with all of must if given.
func dualrunLines(text string, must ...string) string {
	var out []string
	for line := range strings.Lines(text) {
		if !strings.Contains(line, "dualrun_") ||
			strings.Contains(line, "_bucket{") && !strings.Contains(line, `le="+Inf"`) {
			continue
		}
		keep := true
		for _, m := range must {
			if !strings.HasPrefix(line, "#") && !strings.Contains(line, m) {
				keep = false
			}
		}
		if keep {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

func ok(v int) dualrun.Func[int] {
	return func(context.Context) (int, error) { return v, nil }
}

func shutdown(t *testing.T, exp interface{ Shutdown(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
