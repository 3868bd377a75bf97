package dualrun

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/dualrun/dualrun/internal/safe"
)

// ReportSchemaVersion is the schema_version of the JSON form of a Report
// ([Report.JSON]). It changes only when a field changes meaning or goes
// away; new fields may appear within a version.
const ReportSchemaVersion = 1

// JSONOptions says what the JSON form of a Report may carry beyond its
// value-free fields. Values (the diff, error and callback-failure texts)
// are copies of the data the wrapped call handled, and keys are often
// personal data: both are left out unless asked for.
type JSONOptions struct {
	// Values adds "diff", and "error" to each side and to the callback.
	Values bool
	// Key adds "key" (the WithKey key, when the experiment keeps it:
	// WithReportKeys).
	Key bool
}

// reportJSON is the JSON form of a Report, schema version 1. The README
// documents every field.
type reportJSON struct {
	SchemaVersion int       `json:"schema_version"`
	ID            string    `json:"id"`
	Experiment    string    `json:"experiment"`
	Time          time.Time `json:"time"`
	Outcome       string    `json:"outcome"`
	Kind          string    `json:"kind,omitempty"`
	Primary       string    `json:"primary"`
	Legacy        sideJSON  `json:"legacy"`
	Candidate     sideJSON  `json:"candidate"`
	Callback      string    `json:"callback,omitempty"`
	CallbackError string    `json:"callback_error,omitempty"`
	Paths         []string  `json:"paths,omitempty"`
	NoisyPaths    []string  `json:"noisy_paths,omitempty"`
	Diff          string    `json:"diff,omitempty"`
	TraceID       string    `json:"trace_id,omitempty"`
	CallerSpanID  string    `json:"caller_span_id,omitempty"`
	ShadowTraceID string    `json:"shadow_trace_id,omitempty"`
	ShadowSpanID  string    `json:"shadow_span_id,omitempty"`
	Key           string    `json:"key,omitempty"`
}

type sideJSON struct {
	// DurationSeconds is omitted for a side that did not finish.
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	ErrorType       string  `json:"error_type,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// maxErrorText bounds each error text in the JSON form.
const maxErrorText = 1 << 10

// JSON returns the JSON form of r: one object, schema
// [ReportSchemaVersion], value-free unless o asks for values or the key.
// Every text it takes from an error is read behind recover and size-limited;
// the diff loses go-cmp's non-breaking spaces, which it uses on purpose to
// keep its output from being parsed, so that tools reading the JSON see
// plain spaces.
func (r *Report) JSON(o JSONOptions) ([]byte, error) {
	j := reportJSON{
		SchemaVersion: ReportSchemaVersion,
		ID:            r.ID,
		Experiment:    r.Experiment,
		Time:          r.Time,
		Outcome:       r.Outcome.String(),
		Kind:          r.Kind.String(),
		Primary:       r.Primary.String(),
		Legacy:        side(r.LegacyDuration, r.LegacyErrorType, r.LegacyErr, o.Values),
		Candidate:     side(r.CandidateDuration, r.CandidateErrorType, r.CandidateErr, o.Values),
		Paths:         r.Paths,
		NoisyPaths:    r.NoisyPaths,
	}
	if r.CallbackErr != nil {
		j.Callback = callbackName(r.CallbackErr)
		if o.Values {
			j.CallbackError = safe.ErrorText(r.CallbackErr, maxErrorText)
		}
	}
	if o.Values {
		j.Diff = plainSpaces(r.Diff)
	}
	if o.Key {
		j.Key = r.Key
	}
	if r.CallerSpan.IsValid() {
		j.TraceID, j.CallerSpanID = r.CallerSpan.TraceID().String(), r.CallerSpan.SpanID().String()
	}
	if r.ShadowSpan.IsValid() {
		j.ShadowTraceID, j.ShadowSpanID = r.ShadowSpan.TraceID().String(), r.ShadowSpan.SpanID().String()
	}
	return json.Marshal(j)
}

// MarshalJSON returns the value-free JSON form of r: r.JSON(JSONOptions{}).
func (r *Report) MarshalJSON() ([]byte, error) { return r.JSON(JSONOptions{}) }

func side(d time.Duration, typ string, err error, values bool) sideJSON {
	s := sideJSON{DurationSeconds: d.Seconds(), ErrorType: typ}
	if values && err != nil {
		s.Error = safe.ErrorText(err, maxErrorText)
	}
	return s
}

// callbackName names the failed callback of a CallbackError, or says
// "unknown".
func callbackName(err error) string {
	var ce *CallbackError
	if errors.As(err, &ce) {
		return ce.Callback
	}
	return "unknown"
}

// plainSpaces replaces non-breaking spaces by spaces.
func plainSpaces(s string) string { return strings.ReplaceAll(s, "\u00a0", " ") }

// LogValue implements slog.LogValuer: a group with the value-free fields
// of the JSON form (no diff, no error texts, no key), so that logging a
// Report never sends the wrapped call's data anywhere.
func (r *Report) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", r.ID),
		slog.String("experiment", r.Experiment),
		slog.String("outcome", r.Outcome.String()),
	}
	if r.Kind != NoMismatch {
		attrs = append(attrs, slog.String("kind", r.Kind.String()))
	}
	attrs = append(attrs, slog.String("primary", r.Primary.String()),
		slog.Duration("legacy_duration", r.LegacyDuration),
		slog.Duration("candidate_duration", r.CandidateDuration))
	if r.LegacyErrorType != "" {
		attrs = append(attrs, slog.String("legacy_error_type", r.LegacyErrorType))
	}
	if r.CandidateErrorType != "" {
		attrs = append(attrs, slog.String("candidate_error_type", r.CandidateErrorType))
	}
	if r.CallbackErr != nil {
		attrs = append(attrs, slog.String("callback", callbackName(r.CallbackErr)))
	}
	if len(r.Paths) > 0 {
		attrs = append(attrs, slog.Any("paths", r.Paths))
	}
	if r.ShadowSpan.IsValid() {
		attrs = append(attrs, slog.String("trace_id", r.ShadowSpan.TraceID().String()),
			slog.String("shadow_span_id", r.ShadowSpan.SpanID().String()))
	}
	return slog.GroupValue(attrs...)
}
