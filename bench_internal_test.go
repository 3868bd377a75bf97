package dualrun

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The drained benchmarks measure the whole cost of a compared call: the
// caller's part and the shadow's (comparison, telemetry), on -cpu 2, against
// a hand-written floor doing the least a compared call can: start a
// goroutine, run legacy inline, hand the result over, compare with ==.
//
// Callers stop issuing while more than maxBacklog calls are unfinished, for
// both, so that neither builds an unbounded backlog of goroutines (which
// would measure the garbage collector scanning them, not the call).

const maxBacklog = 256

type drainValue struct {
	ID    int64
	Cents int64
	Code  string
}

//go:noinline
func drainLegacy(context.Context) (drainValue, error) {
	return drainValue{ID: 1, Cents: 1999, Code: "EUR"}, nil
}

//go:noinline
func drainCandidate(context.Context) (drainValue, error) {
	return drainValue{ID: 1, Cents: 1999, Code: "EUR"}, nil
}

// drive calls op b.N times, from one caller or from b.RunParallel callers.
func drive(b *testing.B, parallel bool, op func()) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			op()
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

func benchDrained(b *testing.B, parallel bool, opts ...Option) {
	SetProcessMaxInFlight(1 << 20)
	defer SetProcessMaxInFlight(DefaultProcessMaxInFlight)
	exp := New[drainValue](b.Name(), append(opts, WithMaxInFlight(1<<20))...)
	ctx := context.Background()
	drive(b, parallel, func() {
		for exp.c.pending.Load() > maxBacklog {
			runtime.Gosched()
		}
		_, _ = exp.Run(ctx, drainLegacy, drainCandidate)
	})
	if err := exp.Shutdown(context.Background()); err != nil { // drains
		b.Fatal(err)
	}
	b.StopTimer()
	if s := exp.Stats(); s.Count(Match) != s.Compared || s.Compared != s.Calls {
		b.Fatalf("drained benchmark did not match every call: %v of %d", s.Outcomes, s.Calls)
	}
}

func benchFloor(b *testing.B, parallel bool) {
	var backlog, mismatches atomic.Int64
	ctx := context.Background()
	drive(b, parallel, func() {
		for backlog.Load() > maxBacklog {
			runtime.Gosched()
		}
		backlog.Add(1)
		ch := make(chan drainValue, 1)
		go func() {
			c, _ := drainCandidate(ctx)
			if l := <-ch; l != c {
				mismatches.Add(1)
			}
			backlog.Add(-1)
		}()
		v, _ := drainLegacy(ctx)
		ch <- v
	})
	for backlog.Load() > 0 {
		runtime.Gosched()
	}
	if mismatches.Load() != 0 {
		b.Fatal("floor mismatched")
	}
}

func noopProviders() []Option {
	return []Option{WithMeterProvider(metricnoop.NewMeterProvider()), WithTracerProvider(tracenoop.NewTracerProvider())}
}

func BenchmarkSerialComparedDrainedNoop(b *testing.B) { benchDrained(b, false, noopProviders()...) }

func BenchmarkSerialFloor(b *testing.B) { benchFloor(b, false) }

func BenchmarkComparedDrainedNoop(b *testing.B) { benchDrained(b, true, noopProviders()...) }

func BenchmarkComparedDrainedSDK(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	benchDrained(b, true, WithMeterProvider(mp), WithTracerProvider(tracenoop.NewTracerProvider()))
}

func BenchmarkFloor(b *testing.B) { benchFloor(b, true) }
