package dualrun

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dualrun/dualrun/internal/fastrand"
	"github.com/dualrun/dualrun/internal/stats"
	"github.com/dualrun/dualrun/rollout"
	"go.opentelemetry.io/otel/trace"
)

// MismatchKind says how the sides of a mismatch differ; it is the
// dualrun.mismatch.kind attribute. Its telemetry values ("value", "error",
// "errors_differ") are fixed by the telemetry contract; note that the kind
// "error" (exactly one side returned an error: [OneSideErred]) is not the
// outcome "error" (a user callback failed: [Error]).
type MismatchKind uint8

const (
	// NoMismatch is the kind of every outcome but mismatch.
	NoMismatch MismatchKind = iota
	// ValueMismatch means both sides succeeded with different values.
	ValueMismatch
	// OneSideErred means exactly one side returned an error (telemetry
	// value "error").
	OneSideErred
	// ErrorsDiffer means both sides erred, with errors that are not equivalent.
	ErrorsDiffer

	numKinds
)

// ErrorMismatch is the former name of [OneSideErred].
//
// Deprecated: use OneSideErred; "error" is also an outcome.
const ErrorMismatch = OneSideErred

// String returns "", "value", "error" or "errors_differ".
func (k MismatchKind) String() string {
	switch k {
	case ValueMismatch:
		return "value"
	case OneSideErred:
		return "error"
	case ErrorsDiffer:
		return "errors_differ"
	}
	return ""
}

// Report describes one reportable comparison: a mismatch, a timeout, a
// shadow panic or a failed user callback. Shed calls are never reported.
//
// A Report can hold values of the wrapped call (in Diff and the errors):
// exporters that send it out of the process should be told so explicitly.
// Publishers must treat it as read-only; it is shared between them.
type Report struct {
	Experiment string
	// Time is when the comparison was recorded (for a timeout, the deadline).
	Time    time.Time
	Outcome Outcome
	Kind    MismatchKind
	// Primary is the side whose result the caller got.
	Primary Side
	// LegacyDuration and CandidateDuration are zero for a side that did not
	// finish.
	LegacyDuration    time.Duration
	CandidateDuration time.Duration
	// LegacyErr and CandidateErr are the sides' errors; a shadow panic is a
	// *PanicError, a timeout a *TimeoutError (which unwraps to
	// context.DeadlineExceeded).
	LegacyErr    error
	CandidateErr error
	// CallbackErr is, for outcome error, the failure of the user callback
	// (comparer, normalizer, ignore rule, error comparer, clone, shadow
	// context hook or policy observer); a panic in it is a *PanicError.
	CallbackErr error
	// Paths are the folded differing paths, such as ".Items[*].Price"; "."
	// is the value itself.
	Paths []string
	// NoisyPaths are those of Paths that A/A calibration learned as noise
	// (WithCalibration): this mismatch also differs elsewhere.
	NoisyPaths []string
	// Diff is a human-readable, size-limited diff of the (normalized)
	// values, from legacy (-) to candidate (+).
	Diff string
	// CallerSpan is the span context of the caller; ShadowSpan that of the
	// shadow's span: a child of the caller's span, or with
	// WithLinkedShadowSpans a new root linked to it.
	CallerSpan trace.SpanContext
	ShadowSpan trace.SpanContext
	// Key is the bucketing key of the call, only with WithReportKeys.
	Key string
	// ID identifies the Report uniquely (32 hex digits, random), with or
	// without a tracer: quote it to find the same Report in logs, JSON
	// lines and the debug page.
	ID string
	// LegacyErrorType and CandidateErrorType are the error.type values of
	// the sides' errors ("" for a side without error): low-cardinality,
	// free of values, safe to send anywhere.
	LegacyErrorType    string
	CandidateErrorType string
}

// String summarizes r on one line, without values: experiment, outcome,
// kind, primary side and paths.
func (r *Report) String() string {
	s := r.Experiment + ": " + r.Outcome.String()
	if r.Kind != NoMismatch {
		s += "/" + r.Kind.String()
	}
	s += " (primary " + r.Primary.String() + ")"
	if len(r.Paths) > 0 {
		s += " paths=[" + strings.Join(r.Paths, " ") + "]"
	}
	return s
}

// report rate-limits, deduplicates, builds and queues a Report; class is
// the mismatch class key ("" for other outcomes).
func (c *core) report(r *record, class string) {
	now := time.Now()
	ltyp, ctyp := r.errTypes[Legacy], r.errTypes[Candidate]
	sig := signature(r, ltyp, ctyp)
	if !c.dedup.admit(now, sig, c.cfg.reportDedup, c.limiter) {
		c.reportsSuppressed.Add(1)
		return
	}
	rep := &Report{
		ID:                 newReportID(),
		Experiment:         c.name,
		Time:               now,
		Outcome:            r.outcome,
		Kind:               r.kind,
		Primary:            r.primary,
		LegacyDuration:     r.durations[Legacy],
		CandidateDuration:  r.durations[Candidate],
		LegacyErr:          r.errs[Legacy],
		CandidateErr:       r.errs[Candidate],
		LegacyErrorType:    ltyp,
		CandidateErrorType: ctyp,
		CallbackErr:        r.cbErr,
		Paths:              r.paths,
		NoisyPaths:         r.noisy,
		CallerSpan:         r.call.callerSpan,
		ShadowSpan:         r.call.span.SpanContext(),
	}
	if c.cfg.reportKeys {
		rep.Key, _ = rollout.KeyFrom(r.call.caller())
	}
	if r.diff != nil {
		rep.Diff = r.diff(c.cfg.diffLimit)
	}
	if class != "" {
		c.classes.sample(class, rep)
	}
	c.lastReport.Store(rep)
	c.dispatch(rep)
}

// newReportID returns 128 random bits as 32 hex digits.
func newReportID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], fastrand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], fastrand.Uint64())
	return hex.EncodeToString(b[:])
}

// dedupSet suppresses reports whose signature (outcome, kind, error types,
// paths) was already reported within dedupWindow.
type dedupSet struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// dedupMax bounds the signatures remembered; beyond it the set starts over.
const dedupMax = 1024

func signature(r *record, ltyp, ctyp string) string {
	return fmt.Sprintf("%d/%d/%s/%s/%q", r.outcome, r.kind, ltyp, ctyp, r.paths)
}

// admit reports whether a report with signature sig may go out now: it was
// not reported within the window, and the rate limiter allows it. The check
// and the record are one step, so concurrent duplicates go out once.
func (d *dedupSet) admit(now time.Time, sig string, window time.Duration, l *stats.Limiter) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if window > 0 {
		if t, ok := d.seen[sig]; ok && now.Sub(t) < window {
			return false
		}
	}
	if !l.Allow(now) {
		return false
	}
	if window > 0 {
		if d.seen == nil || len(d.seen) >= dedupMax {
			d.seen = make(map[string]time.Time)
		}
		d.seen[sig] = now
	}
	return true
}
