// Package slogexp logs dualrun Reports with log/slog: one record per
// Report, on the *slog.Logger it is given, at a level chosen by outcome.
//
// Attribute names are those of dualrun's telemetry, so that logs, metrics
// and traces are queried alike:
//
//	dualrun.experiment           the experiment
//	dualrun.outcome              mismatch, timeout, panic or error
//	dualrun.mismatch.kind        value, error or errors_differ (mismatches)
//	dualrun.primary              legacy or candidate
//	dualrun.report.id            the Report's ID
//	dualrun.paths                the folded differing paths
//	dualrun.legacy.duration      each side's duration (when it finished)
//	dualrun.candidate.duration
//	dualrun.legacy.error.type    each side's error.type (when it erred)
//	dualrun.candidate.error.type
//	dualrun.callback             the failed callback (outcome error)
//	dualrun.shadow.trace_id      the shadow span, to open the trace
//	dualrun.shadow.span_id
//
// With [WithValues]: dualrun.diff, dualrun.legacy.error,
// dualrun.candidate.error and dualrun.callback.error (texts cut to 1 KiB).
// With [WithKeys]: dualrun.key. The record's time is the Report's, and its
// context carries the shadow span, for handlers that read trace ids from
// the context.
//
// Levels: mismatch and timeout are Warn, panic and error are Error
// ([WithLevel] changes them).
package slogexp
