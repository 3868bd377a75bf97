package dualrun_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin stats.go: the mismatch rate, the effective
// configuration in Stats.Config, and the bounded mismatch fields.

// TestMismatchRate pins the formula: mismatch / (match + mismatch + ignored).
func TestMismatchRate(t *testing.T) {
	var s dualrun.Stats
	if s.MismatchRate() != 0 {
		t.Fatal("empty stats rate != 0")
	}
	s.Outcomes[dualrun.Match] = 6
	s.Outcomes[dualrun.Mismatch] = 3
	s.Outcomes[dualrun.Ignored] = 1
	s.Outcomes[dualrun.Timeout] = 100
	s.Outcomes[dualrun.Shed] = 100
	if got := s.MismatchRate(); got != 0.3 {
		t.Fatalf("rate %v, want 0.3", got)
	}
}

// TestStatsConfig shows the effective configuration, including a limit
// capped by the process-wide cap.
func TestStatsConfig(t *testing.T) {
	pol := rollout.Static{Shadow: rollout.Percent(5)}
	old := newExp[price](t).Stats().Config.ProcessMaxInFlight
	dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
	defer dualrun.SetProcessMaxInFlight(old)
	exp := newExp[price](t, dualrun.WithMaxInFlight(5000), dualrun.WithShadowTimeout(3*time.Second), dualrun.WithRollout(pol))
	defer waitShutdown(t, exp)
	c := exp.Stats().Config
	if c.MaxInFlight != 5000 || c.ProcessMaxInFlight != dualrun.DefaultProcessMaxInFlight ||
		c.EffectiveMaxInFlight != dualrun.DefaultProcessMaxInFlight || c.ShadowTimeout != 3*time.Second ||
		c.Policy != rollout.Policy(pol) || c.Sequential || c.Paused || c.CompareBudget != dualrun.DefaultCompareBudget {
		t.Fatalf("Config = %+v", c)
	}
}

// TestTelemetryMismatchFields: the differing paths are counted in
// Stats.Fields and dualrun.mismatch.fields, slice indices folded, bounded by
// WithMaxFields.
func TestTelemetryMismatchFields(t *testing.T) {
	field := func(name, path string, n int64) metricdata.DataPoint[int64] {
		return telPoint(n, dualrun.AttrExperiment.String(name), dualrun.AttrField.String(path))
	}
	cases := []struct {
		name, reason string
		run          func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats }
		want         []dualrun.FieldCount
	}{
		{
			name:   "slice_index_folded",
			reason: "slice indices fold to [*]: prices differing in any item count as one field",
			run: func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats } {
				exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)))...)
				for _, c := range []priceQuote{quoteOf(1, 2, 999), quoteOf(999, 2, 3)} {
					if _, err := exp.Run(context.Background(), ret(quoteOf(1, 2, 3), nil), ret(c, nil)); err != nil {
						t.Fatal(err)
					}
				}
				waitShutdown(t, exp)
				return exp
			},
			want: []dualrun.FieldCount{{Path: ".Items[*].Price", Count: 2}},
		},
		{
			name:   "bounded_into_other",
			reason: "WithMaxFields(2): the paths (sorted) beyond the first two fold into \"_OTHER\"",
			run: func(t *testing.T, h *telHarness, name string) interface{ Stats() dualrun.Stats } {
				exp := dualrun.New[wide](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Candidate)),
					dualrun.WithMaxFields(2))...)
				if _, err := exp.Run(context.Background(), ret(wide{}, nil), ret(wide{A: 1, B: 1, C: 1}, nil)); err != nil {
					t.Fatal(err)
				}
				waitShutdown(t, exp)
				return exp
			},
			want: []dualrun.FieldCount{{Path: ".A", Count: 1}, {Path: ".B", Count: 1}, {Path: "_OTHER", Count: 1}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			exp := c.run(t, h, name)
			var want []metricdata.DataPoint[int64]
			for _, f := range c.want {
				want = append(want, field(name, f.Path, f.Count))
			}
			telAssertSum(t, h.collect(t), dualrun.MetricMismatchFields, "{field}", true, false, want...)
			if got := exp.Stats().Fields; !slices.Equal(got, c.want) {
				t.Errorf("Stats.Fields = %v, want %v (%s)", got, c.want, c.reason)
			}
		})
	}
}
