package rollout_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

// BenchmarkDecide compares the per-call cost of the policies that hold
// percentages, in one run: Live must stay within a few nanoseconds of
// Static (one extra atomic load). Run with -cpu 1,2.
func BenchmarkDecide(b *testing.B) {
	s := rollout.Static{Shadow: rollout.Percent(10), CandidatePrimary: rollout.Percent(50)}
	ramp := rollout.NewRamp("exp", []rollout.Step{{}, {Rollout: s}}, rollout.WithStartStep(1))
	b.Cleanup(ramp.Close)
	policies := []struct {
		name string
		p    rollout.Policy
	}{
		{"Static", s},
		{"Live", rollout.NewLive(s)},
		{"Ramp", ramp},
	}
	ctxs := []struct {
		name string
		ctx  context.Context
	}{
		{"keyless", context.Background()},
		{"keyed", rollout.WithKey(context.Background(), "account-42")},
	}
	for _, c := range ctxs {
		for _, p := range policies {
			b.Run(c.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var n int
					for pb.Next() {
						if p.p.Decide(c.ctx, "exp").Shadow {
							n++
						}
					}
					sink(n)
				})
			})
		}
	}
}

//go:noinline
func sink(int) {}

// BenchmarkDecidePaired measures what Live and Ramp add to Static on this
// machine, robustly against load from other processes: it alternates
// blocks of Static and Live (or Ramp) calls on one goroutine and reports
// the median per-call difference of paired blocks (delta-ns/op), beside
// each side's median (static-ns/op, other-ns/op). Policies are called
// directly, as the core calls them.
func BenchmarkDecidePaired(b *testing.B) {
	s := rollout.Static{Shadow: rollout.Percent(10), CandidatePrimary: rollout.Percent(50)}
	l := rollout.NewLive(s)
	ramp := rollout.NewRamp("exp", []rollout.Step{{}, {Rollout: s}}, rollout.WithStartStep(1))
	b.Cleanup(ramp.Close)
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"keyless", context.Background()},
		{"keyed", rollout.WithKey(context.Background(), "account-42")},
	} {
		ctx := c.ctx
		b.Run(c.name+"/Live", func(b *testing.B) {
			paired(b, func() bool { return s.Decide(ctx, "exp").Shadow }, func() bool { return l.Decide(ctx, "exp").Shadow })
		})
		b.Run(c.name+"/Ramp", func(b *testing.B) {
			paired(b, func() bool { return s.Decide(ctx, "exp").Shadow }, func() bool { return ramp.Decide(ctx, "exp").Shadow })
		})
	}
}

// paired runs base and other in alternating blocks and reports medians.
func paired(b *testing.B, base, other func() bool) {
	const block = 256
	var bases, others, deltas []float64
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 2 * block {
		t0 := time.Now()
		for range block {
			if base() {
				n++
			}
		}
		t1 := time.Now()
		for range block {
			if other() {
				n++
			}
		}
		t2 := time.Now()
		bs, os := float64(t1.Sub(t0))/block, float64(t2.Sub(t1))/block
		bases, others, deltas = append(bases, bs), append(others, os), append(deltas, os-bs)
	}
	sink(n)
	b.ReportMetric(median(bases), "static-ns/op")
	b.ReportMetric(median(others), "other-ns/op")
	b.ReportMetric(median(deltas), "delta-ns/op")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
