package compare

import (
	"errors"
	"reflect"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun/internal/safe"
)

// maxDiffLeaves is how many differing leaves go-cmp's diff may have to
// print: beyond it the diff lists paths and values instead.
const maxDiffLeaves = 4 << 10

// Diff returns a human-readable description of the difference, from legacy
// (-) to candidate (+), in at most limit bytes (limit <= 0: 4096). It is
// built when asked for, with what is left of the comparison's budget, and
// shows only normalized values. For ValuesDiffer it is go-cmp's diff
// (whose layout go-cmp keeps unstable on purpose: not for parsing), with
// huge byte and string leaves described instead of printed; where go-cmp
// cannot give one within the budget or sees no difference (a WithComparer
// func stricter than go-cmp), both values as [Format] prints them. For
// OneErred, the successful value and the error; for ErrorsDiffer, both
// errors with their types. It is "" for Match and Failed.
func (v *Verdict[T]) Diff(limit int) string {
	if limit <= 0 {
		limit = defaultLimit
	}
	l, r := v.Legacy, v.Candidate
	switch v.Kind {
	case ValuesDiffer:
		return v.valueDiff(limit)
	case OneErred:
		half := limit / 2
		return Truncate("-legacy:    "+sideText(l, half)+"\n+candidate: "+sideText(r, half)+"\n", limit)
	case ErrorsDiffer:
		half := limit / 2
		return Truncate("-legacy error:    "+errorText(l.Err, half)+"\n+candidate error: "+errorText(r.Err, half)+"\n", limit)
	}
	return ""
}

func sideText[T any](r Result[T], limit int) string {
	if r.Err != nil {
		return "error: " + safe.ErrorText(r.Err, limit)
	}
	return Format(r.Value, limit)
}

// errorText is the error's message and its type (as %T prints it).
func errorText(err error, limit int) string {
	return safe.ErrorText(err, limit) + " (" + reflect.TypeOf(err).String() + ")"
}

func (v *Verdict[T]) valueDiff(limit int) string {
	c := v.c
	if c.mode == eqDiffer {
		var out string
		if fn := v.differ.Diff; fn != nil && safe.Call("WithDiffer diff", func() { out = fn(limit) }, nil) == nil && out != "" {
			return Truncate(out, limit)
		}
		half := limit / 2
		return Truncate("-legacy:    "+Format(v.Legacy.Value, half)+"\n+candidate: "+Format(v.Candidate.Value, half)+"\n", limit)
	}
	x, y := v.Legacy.Value, v.Candidate.Value
	left := c.budget - v.spent
	var why string
	switch {
	case left <= 0:
		why = "the comparison budget of " + c.budget.String() + " was used up"
	case v.leaves > maxDiffLeaves:
		why = "too many differing values for a diff"
	case v.deepest > maxDiffDepth:
		why = "the difference is nested too deep for a diff"
	default:
		w := c.walker(diffMode, left)
		defer c.walkers.Put(w)
		var d string
		err := c.walk(w, func() { d = cmp.Diff(x, y, w.opts()...) })
		var be *BudgetError
		switch {
		case errors.As(err, &be) && be.Depth > 0:
			why = "the difference is nested too deep for a diff"
		case errors.As(err, &be):
			why = "the comparison budget of " + c.budget.String() + " ran out"
		case err != nil:
			why = "go-cmp failed: " + safe.ErrorText(err, 256)
		default:
			var b strings.Builder
			for _, n := range w.notes {
				b.WriteString(n)
			}
			if w.moreNotes > 0 {
				b.WriteString("… and more large values differ\n")
			}
			b.WriteString(d)
			if b.Len() > 0 {
				return Truncate(b.String(), limit)
			}
		}
	}
	// No diff from go-cmp: say why, and print both values.
	var b strings.Builder
	if why != "" {
		b.WriteString("(no go-cmp diff: " + why + ")\n")
	}
	half := max((limit-b.Len())/2-len("-legacy:    \n"), 16)
	b.WriteString("-legacy:    " + Format(x, half) + "\n+candidate: " + Format(y, half) + "\n")
	return Truncate(b.String(), limit)
}
