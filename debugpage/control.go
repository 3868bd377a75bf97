package debugpage

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/dualrun/dualrun/rollout"
)

// Action names what a control does.
type Action string

// The page's controls.
const (
	// ActionSetRollout sets a *rollout.Live's percentages.
	ActionSetRollout Action = "set_rollout"
	// ActionRampPause, ActionRampResume, ActionRampAdvance and
	// ActionRampRollback call the ramp's Pause, Resume, Advance and
	// Rollback.
	ActionRampPause    Action = "ramp_pause"
	ActionRampResume   Action = "ramp_resume"
	ActionRampAdvance  Action = "ramp_advance"
	ActionRampRollback Action = "ramp_rollback"
	// ActionPauseShadows and ActionResumeShadows pause and resume the
	// experiment's shadows (dualrun.Handle.PauseShadows).
	ActionPauseShadows  Action = "pause_shadows"
	ActionResumeShadows Action = "resume_shadows"
)

var actions = map[Action]bool{
	ActionSetRollout: true, ActionRampPause: true, ActionRampResume: true, ActionRampAdvance: true,
	ActionRampRollback: true, ActionPauseShadows: true, ActionResumeShadows: true,
}

// Change is one change asked for through the page's controls.
type Change struct {
	// Experiment is the experiment's name.
	Experiment string
	// Action is what to do.
	Action Action
	// Rollout is the new rollout, for ActionSetRollout.
	Rollout rollout.Static
}

// String describes the change, e.g.
// `set_rollout "checkout.price" to shadow 100%, candidate primary 10%`.
func (c Change) String() string {
	s := fmt.Sprintf("%s %q", c.Action, c.Experiment)
	if c.Action == ActionSetRollout {
		s += " to " + c.Rollout.String()
	}
	return s
}

// Limits on what a control's form may hold.
const (
	maxName    = 1 << 10
	maxPercent = 16
)

var errBadForm = errors.New("bad form")

// parseChange reads a control's form: experiment, action and, for
// set_rollout, the percentages shadow and candidate_primary.
func parseChange(form url.Values) (Change, error) {
	c := Change{Experiment: form.Get("experiment"), Action: Action(form.Get("action"))}
	if c.Experiment == "" || len(c.Experiment) > maxName {
		return Change{}, fmt.Errorf("%w: experiment missing or too long", errBadForm)
	}
	if !actions[c.Action] {
		return Change{}, fmt.Errorf("%w: unknown action", errBadForm)
	}
	if c.Action == ActionSetRollout {
		var err error
		if c.Rollout.Shadow, err = parsePercent(form.Get("shadow")); err != nil {
			return Change{}, fmt.Errorf("%w: shadow: %w", errBadForm, err)
		}
		if c.Rollout.CandidatePrimary, err = parsePercent(form.Get("candidate_primary")); err != nil {
			return Change{}, fmt.Errorf("%w: candidate primary: %w", errBadForm, err)
		}
	}
	return c, nil
}

// parsePercent reads a percentage in [0, 100] such as "12.5" or "12.5%",
// to the nearest basis point.
func parsePercent(s string) (rollout.BasisPoints, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxPercent {
		return 0, errors.New("too long")
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	if s == "" {
		return 0, errors.New("empty")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, errors.New("want a percentage from 0 to 100")
	}
	return rollout.Percent(f), nil
}
