package dashboards_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
	"github.com/prometheus/common/model"
)

// This file says what each expression of the dashboard and the rules must
// return after the end-to-end run, from the model of the input set.
//
// Why the counts can be exact: the queries are evaluated at the time of the
// last scrape, over a window that holds the whole run, and every outcome
// series starts at 0 (the warm-up request's match at 1; the series are
// zero-initialised). rate() then extrapolates neither past the last sample
// nor, for a counter that starts near 0, before its first: rate(x[5m]) *
// 300 is the counter's final value. Series that are not zero-initialised
// (differing fields, durations with error.type) may be extrapolated less
// than their first sample: their checks allow exactly that.

// check is the expected result of one expression.
type check struct {
	fn func(model.Vector) error
	// later: evaluate the expression once the rules have run on the last
	// scrape (alerts read recorded series), not at the last scrape.
	later bool
}

// observed is what the checks need from Prometheus besides the expression:
// the histogram's bucket bounds, and the first sample of the series that
// are not zero-initialised.
type observed struct {
	les        []float64
	fieldFirst map[string]float64
	errFirst   map[string]float64 // by "side|error_type"
	stats      serviceStats       // the service's in-process statistics
}

func observe(ctx context.Context, t *testing.T, prom *e2e.Prometheus, tLast time.Time, stats serviceStats) observed {
	t.Helper()
	o := observed{fieldFirst: map[string]float64{}, errFirst: map[string]float64{}, stats: stats}
	vec, err := prom.Vector(ctx, `count by (le) (dualrun_call_duration_seconds_bucket{`+sel+`})`, tLast)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range vec {
		le, err := strconv.ParseFloat(string(s.Metric["le"]), 64)
		if err != nil {
			t.Fatalf("le %q: %v", s.Metric["le"], err)
		}
		o.les = append(o.les, le)
	}
	slices.Sort(o.les)
	if len(o.les) < 2 || !math.IsInf(o.les[len(o.les)-1], 1) {
		t.Fatalf("bucket bounds %v: want several, +Inf last", o.les)
	}
	first := func(expr string, key func(model.Metric) string, into map[string]float64) {
		mat, err := prom.Matrix(ctx, expr, tLast)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range mat {
			into[key(s.Metric)] += float64(s.Values[0].Value)
		}
	}
	first(`dualrun_mismatch_fields_total{`+sel+`}[5m]`,
		func(mt model.Metric) string { return string(mt["dualrun_field"]) }, o.fieldFirst)
	first(`dualrun_call_duration_seconds_count{`+sel+`, error_type!=""}[5m]`,
		func(mt model.Metric) string { return string(mt["dualrun_side"]) + "|" + string(mt["error_type"]) }, o.errFirst)
	return o
}

// group returns the values of vec by the values of labels (joined with
// "|"), checking that every series is the experiment's and that no two
// share a key.
func group(vec model.Vector, labels ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(vec))
	for _, s := range vec {
		if e := s.Metric["dualrun_experiment"]; e != experiment {
			return nil, fmt.Errorf("series %v: want dualrun_experiment=%q", s.Metric, experiment)
		}
		var parts []string
		for _, l := range labels {
			v, ok := s.Metric[model.LabelName(l)]
			if !ok {
				return nil, fmt.Errorf("series %v lacks label %s", s.Metric, l)
			}
			parts = append(parts, string(v))
		}
		k := strings.Join(parts, "|")
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("two series for %s=%s", strings.Join(labels, ","), k)
		}
		out[k] = float64(s.Value)
	}
	return out, nil
}

// approx compares floating-point results of exact counts.
func approx(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// equal checks that vec has exactly the series of want (by labels), each
// with its value.
func equal(want map[string]float64, labels ...string) func(model.Vector) error {
	return within(func(k string) (lo, hi float64, ok bool) {
		w, ok := want[k]
		return w, w, ok
	}, len(want), labels...)
}

// within checks that vec has exactly n series (by labels), each with a
// value within the bounds bound gives its key.
func within(bound func(key string) (lo, hi float64, ok bool), n int, labels ...string) func(model.Vector) error {
	return func(vec model.Vector) error {
		got, err := group(vec, labels...)
		if err != nil {
			return err
		}
		if len(got) != n {
			return fmt.Errorf("%d series by %v, want %d: %v", len(got), labels, n, got)
		}
		var errs []string
		for _, k := range slices.Sorted(maps.Keys(got)) {
			lo, hi, ok := bound(k)
			v := got[k]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("unexpected series %s=%v", k, v))
			case lo == hi && !approx(v, lo):
				errs = append(errs, fmt.Sprintf("%s = %v, want %v", k, v, lo))
			case lo != hi && (v < lo-1e-12 || v > hi+1e-12):
				errs = append(errs, fmt.Sprintf("%s = %v, want in [%v, %v]", k, v, lo, hi))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
}

// perSecond turns counts into the rate over the window.
func perSecond[K comparable](counts map[K]int) map[K]float64 {
	out := make(map[K]float64, len(counts))
	for k, c := range counts {
		out[k] = float64(c) / window
	}
	return out
}

func toFloat[K comparable](counts map[K]int) map[K]float64 {
	out := make(map[K]float64, len(counts))
	for k, c := range counts {
		out[k] = float64(c)
	}
	return out
}

// expectations returns the check of every expression, by query key.
func expectations(m inputModel, o observed) map[string]check {
	n := float64(m.n)
	rated := float64(m.rated())
	c := map[string]check{}
	add := func(key string, fn func(model.Vector) error) { c[key] = check{fn: fn} }
	experimentOnly := func(v float64) func(model.Vector) error {
		return equal(map[string]float64{"": v})
	}

	// Mismatch rate.
	for _, k := range []string{"dashboard/Mismatch rate/A", "dashboard/Mismatch rate per experiment/A", "record/experiment:dualrun_mismatch_ratio:rate5m"} {
		add(k, experimentOnly(m.mismatchRate()))
	}
	byKind := map[string]float64{}
	for k, cnt := range m.kinds {
		byKind[k] = float64(cnt) / rated
	}
	add("dashboard/Mismatch rate by kind/A", equal(byKind, "dualrun_mismatch_kind"))
	add("record/experiment:dualrun_rated_comparisons:rate5m", experimentOnly(rated/window))

	// Outcomes: every one has a series, at its exact count.
	outcomeRates := perSecond(m.outcomes)
	add("dashboard/Outcomes over time/A", equal(outcomeRates, "dualrun_outcome"))
	add("record/experiment_outcome:dualrun_comparisons:rate5m", equal(outcomeRates, "dualrun_outcome"))
	add("dashboard/Shadow panics and timeouts/A", equal(map[string]float64{
		"panic":   float64(m.outcomes["panic"]),
		"timeout": float64(m.outcomes["timeout"]),
	}, "dualrun_outcome"))
	timeoutRatio := float64(m.outcomes["timeout"]) / float64(m.compared()-m.outcomes["shed"])
	add("record/experiment:dualrun_timeout_ratio:rate5m", experimentOnly(timeoutRatio))

	// Primary side and calls.
	add("dashboard/Current primary side/A", equal(map[string]float64{"legacy": n / window}, "dualrun_primary"))
	add("dashboard/Compared calls/A", experimentOnly(n/window))
	add("dashboard/Calls by primary and compared/A", equal(map[string]float64{
		"legacy|true": n / window, "legacy|false": 0, "candidate|true": 0, "candidate|false": 0,
	}, "dualrun_primary", "dualrun_compared"))

	// Shedding and in-flight: none at the end of the run.
	add("dashboard/Shed/A", experimentOnly(0))
	add("record/experiment:dualrun_shed_ratio:rate5m", experimentOnly(0))
	add("dashboard/Shadows in flight/A", experimentOnly(0))

	// Top differing fields: increase() over the run is the field's count,
	// less at most its first scraped value (the series is made on the first
	// mismatch of that field).
	fields := toFloat(m.fields)
	add("dashboard/Top differing fields/A", within(func(k string) (float64, float64, bool) {
		w, ok := fields[k]
		return w - o.fieldFirst[k], w, ok
	}, len(fields), "dualrun_field"))

	// Errors by side and error.type, likewise bounded by the first sample.
	errs, untimed := map[string]float64{}, map[string]float64{}
	for k, cnt := range m.errorTypes {
		errs[k.side+"|"+k.errorType] = float64(cnt)
	}
	for k, cnt := range m.untimed {
		untimed[k.side+"|"+k.errorType] = float64(cnt)
	}
	add("dashboard/Errors by side and error.type/A", within(func(k string) (float64, float64, bool) {
		w, ok := errs[k]
		return (w - o.errFirst[k] - untimed[k]) / window, w / window, ok
	}, len(errs), "dualrun_side", "error_type"))

	// The fleet ramp's volumes and candidate failure rate. Error series
	// are not zero-initialised: each may lack its first scraped value.
	add("record/experiment:dualrun_compared_comparisons:rate5m",
		experimentOnly(float64(m.compared()-m.outcomes["aborted"]-m.outcomes["shed"])/window))
	sideErrs, sideFirst := map[string]float64{}, map[string]float64{}
	for k, cnt := range m.errorTypes {
		sideErrs[k.side] += float64(cnt)
	}
	for k, v := range o.errFirst {
		side, _, _ := strings.Cut(k, "|")
		sideFirst[side] += v
	}
	add("record/experiment:dualrun_candidate_failure_ratio:rate5m", within(func(string) (float64, float64, bool) {
		e, f := sideErrs["candidate"], sideFirst["candidate"]
		return (e - f) / n, e / (n - f), true
	}, 1))
	add("record/experiment_side:dualrun_call_duration_seconds_count:rate5m", within(func(side string) (float64, float64, bool) {
		switch side {
		case "candidate":
			return (n - sideFirst[side]) / window, n / window, true
		case "legacy":
			return (n - float64(m.untimedLegacy()) - sideFirst[side]) / window, n / window, true
		}
		return 0, 0, false
	}, 2, "dualrun_side"))

	// Latency: each quantile within the bucket that holds the true sample
	// quantile (histogram_quantile interpolates inside that bucket). The
	// reference is dualrun's in-process quantile, from the same
	// observations, within 1/64 of the exact one: when that margin
	// straddles a bucket bound, both buckets are allowed.
	qb := func(side string, phi float64) (lo, hi float64) {
		x := o.stats.quantile(side, phi)
		lo, _, err1 := bucket(o.les, x*(1-1.0/64))
		_, hi, err2 := bucket(o.les, x*(1+1.0/64))
		if err1 != nil || err2 != nil {
			panic(fmt.Sprint(err1, err2))
		}
		return lo, hi
	}
	quantile := func(phi float64) func(model.Vector) error {
		return within(func(side string) (float64, float64, bool) {
			if side != "legacy" && side != "candidate" {
				return 0, 0, false
			}
			lo, hi := qb(side, phi)
			return lo, hi, true
		}, 2, "dualrun_side")
	}
	add("dashboard/Latency p50 per side/A", quantile(0.5))
	add("dashboard/Latency p99 per side/A", quantile(0.99))
	add("record/experiment_side:dualrun_call_duration_seconds:p50_rate5m", quantile(0.5))
	add("record/experiment_side:dualrun_call_duration_seconds:p99_rate5m", quantile(0.99))
	ratio := func(phi float64) func(model.Vector) error {
		clo, chi := qb("candidate", phi)
		llo, lhi := qb("legacy", phi)
		return within(func(string) (float64, float64, bool) { return clo / lhi, chi / llo, true }, 1)
	}
	add("dashboard/Latency ratio candidate / legacy/A", ratio(0.5))
	add("dashboard/Latency ratio candidate / legacy/B", ratio(0.99))

	// Alerts, evaluated once the rules have run on the last scrape: the
	// ones the run must fire return their series, the others nothing.
	later := func(key string, fn func(model.Vector) error) { c[key] = check{fn: fn, later: true} }
	rel := func(want, tol float64) func(string) (float64, float64, bool) {
		return func(string) (float64, float64, bool) { return want * (1 - tol), want * (1 + tol), true }
	}
	// After the last scrape, rate() extrapolates every series of a ratio
	// alike: ratios stay put (1% allowed).
	later("alert/DualrunMismatchRateHigh", within(rel(m.mismatchRate(), 0.01), 1))
	later("alert/DualrunShadowTimeouts", within(rel(timeoutRatio, 0.01), 1))
	// increase() extrapolates up to the evaluation time: at least the
	// count, and at most one scrape interval more of it.
	later("alert/DualrunShadowPanics", within(func(string) (float64, float64, bool) {
		p := float64(m.outcomes["panic"])
		return p, 1.2 * p, true
	}, 1))
	// The comparison keeps the candidate's p99 (ignoring drops the side).
	later("alert/DualrunCandidateLatencyRegression", within(func(string) (float64, float64, bool) {
		lo, hi := qb("candidate", 0.99)
		return lo, hi, true
	}, 1))
	later("alert/DualrunShedding", func(vec model.Vector) error {
		if len(vec) > 0 {
			return fmt.Errorf("shedding alert active on a run that sheds nothing: %v", vec)
		}
		return nil
	})
	return c
}
