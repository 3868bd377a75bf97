package dualrun

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// This file keeps the experiments of the process: the registry behind
// AllStats and its cap, the experiments made by Run (by name), and the
// package-level Shutdown.

// DefaultMaxExperiments caps the live experiments of a process
// ([SetMaxExperiments]).
const DefaultMaxExperiments = 10000

// ErrTooManyExperiments is reported through the OpenTelemetry error handler
// when New or Run would make an experiment beyond [SetMaxExperiments]
// registered ones. That experiment runs the primary its policy picks, compares nothing
// and registers nothing: a service that makes experiment names dynamically
// (from request data, say) degrades instead of running out of memory.
var ErrTooManyExperiments = errors.New("dualrun: too many live experiments; experiment names must be stable and few (see SetMaxExperiments)")

var registry struct {
	mu      sync.Mutex
	seq     uint64
	all     map[*core]struct{}
	max     int
	refused atomic.Int64
}

func init() { registry.max = DefaultMaxExperiments }

// SetMaxExperiments sets how many experiments may be registered (made and
// not unregistered) in the process at once; the default is 10,000. Each costs
// a few tens of kilobytes (the README gives the measured figure). It panics
// if n < 1.
func SetMaxExperiments(n int) {
	if n < 1 {
		panic(fmt.Sprintf("dualrun: SetMaxExperiments(%d): want at least 1", n))
	}
	registry.mu.Lock()
	registry.max = n
	registry.mu.Unlock()
}

// register adds c to the registry, or reports false when the cap is
// reached (the first refusal and every 1,000th after it go to the
// OpenTelemetry error handler).
func register(c *core) bool {
	registry.mu.Lock()
	if len(registry.all) >= registry.max {
		registry.mu.Unlock()
		if n := registry.refused.Add(1); n%1000 == 1 {
			handle(fmt.Errorf("%w: %q not registered (%d refused so far)", ErrTooManyExperiments, c.name, n))
		}
		return false
	}
	registry.seq++
	c.seq = registry.seq
	if registry.all == nil {
		registry.all = make(map[*core]struct{})
	}
	registry.all[c] = struct{}{}
	registry.mu.Unlock()
	return true
}

func unregister(c *core) {
	registry.mu.Lock()
	delete(registry.all, c)
	registry.mu.Unlock()
	if c.runName {
		runExperiments.CompareAndDelete(c.name, c.owner)
	}
}

// The providers of experiments refused by the cap.
var (
	noopMeterProvider  = metricnoop.NewMeterProvider()
	noopTracerProvider = tracenoop.NewTracerProvider()
)

// AllStats returns the statistics of every registered experiment in the
// process (made by New or Run and not unregistered), sorted by name.
func AllStats() []Stats {
	registry.mu.Lock()
	cs := make([]*core, 0, len(registry.all))
	for c := range registry.all {
		cs = append(cs, c)
	}
	registry.mu.Unlock()
	out := make([]Stats, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Stats())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Handle is a view of a registered experiment that does not need its type
// T, for tools that list and steer every experiment of the process (the
// debug page). The zero Handle is not usable.
type Handle struct{ c *core }

// Experiments returns a Handle for every registered experiment, sorted by
// name, then by registration order.
func Experiments() []Handle {
	registry.mu.Lock()
	hs := make([]Handle, 0, len(registry.all))
	for c := range registry.all {
		hs = append(hs, Handle{c})
	}
	registry.mu.Unlock()
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].c.name != hs[j].c.name {
			return hs[i].c.name < hs[j].c.name
		}
		return hs[i].c.seq < hs[j].c.seq
	})
	return hs
}

// Name returns the experiment's name.
func (h Handle) Name() string { return h.c.name }

// ID returns a number unique to the experiment in the process (its
// registration order), telling apart experiments made with the same name.
func (h Handle) ID() uint64 { return h.c.seq }

// Stats returns the experiment's statistics, as [Experiment.Stats].
func (h Handle) Stats() Stats { return h.c.Stats() }

// PauseShadows pauses the experiment's shadows, as
// [Experiment.PauseShadows].
func (h Handle) PauseShadows() { h.c.setPaused(true) }

// ResumeShadows resumes them, as [Experiment.ResumeShadows].
func (h Handle) ResumeShadows() { h.c.setPaused(false) }

// StatsOf returns the statistics of the registered experiment with the given name
// (the first one registered under it), for experiments made by Run, which
// are not otherwise reachable.
func StatsOf(name string) (Stats, bool) {
	registry.mu.Lock()
	var found *core
	for c := range registry.all {
		if c.name == name && (found == nil || c.seq < found.seq) {
			found = c
		}
	}
	registry.mu.Unlock()
	if found == nil {
		return Stats{}, false
	}
	return found.Stats(), true
}

// runExperiments holds the experiments made by Run, by name.
var runExperiments sync.Map

// runClosed is set by the package-level Shutdown: experiments Run makes
// afterwards are born shut down (primary only).
var runClosed atomic.Bool

// runExperiment returns the experiment Run keeps for name, making it with
// opts on first use. New runs outside any lock and before anything is
// stored, so a first use whose options panic leaves the name usable; when
// two first uses race, the loser's experiment is released.
func runExperiment[T any](name string, opts []Option) *Experiment[T] {
	v, ok := runExperiments.Load(name)
	if !ok {
		e := New[T](name, opts...)
		e.c.runName = true
		e.c.owner = e
		if runClosed.Load() {
			e.c.closeShadows()
		}
		if v, ok = runExperiments.LoadOrStore(name, e); ok {
			e.c.runName = false
			e.c.release()
		} else if runClosed.Load() {
			e.c.closeShadows() // Shutdown ran between the check and the store
		}
	}
	e, ok := v.(*Experiment[T])
	if !ok {
		panic(fmt.Sprintf("dualrun.Run: experiment %q was first used with type %s, now with %v",
			name, v.(interface{ typeName() string }).typeName(), reflect.TypeFor[T]()))
	}
	return e
}

func (e *Experiment[T]) typeName() string { return reflect.TypeFor[T]().String() }

// Unregister unregisters the experiment [Run] made for name, as
// [Experiment.Unregister] does, and reports whether there was one. A later
// Run with that name makes a new experiment.
func Unregister(name string) bool {
	v, ok := runExperiments.Load(name)
	if !ok {
		return false
	}
	v.(interface{ Unregister() }).Unregister()
	return true
}

// Shutdown shuts down every experiment made by [Run], then flushes and shuts
// down the process-wide publishers ([AddPublisher]): new calls run their
// primary only — including calls that make a new experiment afterwards —
// and it waits for running shadows and queued reports. It returns ctx.Err()
// if some are still running when ctx ends, and the first error otherwise.
// It is idempotent and safe against concurrent Run. Experiments made by
// [New] are shut down by their own Shutdown.
func Shutdown(ctx context.Context) error {
	runClosed.Store(true)
	var errs []error
	runExperiments.Range(func(_, v any) bool {
		if err := v.(interface{ Shutdown(context.Context) error }).Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if err := shutdownGlobalPublishers(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("dualrun: shutdown: %w", errors.Join(errs...))
	}
	return nil
}
