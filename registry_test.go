package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin registry.go: Run's registry of names, the package-level
// Shutdown and Unregister, the experiment cap, handles, and what an
// experiment costs in memory.

// TestRunRegistry: Run needs a name, keeps one experiment per name (the
// first options win) and panics on a second type.
func TestRunRegistry(t *testing.T) {
	name := expName(t)
	mustPanic(t, "missing WithName", func() {
		_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice)
	})
	_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice, dualrun.WithName(name),
		dualrun.WithRollout(rollout.Static{}))
	// Later options are ignored: this would compare every call.
	_, _ = dualrun.Run(context.Background(), legacyPrice, candidatePrice, dualrun.WithName(name))
	mustPanic(t, "was first used with type", func() {
		_, _ = dualrun.Run(context.Background(),
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { return 1, nil }, dualrun.WithName(name))
	})
	if err := dualrun.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var s dualrun.Stats
	for _, st := range dualrun.AllStats() {
		if st.Name == name {
			s = st
		}
	}
	if s.Calls != 2 || s.Compared != 0 || !s.ShutDown {
		t.Fatalf("stats of %q: calls %d compared %d shut down %v; want the first call's options", name, s.Calls, s.Compared, s.ShutDown)
	}
}

// TestRunFirstUsePanics: a first Run whose options panic (a typed option
// for another T) leaves nothing behind: the name stays usable, and the
// package-level Shutdown does not trip over it.
func TestRunFirstUsePanics(t *testing.T) {
	inChild(t, func(t *testing.T) {
		ctx := context.Background()
		name := dualrun.WithName("poison.once")
		mustPanic(t, "WithComparer was given a func(int, int) bool", func() {
			_, _ = dualrun.Run(ctx, ret(eur100, nil), ret(eur100, nil), name,
				dualrun.WithComparer(func(a, b int) bool { return a == b }))
		})
		for range 3 {
			v, err := dualrun.Run(ctx, ret(eur100, nil), ret(eur100, nil), name)
			if v != eur100 || err != nil {
				t.Fatalf("Run after a panicking first use = %v, %v", v, err)
			}
		}
		if err := dualrun.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		s, ok := dualrun.StatsOf("poison.once")
		if !ok || s.Calls != 3 || s.Count(dualrun.Match) != 3 {
			t.Fatalf("StatsOf = %v, calls %d, matches %d; want 3 and 3", ok, s.Calls, s.Count(dualrun.Match))
		}
	})
}

// TestShutdownCoversLaterRun: after the package-level Shutdown, a Run with
// a name never seen before runs its primary only, as the documentation
// promises, and still follows its policy's choice of primary.
func TestShutdownCoversLaterRun(t *testing.T) {
	inChild(t, func(t *testing.T) {
		ctx := context.Background()
		if err := dualrun.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		ranShadow := false
		v, _ := dualrun.Run(ctx, func(context.Context) (string, error) { ranShadow = true; return "legacy", nil },
			func(context.Context) (string, error) { return "candidate", nil },
			dualrun.WithName("after.shutdown"),
			dualrun.WithRollout(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}))
		if err := dualrun.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		s, _ := dualrun.StatsOf("after.shutdown")
		if v != "candidate" || ranShadow || s.Compared != 0 || !s.ShutDown {
			t.Fatalf("Run after Shutdown = %q, legacy ran as shadow %v, compared %d, shut down %v", v, ranShadow, s.Compared, s.ShutDown)
		}
	})
}

// TestUnregister: an unregistered experiment leaves AllStats and the
// metric collection, frees its Run name, and keeps answering Stats.
func TestUnregister(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	name := fmt.Sprintf("unregister.%s", t.Name())
	exp := dualrun.New[price](name, dualrun.WithMeterProvider(mp))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
	waitShutdown(t, exp)
	if !listed(name) || !collected(t, reader, name) {
		t.Fatal("a shut-down experiment must stay listed and collected until Unregister")
	}
	exp.Unregister()
	exp.Unregister() // idempotent
	if listed(name) {
		t.Error("AllStats still lists an unregistered experiment")
	}
	if collected(t, reader, name) {
		t.Error("the meter still collects an unregistered experiment")
	}
	if s := exp.Stats(); s.Calls != 1 || s.Count(dualrun.Match) != 1 {
		t.Errorf("Stats after Unregister: calls %d matches %d", s.Calls, s.Count(dualrun.Match))
	}
	if v, _ := exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil)); v != eur100 {
		t.Errorf("Run after Unregister = %v", v)
	}
}

// TestUnregisterRun: dualrun.Unregister frees a Run name; the next Run
// makes a new experiment.
func TestUnregisterRun(t *testing.T) {
	inChild(t, func(t *testing.T) {
		ctx := context.Background()
		name := dualrun.WithName("run.unregister")
		_, _ = dualrun.Run(ctx, ret(eur100, nil), ret(eur100, nil), name)
		if !dualrun.Unregister("run.unregister") || dualrun.Unregister("run.unregister") {
			t.Fatal("Unregister: want true once, then false")
		}
		if _, ok := dualrun.StatsOf("run.unregister"); ok {
			t.Fatal("StatsOf finds an unregistered experiment")
		}
		_, _ = dualrun.Run(ctx, ret(eur100, nil), ret(eur100, nil), name)
		if s, ok := dualrun.StatsOf("run.unregister"); !ok || s.Calls != 1 {
			t.Fatalf("the name was not made anew: %v %d", ok, s.Calls)
		}
		if err := dualrun.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func listed(name string) bool {
	for _, s := range dualrun.AllStats() {
		if s.Name == name {
			return true
		}
	}
	return false
}

// collected reports whether a collection has any data point of name.
func collected(t *testing.T, r *sdkmetric.ManualReader, name string) bool {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					if v, _ := dp.Attributes.Value(dualrun.AttrExperiment); v.AsString() == name {
						return true
					}
				}
			}
		}
	}
	return false
}

// TestExperimentCap: beyond SetMaxExperiments, New neither panics nor
// registers: the experiment runs the primary its policy picks, and the
// OpenTelemetry error handler hears ErrTooManyExperiments.
func TestExperimentCap(t *testing.T) {
	inChild(t, func(t *testing.T) {
		var mu sync.Mutex
		var handled []error
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			mu.Lock()
			handled = append(handled, err)
			mu.Unlock()
		}))
		before := len(dualrun.AllStats())
		dualrun.SetMaxExperiments(before + 2)
		var exps []*dualrun.Experiment[string]
		for i := range 3 {
			exps = append(exps, dualrun.New[string](fmt.Sprintf("cap.%d", i),
				dualrun.WithRollout(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All})))
		}
		shadowRan := false
		v, _ := exps[2].Run(context.Background(), func(context.Context) (string, error) { shadowRan = true; return "l", nil },
			func(context.Context) (string, error) { return "c", nil })
		if v != "c" || shadowRan {
			t.Errorf("over the cap: Run = %q, shadow ran %v; want the candidate primary alone", v, shadowRan)
		}
		if n := len(dualrun.AllStats()); n != before+2 {
			t.Errorf("AllStats has %d experiments, want %d", n, before+2)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(handled) != 1 || !errors.Is(handled[0], dualrun.ErrTooManyExperiments) {
			t.Fatalf("handled %v, want one ErrTooManyExperiments", handled)
		}
		// Unregistering makes room again.
		exps[0].Unregister()
		e := dualrun.New[string]("cap.again")
		if !listed("cap.again") {
			t.Error("no room after Unregister")
		}
		for _, x := range append(exps, e) {
			waitShutdown(t, x)
		}
	})
}

// TestNoLeakPerExperiment: New + Run + Shutdown + Unregister, repeated,
// keeps the heap flat (an experiment used to cost ~29 KB for ever). Two
// cases: the same name again and again with the real SDK meter (a service
// that remakes an experiment), and distinct names with the default (no-op)
// meter. With the SDK and distinct names the SDK itself keeps one
// cumulative series per attribute set, up to its cardinality limit: that
// memory is the SDK's, and Unregister cannot return it.
func TestNoLeakPerExperiment(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	tests := []struct {
		name string
		make func(i int) *dualrun.Experiment[price]
	}{
		{"same-name-sdk", func(int) *dualrun.Experiment[price] {
			return dualrun.New[price]("leak.same", dualrun.WithMeterProvider(mp))
		}},
		{"distinct-names-noop", func(i int) *dualrun.Experiment[price] {
			return dualrun.New[price](fmt.Sprintf("leak.%d", i))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cycle := func(i int) {
				exp := tt.make(i)
				_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
				waitShutdown(t, exp)
				exp.Unregister()
			}
			for i := range 200 { // warm up: pools, caches, the SDK's instruments
				cycle(i)
			}
			before := heapInUse()
			const n = 2000
			for i := range n {
				cycle(1000 + i)
			}
			after := heapInUse()
			perCycle := (int64(after) - int64(before)) / n
			t.Logf("heap growth per New+Run+Shutdown+Unregister cycle: %d bytes", perCycle)
			if perCycle > 512 {
				t.Fatalf("heap grows %d bytes per experiment cycle; want it flat (<= 512 B)", perCycle)
			}
		})
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkExperimentFootprint measures what one registered experiment
// costs in memory, with the real OTel SDK meter (the README quotes it).
func BenchmarkExperimentFootprint(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	const n = 1000
	exps := make([]*dualrun.Experiment[price], 0, n)
	var total float64
	for i := 0; b.Loop(); i++ {
		before := heapInUse()
		for j := range n {
			exp := dualrun.New[price](fmt.Sprintf("footprint.%d.%d", i, j), dualrun.WithMeterProvider(mp))
			_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(eur100, nil))
			exps = append(exps, exp)
		}
		for _, e := range exps {
			_ = e.Shutdown(context.Background())
		}
		after := heapInUse()
		total += float64(int64(after)-int64(before)) / n
		for _, e := range exps {
			e.Unregister()
		}
		exps = exps[:0]
	}
	b.ReportMetric(total/float64(b.N), "bytes/experiment")
}

// TestExperimentsHandles: handles list registered experiments in order and
// steer them without their type.
func TestExperimentsHandles(t *testing.T) {
	a := newExp[price](t)
	b := newExp[string](t)
	defer waitShutdown(t, a)
	defer waitShutdown(t, b)
	var found []dualrun.Handle
	for _, h := range dualrun.Experiments() {
		if h.Name() == a.Name() || h.Name() == b.Name() {
			found = append(found, h)
		}
	}
	if len(found) != 2 || found[0].Name() > found[1].Name() || found[0].ID() == found[1].ID() {
		t.Fatalf("handles %v", found)
	}
	for _, h := range found {
		h.PauseShadows()
		if !h.Stats().Config.Paused {
			t.Errorf("%s: not paused through its handle", h.Name())
		}
		h.ResumeShadows()
	}
	if !a.Decide(context.Background()).Shadow {
		t.Error("a handle's ResumeShadows did not resume")
	}
}
