package fleetramp_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dualrun/dualrun/fleetramp"
)

// promAPI serves the Prometheus HTTP API's /api/v1/query in its JSON
// format, answering each query whose text contains a key with that key's
// samples, and records the queries.
type promAPI struct {
	mu      sync.Mutex
	answers map[string][]sample // by a substring of the query
	status  int
	queries []string
}

type sample struct {
	labels map[string]string
	value  string
}

func (p *promAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	if p.status != 0 {
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"internal","error":"boom"}`))
		return
	}
	result := []map[string]any{}
	best := ""
	for k := range p.answers {
		if strings.HasPrefix(q, k) && len(k) > len(best) {
			best = k
		}
	}
	for _, s := range p.answers[best] {
		result = append(result, map[string]any{"metric": s.labels, "value": []any{1.0, s.value}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success", "data": map[string]any{"resultType": "vector", "result": result},
	})
}

func newPromSource(t *testing.T, p *promAPI) fleetramp.PrometheusSource {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	client, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return fleetramp.PrometheusSource{API: promv1.NewAPI(client)}
}

func one(v string) []sample {
	return []sample{{labels: map[string]string{"dualrun_experiment": "e"}, value: v}}
}

func sides(legacy, candidate string) []sample {
	return []sample{
		{labels: map[string]string{"dualrun_experiment": "e", "dualrun_side": "legacy"}, value: legacy},
		{labels: map[string]string{"dualrun_experiment": "e", "dualrun_side": "candidate"}, value: candidate},
	}
}

// The distinguishing beginnings of the queries: the server answers the
// longest that a query starts with.
const (
	kCompared = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{dualrun_experiment="e",dualrun_outcome!~`
	kRated    = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{dualrun_experiment="e",dualrun_outcome=~`
	kMismatch = `sum by (dualrun_experiment) (rate(dualrun_comparisons_total{dualrun_experiment="e",dualrun_outcome="mismatch"`
	kFailure  = `sum by (dualrun_experiment) (rate(dualrun_call_duration_seconds_count{dualrun_experiment="e",dualrun_side="candidate", error_type`
	kSides    = `sum by (dualrun_experiment, dualrun_side)`
	kP99      = `histogram_quantile(0.99`
)

func TestPrometheusSource(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	full := map[string][]sample{
		kCompared: one("10"), kRated: one("8"), kMismatch: one("0.25"), kFailure: one("0.1"),
		kSides: sides("10", "10"), kP99: sides("0.01", "0.03"),
	}
	tests := []struct {
		name        string
		reason      string
		answers     map[string][]sample
		status      int
		inStep      time.Duration
		wantErr     error  // errors.Is
		wantErrText string // or a substring
		check       func(t *testing.T, s fleetramp.Signals, queries []string)
	}{
		{
			"full data", "rates times the range are the samples; the ratios are read as they are", full, 0, 2 * time.Minute, nil, "",
			func(t *testing.T, s fleetramp.Signals, queries []string) {
				ws := s.Window
				if s.Range != 30*time.Second || ws.Comparisons != 300 || ws.MismatchSamples != 240 || ws.MismatchRate != 0.25 ||
					ws.CandidateFailureRate != 0.1 || ws.FailureSamples != 300 || ws.LegacySamples != 300 ||
					math.Abs(ws.P99Ratio-3) > 1e-9 || ws.CandidateP99 != 30*time.Millisecond || len(s.Missing) != 0 {
					t.Fatalf("signals %+v", s)
				}
				// The step is longer than the window: the comparisons in
				// the step are counted over the whole step.
				if s.InStep != 1200 {
					t.Fatalf("in step %d, want 10/s over 120s", s.InStep)
				}
				for _, q := range queries {
					if !strings.Contains(q, `dualrun_experiment="e"`) {
						t.Errorf("query without the experiment: %s", q)
					}
				}
			},
		},
		{
			"young step", "the range is cut to the time in the step", full, 0, 12*time.Second + 500*time.Millisecond, nil, "",
			func(t *testing.T, s fleetramp.Signals, queries []string) {
				if s.Range != 12*time.Second || s.InStep != 120 {
					t.Fatalf("range %v in step %d, want 12s and 120", s.Range, s.InStep)
				}
				for _, q := range queries {
					if !strings.Contains(q, "[12s]") {
						t.Errorf("query reaches before the step: %s", q)
					}
				}
			},
		},
		{
			"no series", "an experiment without metrics: every query (7, with the whole step's count) is reported missing, no samples",
			map[string][]sample{},
			0, time.Minute, nil, "",
			func(t *testing.T, s fleetramp.Signals, _ []string) {
				ws := s.Window
				if len(s.Missing) != 7 || ws.MismatchSamples != 0 || ws.FailureSamples != 0 || s.InStep != 0 ||
					!math.IsNaN(ws.MismatchRate) || !math.IsNaN(ws.P99Ratio) {
					t.Fatalf("signals %+v, want 7 missing and nothing judged", s)
				}
			},
		},
		{
			"NaN ratio", "0/0 from Prometheus is NaN, not healthy",
			map[string][]sample{kCompared: one("0"), kRated: one("0"), kMismatch: one("NaN")},
			0, time.Minute, nil, "",
			func(t *testing.T, s fleetramp.Signals, _ []string) {
				if !math.IsNaN(s.Window.MismatchRate) || s.Window.MismatchSamples != 0 {
					t.Fatalf("signals %+v", s)
				}
			},
		},
		{
			"legacy p99 zero", "as in-process: a candidate slower than an instant legacy is an infinite ratio",
			map[string][]sample{kP99: sides("0", "0.1")},
			0, time.Minute, nil, "",
			func(t *testing.T, s fleetramp.Signals, _ []string) {
				if !math.IsInf(s.Window.P99Ratio, 1) {
					t.Fatalf("p99 ratio %v, want +Inf", s.Window.P99Ratio)
				}
			},
		},
		{"server error", "Prometheus failing is an error, nothing is judged", full, http.StatusInternalServerError, time.Minute, nil, "500", nil},
		{"too early", "under a second in the step there is no range", full, 0, 999 * time.Millisecond, fleetramp.ErrTooEarly, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &promAPI{answers: tt.answers, status: tt.status}
			src := newPromSource(t, p)
			s, err := src.Signals(t.Context(), "e", now, now.Add(-tt.inStep), 30*time.Second)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Signals: %v, want %v (%s)", err, tt.wantErr, tt.reason)
				}
				return
			case tt.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("Signals: %v, want an error containing %q (%s)", err, tt.wantErrText, tt.reason)
				}
				return
			case err != nil:
				t.Fatalf("Signals: %v (%s)", err, tt.reason)
			}
			p.mu.Lock()
			queries := append([]string(nil), p.queries...)
			p.mu.Unlock()
			tt.check(t, s, queries)
		})
	}
}

// TestControllerOverPrometheus runs the controller on the Prometheus
// client: a fleet that mismatches on every call is rolled back with the
// signal named, and an unreachable Prometheus holds.
func TestControllerOverPrometheus(t *testing.T) {
	p := &promAPI{answers: map[string][]sample{
		kCompared: one("10"), kRated: one("10"), kMismatch: one("1"), kFailure: one("0"),
		kSides: sides("10", "10"), kP99: sides("0.01", "0.01"),
	}}
	src := newPromSource(t, p)
	cfg := mustConfig(t, `{"experiments":[{"name":"e","hold":"0s","min_comparisons":1,"min_samples":1,
		"steps":[{"shadow_percent":100},{"shadow_percent":100,"candidate_primary_percent":100}],
		"guard":{"max_mismatch_rate":0.05}}]}`)
	path := t.TempDir() + "/flags.json"
	c, err := fleetramp.New(cfg, src, path)
	if err != nil {
		t.Fatal(err)
	}
	c.EvaluateAll(t.Context()) // writes step 0; too early to query
	// A move by hand, dated a minute ago: the step has a minute of data.
	if _, err := fleetramp.Manual(path, "e", fleetramp.OpAdvance, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	es := c.EvaluateAll(t.Context()).Experiments[0]
	if es.Step != 0 || !es.Paused || es.LastTransition == nil || es.LastTransition.Reason != "rollback" ||
		es.LastTransition.Signal != "mismatch_rate" || es.Result != fleetramp.ResultRollback {
		t.Fatalf("status %+v, last %+v: want rolled back to 0 because of mismatch_rate", es, es.LastTransition)
	}
	if _, err := fleetramp.Manual(path, "e", fleetramp.OpResume, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.status = http.StatusServiceUnavailable
	p.mu.Unlock()
	es = c.EvaluateAll(t.Context()).Experiments[0]
	if es.Result != fleetramp.ResultError || es.PrometheusError == "" || es.Step != 0 {
		t.Fatalf("status %+v: want an error reported and the step held", es)
	}
}
