package slogexp

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// Exporter is a dualrun Publisher that logs each Report as one slog
// record. Make it with [New]. It is safe for concurrent use.
type Exporter struct {
	logger *slog.Logger
	cfg    config
}

// New returns an Exporter that logs on l; a nil l means slog.Default() at
// the time of each Report.
func New(l *slog.Logger, opts ...Option) *Exporter {
	return &Exporter{logger: l, cfg: newConfig(opts)}
}

// Name returns "slog", the dualrun.exporter attribute of the Reports it
// drops.
func (e *Exporter) Name() string { return "slog" }

// Publish logs r. It returns the handler's error (slog.Logger's own
// methods discard it), or an error when the redaction hook panics.
func (e *Exporter) Publish(ctx context.Context, r *dualrun.Report) error {
	r, err := redact.Apply(r, e.cfg.redact, e.cfg.maxDiff)
	if err != nil || r == nil {
		return err
	}
	l := e.logger
	if l == nil {
		l = slog.Default()
	}
	h := l.Handler()
	level := e.cfg.level(r.Outcome)
	if r.ShadowSpan.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, r.ShadowSpan)
	}
	if !h.Enabled(ctx, level) {
		return nil
	}
	rec := slog.NewRecord(r.Time, level, "dualrun "+r.Outcome.String(), 0)
	rec.AddAttrs(e.attrs(r)...)
	return h.Handle(ctx, rec)
}

// attrs returns the record's attributes for r.
func (e *Exporter) attrs(r *dualrun.Report) []slog.Attr {
	a := make([]slog.Attr, 0, 16)
	a = append(a,
		slog.String(string(dualrun.AttrExperiment), r.Experiment),
		slog.String(string(dualrun.AttrOutcome), r.Outcome.String()))
	if r.Kind != dualrun.NoMismatch {
		a = append(a, slog.String(string(dualrun.AttrMismatchKind), r.Kind.String()))
	}
	a = append(a,
		slog.String(string(dualrun.AttrPrimary), r.Primary.String()),
		slog.String("dualrun.report.id", r.ID))
	if len(r.Paths) > 0 {
		a = append(a, slog.Any(string(dualrun.AttrPaths), r.Paths))
	}
	if r.LegacyDuration > 0 {
		a = append(a, slog.Duration("dualrun.legacy.duration", r.LegacyDuration))
	}
	if r.CandidateDuration > 0 {
		a = append(a, slog.Duration("dualrun.candidate.duration", r.CandidateDuration))
	}
	if r.LegacyErrorType != "" {
		a = append(a, slog.String(string(dualrun.AttrLegacyErrorType), r.LegacyErrorType))
	}
	if r.CandidateErrorType != "" {
		a = append(a, slog.String(string(dualrun.AttrCandidateErrorType), r.CandidateErrorType))
	}
	if r.CallbackErr != nil {
		a = append(a, slog.String("dualrun.callback", redact.CallbackName(r.CallbackErr)))
	}
	if r.ShadowSpan.IsValid() {
		a = append(a,
			slog.String(string(dualrun.AttrShadowTraceID), r.ShadowSpan.TraceID().String()),
			slog.String(string(dualrun.AttrShadowSpanID), r.ShadowSpan.SpanID().String()))
	}
	if e.cfg.values {
		if r.Diff != "" {
			a = append(a, slog.String("dualrun.diff", r.Diff))
		}
		if r.LegacyErr != nil {
			a = append(a, slog.String("dualrun.legacy.error", redact.ErrorText(r.LegacyErr)))
		}
		if r.CandidateErr != nil {
			a = append(a, slog.String("dualrun.candidate.error", redact.ErrorText(r.CandidateErr)))
		}
		if r.CallbackErr != nil {
			a = append(a, slog.String("dualrun.callback.error", redact.ErrorText(r.CallbackErr)))
		}
	}
	if e.cfg.keys && r.Key != "" {
		a = append(a, slog.String("dualrun.key", r.Key))
	}
	return a
}
