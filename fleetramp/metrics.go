package fleetramp

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualrun/dualrun/rollout"
)

// The values of the result label of dualrun_ramp_evaluations_total.
const (
	ResultAdvance  = "advance"
	ResultHold     = "hold"
	ResultRollback = "rollback"
	ResultNoData   = "no_data"
	ResultError    = "error"
)

var (
	results = []string{ResultAdvance, ResultHold, ResultRollback, ResultNoData, ResultError}
	reasons = []rollout.TransitionReason{
		rollout.ReasonPromote, rollout.ReasonRollback, rollout.ReasonHalt,
		rollout.ReasonManual, rollout.ReasonPause, rollout.ReasonResume,
	}
	signals = []rollout.Signal{rollout.SignalMismatchRate, rollout.SignalCandidateFailureRate, rollout.SignalP99Ratio}
)

// metrics are the controller's own, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	step        *prometheus.GaugeVec
	paused      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	evaluations *prometheus.CounterVec
	signal      *prometheus.GaugeVec
}

func newMetrics(plans []plan) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		step: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dualrun_ramp_step", Help: "Index of the current step of each experiment's ramp, from 0.",
		}, []string{"experiment"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dualrun_ramp_paused", Help: "1 while the experiment's ramp is paused (after a rollback, a halt or a pause).",
		}, []string{"experiment"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dualrun_ramp_transitions_total", Help: "Changes of a ramp's state by reason: promote, rollback, halt, manual, pause, resume.",
		}, []string{"experiment", "reason"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dualrun_ramp_evaluations_total", Help: "Evaluations by result: advance, hold, rollback, no_data (a query returned nothing), error (Prometheus or the flag file failed).",
		}, []string{"experiment", "result"}),
		signal: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dualrun_ramp_signal", Help: "The guard's signals at the last evaluation, fleet-wide (NaN: no data).",
		}, []string{"experiment", "signal"}),
	}
	m.reg.MustRegister(m.step, m.paused, m.transitions, m.evaluations, m.signal)
	for _, p := range plans {
		// Every series of the bounded sets exists from the start, at zero.
		for _, r := range results {
			m.evaluations.WithLabelValues(p.name, r)
		}
		for _, r := range reasons {
			m.transitions.WithLabelValues(p.name, string(r))
		}
		for _, s := range signals {
			m.signal.WithLabelValues(p.name, string(s)).Set(math.NaN())
		}
	}
	return m
}

func (m *metrics) state(name string, s rollout.StepState) {
	m.step.WithLabelValues(name).Set(float64(s.Step))
	v := 0.0
	if s.Paused {
		v = 1
	}
	m.paused.WithLabelValues(name).Set(v)
}

func (m *metrics) signals(name string, ws rollout.WindowStats) {
	m.signal.WithLabelValues(name, string(rollout.SignalMismatchRate)).Set(ws.MismatchRate)
	m.signal.WithLabelValues(name, string(rollout.SignalCandidateFailureRate)).Set(ws.CandidateFailureRate)
	m.signal.WithLabelValues(name, string(rollout.SignalP99Ratio)).Set(ws.P99Ratio)
}
