package rollout

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Step is one stage of a [Ramp]: the rollout in force while the ramp is
// there.
type Step struct {
	// Name labels the step in the ramp's state and telemetry; empty means
	// the rollout's description, such as "shadow 10%".
	Name string
	// Rollout is the percentage rollout of the step.
	Rollout Static
}

func (s Step) label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Rollout.String()
}

// DefaultSteps returns the usual migration: shadow 1% → 10% → 100% with
// legacy primary, then candidate primary 1% → 10% → 50% → 100% with legacy
// shadowed on every call. Leaving the shadow on at the end keeps proving the
// candidate; switch it off by hand (or with a last step of your own) once
// the migration is done.
func DefaultSteps() []Step {
	shadow := func(p float64) Step { return Step{Rollout: Static{Shadow: Percent(p)}} }
	cand := func(p float64) Step { return Step{Rollout: Static{Shadow: All, CandidatePrimary: Percent(p)}} }
	return []Step{shadow(1), shadow(10), shadow(100), cand(1), cand(10), cand(50), cand(100)}
}

// TransitionReason says why a [Ramp] changed state: the value of the reason
// attribute of dualrun.ramp.transitions.
type TransitionReason string

// The reasons of a ramp's transitions.
const (
	// ReasonPromote: the step's hold time and comparison count were reached
	// while the guard was healthy, so the ramp advanced one step.
	ReasonPromote TransitionReason = "promote"
	// ReasonRollback: the guard broke, so the ramp went back to its
	// rollback step and paused.
	ReasonRollback TransitionReason = "rollback"
	// ReasonHalt: the guard broke at or below the rollback step, so the
	// ramp paused where it was.
	ReasonHalt TransitionReason = "halt"
	// ReasonManual: a person moved the ramp ([Ramp.Advance],
	// [Ramp.Rollback]).
	ReasonManual TransitionReason = "manual"
	// ReasonPause: a person paused the ramp ([Ramp.Pause]).
	ReasonPause TransitionReason = "pause"
	// ReasonResume: a person resumed the ramp ([Ramp.Resume]).
	ReasonResume TransitionReason = "resume"
)

// Transition records one change of a [Ramp]'s state.
type Transition struct {
	// At is when it happened.
	At time.Time
	// From and To are step indexes (equal for halt, pause and resume).
	From, To int
	// Reason says why.
	Reason TransitionReason
	// Paused is whether the ramp is paused after the transition.
	Paused bool
	// Signal, Value and Threshold say which guard signal broke, its value
	// over the window and the threshold it exceeded (rollback and halt
	// only).
	Signal    Signal
	Value     float64
	Threshold float64
	// Window holds the guard's signals at the evaluation that made the
	// transition: the evidence for a promotion or a rollback (zero for
	// moves by hand).
	Window WindowStats
}

// String describes the transition, e.g.
// "rollback 5 → 2: mismatch_rate 4.8% > 1%".
func (t Transition) String() string {
	var b strings.Builder
	b.WriteString(string(t.Reason))
	if t.From != t.To {
		fmt.Fprintf(&b, " %d → %d", t.From, t.To)
	} else {
		fmt.Fprintf(&b, " at %d", t.To)
	}
	if t.Signal != "" {
		fmt.Fprintf(&b, ": %s %s > %s", t.Signal, t.Signal.format(t.Value), t.Signal.format(t.Threshold))
	}
	return b.String()
}

// RampState is a snapshot of a [Ramp], for people and debug pages.
type RampState struct {
	Experiment string
	// Step is the index of the current step in Steps, StepName its label
	// and Rollout its rollout.
	Step     int
	StepName string
	Rollout  Static
	Steps    []Step
	// RollbackTo is the index of the step the guard rolls back to.
	RollbackTo int
	// Paused is true after a rollback or halt, or a Pause, until Resume.
	Paused bool
	// Closed is true after Close: the rollout stays, nothing is evaluated.
	Closed bool
	// StepStarted is when the current step began (or the ramp was resumed)
	// and InStep the time since.
	StepStarted time.Time
	InStep      time.Duration
	// StepComparisons is the number of comparisons observed since then.
	StepComparisons int64
	// Window holds the guard's signals as of the last evaluation.
	Window WindowStats
	// Waiting says what keeps the ramp from advancing, or is empty.
	Waiting string
	// Last is the last transition, if any.
	Last *Transition
}

// Ramp is a guarded, self-reverting rollout: a [Policy] that walks through
// [Step]s and an [Observer] that learns from every compared call.
//
// The ramp advances one step when three things hold at an evaluation (every
// [WithInterval]): the step's hold time has passed ([WithHold]), at least
// [WithMinComparisons] comparisons were observed in it, and every guard
// signal that is set ([WithMaxMismatchRate], [WithMaxCandidateFailureRate],
// [WithMaxP99Ratio]) is healthy over the sliding window ([WithWindow]) with
// enough samples ([WithMinSamples]). When a signal rises above its threshold
// the ramp rolls back by itself at the next evaluation, to the step of
// [WithRollbackTo] (by default the last legacy-primary step, typically legacy
// primary with the candidate shadowed), pauses and records why. It stays
// paused until a person calls [Ramp.Resume]; a guard that breaks while the
// ramp is at or below the rollback step pauses it in place. Between the
// threshold and threshold*(1-[WithHysteresis]) the ramp holds still, so a
// signal that sits at its threshold does not make it oscillate.
//
// Every step but the last should shadow some calls: the ramp learns only
// from compared calls, and a step without them can neither advance nor roll
// back.
//
// The decisions are a [StepMachine]'s, judged by a [Guard]: the same logic
// a fleet-wide controller (module github.com/dualrun/dualrun/fleetramp)
// drives from Prometheus.
//
// A Ramp serves one experiment: Observe ignores other experiments'
// comparisons. Its state lives in the process, so replicas ramp on their
// own and a restart starts over at [WithStartStep]. Decide is one atomic
// load and a [Static] decision; Observe is a few atomic adds. A Ramp is safe
// for concurrent use. It evaluates on a timer, without a goroutine at rest;
// Close stops the timer and unregisters its metrics.
//
// Telemetry (scope [ScopeName]): the observable gauges dualrun.ramp.step and
// dualrun.ramp.paused, the counter dualrun.ramp.transitions with attributes
// dualrun.experiment, reason and (for rollback and halt)
// dualrun.ramp.signal, and for each transition a span
// "dualrun.ramp <experiment>" with a dualrun.ramp.transition event.
type Ramp struct {
	live  Live
	name  string
	steps []Step
	cfg   rampConfig
	safe  int
	mach  StepMachine // the decisions; the Ramp keeps the state and evidence
	tel   *rampTelemetry

	counters rampCounters
	lat      *[2]latencyHist // nil without a p99 guard

	stepIdx   atomic.Int32 // mirrors step, for the gauge callback
	pausedNow atomic.Bool  // mirrors paused

	mu        sync.Mutex
	step      int
	paused    bool
	closed    bool
	stepStart time.Time
	stepBase  int64 // counters.observed when the step began
	win       window
	stats     WindowStats
	waiting   string
	last      *Transition
	timer     *time.Timer
}

// NewRamp returns a ramp for the named experiment, starting at the first
// step (or [WithStartStep]) and evaluating every [WithInterval].
//
// Defaults: evaluation every 10 s, a 1 min window, a 5 min hold and 1,000
// comparisons per step, 100 samples before a signal is judged, a 10%
// hysteresis band, no guard signal. NewRamp panics on an empty name, no
// steps, a step index out of range, or no legacy-primary step to roll back
// to without [WithRollbackTo]: programmer errors, better found at start-up.
func NewRamp(experiment string, steps []Step, opts ...RampOption) *Ramp {
	if experiment == "" {
		panic("rollout: NewRamp: empty experiment name")
	}
	if len(steps) == 0 {
		panic("rollout: NewRamp(" + experiment + "): no steps")
	}
	cfg := newRampConfig(opts)
	safe := cfg.rollbackTo
	if safe < 0 {
		var ok bool
		if safe, ok = DefaultRollbackStep(steps); !ok {
			panic("rollout: NewRamp(" + experiment + "): no step with legacy primary on every call to roll back to; add one or use WithRollbackTo")
		}
	}
	if safe >= len(steps) || cfg.start >= len(steps) {
		panic(fmt.Sprintf("rollout: NewRamp(%s): rollback step %d or start step %d out of range (%d steps)",
			experiment, safe, cfg.start, len(steps)))
	}
	r := &Ramp{
		name:  experiment,
		steps: append([]Step(nil), steps...),
		cfg:   cfg,
		safe:  safe,
	}
	r.mach = StepMachine{
		Steps: r.steps, Guard: cfg.guard, Hold: cfg.hold,
		MinComparisons: cfg.minComparisons, RollbackTo: safe,
	}
	if cfg.guard.P99Ratio.Set {
		r.lat = new([2]latencyHist)
	}
	// The window holds one snapshot per interval, plus the baseline.
	r.win = newWindow(int((cfg.window+cfg.interval-1)/cfg.interval) + 1)
	r.tel = newRampTelemetry(r, cfg.meterProvider, cfg.traceProvider)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.enterLocked(cfg.start, time.Now())
	r.timer = time.AfterFunc(cfg.interval, r.tick)
	return r
}

// Decide implements [Policy] with the current step's rollout. It cannot
// panic (a nil *Ramp decides legacy only).
func (r *Ramp) Decide(ctx context.Context, experiment string) Decision {
	if r == nil {
		return Decision{}
	}
	return r.live.Decide(ctx, experiment)
}

// Observe implements [Observer]: it counts one comparison of the ramp's
// experiment with a few atomic adds.
func (r *Ramp) Observe(o Observation) {
	if o.Experiment != r.name || o.Outcome == Aborted || o.Outcome == Shed {
		return
	}
	r.counters.observed.Add(1)
	if o.Outcome.InMismatchRate() {
		r.counters.rated.Add(1)
		if o.Outcome == Mismatch {
			r.counters.mismatches.Add(1)
		}
	}
	if o.CandidateErr && o.Outcome != Match && o.Outcome != Ignored {
		r.counters.failures.Add(1)
	}
	if r.lat != nil {
		if o.LegacyDuration > 0 {
			r.lat[Legacy].record(o.LegacyDuration)
		}
		if o.CandidateDuration > 0 {
			r.lat[Candidate].record(o.CandidateDuration)
		}
	}
}

// enterLocked makes step i current and starts collecting its evidence
// afresh.
func (r *Ramp) enterLocked(i int, now time.Time) {
	r.step = i
	r.stepIdx.Store(int32(i))
	r.live.Set(r.steps[i].Rollout)
	r.restartLocked(now)
}

// restartLocked restarts the step's clock, count and window.
func (r *Ramp) restartLocked(now time.Time) {
	r.stepStart = now
	r.win.reset(now, &r.counters, r.lat)
	r.stepBase = r.win.newest().observed
	r.stats = WindowStats{}
	r.waiting = ""
}

func (r *Ramp) setPausedLocked(p bool) {
	r.paused = p
	r.pausedNow.Store(p)
}

// tick is the evaluation, run by the timer.
func (r *Ramp) tick() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	tr := r.evaluateLocked(time.Now())
	r.timer.Reset(r.cfg.interval)
	r.mu.Unlock()
	r.emit(tr)
}

// evaluateLocked reads the window and acts on the machine's decision: roll
// back, halt, advance, or wait.
func (r *Ramp) evaluateLocked(now time.Time) *Transition {
	r.win.push(now, &r.counters, r.lat)
	r.stats = r.win.stats(r.lat != nil)
	e := r.mach.Evaluate(r.stateLocked(), now, r.stats, r.win.newest().observed-r.stepBase)
	r.waiting = e.Waiting
	return r.applyLocked(e.Transition)
}

func (r *Ramp) stateLocked() StepState {
	return StepState{Step: r.step, Paused: r.paused, StepStarted: r.stepStart}
}

// applyLocked makes tr (if any) the ramp's state, entering its step when it
// starts the evidence afresh, and returns a copy for emit.
func (r *Ramp) applyLocked(tr *Transition) *Transition {
	if tr == nil {
		return nil
	}
	stats := r.stats
	next, restart := r.stateLocked().Apply(*tr)
	if restart {
		r.enterLocked(next.Step, tr.At)
	}
	if tr.Reason == ReasonHalt || tr.Reason == ReasonRollback {
		// Keep the signals that broke the guard on show.
		r.stats = stats
	}
	r.setPausedLocked(next.Paused)
	r.last = tr
	cp := *tr
	return &cp
}

func (r *Ramp) emit(tr *Transition) {
	if tr != nil {
		r.tel.record(tr, r.steps)
	}
}

// Pause stops the ramp from advancing until [Ramp.Resume]. The guard keeps
// watching: if it breaks, the ramp still rolls back. It reports whether the
// ramp was running.
func (r *Ramp) Pause() bool {
	r.mu.Lock()
	tr := r.applyLocked(r.mach.Pause(r.stateLocked(), time.Now()))
	r.mu.Unlock()
	r.emit(tr)
	return tr != nil
}

// Resume lets a paused ramp advance again from the step it is at, after a
// rollback, a halt or a Pause. The step's evidence starts afresh: the hold
// time, the comparison count and the window. It reports whether the ramp
// was paused.
func (r *Ramp) Resume() bool {
	r.mu.Lock()
	tr := r.applyLocked(r.mach.Resume(r.stateLocked(), time.Now()))
	r.mu.Unlock()
	r.emit(tr)
	return tr != nil
}

// Advance moves the ramp one step forward by hand, whatever its guard says,
// and keeps it paused or running as it was. It reports false at the last
// step.
func (r *Ramp) Advance() bool {
	r.mu.Lock()
	tr := r.applyLocked(r.mach.Advance(r.stateLocked(), time.Now()))
	r.mu.Unlock()
	r.emit(tr)
	return tr != nil
}

// Rollback moves the ramp back to its rollback step by hand and pauses it.
// It reports false when the ramp is already at or below that step; it is
// then only paused, as by [Ramp.Pause].
func (r *Ramp) Rollback() bool {
	r.mu.Lock()
	tr := r.applyLocked(r.mach.Rollback(r.stateLocked(), time.Now()))
	r.mu.Unlock()
	r.emit(tr)
	return tr != nil && tr.From != tr.To
}

// State returns a snapshot of the ramp.
func (r *Ramp) State() RampState {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	s := RampState{
		Experiment:      r.name,
		Step:            r.step,
		StepName:        r.steps[r.step].label(),
		Rollout:         r.steps[r.step].Rollout,
		Steps:           append([]Step(nil), r.steps...),
		RollbackTo:      r.safe,
		Paused:          r.paused,
		Closed:          r.closed,
		StepStarted:     r.stepStart,
		InStep:          now.Sub(r.stepStart),
		StepComparisons: r.counters.observed.Load() - r.stepBase,
		Window:          r.stats,
		Waiting:         r.waiting,
	}
	if r.last != nil {
		last := *r.last
		s.Last = &last
	}
	return s
}

// String describes the ramp's state in one line, e.g.
// `ramp checkout.price: step 3 "shadow 100%, candidate primary 1%" (steps 0-6), running, 2m0s in step, 1500 comparisons; last: promote 2 → 3`.
// Steps are numbered from 0, as in [RampState].
func (r *Ramp) String() string {
	s := r.State()
	var b strings.Builder
	fmt.Fprintf(&b, "ramp %s: step %d %q (steps 0-%d)", s.Experiment, s.Step, s.StepName, len(s.Steps)-1)
	switch {
	case s.Closed:
		b.WriteString(", closed")
	case s.Paused:
		b.WriteString(", paused")
	default:
		b.WriteString(", running")
	}
	fmt.Fprintf(&b, ", %v in step, %d comparisons", s.InStep.Round(time.Second), s.StepComparisons)
	if s.Waiting != "" {
		fmt.Fprintf(&b, "; waiting: %s", s.Waiting)
	}
	if s.Last != nil {
		fmt.Fprintf(&b, "; last: %s", s.Last)
	}
	return b.String()
}

// Close stops the ramp's evaluations and unregisters its metrics. The
// current rollout stays in force for Decide, and manual moves still work.
// Close is idempotent.
func (r *Ramp) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.timer.Stop()
	r.tel.close()
}
