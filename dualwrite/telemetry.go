package dualwrite

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
)

// Instrument names. Dashboards and alerts depend on them.
const (
	// MetricPending is the number of journaled writes not yet applied to
	// the store named by dualrun.side (failed ones excluded).
	MetricPending = "dualwrite.pending"
	// MetricOldestAge is the age of the oldest of them, in seconds (0 when
	// none): how far the store lags.
	MetricOldestAge = "dualwrite.pending.oldest_age"
	// MetricFailed is the number of writes in the failed state, waiting for
	// Writer.Retry.
	MetricFailed = "dualwrite.failed"
	// MetricRetries counts failed attempts that were scheduled again.
	MetricRetries = "dualwrite.retries"
	// MetricFailures counts writes given up (moved to the failed state), by
	// dualwrite.reason.
	MetricFailures = "dualwrite.failures"
	// MetricApplied counts journaled writes applied to the other store, by
	// dualwrite.result: "applied", or "skipped" when the store already had
	// them or a newer write (a replay).
	MetricApplied = "dualwrite.applied"
	// MetricReconciled counts records compared by the reconciler, by
	// dualwrite.divergence.
	MetricReconciled = "dualwrite.reconcile.records"
	// MetricRepairs counts records the reconciler repaired.
	MetricRepairs = "dualwrite.reconcile.repairs"
)

// Attribute keys beside dualrun's (dualrun.experiment, dualrun.side).
const (
	// AttrReason says why a write was given up: "malformed" (an entry that
	// cannot be decoded), "rejected" (an error marked ErrPermanent, such as
	// a constraint violation) or "exhausted" (WithMaxAttempts reached).
	AttrReason = attribute.Key("dualwrite.reason")
	// AttrResult is "applied" or "skipped".
	AttrResult = attribute.Key("dualwrite.result")
	// AttrDivergence is what the reconciler found for a record: "match",
	// "missing" (in the primary only), "extra" (in the secondary only),
	// "changed" (in both, different), or "pending" (different, with a
	// journaled write on its way).
	AttrDivergence = attribute.Key("dualwrite.divergence")
)

// Reasons of MetricFailures.
const (
	ReasonMalformed = "malformed"
	ReasonRejected  = "rejected"
	ReasonExhausted = "exhausted"
)

var reasons = [...]string{ReasonMalformed, ReasonRejected, ReasonExhausted}

// telemetry is a writer's instruments and precomputed attribute sets.
type telemetry struct {
	tracer   trace.Tracer
	retries  metric.Int64Counter
	failures metric.Int64Counter
	applied  metric.Int64Counter
	recs     metric.Int64Counter
	repairs  metric.Int64Counter
	reg      metric.Registration

	side     [2]metric.MeasurementOption               // experiment, side
	reason   [2][len(reasons)]metric.MeasurementOption // + reason
	result   [2][2]metric.MeasurementOption            // + result (applied, skipped)
	divs     [numDivergence]metric.MeasurementOption
	expOnly  metric.MeasurementOption
	gauges   [2]metric.ObserveOption
	snapshot atomic.Pointer[journalStats] // the applier's last count
	nowNanos func() int64
}

func newTelemetry(name string, mp metric.MeterProvider, tp trace.TracerProvider, now func() int64) *telemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	t := &telemetry{
		tracer:   tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		nowNanos: now,
	}
	exp := dualrun.AttrExperiment.String(name)
	t.expOnly = metric.WithAttributeSet(attribute.NewSet(exp))
	for s := range 2 {
		side := dualrun.AttrSide.String(dualrun.Side(s).String())
		set := attribute.NewSet(exp, side)
		t.side[s] = metric.WithAttributeSet(set)
		t.gauges[s] = metric.WithAttributeSet(set)
		for i, r := range reasons {
			t.reason[s][i] = metric.WithAttributeSet(attribute.NewSet(exp, side, AttrReason.String(r)))
		}
		t.result[s][0] = metric.WithAttributeSet(attribute.NewSet(exp, side, AttrResult.String("applied")))
		t.result[s][1] = metric.WithAttributeSet(attribute.NewSet(exp, side, AttrResult.String("skipped")))
	}
	for d := range numDivergence {
		t.divs[d] = metric.WithAttributeSet(attribute.NewSet(exp, AttrDivergence.String(Divergence(d).String())))
	}

	var err error
	t.retries, err = m.Int64Counter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts to apply a journaled write to the other store, scheduled again."))
	handle(err)
	t.failures, err = m.Int64Counter(MetricFailures, metric.WithUnit("{write}"),
		metric.WithDescription("Journaled writes given up (moved to the failed state), by reason."))
	handle(err)
	t.applied, err = m.Int64Counter(MetricApplied, metric.WithUnit("{write}"),
		metric.WithDescription("Journaled writes applied to the other store (skipped: it had them already)."))
	handle(err)
	t.recs, err = m.Int64Counter(MetricReconciled, metric.WithUnit("{record}"),
		metric.WithDescription("Records compared by the reconciler, by what it found."))
	handle(err)
	t.repairs, err = m.Int64Counter(MetricRepairs, metric.WithUnit("{record}"),
		metric.WithDescription("Records of the secondary store repaired from the primary by the reconciler."))
	handle(err)
	pending, err := m.Int64ObservableUpDownCounter(MetricPending, metric.WithUnit("{write}"),
		metric.WithDescription("Journaled writes not yet applied to the store (dualrun.side)."))
	handle(err)
	oldest, err := m.Float64ObservableGauge(MetricOldestAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest journaled write not yet applied to the store (dualrun.side)."))
	handle(err)
	failed, err := m.Int64ObservableUpDownCounter(MetricFailed, metric.WithUnit("{write}"),
		metric.WithDescription("Journaled writes in the failed state, waiting for a retry by hand."))
	handle(err)

	// Every series of the bounded sets exists from the start, at zero.
	ctx := context.Background()
	for s := range 2 {
		t.retries.Add(ctx, 0, t.side[s])
		for i := range reasons {
			t.failures.Add(ctx, 0, t.reason[s][i])
		}
		t.applied.Add(ctx, 0, t.result[s][0])
		t.applied.Add(ctx, 0, t.result[s][1])
	}
	for d := range numDivergence {
		t.recs.Add(ctx, 0, t.divs[d])
	}
	t.repairs.Add(ctx, 0, t.expOnly)

	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := t.snapshot.Load()
		if s == nil {
			s = &journalStats{}
		}
		now := t.nowNanos()
		for i := range 2 {
			o.ObserveInt64(pending, s.pending[i], t.gauges[i])
			o.ObserveInt64(failed, s.failed[i], t.gauges[i])
			age := 0.0
			if s.oldest[i] > 0 && now > s.oldest[i] {
				age = float64(now-s.oldest[i]) / 1e9
			}
			o.ObserveFloat64(oldest, age, t.gauges[i])
		}
		return nil
	}, pending, oldest, failed)
	handle(err)
	return t
}

func (t *telemetry) unregister() {
	if t.reg != nil {
		handle(t.reg.Unregister())
	}
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// handleLive handles err unless ctx ended: a journal operation cut short
// by the applier stopping is no news.
func handleLive(ctx context.Context, err error) {
	if ctx.Err() == nil {
		handle(err)
	}
}
