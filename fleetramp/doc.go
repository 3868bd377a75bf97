// Package fleetramp ramps dualrun experiments across a fleet of replicas:
// a controller that reads the fleet's dualrun metrics from Prometheus,
// decides once for every replica with the same steps and guard as the
// in-process [rollout.Ramp], and distributes the decision through the flag
// file that the replicas already read with rollout/openfeature and flagd.
// The command github.com/dualrun/dualrun/fleetramp/cmd/dualrun-ramp runs
// it.
//
// An in-process ramp judges one replica's traffic and moves that replica
// alone; replicas then drift apart, and a small one's sample is too thin to
// judge. The controller sums the signals over every replica instead.
//
// # Configuration
//
// One entry per experiment ([ParseConfig]); zero fields take the
// in-process ramp's defaults:
//
//	{"experiments":[{"name":"shipping.quote",
//	  "steps":[{"name":"shadow 100%","shadow_percent":100},
//	           {"shadow_percent":100,"candidate_primary_percent":50},
//	           {"shadow_percent":100,"candidate_primary_percent":100}],
//	  "guard":{"max_mismatch_rate":0.01,"max_candidate_failure_rate":0.01,"max_p99_ratio":1.5},
//	  "interval":"10s","window":"1m","hold":"5m","min_comparisons":1000,
//	  "min_samples":100,"hysteresis":0.1}]}
//
// # Decisions
//
// Every interval the controller evaluates each experiment with a
// [rollout.StepMachine], the decision logic the in-process ramp uses: it
// advances one step when the step's hold time has passed, the fleet made
// at least min_comparisons comparisons in the step and every guard signal
// is judged over at least min_samples samples and is at most
// threshold*(1-hysteresis); it rolls back to rollback_to (by default the
// last step with legacy primary on every call) and pauses when a signal is
// above its threshold, and records why: the signal, its value and the
// threshold. A paused ramp stays paused until `dualrun-ramp resume`.
//
// # Signals and windows
//
// The signals are the expressions of the recording rules of
// dashboards/rules.yml, summed across replicas: the mismatch rate
// (experiment:dualrun_mismatch_ratio:rate5m), the candidate failure rate
// (experiment:dualrun_candidate_failure_ratio:rate5m) and the candidate and
// legacy p99 (experiment_side:dualrun_call_duration_seconds:p99_rate5m),
// with their sample counts. A recorded series has a fixed 5m range, so just
// after a step change it still holds the previous step's traffic. The
// controller never judges a step by data from before it began: it runs the
// rules' expressions itself with the range cut to min(window, time in
// step), in whole seconds, and counts the step's comparisons over the
// whole step (a test keeps the expressions equal to the rules). Until the
// range holds two scrapes, queries return nothing and the step holds.
// Replicas pick a new flag value up within their provider's file watch
// delay, so the first scrape interval of a step may still show the old
// rollout; the hold time covers it.
//
// # Failures
//
// Missing data never advances a ramp: a query that returns no series
// leaves its signal without samples (result no_data), and an unreachable
// Prometheus holds the step (result error); both are in the status and the
// metrics. The flag file is written atomically (a temporary file in the
// same directory, fsync, rename): a write that fails leaves the previous
// file as it was, and the transition is decided again at the next
// evaluation.
//
// # State
//
// The controller keeps its state (step, paused, when the step began, the
// last transition and its reason) in the managed flag's metadata in the
// flag file, one variant per step ("step0", "step1", ...) with the current
// one as the defaultVariant. A restarted controller resumes from the file,
// hold time included; the manual moves ([Manual], `dualrun-ramp pause`,
// resume, advance, rollback) edit the same file under the same lock, with
// no configuration needed. Other flags of the file are kept.
//
// # Reporting
//
// [Controller.Handler] serves /status (the [Status] JSON, also written to
// the status file) and /metrics: dualrun_ramp_step, dualrun_ramp_paused,
// dualrun_ramp_transitions_total{reason}, dualrun_ramp_evaluations_total{result}
// (advance, hold, rollback, no_data, error) and dualrun_ramp_signal, each
// with an experiment label.
//
// # Usage
//
//	client, err := api.NewClient(api.Config{Address: "http://127.0.0.1:9090"})
//	if err != nil { ... }
//	c, err := fleetramp.New(cfg, fleetramp.PrometheusSource{API: promv1.NewAPI(client)},
//		"/etc/flagd/flags.json", fleetramp.WithStatusFile("/var/run/ramp/status.json"))
//	if err != nil { ... }
//	go http.ListenAndServe("127.0.0.1:9464", c.Handler())
//	err = c.Run(ctx) // until ctx ends
package fleetramp
