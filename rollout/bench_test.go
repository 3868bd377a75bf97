package rollout_test

import (
	"context"
	"testing"

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
