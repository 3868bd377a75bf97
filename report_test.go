package dualrun_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
)

// These tests pin report.go: what a Report holds and withholds,
// deduplication of identical mismatches, and the report rate.

// TestTelemetryReportContents: a mismatch's Report names the experiment, the
// outcome and kind, the folded paths, a diff cut to WithDiffLimit, the
// caller's and the shadow's spans, and the key only with WithReportKeys.
func TestTelemetryReportContents(t *testing.T) {
	const diffLimit = 128
	cases := []struct {
		name, reason string
		reportKeys   bool
		primary      dualrun.Side
		wantKey      string
	}{
		{name: "key_withheld", reason: "keys can be personal data: left out by default", primary: dualrun.Legacy},
		{name: "key_withheld_candidate_primary", reason: "the same after cut-over", primary: dualrun.Candidate},
		{name: "key_reported", reason: "WithReportKeys lets the key through", reportKeys: true, primary: dualrun.Legacy, wantKey: "customer-42"},
		{name: "key_reported_candidate_primary", reason: "the same after cut-over", reportKeys: true, primary: dualrun.Candidate, wantKey: "customer-42"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			reports := make(chan *dualrun.Report, 4)
			pub := dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
				reports <- r
				return nil
			}))
			opts := h.with(dualrun.WithRollout(alwaysCompare(c.primary)), dualrun.WithPublisher(pub),
				dualrun.WithDiffLimit(diffLimit))
			if c.reportKeys {
				opts = append(opts, dualrun.WithReportKeys())
			}
			exp := dualrun.New[priceQuote](name, opts...)

			ctx := dualrun.WithKey(context.Background(), "customer-42")
			ctx, caller := h.tp.Tracer("checkout").Start(ctx, "POST /checkout")
			// Twenty repriced items: a diff far longer than the limit.
			var lp, cp []int64
			for i := range 20 {
				lp = append(lp, int64(1000+i))
				cp = append(cp, int64(2000+i))
			}
			if _, err := exp.Run(ctx, ret(quoteOf(lp...), nil), ret(quoteOf(cp...), nil)); err != nil {
				t.Fatal(err)
			}
			waitShutdown(t, exp)
			caller.End()

			if len(reports) != 1 {
				t.Fatalf("published %d reports, want 1", len(reports))
			}
			r := <-reports
			spans := h.shadowSpans(name)
			if len(spans) != 1 {
				t.Fatalf("got %d shadow spans, want 1", len(spans))
			}
			if r.Experiment != name || r.Outcome != dualrun.Mismatch || r.Kind != dualrun.ValueMismatch || r.Primary != c.primary {
				t.Errorf("report = %s (%v/%v, primary %v), want %s: mismatch/value (primary %v)",
					r.Experiment, r.Outcome, r.Kind, r.Primary, name, c.primary)
			}
			if want := []string{".Items[*].Price"}; !slices.Equal(r.Paths, want) {
				t.Errorf("Paths = %q, want %q", r.Paths, want)
			}
			if r.Diff == "" || len(r.Diff) > diffLimit {
				t.Errorf("len(Diff) = %d, want 1..%d:\n%s", len(r.Diff), diffLimit, r.Diff)
			}
			if !r.CallerSpan.IsValid() || !r.CallerSpan.Equal(caller.SpanContext()) {
				t.Errorf("CallerSpan = %v, want %v", r.CallerSpan, caller.SpanContext())
			}
			if !r.ShadowSpan.IsValid() || !r.ShadowSpan.Equal(spans[0].SpanContext()) {
				t.Errorf("ShadowSpan = %v, want the recorded shadow span %v", r.ShadowSpan, spans[0].SpanContext())
			}
			if r.Key != c.wantKey {
				t.Errorf("Key = %q, want %q (%s)", r.Key, c.wantKey, c.reason)
			}
			if r.LegacyErr != nil || r.CandidateErr != nil {
				t.Errorf("errors = %v, %v; want none", r.LegacyErr, r.CandidateErr)
			}
		})
	}
}

// TestReportRateAndDedup: identical path sets are published once per
// window; the rate limit caps the rest; both are counted as suppressed.
func TestReportRateAndDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		pub := dualrun.NamePublisher("count", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { n.Add(1); return nil }))
		exp := newExp[price](t, dualrun.WithPublisher(pub), dualrun.WithReportRate(1, 2))
		// Five identical mismatches: one report.
		for range 5 {
			_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
		}
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("identical mismatches published %d times, want 1", n.Load())
		}
		// Distinct signatures: the burst of 2 allows one more right away.
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{100, "USD"}, nil))
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, errors.New("x")))
		synctest.Wait()
		if n.Load() != 2 {
			t.Fatalf("published %d, want 2 (rate limit burst 2)", n.Load())
		}
		time.Sleep(time.Minute) // the window passes and the bucket refills
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
		waitShutdown(t, exp)
		if s := exp.Stats(); n.Load() != 3 || s.ReportsPublished != 3 || s.ReportsSuppressed != 5 {
			t.Fatalf("published %d (stats %d), suppressed %d", n.Load(), s.ReportsPublished, s.ReportsSuppressed)
		}
	})
}
