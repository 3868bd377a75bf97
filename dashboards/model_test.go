package dashboards_test

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

// inputModel is what the service example must report for the first n requests
// of its known input set, worked out here by calling the two shipping
// implementations directly, without dualrun: the ground truth the
// dashboards' numbers are checked against.
type inputModel struct {
	n int
	// outcomes counts calls by dualrun.outcome; kinds counts mismatches by
	// dualrun.mismatch.kind.
	outcomes map[string]int
	kinds    map[string]int
	// fields counts differing field paths of value mismatches, as dualrun
	// names them (".CostCents").
	fields map[string]int
	// errorTypes counts calls on which a side erred, by side and
	// error.type.
	errorTypes map[sideType]int
	// durations are the nominal durations of each side, in seconds.
	durations map[string][]float64
	// statuses counts the HTTP status codes the load generator gets.
	statuses map[string]int
	// untimed counts, by side and error.type ("" for none), the legacy
	// observations dualrun may not record: when a shadow times out, the
	// primary's duration is recorded only if the primary has returned by
	// then (always, unless the machine stalls a 30 ms call for a second).
	untimed map[sideType]int
	// paths lists, per value mismatch, its differing paths.
	paths [][]string
}

type sideType struct{ side, errorType string }

// Every outcome and mismatch kind of the telemetry contract: each must have
// a series from the first compared call.
var (
	allOutcomes = []string{"match", "mismatch", "ignored", "timeout", "panic", "error", "aborted", "shed"}
	allKinds    = []string{"value", "error", "errors_differ"}
)

func newModel(n int) inputModel {
	m := inputModel{
		n:          n,
		outcomes:   map[string]int{},
		kinds:      map[string]int{},
		fields:     map[string]int{},
		errorTypes: map[sideType]int{},
		durations:  map[string][]float64{},
		statuses:   map[string]int{},
		untimed:    map[sideType]int{},
	}
	for _, o := range allOutcomes {
		m.outcomes[o] = 0
	}
	for _, k := range allKinds {
		m.kinds[k] = 0
	}
	for _, req := range shipping.Inputs(n) {
		m.add(req)
	}
	return m
}

// add classifies one request as dualrun does with legacy primary, the
// default comparison (== on values; two errors are equivalent) and the
// service's shadow timeout.
func (m *inputModel) add(req shipping.Request) {
	lq, lerr := shipping.LegacyQuote(req)
	m.durations["legacy"] = append(m.durations["legacy"], shipping.LegacyLatency(req).Seconds())
	if lerr != nil {
		m.errorTypes[sideType{"legacy", fmt.Sprintf("%T", lerr)}]++
		m.statuses["422"]++
	} else {
		m.statuses["200"]++
	}

	cl := shipping.CandidateLatency(req)
	if cl >= shipping.ShadowTimeout {
		lt := ""
		if lerr != nil {
			lt = fmt.Sprintf("%T", lerr)
		}
		m.untimed[sideType{"legacy", lt}]++
		m.outcomes["timeout"]++
		m.durations["candidate"] = append(m.durations["candidate"], shipping.ShadowTimeout.Seconds())
		m.errorTypes[sideType{"candidate", "timeout"}]++
		return
	}
	m.durations["candidate"] = append(m.durations["candidate"], cl.Seconds())
	cq, panicked, cerr := candidate(req)
	switch {
	case panicked:
		m.outcomes["panic"]++
		m.errorTypes[sideType{"candidate", "panic"}]++
		return
	case cerr != nil:
		m.errorTypes[sideType{"candidate", fmt.Sprintf("%T", cerr)}]++
	}
	switch {
	case lerr != nil && cerr != nil, lerr == nil && cerr == nil && lq == cq:
		m.outcomes["match"]++
	case lerr != nil || cerr != nil:
		m.outcomes["mismatch"]++
		m.kinds["error"]++
	default:
		m.outcomes["mismatch"]++
		m.kinds["value"]++
		paths := differingFields(lq, cq)
		for _, p := range paths {
			m.fields[p]++
		}
		m.paths = append(m.paths, paths)
	}
}

// candidate calls the rewrite, recovering its panic.
func candidate(req shipping.Request) (q shipping.Quote, panicked bool, err error) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	q, err = shipping.CandidateQuote(req)
	return q, false, err
}

// differingFields names the fields of two quotes that differ, as dualrun's
// folded paths do.
func differingFields(a, b shipping.Quote) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if va.Field(i).Interface() != vb.Field(i).Interface() {
			out = append(out, "."+va.Type().Field(i).Name)
		}
	}
	return out
}

// rated is the mismatch rate's denominator.
func (m inputModel) rated() int {
	return m.outcomes["match"] + m.outcomes["mismatch"] + m.outcomes["ignored"]
}

func (m inputModel) mismatchRate() float64 {
	return float64(m.outcomes["mismatch"]) / float64(m.rated())
}

// untimedLegacy is how many legacy durations may be missing (see untimed).
func (m inputModel) untimedLegacy() int {
	n := 0
	for _, c := range m.untimed {
		n += c
	}
	return n
}

// compared is the number of calls that were to be compared (every call).
func (m inputModel) compared() int {
	n := 0
	for _, c := range m.outcomes {
		n += c
	}
	return n
}

// quantile is the phi-quantile of the nominal durations of side, in
// seconds: the smallest duration with at least phi of them at or below it.
func (m inputModel) quantile(side string, phi float64) float64 {
	xs := slices.Sorted(slices.Values(m.durations[side]))
	i := int(math.Ceil(phi*float64(len(xs)))) - 1
	return xs[max(i, 0)]
}

// bucket returns the bounds (lo, hi] of the histogram bucket that holds x,
// among the upper bounds les (sorted, +Inf last).
func bucket(les []float64, x float64) (lo, hi float64, err error) {
	lo = 0
	for _, le := range les {
		if x <= le {
			return lo, le, nil
		}
		lo = le
	}
	return 0, 0, fmt.Errorf("%v is above every bucket", x)
}

// TestModel checks the model on the input set the end-to-end test sends:
// every outcome the dashboards and alerts must show happens.
func TestModel(t *testing.T) {
	m := newModel(e2eRequests)
	t.Logf("model of %d requests: outcomes %v, kinds %v, fields %v, error types %v, statuses %v",
		m.n, m.outcomes, m.kinds, m.fields, m.errorTypes, m.statuses)
	tests := []struct {
		name   string
		reason string
		ok     bool
	}{
		{"value mismatches", "the mismatch panels and the top differing fields need some", m.kinds["value"] > 0},
		{"error mismatches", "the mismatch-by-kind panel shows the error kind", m.kinds["error"] > 0},
		{"panics", "DualrunShadowPanics must fire", m.outcomes["panic"] > 0},
		{"timeouts over 1%", "DualrunShadowTimeouts fires over 1% of calls", float64(m.outcomes["timeout"]) > 0.015*float64(m.n)},
		{"mismatch rate over 1%", "DualrunMismatchRateHigh fires over 1%", m.mismatchRate() > 0.02},
		{"at least 100 rated comparisons", "DualrunMismatchRateHigh needs 100 in 5 minutes", m.rated() >= 100},
		{"legacy errors", "the errors panel shows legacy's error.type", m.statuses["422"] > 0},
		{
			"first request matches", "the load generator's warm-up request must be a match",
			firstMatches(),
		},
		{"every call compared", "the service compares every call", m.compared() == m.n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("%s does not hold for the input set: %s", tt.name, tt.reason)
			}
		})
	}
}

func firstMatches() bool {
	req := shipping.Inputs(1)[0]
	lq, lerr := shipping.LegacyQuote(req)
	cq, panicked, cerr := candidate(req)
	return !panicked && lerr == nil && cerr == nil && lq == cq &&
		shipping.CandidateLatency(req) < shipping.ShadowTimeout
}

// TestBucket pins the bucket lookup the quantile checks rely on.
func TestBucket(t *testing.T) {
	les := []float64{0.01, 0.025, 0.05, math.Inf(1)}
	tests := []struct {
		name   string
		reason string
		x      float64
		lo, hi float64
	}{
		{"inside", "a value between two bounds", 0.012, 0.01, 0.025},
		{"on a bound", "buckets are (lo, hi]: le is inclusive", 0.025, 0.01, 0.025},
		{"first", "the first bucket starts at 0", 0.001, 0, 0.01},
		{"last", "the +Inf bucket holds the rest", 3, 0.05, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi, err := bucket(les, tt.x)
			if err != nil || lo != tt.lo || hi != tt.hi {
				t.Errorf("bucket(%v) = (%v, %v], %v; want (%v, %v] (%s)", tt.x, lo, hi, err, tt.lo, tt.hi, tt.reason)
			}
		})
	}
	if _, _, err := bucket([]float64{1}, 2); err == nil {
		t.Error("bucket above every bound: want an error")
	}
}
