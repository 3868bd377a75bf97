package fleetramp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/dualrun/dualrun/rollout"
)

// Signals is what a [Source] read for one experiment at one evaluation.
type Signals struct {
	// Window holds the guard's signals over Range: the configured window,
	// cut to the time since the step began.
	Window rollout.WindowStats
	// Range is the PromQL range the signals were computed over.
	Range time.Duration
	// InStep is the number of comparisons since the step began.
	InStep int64
	// Missing names the queries that returned no data; the signals they
	// feed have no samples, so the step holds.
	Missing []string
}

// Source reads an experiment's guard signals, aggregated across the
// fleet. [PrometheusSource] is the one the command uses.
type Source interface {
	// Signals reads the signals of experiment at now over the window, never
	// reaching back before stepStarted. An error means nothing could be
	// read (the controller then holds the step).
	Signals(ctx context.Context, experiment string, now, stepStarted time.Time, window time.Duration) (Signals, error)
}

// ErrTooEarly is returned by [PrometheusSource.Signals] when the step began
// less than a second ago: there is no range to query yet.
var ErrTooEarly = errors.New("fleetramp: the step began less than 1s ago")

// The queries, written as the recording rules of dashboards/rules.yml with
// the range and the experiment left open: RANGE is replaced with the range
// in seconds and SEL with a dualrun_experiment matcher. A recording rule
// has a fixed range (5m); the controller must never judge a step by data
// from before it began, so it evaluates the rules' expressions itself over
// min(window, time in step) instead of reading the recorded series. With
// RANGE=5m and no SEL each expression is its rule's, and a test keeps them
// equal.
const (
	queryMismatchRatio = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{SEL dualrun_outcome="mismatch"}[RANGE]))
  / sum by (dualrun_experiment) (rate(dualrun_comparisons_total{SEL dualrun_outcome=~"match|mismatch|ignored"}[RANGE]))`
	queryRated        = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{SEL dualrun_outcome=~"match|mismatch|ignored"}[RANGE]))`
	queryCompared     = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{SEL dualrun_outcome!~"aborted|shed"}[RANGE]))`
	queryFailureRatio = `sum by (dualrun_experiment) (rate(dualrun_call_duration_seconds_count{SEL dualrun_side="candidate", error_type!~"|canceled"}[RANGE]))
  / sum by (dualrun_experiment) (rate(dualrun_call_duration_seconds_count{SEL dualrun_side="candidate"}[RANGE]))`
	querySideCalls = `sum by (dualrun_experiment, dualrun_side) (rate(dualrun_call_duration_seconds_count{SEL}[RANGE]))`
	querySideP99   = `histogram_quantile(0.99, sum by (dualrun_experiment, dualrun_side, le) (rate(dualrun_call_duration_seconds_bucket{SEL}[RANGE])))`
)

// Rules maps the recording rules the controller's queries mirror to the
// query templates, for the test that keeps them equal.
var ruleQueries = map[string]string{
	"experiment:dualrun_mismatch_ratio:rate5m":                   queryMismatchRatio,
	"experiment:dualrun_rated_comparisons:rate5m":                queryRated,
	"experiment:dualrun_compared_comparisons:rate5m":             queryCompared,
	"experiment:dualrun_candidate_failure_ratio:rate5m":          queryFailureRatio,
	"experiment_side:dualrun_call_duration_seconds_count:rate5m": querySideCalls,
	"experiment_side:dualrun_call_duration_seconds:p99_rate5m":   querySideP99,
}

// render fills a query template for experiment (none: all) and a range,
// in one pass, so that nothing in the experiment's name is replaced.
func render(tmpl, experiment, rng string) string {
	if experiment == "" {
		return strings.NewReplacer("RANGE", rng, "{SEL}", "", "{SEL ", "{").Replace(tmpl)
	}
	m := "dualrun_experiment=" + strconv.Quote(experiment)
	return strings.NewReplacer("RANGE", rng, "{SEL}", "{"+m+"}", "{SEL ", "{"+m+",").Replace(tmpl)
}

// PrometheusSource reads the signals from Prometheus through its HTTP API:
// the fleet's dualrun metrics, summed across replicas.
type PrometheusSource struct {
	API promv1.API
}

// promRange renders d as a PromQL range in whole seconds.
func promRange(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// Signals implements [Source] with instant queries at now over
// min(window, now-stepStarted), rounded down to whole seconds. Each query
// is one expression of a recording rule ([PrometheusSource] documents
// why); a query that returns no series for the experiment is reported in
// [Signals.Missing] and its signals get no samples. Any query error is
// returned: nothing is judged on part of the data.
func (p PrometheusSource) Signals(ctx context.Context, experiment string, now, stepStarted time.Time, window time.Duration) (Signals, error) {
	in := now.Sub(stepStarted)
	rng := min(window, in).Truncate(time.Second)
	if rng < time.Second {
		return Signals{}, ErrTooEarly
	}
	s := Signals{Range: rng}
	secs := rng.Seconds()
	q := func(tmpl string, r time.Duration) (model.Vector, error) {
		expr := render(tmpl, experiment, promRange(r))
		v, _, _, err := p.API.Query(ctx, expr, now)
		if err != nil {
			return nil, fmt.Errorf("fleetramp: query %s: %w", expr, err)
		}
		vec, ok := v.(model.Vector)
		if !ok {
			return nil, fmt.Errorf("fleetramp: query %s: a %s result, want a vector", expr, v.Type())
		}
		if len(vec) == 0 {
			s.Missing = append(s.Missing, expr)
		}
		return vec, nil
	}
	one := func(vec model.Vector) float64 {
		if len(vec) == 0 {
			return math.NaN()
		}
		return float64(vec[0].Value)
	}
	count := func(rate, secs float64) int64 {
		if math.IsNaN(rate) || rate <= 0 || math.IsInf(rate, 0) {
			return 0
		}
		return int64(math.Round(min(rate*secs, math.MaxInt64/2)))
	}
	ws := &s.Window
	ws.Span = rng

	compared, err := q(queryCompared, rng)
	if err != nil {
		return Signals{}, err
	}
	ws.Comparisons = count(one(compared), secs)
	s.InStep = ws.Comparisons
	if in.Truncate(time.Second) > rng {
		// The step is longer than the window: count it whole.
		inStep, err := q(queryCompared, in.Truncate(time.Second))
		if err != nil {
			return Signals{}, err
		}
		s.InStep = count(one(inStep), in.Truncate(time.Second).Seconds())
	}
	rated, err := q(queryRated, rng)
	if err != nil {
		return Signals{}, err
	}
	ws.MismatchSamples = count(one(rated), secs)
	mr, err := q(queryMismatchRatio, rng)
	if err != nil {
		return Signals{}, err
	}
	ws.MismatchRate = one(mr)
	sides, err := q(querySideCalls, rng)
	if err != nil {
		return Signals{}, err
	}
	for _, smp := range sides {
		switch string(smp.Metric["dualrun_side"]) {
		case "legacy":
			ws.LegacySamples = count(float64(smp.Value), secs)
		case "candidate":
			ws.CandidateSamples = count(float64(smp.Value), secs)
		}
	}
	ws.FailureSamples = ws.CandidateSamples
	fr, err := q(queryFailureRatio, rng)
	if err != nil {
		return Signals{}, err
	}
	ws.CandidateFailureRate = one(fr)
	p99, err := q(querySideP99, rng)
	if err != nil {
		return Signals{}, err
	}
	lp, cp := math.NaN(), math.NaN()
	for _, smp := range p99 {
		switch string(smp.Metric["dualrun_side"]) {
		case "legacy":
			lp = float64(smp.Value)
		case "candidate":
			cp = float64(smp.Value)
		}
	}
	ws.LegacyP99, ws.CandidateP99 = seconds(lp), seconds(cp)
	ws.P99Ratio = p99Ratio(lp, cp)
	return s, nil
}

// p99Ratio is candidate/legacy as the in-process ramp computes it: +Inf
// when only legacy is instant, NaN (not judged) when either is unknown.
func p99Ratio(legacy, candidate float64) float64 {
	switch {
	case math.IsNaN(legacy) || math.IsNaN(candidate):
		return math.NaN()
	case legacy > 0:
		return candidate / legacy
	case candidate > 0:
		return math.Inf(1)
	}
	return 1
}

func seconds(v float64) time.Duration {
	if math.IsNaN(v) || v < 0 || math.IsInf(v, 0) || v > float64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}
