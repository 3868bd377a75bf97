package dualrungrpc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// otherMethod names, in Stats, the calls of methods beyond WithMaxMethods;
// otherField the differing paths beyond the bound of one method.
const (
	otherMethod = "_OTHER"
	otherField  = "_OTHER"
)

// method is one method's experiment and counters.
type method struct {
	fullMethod string
	isStream   bool
	// unary is the experiment of a unary method, streams that of a
	// streaming one (it only picks the primary: streams are not compared).
	// Both are nil for "_OTHER" and for a method whose experiment could not
	// be made.
	unary   *dualrun.Experiment[*reply]
	streams *dualrun.Experiment[any]
	// shadow is false for a method WithMethodFilter turned down.
	shadow bool
	budget time.Duration
	cand   *candidate // the server side's candidate implementation
	// uncompared counts calls dualrungrpc ran uncompared whatever the
	// rollout said: streams, messages that are not protobuf, methods the
	// filter turned down or beyond the cap.
	uncompared atomic.Int64
	fields     fieldSet
}

// methods is the bounded set of methods of a Client or a Server, each with
// its experiment, made on first use.
type methods struct {
	cfg config
	cmp *comparer

	// all maps full method names to methods. It is copied on write (under
	// mu): methods are added a bounded number of times, and looked up on
	// every call, where a plain map read is about twice as fast as a
	// sync.Map's.
	all   atomic.Pointer[map[string]*method]
	full  atomic.Bool // no method can be added: the cap is reached, or shut
	mu    sync.Mutex
	n     int
	shut  bool
	other method
}

func newMethods(cfg config) *methods {
	ms := &methods{cfg: cfg, cmp: newComparer(cfg)}
	ms.other.fullMethod = otherMethod
	return ms
}

// get returns the method's state, making it on first use; beyond the cap,
// or after Shutdown, it returns the "_OTHER" method, which has no
// experiment.
func (ms *methods) get(fullMethod string, stream bool) *method {
	if m := ms.lookup(fullMethod); m != nil {
		return m
	}
	if ms.full.Load() {
		return &ms.other // without the lock: unknown methods may be many
	}
	return ms.add(fullMethod, stream, nil)
}

// lookup returns the method's state, or nil.
func (ms *methods) lookup(fullMethod string) *method {
	if all := ms.all.Load(); all != nil {
		return (*all)[fullMethod]
	}
	return nil
}

// store adds m under fullMethod; the caller holds mu.
func (ms *methods) store(fullMethod string, m *method) {
	all := map[string]*method{}
	if old := ms.all.Load(); old != nil {
		all = maps.Clone(*old)
	}
	all[fullMethod] = m
	ms.all.Store(&all)
}

func (ms *methods) add(fullMethod string, stream bool, cand *candidate) *method {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.lookup(fullMethod); m != nil {
		return m
	}
	if ms.shut || ms.n >= ms.cfg.maxMethods {
		if cand != nil {
			// A server's method beyond the cap: remembered (registrations
			// are bounded), so that its calls count under "_OTHER".
			ms.store(fullMethod, &ms.other)
		}
		return &ms.other
	}
	m := &method{fullMethod: fullMethod, isStream: stream, cand: cand, shadow: true}
	m.fields.max = dualrun.DefaultMaxFields
	name := ms.experimentName(fullMethod)
	if ms.cfg.filter != nil {
		filter := ms.cfg.filter
		if err := safe.Call("WithMethodFilter func", func() { m.shadow = filter(fullMethod) }, nil); err != nil {
			m.shadow = false
			otel.Handle(fmt.Errorf("dualrungrpc: method %s is not shadowed: %w", fullMethod, err))
		}
	}
	err := safe.Call("dualrun.New", func() {
		if stream {
			m.streams = dualrun.New[any](name, ms.cfg.expOpts...)
			return
		}
		m.unary = dualrun.New[*reply](name, ms.experimentOptions(m)...)
		m.budget = m.unary.Stats().Config.CompareBudget
	}, nil)
	if err != nil {
		otel.Handle(fmt.Errorf("dualrungrpc: method %s runs uncompared: its experiment could not be made: %w", fullMethod, err))
	}
	ms.n++
	ms.store(fullMethod, m)
	if ms.n >= ms.cfg.maxMethods {
		ms.full.Store(true)
	}
	return m
}

// experimentOptions are the options of a unary method's experiment:
// dualrungrpc's comparison, then the user's options.
func (ms *methods) experimentOptions(m *method) []dualrun.Option {
	c := ms.cmp
	opts := []dualrun.Option{
		dualrun.WithDiffer(func(l, r *reply) dualrun.Difference { return c.difference(m, l, r) }),
		dualrun.WithCmpOptions(diffOptions),
		dualrun.WithErrorComparer(c.errorsEqual),
		dualrun.WithErrorClassifier(classify),
	}
	return append(opts, ms.cfg.expOpts...)
}

// experimentName is the experiment's name for a method: WithExperimentName's,
// or the full method name.
func (ms *methods) experimentName(fullMethod string) string {
	fn := ms.cfg.name
	if fn == nil {
		return fullMethod
	}
	var name string
	if err := safe.Call("WithExperimentName func", func() { name = fn(fullMethod) }, nil); err != nil {
		otel.Handle(fmt.Errorf("dualrungrpc: method %s keeps its name: %w", fullMethod, err))
		return fullMethod
	}
	if name == "" {
		return fullMethod
	}
	return name
}

// each calls fn for every method but "_OTHER".
func (ms *methods) each(fn func(*method)) {
	all := ms.all.Load()
	if all == nil {
		return
	}
	for _, m := range *all {
		if m != &ms.other {
			fn(m)
		}
	}
}

// shutdown stops the experiments' shadows and waits for them; methods seen
// afterwards get no experiment.
func (ms *methods) shutdown(ctx context.Context) error {
	ms.mu.Lock()
	ms.shut = true
	ms.full.Store(true)
	ms.mu.Unlock()
	var errs []error
	ms.each(func(m *method) {
		var err error
		switch {
		case m.unary != nil:
			err = m.unary.Shutdown(ctx)
		case m.streams != nil:
			err = m.streams.Shutdown(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.fullMethod, err))
		}
	})
	if len(errs) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errs...)
	}
	return nil
}

// unregister releases every experiment from the process (dualrun.AllStats,
// the OpenTelemetry callbacks).
func (ms *methods) unregister() {
	ms.each(func(m *method) {
		if m.unary != nil {
			m.unary.Unregister()
		}
		if m.streams != nil {
			m.streams.Unregister()
		}
	})
}

// MethodStats is the statistics of one method of a [Client] or a [Server].
type MethodStats struct {
	// Method is the full method name ("/pkg.Service/Method"), or "_OTHER"
	// for the calls of methods beyond WithMaxMethods.
	Method string
	// Stream reports a streaming method: its calls are never compared.
	Stream bool
	// Experiment is the statistics of the method's experiment, the same
	// that dualrun.AllStats and the debug page show. It is the zero Stats
	// for "_OTHER" and for a method whose experiment could not be made.
	Experiment dualrun.Stats
	// Fields are the differing proto field paths of the method's value
	// mismatches, such as ".items[*].price_cents", most frequent first.
	// The experiment's own Fields name them too (dualrun.WithDiffer).
	Fields []dualrun.FieldCount
	// Uncompared counts calls that dualrungrpc ran without a shadow
	// whatever the rollout decided: streams, messages that are not
	// protobuf messages, methods WithMethodFilter turned down, and methods
	// beyond WithMaxMethods.
	Uncompared int64
}

// stats returns every method's statistics, sorted by method name, with
// "_OTHER" last when it counted anything.
func (ms *methods) stats() []MethodStats {
	var out []MethodStats
	ms.each(func(m *method) {
		s := MethodStats{Method: m.fullMethod, Stream: m.isStream, Uncompared: m.uncompared.Load(), Fields: m.fields.top()}
		switch {
		case m.unary != nil:
			s.Experiment = m.unary.Stats()
		case m.streams != nil:
			s.Experiment = m.streams.Stats()
		}
		out = append(out, s)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	if n := ms.other.uncompared.Load(); n > 0 {
		out = append(out, MethodStats{Method: otherMethod, Uncompared: n})
	}
	return out
}

// fieldSet counts the differing proto paths of one method, at most max
// distinct ones; further paths count as "_OTHER".
type fieldSet struct {
	max    int
	mu     sync.Mutex
	counts map[string]int64
}

func (f *fieldSet) add(paths []string) {
	if len(paths) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = make(map[string]int64)
	}
	for _, p := range paths {
		if _, ok := f.counts[p]; !ok && len(f.counts) >= f.max {
			p = otherField
		}
		f.counts[p]++
	}
}

func (f *fieldSet) top() []dualrun.FieldCount {
	f.mu.Lock()
	out := make([]dualrun.FieldCount, 0, len(f.counts))
	for p, n := range f.counts {
		out = append(out, dualrun.FieldCount{Path: p, Count: n})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Path < out[j].Path
	})
	return out
}
