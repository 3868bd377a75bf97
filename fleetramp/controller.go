package fleetramp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualrun/dualrun/rollout"
)

// Option configures a [Controller].
type Option interface {
	apply(options) options
}

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

type options struct {
	statusFile string
	dryRun     bool
	logger     *slog.Logger
}

// WithStatusFile makes the controller write its [Status] as JSON to path
// (atomically) after every evaluation.
func WithStatusFile(path string) Option {
	return optionFunc(func(o options) options { o.statusFile = path; return o })
}

// WithDryRun makes the controller evaluate and log what it would do
// without ever writing the flag file. The status file and endpoint still
// report, with dry_run true and the transition in would_do.
func WithDryRun(on bool) Option {
	return optionFunc(func(o options) options { o.dryRun = on; return o })
}

// WithLogger sets the logger of the decisions (default: one that discards
// them). A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options {
		if l != nil {
			o.logger = l
		}
		return o
	})
}

// Controller ramps experiments across a fleet: at every interval it reads
// each experiment's guard signals from a [Source], decides with the same
// [rollout.StepMachine] as the in-process ramp, and writes the flag file
// the replicas read. Its state is the flag file's: it keeps nothing
// between evaluations that the file does not hold, so a restart, or a
// manual move made with [Manual] while it runs, is taken up at the next
// evaluation. A Controller is safe for concurrent use.
type Controller struct {
	plans    []plan
	src      Source
	flagPath string
	opts     options
	metrics  *metrics
	writer   fileWriter

	mu     sync.Mutex // serialises flag file updates in this process; guards status and seen
	status map[string]*ExperimentStatus
	seen   map[string]time.Time // At of the last transition counted, per experiment
	// dryStart is, in dry-run mode, when the controller would have written
	// a flag that is not in the file, so that its hold time runs.
	dryStart map[string]time.Time
}

// New returns a controller of cfg's experiments reading signals from src
// and writing flagFile. It checks cfg as [ParseConfig] does.
func New(cfg Config, src Source, flagFile string, opts ...Option) (*Controller, error) {
	plans, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("fleetramp: New: nil Source")
	}
	if flagFile == "" {
		return nil, errors.New("fleetramp: New: empty flag file path")
	}
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		if opt != nil {
			o = opt.apply(o)
		}
	}
	c := &Controller{
		plans: plans, src: src, flagPath: flagFile, opts: o,
		metrics: newMetrics(plans), writer: osWriter,
		status: map[string]*ExperimentStatus{}, seen: map[string]time.Time{},
		dryStart: map[string]time.Time{},
	}
	for _, p := range plans {
		c.status[p.name] = &ExperimentStatus{Name: p.name, FlagKey: p.flagKey, Steps: len(p.machine.Steps), Result: ResultHold}
	}
	return c, nil
}

// Registry returns the registry of the controller's own metrics, served by
// [Controller.Handler] on /metrics.
func (c *Controller) Registry() *prometheus.Registry { return c.metrics.reg }

// Run evaluates every experiment at once, then every experiment's
// interval, until ctx ends; it then returns nil. Evaluations of one
// experiment never overlap.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, p := range c.plans {
		wg.Go(func() {
			t := time.NewTicker(p.interval)
			defer t.Stop()
			for {
				c.evaluate(ctx, p)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// EvaluateAll evaluates every experiment once, now, and returns the
// status: what Run does at each interval.
func (c *Controller) EvaluateAll(ctx context.Context) Status {
	for _, p := range c.plans {
		c.evaluate(ctx, p)
	}
	return c.Status()
}

// Status returns a snapshot of the controller's report.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *Controller) statusLocked() Status {
	s := Status{DryRun: c.opts.dryRun}
	for _, p := range c.plans {
		es := *c.status[p.name]
		es.NoData = slices.Clone(es.NoData)
		s.Experiments = append(s.Experiments, es)
		if es.EvaluatedAt.After(s.UpdatedAt) {
			s.UpdatedAt = es.EvaluatedAt
		}
	}
	return s
}

// load reads the experiment's state from the flag file under the lock. A
// flag the controller does not manage yet starts at step 0, now; a flag
// whose recorded step is past the configured steps is put at the last one.
// adopt reports that the file must be written to match the config.
//
// recorded is the state as the file has it (nil when not managed), for
// the check of [Controller.store].
func (c *Controller) load(p plan, now time.Time) (st FlagState, recorded *rollout.StepState, adopt bool, err error) {
	unlock, err := lockFile(c.flagPath)
	if err != nil {
		return st, nil, false, err
	}
	defer unlock()
	d, err := readFlagDoc(c.flagPath)
	if err != nil {
		return st, nil, false, err
	}
	st, ok, err := d.state(p.flagKey)
	if err != nil {
		return st, nil, false, err
	}
	if !ok {
		started := now
		if c.opts.dryRun {
			c.mu.Lock()
			if t, seen := c.dryStart[p.name]; seen {
				started = t
			} else {
				c.dryStart[p.name] = now
			}
			c.mu.Unlock()
		}
		return FlagState{
			Experiment: p.name, FlagKey: p.flagKey,
			State:    rollout.StepState{StepStarted: started},
			StepName: p.stepNames[0], RollbackTo: p.machine.RollbackTo,
		}, nil, true, nil
	}
	rec := st.State
	st.Experiment = p.name
	if st.State.StepStarted.IsZero() || st.State.StepStarted.After(now) {
		st.State.StepStarted, adopt = now, true
	}
	if st.State.Step >= len(p.machine.Steps) {
		st.State.Step, st.State.StepStarted, adopt = len(p.machine.Steps)-1, now, true
	}
	if st.RollbackTo != p.machine.RollbackTo || !sameSteps(st.Steps, p.machine.Steps) {
		adopt = true
	}
	st.RollbackTo, st.Steps = p.machine.RollbackTo, p.machine.Steps
	st.StepName = p.stepNames[st.State.Step]
	return st, &rec, adopt, nil
}

func sameSteps(a, b []rollout.Step) bool {
	return slices.EqualFunc(a, b, func(x, y rollout.Step) bool { return x.Rollout == y.Rollout })
}

// store writes st back if the file still records the state read as want
// (nil: the flag must be absent or unmanaged); otherwise it reports that
// the flag changed meanwhile and writes nothing.
func (c *Controller) store(p plan, want *rollout.StepState, st FlagState) error {
	unlock, err := lockFile(c.flagPath)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := readFlagDoc(c.flagPath)
	if err != nil {
		return err
	}
	cur, ok, err := d.state(p.flagKey)
	if err != nil {
		return err
	}
	switch {
	case want == nil && ok,
		want != nil && (!ok || cur.State.Step != want.Step || cur.State.Paused != want.Paused ||
			!cur.State.StepStarted.Equal(want.StepStarted)):
		return errChanged
	}
	if err := d.set(st, p.machine.Steps); err != nil {
		return err
	}
	data, err := d.encode()
	if err != nil {
		return err
	}
	return c.writer.writeAtomic(c.flagPath, data, 0o644)
}

// errChanged means the flag was changed by someone else (a manual command)
// between the controller's read and its write.
var errChanged = errors.New("fleetramp: the flag changed meanwhile (a manual command?); decided again at the next evaluation")

// evaluate is one evaluation of one experiment.
func (c *Controller) evaluate(ctx context.Context, p plan) {
	now := time.Now()
	log := c.opts.logger.With("experiment", p.name)
	st, recorded, adopt, err := c.load(p, now)
	if err != nil {
		c.finish(p, now, ResultError, func(es *ExperimentStatus) { es.FlagFileError = err.Error() })
		log.Error("hold: cannot read the flag file", "err", err)
		return
	}
	c.countManual(p, st.Last)
	if adopt {
		var err error
		if !c.opts.dryRun {
			err = c.store(p, recorded, st)
		}
		switch {
		case c.opts.dryRun:
			log.Info("dry-run: would write the flag to match the config", "step", st.State.Step, "step_name", st.StepName)
		case err != nil:
			c.finish(p, now, ResultError, func(es *ExperimentStatus) { es.FlagFileError = err.Error() })
			log.Error("hold: cannot write the flag file", "err", err)
			return
		default:
			log.Info("flag written to match the config", "step", st.State.Step, "step_name", st.StepName, "paused", st.State.Paused)
		}
	}
	qctx, cancel := context.WithTimeout(ctx, p.interval)
	sig, err := c.src.Signals(qctx, p.name, now, st.State.StepStarted, p.window)
	cancel()
	if err != nil {
		result := ResultError
		if errors.Is(err, ErrTooEarly) {
			result = ResultNoData
		}
		c.finish(p, now, result, func(es *ExperimentStatus) {
			c.fill(es, st)
			es.PrometheusError = err.Error()
			es.Waiting = "no data from Prometheus: holding the step"
		})
		log.Warn("hold: no data from Prometheus", "step", st.State.Step, "err", err)
		return
	}
	e := p.machine.Evaluate(st.State, now, sig.Window, sig.InStep)
	c.metrics.signals(p.name, sig.Window)
	result := ResultHold
	if len(sig.Missing) > 0 {
		result = ResultNoData
	}
	tr := e.Transition
	var wouldDo, fileErr string
	if tr != nil {
		result = ResultAdvance
		if tr.Reason != rollout.ReasonPromote {
			result = ResultRollback
		}
		read := st.State
		next, _ := st.State.Apply(*tr)
		nst := st
		nst.State, nst.StepName, nst.Last = next, p.stepNames[next.Step], tr
		switch {
		case c.opts.dryRun:
			wouldDo = tr.String()
			log.Info("dry-run: would "+tr.String(), "from_name", p.stepNames[tr.From], "to_name", p.stepNames[tr.To])
			tr = nil
		default:
			if err := c.store(p, &read, nst); err != nil {
				fileErr, result, tr = err.Error(), ResultError, nil
				log.Error("hold: the transition was not written", "transition", e.Transition.String(), "err", err)
			} else {
				st = nst
				c.countTransition(p, *tr)
			}
		}
	}
	c.finish(p, now, result, func(es *ExperimentStatus) {
		c.fill(es, st)
		es.Window = windowStatus(sig)
		es.Waiting, es.WouldDo, es.FlagFileError = e.Waiting, wouldDo, fileErr
		es.NoData = sig.Missing
	})
	switch {
	case tr != nil:
		log.Info(tr.String(), "result", result, "to_name", st.StepName, "paused", st.State.Paused, "window", sig.Range)
	case fileErr == "":
		log.Info(result, "step", st.State.Step, "step_name", st.StepName, "waiting", e.Waiting, "window", sig.Range,
			"comparisons_in_step", sig.InStep, "no_data", len(sig.Missing))
	}
}

// countTransition counts and remembers a transition the controller made.
func (c *Controller) countTransition(p plan, tr rollout.Transition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[p.name] = tr.At
	c.metrics.transitions.WithLabelValues(p.name, string(tr.Reason)).Inc()
}

// countManual counts a transition found in the file that the controller
// did not make (a manual command), once.
func (c *Controller) countManual(p plan, last *rollout.Transition) {
	if last == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seen, ok := c.seen[p.name]; ok && !last.At.After(seen) {
		return
	}
	if _, ok := c.seen[p.name]; ok {
		c.metrics.transitions.WithLabelValues(p.name, string(last.Reason)).Inc()
		c.opts.logger.Info("seen in the flag file: "+last.String(), "experiment", p.name)
	}
	c.seen[p.name] = last.At // at start: remembered, not counted
}

func (c *Controller) fill(es *ExperimentStatus, st FlagState) {
	es.Step, es.StepName, es.Paused = st.State.Step, st.StepName, st.State.Paused
	es.StepStarted = st.State.StepStarted.UTC()
	if st.State.Step < len(st.Steps) {
		es.Rollout = st.Steps[st.State.Step].Rollout.String()
	}
	es.LastTransition = transitionStatus(st.Last)
}

// finish records an evaluation's result in the status, the metrics and
// the status file.
func (c *Controller) finish(p plan, now time.Time, result string, update func(*ExperimentStatus)) {
	c.mu.Lock()
	es := c.status[p.name]
	*es = ExperimentStatus{
		Name: p.name, FlagKey: p.flagKey, Steps: len(p.machine.Steps),
		Step: es.Step, StepName: es.StepName, Rollout: es.Rollout, Paused: es.Paused,
		StepStarted: es.StepStarted, LastTransition: es.LastTransition, Window: es.Window,
	}
	es.Result, es.EvaluatedAt = result, now.UTC()
	update(es)
	if es.Rollout == "" && es.Step < len(p.machine.Steps) {
		es.Rollout = p.machine.Steps[es.Step].Rollout.String()
	}
	c.metrics.state(p.name, rollout.StepState{Step: es.Step, Paused: es.Paused})
	c.metrics.evaluations.WithLabelValues(p.name, result).Inc()
	status := c.statusLocked()
	c.mu.Unlock()
	if c.opts.statusFile == "" {
		return
	}
	data, err := json.MarshalIndent(status, "", "  ")
	if err == nil {
		err = c.writer.writeAtomic(c.opts.statusFile, append(data, '\n'), 0o644)
	}
	if err != nil {
		c.opts.logger.Error("cannot write the status file", "err", err)
	}
}

// Op is a manual move of [Manual].
type Op string

// The manual moves.
const (
	OpPause    Op = "pause"
	OpResume   Op = "resume"
	OpAdvance  Op = "advance"
	OpRollback Op = "rollback"
)

// ErrNoFlag is returned by [Manual] when the file has no managed flag for
// the experiment.
var ErrNoFlag = errors.New("fleetramp: no flag of that experiment managed by dualrun-ramp in the flag file")

// ErrNoChange is returned by [Manual] when the move does not apply: pause
// when paused, resume when running, advance at the last step, rollback
// when already paused at or below the rollback step.
var ErrNoChange = errors.New("fleetramp: nothing to do")

// Manual applies a manual move to the experiment's flag in the flag file,
// as [rollout.Ramp]'s Pause, Resume, Advance and Rollback do, under the
// same lock as the controller, and returns the transition it recorded.
// The experiment is named by its name or its flag key. It needs no
// configuration: the steps and the rollback step are in the flag.
func Manual(flagFile, experiment string, op Op, now time.Time) (rollout.Transition, error) {
	unlock, err := lockFile(flagFile)
	if err != nil {
		return rollout.Transition{}, err
	}
	defer unlock()
	d, err := readFlagDoc(flagFile)
	if err != nil {
		return rollout.Transition{}, err
	}
	var st FlagState
	found := false
	keys := make([]string, 0, len(d.flags))
	for k := range d.flags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s, ok, err := d.state(k)
		if err != nil {
			return rollout.Transition{}, err
		}
		if ok && (k == experiment || s.Experiment == experiment) {
			st, found = s, true
			break
		}
	}
	if !found {
		return rollout.Transition{}, fmt.Errorf("%w: %q", ErrNoFlag, cut(experiment))
	}
	m := rollout.StepMachine{Steps: st.Steps, RollbackTo: st.RollbackTo}
	var tr *rollout.Transition
	switch op {
	case OpPause:
		tr = m.Pause(st.State, now)
	case OpResume:
		tr = m.Resume(st.State, now)
	case OpAdvance:
		tr = m.Advance(st.State, now)
	case OpRollback:
		tr = m.Rollback(st.State, now)
	default:
		return rollout.Transition{}, fmt.Errorf("fleetramp: unknown move %q: want pause, resume, advance or rollback", cut(string(op)))
	}
	if tr == nil {
		return rollout.Transition{}, fmt.Errorf("%w: %s at step %d (paused %v)", ErrNoChange, op, st.State.Step, st.State.Paused)
	}
	next, _ := st.State.Apply(*tr)
	st.State, st.Last = next, tr
	st.StepName = stepNames(st.Steps)[next.Step]
	if err := d.set(st, st.Steps); err != nil {
		return rollout.Transition{}, err
	}
	data, err := d.encode()
	if err != nil {
		return rollout.Transition{}, err
	}
	if err := osWriter.writeAtomic(flagFile, data, 0o644); err != nil {
		return rollout.Transition{}, err
	}
	return *tr, nil
}
