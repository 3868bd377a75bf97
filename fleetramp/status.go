package fleetramp

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dualrun/dualrun/rollout"
)

// Status is the controller's report: written to the status file after
// every evaluation and served as JSON on /status.
type Status struct {
	UpdatedAt   time.Time          `json:"updated_at"`
	DryRun      bool               `json:"dry_run,omitempty"`
	Experiments []ExperimentStatus `json:"experiments"`
}

// ExperimentStatus is one experiment's ramp as of its last evaluation.
type ExperimentStatus struct {
	Name     string `json:"name"`
	FlagKey  string `json:"flag_key"`
	Step     int    `json:"step"`
	StepName string `json:"step_name"`
	Steps    int    `json:"steps"`
	// Rollout is the current step's rollout, e.g. "shadow 100%".
	Rollout     string    `json:"rollout"`
	Paused      bool      `json:"paused"`
	StepStarted time.Time `json:"step_started"`
	// Result is the last evaluation's: advance, hold, rollback, no_data
	// or error.
	Result      string    `json:"result"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	// Waiting says why the ramp holds, if it does.
	Waiting string `json:"waiting"`
	// WouldDo is, in dry-run mode, the transition the controller would
	// have made.
	WouldDo string `json:"would_do,omitempty"`
	// Window holds the signals of the last evaluation that read any.
	Window         *WindowStatus     `json:"window,omitempty"`
	LastTransition *TransitionStatus `json:"last_transition,omitempty"`
	// PrometheusError is the last evaluation's query error, or empty;
	// NoData lists the queries that returned nothing.
	PrometheusError string   `json:"prometheus_error"`
	NoData          []string `json:"no_data,omitempty"`
	// FlagFileError is the last error reading or writing the flag file.
	FlagFileError string `json:"flag_file_error,omitempty"`
}

// WindowStatus holds the guard's signals; a signal without data is null.
type WindowStatus struct {
	Range                string   `json:"range"`
	Comparisons          int64    `json:"comparisons"`
	InStep               int64    `json:"comparisons_in_step"`
	MismatchRate         *float64 `json:"mismatch_rate"`
	MismatchSamples      int64    `json:"mismatch_samples"`
	CandidateFailureRate *float64 `json:"candidate_failure_rate"`
	FailureSamples       int64    `json:"failure_samples"`
	P99Ratio             *float64 `json:"candidate_p99_ratio"`
	LegacySamples        int64    `json:"legacy_samples"`
	CandidateSamples     int64    `json:"candidate_samples"`
}

// TransitionStatus is a recorded [rollout.Transition].
type TransitionStatus struct {
	At        time.Time `json:"at"`
	From      int       `json:"from"`
	To        int       `json:"to"`
	Reason    string    `json:"reason"`
	Paused    bool      `json:"paused"`
	Signal    string    `json:"signal,omitempty"`
	Value     *float64  `json:"value,omitempty"`
	Threshold *float64  `json:"threshold,omitempty"`
	Text      string    `json:"text"`
}

// num keeps a value JSON can hold: nil for NaN, ±MaxFloat64 for ±Inf.
func num(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	v = finite(v)
	return &v
}

func transitionStatus(tr *rollout.Transition) *TransitionStatus {
	if tr == nil {
		return nil
	}
	ts := &TransitionStatus{
		At: tr.At.UTC(), From: tr.From, To: tr.To, Reason: string(tr.Reason),
		Paused: tr.Paused, Signal: string(tr.Signal), Text: tr.String(),
	}
	if tr.Signal != "" {
		ts.Value, ts.Threshold = num(tr.Value), num(tr.Threshold)
	}
	return ts
}

func windowStatus(s Signals) *WindowStatus {
	ws := s.Window
	return &WindowStatus{
		Range: s.Range.String(), Comparisons: ws.Comparisons, InStep: s.InStep,
		MismatchRate: num(ws.MismatchRate), MismatchSamples: ws.MismatchSamples,
		CandidateFailureRate: num(ws.CandidateFailureRate), FailureSamples: ws.FailureSamples,
		P99Ratio: num(ws.P99Ratio), LegacySamples: ws.LegacySamples, CandidateSamples: ws.CandidateSamples,
	}
}

// Handler serves the controller's status as JSON on /status and its own
// metrics in the Prometheus text format on /metrics.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}
