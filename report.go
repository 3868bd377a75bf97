package dualrun

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// MismatchKind says how the sides of a mismatch differ; it is the
// dualrun.mismatch.kind attribute.
type MismatchKind uint8

const (
	// NoMismatch is the kind of every outcome but mismatch.
	NoMismatch MismatchKind = iota
	// ValueMismatch means both sides succeeded with different values.
	ValueMismatch
	// ErrorMismatch means exactly one side returned an error.
	ErrorMismatch
	// ErrorsDiffer means both sides erred, with errors that are not equivalent.
	ErrorsDiffer

	numKinds
)

// String returns "", "value", "error" or "errors_differ".
func (k MismatchKind) String() string {
	switch k {
	case ValueMismatch:
		return "value"
	case ErrorMismatch:
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
	// Diff is a human-readable, size-limited diff of the (normalized)
	// values, from legacy (-) to candidate (+).
	Diff string
	// CallerSpan is the span context of the caller; ShadowSpan that of the
	// shadow's own root span, linked to CallerSpan.
	CallerSpan trace.SpanContext
	ShadowSpan trace.SpanContext
	// Key is the bucketing key of the call, only with WithReportKeys.
	Key string
}

// String summarizes r on one line.
func (r *Report) String() string {
	s := fmt.Sprintf("%s: %s", r.Experiment, r.Outcome)
	if r.Kind != NoMismatch {
		s += "/" + r.Kind.String()
	}
	s += " (primary " + r.Primary.String() + ")"
	if len(r.Paths) > 0 {
		s += fmt.Sprintf(" paths=%v", r.Paths)
	}
	return s
}

// Publisher receives Reports. Publish is called on a dualrun goroutine, one
// report at a time per publisher and experiment, never on a caller's
// goroutine; it may block (the queue in front of it then fills and drops),
// and a panic in it is recovered and counted as a dropped report.
//
// A Publisher that also has a Name() string method is named by it in the
// dualrun.exporter attribute; otherwise its Go type is used.
type Publisher interface {
	// Publish delivers r. A non-nil error counts r as dropped and is passed
	// to the OpenTelemetry error handler.
	Publish(ctx context.Context, r *Report) error
}

// PublisherFunc adapts a function to a named [Publisher].
func PublisherFunc(name string, fn func(ctx context.Context, r *Report) error) Publisher {
	return &funcPublisher{name: name, fn: fn}
}

type funcPublisher struct {
	name string
	fn   func(context.Context, *Report) error
}

func (p *funcPublisher) Publish(ctx context.Context, r *Report) error { return p.fn(ctx, r) }
func (p *funcPublisher) Name() string                                 { return p.name }

func publisherName(p Publisher) string {
	if n, ok := p.(interface{ Name() string }); ok {
		if s := n.Name(); s != "" {
			return s
		}
	}
	return fmt.Sprintf("%T", p)
}

// safePublish calls p.Publish behind recover.
func safePublish(ctx context.Context, p Publisher, r *Report) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return p.Publish(ctx, r)
}
