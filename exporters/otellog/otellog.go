package otellog

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// ScopeName is the instrumentation scope of the exporter's logger: this
// package's import path.
const ScopeName = "github.com/dualrun/dualrun/exporters/otellog"

// EventName is the event name of every record.
const EventName = "dualrun.report"

// Exporter is a dualrun Publisher that emits each Report as an
// OpenTelemetry log record. Make it with [New]. It is safe for concurrent
// use.
type Exporter struct {
	logger log.Logger
	cfg    config
}

// New returns an Exporter.
func New(opts ...Option) *Exporter {
	cfg := newConfig(opts)
	p := cfg.provider
	if p == nil {
		p = otel.GetLoggerProvider()
	}
	return &Exporter{
		logger: p.Logger(ScopeName, log.WithInstrumentationVersion(dualrun.Version)),
		cfg:    cfg,
	}
}

// Name returns "otellog", the dualrun.exporter attribute of the Reports it
// drops.
func (e *Exporter) Name() string { return "otellog" }

// severity is the record severity of an outcome.
func severity(o dualrun.Outcome) (log.Severity, string) {
	switch o {
	case dualrun.Panic, dualrun.Error:
		return log.SeverityError, "ERROR"
	case dualrun.Mismatch, dualrun.Timeout:
		return log.SeverityWarn, "WARN"
	}
	return log.SeverityInfo, "INFO"
}

// Publish emits r. The Logs API reports no delivery errors (the SDK passes
// its own to the OpenTelemetry error handler); Publish fails only when the
// redaction hook panics.
func (e *Exporter) Publish(ctx context.Context, r *dualrun.Report) error {
	r, err := redact.Apply(r, e.cfg.redact, e.cfg.maxDiff)
	if err != nil || r == nil {
		return err
	}
	if r.ShadowSpan.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, r.ShadowSpan)
	}
	sev, text := severity(r.Outcome)
	if !e.logger.Enabled(ctx, log.EnabledParameters{Severity: sev, EventName: EventName}) {
		return nil
	}
	var rec log.Record
	rec.SetEventName(EventName)
	rec.SetTimestamp(r.Time)
	rec.SetObservedTimestamp(time.Now())
	rec.SetSeverity(sev)
	rec.SetSeverityText(text)
	rec.SetBody(attribute.StringValue(r.String()))
	rec.AddAttributes(e.attrs(r)...)
	e.logger.Emit(ctx, rec)
	return nil
}

func (e *Exporter) attrs(r *dualrun.Report) []attribute.KeyValue {
	a := make([]attribute.KeyValue, 0, 16)
	a = append(a, dualrun.AttrExperiment.String(r.Experiment), dualrun.AttrOutcome.String(r.Outcome.String()))
	if r.Kind != dualrun.NoMismatch {
		a = append(a, dualrun.AttrMismatchKind.String(r.Kind.String()))
	}
	a = append(a, dualrun.AttrPrimary.String(r.Primary.String()), attribute.String("dualrun.report.id", r.ID))
	if len(r.Paths) > 0 {
		a = append(a, dualrun.AttrPaths.StringSlice(r.Paths))
	}
	if r.LegacyDuration > 0 {
		a = append(a, attribute.Float64("dualrun.legacy.duration", r.LegacyDuration.Seconds()))
	}
	if r.CandidateDuration > 0 {
		a = append(a, attribute.Float64("dualrun.candidate.duration", r.CandidateDuration.Seconds()))
	}
	if r.LegacyErrorType != "" {
		a = append(a, dualrun.AttrLegacyErrorType.String(r.LegacyErrorType))
	}
	if r.CandidateErrorType != "" {
		a = append(a, dualrun.AttrCandidateErrorType.String(r.CandidateErrorType))
	}
	if r.CallbackErr != nil {
		a = append(a, attribute.String("dualrun.callback", redact.CallbackName(r.CallbackErr)))
	}
	if e.cfg.values {
		if r.Diff != "" {
			a = append(a, attribute.String("dualrun.diff", r.Diff))
		}
		if r.LegacyErr != nil {
			a = append(a, attribute.String("dualrun.legacy.error", redact.ErrorText(r.LegacyErr)))
		}
		if r.CandidateErr != nil {
			a = append(a, attribute.String("dualrun.candidate.error", redact.ErrorText(r.CandidateErr)))
		}
		if r.CallbackErr != nil {
			a = append(a, attribute.String("dualrun.callback.error", redact.ErrorText(r.CallbackErr)))
		}
	}
	if e.cfg.keys && r.Key != "" {
		a = append(a, attribute.String("dualrun.key", r.Key))
	}
	return a
}
