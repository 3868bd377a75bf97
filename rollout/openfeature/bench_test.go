package openfeature_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dualrun/dualrun/rollout"
	"github.com/dualrun/dualrun/rollout/openfeature"
)

// BenchmarkDecide measures the per-call decision of the OpenFeature policy
// against rollout.Static in the same run: cached (an atomic load after a
// map lookup) and per call (a flag evaluation per call, with the in-memory
// provider and with flagd in in-process file mode). Run with -cpu 1,2.
func BenchmarkDecide(b *testing.B) {
	value := map[string]any{"primary": "candidate", "candidate_primary_percent": 50.0, "shadow_percent": 10.0}
	s := rollout.Static{Shadow: rollout.Percent(10), CandidatePrimary: rollout.Percent(50)}

	_, memClient := newMemClient(b, flags(value))
	path := filepath.Join(b.TempDir(), "flags.json")
	writeAtomic(b, path, flagdFile(b, map[string]any{exp: objectFlag("half")}))
	flagdClient := newFlagdClient(b, path)
	half := rollout.Static{Shadow: 2500, CandidatePrimary: 5050}

	cached := openfeature.NewPolicy(memClient, openfeature.WithExperiments(exp))
	perCallMem := openfeature.NewPolicy(memClient, openfeature.WithPerCallEvaluation())
	perCallFlagd := openfeature.NewPolicy(flagdClient, openfeature.WithPerCallEvaluation())
	cachedFlagd := openfeature.NewPolicy(flagdClient, openfeature.WithExperiments(exp))
	for _, p := range []*openfeature.Policy{cached, perCallMem, perCallFlagd, cachedFlagd} {
		b.Cleanup(p.Close)
	}
	policies := []struct {
		name string
		p    rollout.Policy
		want rollout.Static
	}{
		{"Static", s, s},
		{"OpenFeature/cached/memprovider", cached, s},
		{"OpenFeature/cached/flagd", cachedFlagd, half},
		{"OpenFeature/per-call/memprovider", perCallMem, s},
		{"OpenFeature/per-call/flagd", perCallFlagd, half},
	}
	ctx := rollout.WithKey(context.Background(), "account-42")
	for _, p := range policies {
		b.Run(p.name, func(b *testing.B) {
			if d, want := p.p.Decide(ctx, exp), p.want.Decide(ctx, exp); d != want {
				b.Fatalf("decision %+v, want %+v", d, want)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				n := 0
				for pb.Next() {
					if p.p.Decide(ctx, exp).Shadow {
						n++
					}
				}
				sink(n)
			})
		})
	}
}

//go:noinline
func sink(int) {}

// BenchmarkDecidePaired measures what the cached OpenFeature policy adds to
// rollout.Static, robustly against load from other processes: alternating
// blocks of Static and policy calls on one goroutine, reporting the median
// per-call difference of paired blocks (delta-ns/op) beside each side's
// median (static-ns/op, other-ns/op).
func BenchmarkDecidePaired(b *testing.B) {
	value := map[string]any{"primary": "candidate", "candidate_primary_percent": 50.0, "shadow_percent": 10.0}
	s := rollout.Static{Shadow: rollout.Percent(10), CandidatePrimary: rollout.Percent(50)}
	_, client := newMemClient(b, flags(value))
	p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp))
	b.Cleanup(p.Close)
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"keyless", context.Background()},
		{"keyed", rollout.WithKey(context.Background(), "account-42")},
	} {
		ctx := c.ctx
		b.Run(c.name+"/cached", func(b *testing.B) {
			const block = 256
			var bases, others, deltas []float64
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 2 * block {
				t0 := time.Now()
				for range block {
					if s.Decide(ctx, exp).Shadow {
						n++
					}
				}
				t1 := time.Now()
				for range block {
					if p.Decide(ctx, exp).Shadow {
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
		})
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
