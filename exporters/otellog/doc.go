// Package otellog sends dualrun Reports as log records through the
// OpenTelemetry Logs API (go.opentelemetry.io/otel/log), so that they reach
// any OpenTelemetry backend beside dualrun's metrics and traces.
//
// Each record is emitted in the context of the Report's shadow span, so an
// SDK sets the record's trace and span ids to the shadow span's: the record
// opens from the trace, and the trace from the record. It is an event
// record named "dualrun.report", timestamped with the Report's time, with
// severity Warn for mismatch and timeout and Error for panic and error, a
// value-free body (the Report's one-line String) and the attributes:
//
//	dualrun.experiment, dualrun.outcome, dualrun.mismatch.kind (mismatches),
//	dualrun.primary, dualrun.report.id, dualrun.paths (string slice),
//	dualrun.legacy.duration and dualrun.candidate.duration (seconds, when the
//	side finished), dualrun.legacy.error.type and
//	dualrun.candidate.error.type (when the side erred), dualrun.callback
//	(outcome error)
//
// With [WithValues]: dualrun.diff, dualrun.legacy.error,
// dualrun.candidate.error, dualrun.callback.error (texts cut to 1 KiB).
// With [WithKeys]: dualrun.key. The record's error (which an SDK would turn
// into exception attributes with the error's text) is never set.
//
// The package imports the Logs API only. The application installs an SDK
// (go.opentelemetry.io/otel/sdk/log) and passes its provider with
// [WithLoggerProvider], or sets the global one.
package otellog
