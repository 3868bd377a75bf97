package dualruntest

import (
	"errors"
	"runtime"
	"strings"
	"time"

	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/safe"
)

const (
	// diffLimit caps the diff and the values printed in one failure. It is
	// larger than dualrun's Report default: this is a test's output.
	diffLimit = 64 << 10
	// testBudget bounds one comparison. It is far above production's
	// default (dualrun.DefaultCompareBudget): tests often run under the race
	// detector, several times slower, and should not fail on time.
	testBudget = time.Minute
)

// explain describes a verdict that is not a match, for a failure (or a log
// line, when ignored), without the "dualruntest: case ..." prefix.
func explain[T any](v *compare.Verdict[T]) string {
	l, c := v.Legacy, v.Candidate
	switch v.Kind {
	case compare.ValuesDiffer:
		var b strings.Builder
		b.WriteString("values differ (legacy -, candidate +):\n")
		b.WriteString(v.Diff(diffLimit))
		if len(v.Paths) > 0 {
			b.WriteString("differing paths: ")
			b.WriteString(strings.Join(v.Paths, ", "))
		}
		return strings.TrimRight(b.String(), "\n")
	case compare.OneErred:
		if l.Err == nil {
			return "candidate erred, legacy did not: " + safe.ErrorText(c.Err, diffLimit) +
				"\nlegacy returned: " + compare.Format(l.Value, diffLimit)
		}
		return "legacy erred, candidate did not: " + safe.ErrorText(l.Err, diffLimit) +
			"\ncandidate returned: " + compare.Format(c.Value, diffLimit)
	case compare.ErrorsDiffer:
		return "errors differ by the WithErrorComparer func (legacy -, candidate +):\n" +
			strings.TrimRight(v.Diff(diffLimit), "\n")
	}
	return explainFailure(v.Err)
}

// explainFailure describes a failed comparison: a callback that panicked,
// with its stack; go-cmp refusing the values, with advice; the budget.
func explainFailure(err error) string {
	var (
		ce     *safe.CallbackError
		pe     *safe.PanicError
		cmpErr *compare.CmpError
	)
	switch {
	case errors.Is(err, compare.ErrBudget):
		return safe.ErrorText(err, diffLimit)
	case errors.As(err, &cmpErr) && errors.As(err, &pe):
		text := "go-cmp cannot compare " + cmpErr.Type.String() + ": " + safe.Text(pe.Value, diffLimit) +
			"\n" + cmpErr.Advice() + " (the dualruntest options of the same names); pass the same options to dualrun"
		if _, ok := pe.Value.(runtime.Error); ok {
			// A runtime error is a bug in a Comparer or Transformer: show where.
			text += "\n" + string(pe.Stack)
		}
		return text
	case errors.As(err, &ce) && errors.As(ce.Err, &pe):
		return ce.Callback + " panicked: " + safe.Text(pe.Value, diffLimit) + "\n" + string(pe.Stack)
	}
	return safe.ErrorText(err, diffLimit)
}
