// Package redact is what every exporter does to a Report before writing it:
// run the user's redaction hook on a copy, behind recover, and cut the diff.
package redact

import (
	"errors"
	"slices"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// DefaultMaxDiff is the default size limit of a diff in an exporter's
// output: dualrun's own default diff limit.
const DefaultMaxDiff = 4 << 10

// Hook rewrites a Report before an exporter writes it; nil skips the
// Report.
type Hook = func(*dualrun.Report) *dualrun.Report

// ErrHookFailed wraps the failure of a redaction hook.
var ErrHookFailed = errors.New("redaction hook failed; report not written")

// Apply returns the Report an exporter writes for r: r itself (shared, not
// to be modified) when there is no hook and the diff fits in maxDiff bytes;
// otherwise a copy, given to hook, with the diff cut. It returns nil and no
// error when the hook skips the Report, and an error (wrapping
// ErrHookFailed) when the hook panics: the Report is then not written at
// all. A hook that calls runtime.Goexit ends the publishing goroutine, which
// dualrun survives, counting the Report as dropped.
func Apply(r *dualrun.Report, hook Hook, maxDiff int) (*dualrun.Report, error) {
	if r == nil {
		return nil, nil
	}
	if hook == nil && len(r.Diff) <= maxDiff {
		return r, nil
	}
	out, own := r, false
	if hook != nil {
		c := *r
		c.Paths = slices.Clone(r.Paths)
		var res *dualrun.Report
		// A Goexit in the hook unwinds the publisher's goroutine, which
		// dualrun survives and counts as a dropped Report.
		if err := safe.Call("redaction hook", func() { res = hook(&c) }, nil); err != nil {
			return nil, errors.Join(ErrHookFailed, err)
		}
		if res == nil {
			return nil, nil
		}
		out, own = res, res == &c
	}
	if len(out.Diff) > maxDiff {
		if !own {
			c := *out
			out = &c
		}
		out.Diff = safe.Cut(out.Diff, maxDiff)
	}
	return out, nil
}
