package dualrun_test

import (
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// benchValue is a small comparable result, compared with ==.
type benchValue struct {
	ID    int64
	Cents int64
	Code  string
}

//go:noinline
func legacyBench(context.Context) (benchValue, error) {
	return benchValue{ID: 1, Cents: 1999, Code: "EUR"}, nil
}

//go:noinline
func candidateBench(context.Context) (benchValue, error) {
	return benchValue{ID: 1, Cents: 1999, Code: "EUR"}, nil
}

type ctxKey int

// deepContext is a context 10 values deep, like a request context after a
// few middlewares.
func deepContext() context.Context {
	ctx := context.Background()
	for i := range 10 {
		ctx = context.WithValue(ctx, ctxKey(i), i)
	}
	return ctx
}

var sink benchValue

func noopOpts() []dualrun.Option {
	return []dualrun.Option{
		dualrun.WithMeterProvider(metricnoop.NewMeterProvider()),
		dualrun.WithTracerProvider(tracenoop.NewTracerProvider()),
	}
}

// BenchmarkDirect is the baseline: calling legacy directly.
func BenchmarkDirect(b *testing.B) {
	ctx := deepContext()
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = legacyBench(ctx)
	}
}

// uncomparedExp makes an experiment with policy p whose every call takes the
// uncompared path: p draws on every call, and the kill switch (turned back
// on when the benchmark ends) keeps the calls p selects for a shadow
// uncompared too.
func uncomparedExp(b *testing.B, p rollout.Policy) *dualrun.Experiment[benchValue] {
	exp := dualrun.New[benchValue](expName(b), append(noopOpts(), dualrun.WithRollout(p))...)
	dualrun.DisableShadows()
	b.Cleanup(func() {
		dualrun.EnableShadows()
		waitShutdown(b, exp)
	})
	b.ReportAllocs()
	return exp
}

// BenchmarkUncompared is the uncompared path of Experiment.Run with
// rollout.Static at 1% shadow.
func BenchmarkUncompared(b *testing.B) {
	ctx := deepContext()
	exp := uncomparedExp(b, rollout.Static{Shadow: rollout.Percent(1)})
	for b.Loop() {
		sink, _ = exp.Run(ctx, legacyBench, candidateBench)
	}
}

// BenchmarkDecideUncompared is BenchmarkUncompared through the
// decide-first API: Decide, then RunDecision.
func BenchmarkDecideUncompared(b *testing.B) {
	ctx := deepContext()
	exp := uncomparedExp(b, rollout.Static{Shadow: rollout.Percent(1)})
	for b.Loop() {
		d := exp.Decide(ctx)
		sink, _ = exp.RunDecision(ctx, d, legacyBench, candidateBench)
	}
}

// BenchmarkUncomparedLive is BenchmarkUncompared with a rollout.Live policy
// (what flag sources feed) instead of a rollout.Static.
func BenchmarkUncomparedLive(b *testing.B) {
	ctx := deepContext()
	exp := uncomparedExp(b, rollout.NewLive(rollout.Static{Shadow: rollout.Percent(1)}))
	for b.Loop() {
		sink, _ = exp.Run(ctx, legacyBench, candidateBench)
	}
}

// BenchmarkMixed1Pct is Experiment.Run with rollout.Static at 1% shadow and
// shadows on: 99% of calls take the uncompared path, 1% are compared, and
// their shadow work shares the benchmark's CPUs.
func BenchmarkMixed1Pct(b *testing.B) {
	ctx := deepContext()
	exp := dualrun.New[benchValue](expName(b), append(noopOpts(),
		dualrun.WithRollout(rollout.Static{Shadow: rollout.Percent(1)}),
		dualrun.WithMaxInFlight(1024))...)
	defer waitShutdown(b, exp)
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = exp.Run(ctx, legacyBench, candidateBench)
	}
}

func BenchmarkParallelDirect(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := deepContext()
		var v benchValue
		for pb.Next() {
			v, _ = legacyBench(ctx)
		}
		_ = v
	})
}

func BenchmarkParallelUncompared(b *testing.B) {
	exp := uncomparedExp(b, rollout.Static{Shadow: rollout.Percent(1)})
	b.RunParallel(func(pb *testing.PB) {
		ctx := deepContext()
		var v benchValue
		for pb.Next() {
			v, _ = exp.Run(ctx, legacyBench, candidateBench)
		}
		_ = v
	})
}

// BenchmarkCapturingClosure shows what a capturing closure costs the
// uncompared path: the closure escapes (it may run on a shadow goroutine),
// so the caller allocates it.
func BenchmarkCapturingClosure(b *testing.B) {
	ctx := deepContext()
	exp := uncomparedExp(b, rollout.Static{Shadow: rollout.Percent(1)})
	id := int64(7)
	for b.Loop() {
		sink, _ = exp.Run(ctx,
			func(context.Context) (benchValue, error) { return benchValue{ID: id}, nil },
			func(context.Context) (benchValue, error) { return benchValue{ID: id}, nil })
	}
}

// BenchmarkComparedCaller is a compared call as the caller sees it: the
// shadow work is not waited for.
func BenchmarkComparedCaller(b *testing.B) {
	ctx := deepContext()
	exp := dualrun.New[benchValue](expName(b), append(noopOpts(), dualrun.WithMaxInFlight(1<<20))...)
	defer waitShutdown(b, exp)
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = exp.Run(ctx, legacyBench, candidateBench)
	}
}

// BenchmarkParallelComparedCaller is BenchmarkComparedCaller from
// b.RunParallel callers.
func BenchmarkParallelComparedCaller(b *testing.B) {
	exp := dualrun.New[benchValue](expName(b), append(noopOpts(), dualrun.WithMaxInFlight(1<<20))...)
	defer waitShutdown(b, exp)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := deepContext()
		var v benchValue
		for pb.Next() {
			v, _ = exp.Run(ctx, legacyBench, candidateBench)
		}
		_ = v
	})
}

func init() {
	// Benchmarks run far more shadows at once than a service would.
	dualrun.SetProcessMaxInFlight(1 << 20)
}
