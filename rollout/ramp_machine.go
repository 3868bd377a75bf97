package rollout

import (
	"errors"
	"fmt"
	"time"
)

// StepMachine is the clock-free decision logic of a ramp: given where the
// ramp is, the time, the guard's signals over the window and the number of
// comparisons seen since the step began, it says whether to advance, roll
// back, halt or hold, and why. The in-process [Ramp] drives one from its
// own counters; a fleet controller drives one from Prometheus. It holds no
// state, so it is safe for concurrent use; the caller keeps the
// [StepState] and applies each [Transition] with [StepState.Apply].
type StepMachine struct {
	// Steps are the ramp's steps, in order.
	Steps []Step
	// Guard judges the window.
	Guard Guard
	// Hold is the minimum time in a step before it advances.
	Hold time.Duration
	// MinComparisons is the minimum number of comparisons observed in a
	// step before it advances.
	MinComparisons int64
	// RollbackTo is the index of the step the guard rolls back to
	// ([DefaultRollbackStep] gives the usual one).
	RollbackTo int
}

// StepState is where a ramp is: the state a [StepMachine] decides from.
type StepState struct {
	// Step is the index of the current step.
	Step int
	// Paused is true after a rollback, a halt or a pause, until a resume.
	Paused bool
	// StepStarted is when the current step began (or was resumed): the
	// start of its hold time and of its evidence.
	StepStarted time.Time
}

// Evaluation is what a [StepMachine] decided at one evaluation.
type Evaluation struct {
	// Transition is the change to make, or nil when the ramp holds.
	Transition *Transition
	// Waiting says why the ramp holds, or is empty.
	Waiting string
	// Verdict is the guard's judgement of the window.
	Verdict Verdict
}

// DefaultRollbackStep returns the index of the last step on which legacy is
// primary for every call (CandidatePrimary 0), the rollback step of a ramp
// without an explicit one, and false when there is none.
func DefaultRollbackStep(steps []Step) (int, bool) {
	safe := -1
	for i, s := range steps {
		if s.Rollout.CandidatePrimary == 0 {
			safe = i
		}
	}
	return safe, safe >= 0
}

// Validate reports what is wrong with m, or nil: no steps, a rollback step
// out of range, a negative hold or comparison count, or a bad [Guard].
func (m StepMachine) Validate() error {
	switch {
	case len(m.Steps) == 0:
		return errors.New("rollout: ramp: no steps")
	case m.RollbackTo < 0 || m.RollbackTo >= len(m.Steps):
		return fmt.Errorf("rollout: ramp: rollback step %d out of range (%d steps)", m.RollbackTo, len(m.Steps))
	case m.Hold < 0:
		return fmt.Errorf("rollout: ramp: hold %v: want a duration >= 0", m.Hold)
	case m.MinComparisons < 0:
		return fmt.Errorf("rollout: ramp: minimum comparisons %d: want n >= 0", m.MinComparisons)
	}
	return m.Guard.Validate()
}

// Evaluate decides one evaluation at now, from the ramp's state s, the
// guard's signals ws over the window (which must not reach back before
// s.StepStarted) and the number of comparisons observed since
// s.StepStarted. When the guard breaks it rolls back to RollbackTo and
// pauses, or, at or below that step, halts (pauses in place); a paused
// ramp whose guard is broken holds. Otherwise the ramp advances one step
// when it is running, not at the last step, past its hold time, has
// MinComparisons comparisons and a healthy window; if not, Waiting says
// which of these is missing. A state whose step is out of range holds.
func (m StepMachine) Evaluate(s StepState, now time.Time, ws WindowStats, inStep int64) Evaluation {
	if s.Step < 0 || s.Step >= len(m.Steps) {
		return Evaluation{Waiting: fmt.Sprintf("step %d out of range (%d steps)", s.Step, len(m.Steps))}
	}
	v := m.Guard.Judge(ws)
	e := Evaluation{Verdict: v}
	if v.Broken {
		switch {
		case s.Step > m.RollbackTo:
			e.Transition = m.transition(s, now, m.RollbackTo, ReasonRollback, true, &v, ws)
		case !s.Paused:
			e.Transition = m.transition(s, now, s.Step, ReasonHalt, true, &v, ws)
		default:
			e.Waiting = "paused; " + v.String()
		}
		return e
	}
	e.Waiting = m.waiting(s, now, inStep, &v)
	if e.Waiting == "" {
		e.Transition = m.transition(s, now, s.Step+1, ReasonPromote, false, nil, ws)
	}
	return e
}

// waiting says what keeps the ramp from advancing now, or "".
func (m StepMachine) waiting(s StepState, now time.Time, inStep int64, v *Verdict) string {
	switch {
	case s.Paused:
		return "paused"
	case s.Step >= len(m.Steps)-1:
		return "last step"
	}
	if in := now.Sub(s.StepStarted); in < m.Hold {
		return fmt.Sprintf("hold: %v of %v", in.Round(time.Millisecond), m.Hold)
	}
	if inStep < m.MinComparisons {
		return fmt.Sprintf("comparisons: %d of %d", inStep, m.MinComparisons)
	}
	if !v.Healthy {
		return v.Why
	}
	return ""
}

func (m StepMachine) transition(s StepState, now time.Time, to int, why TransitionReason, pause bool, v *Verdict, ws WindowStats) *Transition {
	tr := &Transition{At: now, From: s.Step, To: to, Reason: why, Paused: pause}
	if why == ReasonPromote || why == ReasonRollback || why == ReasonHalt {
		tr.Window = ws
	}
	if v != nil {
		tr.Signal, tr.Value, tr.Threshold = v.Signal, v.Value, v.Threshold
	}
	return tr
}

// Pause returns the transition that pauses a running ramp, or nil when it
// is already paused. The guard keeps watching a paused ramp.
func (m StepMachine) Pause(s StepState, now time.Time) *Transition {
	if s.Paused {
		return nil
	}
	return m.transition(s, now, s.Step, ReasonPause, true, nil, WindowStats{})
}

// Resume returns the transition that lets a paused ramp advance again from
// its step, with its evidence started afresh, or nil when it is running.
func (m StepMachine) Resume(s StepState, now time.Time) *Transition {
	if !s.Paused {
		return nil
	}
	return m.transition(s, now, s.Step, ReasonResume, false, nil, WindowStats{})
}

// Advance returns the transition that moves the ramp one step forward by
// hand, whatever its guard says, paused or running as it was, or nil at the
// last step.
func (m StepMachine) Advance(s StepState, now time.Time) *Transition {
	if s.Step >= len(m.Steps)-1 {
		return nil
	}
	return m.transition(s, now, s.Step+1, ReasonManual, s.Paused, nil, WindowStats{})
}

// Rollback returns the transition that moves the ramp back to RollbackTo by
// hand and pauses it. At or below that step it only pauses the ramp (a
// pause transition), and returns nil when the ramp is already paused there.
func (m StepMachine) Rollback(s StepState, now time.Time) *Transition {
	if s.Step > m.RollbackTo {
		return m.transition(s, now, m.RollbackTo, ReasonManual, true, nil, WindowStats{})
	}
	return m.Pause(s, now)
}

// Apply returns the state after tr, and whether tr starts the step's
// evidence afresh (a move to another step, or a resume): the caller then
// resets its hold clock, comparison count and window.
func (s StepState) Apply(tr Transition) (StepState, bool) {
	restart := tr.To != s.Step || tr.Reason == ReasonResume
	s.Step, s.Paused = tr.To, tr.Paused
	if restart {
		s.StepStarted = tr.At
	}
	return s, restart
}
