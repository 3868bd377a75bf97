package openfeature

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// Policy is a [rollout.Policy] driven by OpenFeature flags, one per
// experiment. See the package documentation for the flag format, the two
// evaluation modes and what happens on bad flag data.
//
// A Policy is safe for concurrent use. Close it when done: it removes its
// event handlers from the client and stops its refresh timer.
type Policy struct {
	client  *of.Client
	cfg     config
	errors  metric.Int64Counter
	entries atomic.Pointer[map[string]*entry]

	ctx    context.Context // canceled by Close; bounds background evaluations
	cancel context.CancelFunc

	refreshMu sync.Mutex // serialises evaluations of cached flags

	mu       sync.Mutex // guards the fields below and additions to entries
	closed   bool
	running  bool // a refresher goroutine is running
	dirty    bool // refresh again when it is done
	timer    *time.Timer
	handlers []handler
	wg       sync.WaitGroup
}

type handler struct {
	typ of.EventType
	cb  of.EventCallback
}

// entry is the state of one experiment's flag.
type entry struct {
	experiment, flag string
	live             rollout.Live  // the value in force: the last good one
	good             atomic.Bool   // a good value has been read
	kind             atomic.Uint32 // the evaluation that worked last: kindObject or kindString
	last             atomic.Pointer[problem]
	updated          atomic.Int64 // unix nanoseconds of the last good read that changed (or, cached, confirmed) the value

	mu       sync.Mutex
	reported map[string]bool // problems already sent to otel.Handle
	addOpts  map[string]metric.AddOption
}

const (
	kindObject uint32 = iota
	kindString
)

// maxReported bounds the distinct problems remembered per flag.
const maxReported = 32

// NewPolicy returns a policy that reads each experiment's flag from client:
// the flag key is the experiment name unless [WithFlagKey] maps it. It
// panics on a nil client.
func NewPolicy(client *of.Client, opts ...Option) *Policy {
	if client == nil {
		panic("openfeature: NewPolicy: nil client")
	}
	p := &Policy{client: client, cfg: newConfig(opts)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.errors = newErrorCounter(p.cfg.meter)
	empty := map[string]*entry{}
	p.entries.Store(&empty)
	for _, name := range p.cfg.experiments {
		p.add(name, false)
	}
	if p.cfg.perCall {
		return p
	}
	// The SDK may call a handler at once, under its own lock, when the
	// provider is already ready: handlers only schedule work.
	for _, typ := range []of.EventType{of.ProviderReady, of.ProviderConfigChange} {
		fn := func(of.EventDetails) { p.kick() }
		h := handler{typ: typ, cb: &fn}
		p.handlers = append(p.handlers, h)
		client.AddHandler(h.typ, h.cb)
	}
	if p.cfg.refresh > 0 {
		p.mu.Lock()
		if !p.closed {
			p.timer = time.AfterFunc(p.cfg.refresh, p.periodic)
		}
		p.mu.Unlock()
	}
	if len(p.cfg.experiments) > 0 && client.State() == of.ReadyState {
		_ = p.Refresh(context.Background())
	}
	return p
}

// Decide implements [rollout.Policy]. In cached mode (the default) it is a
// map lookup and an atomic load; with [WithPerCallEvaluation] it evaluates
// the flag. It never panics and never blocks on the provider in cached
// mode.
func (p *Policy) Decide(ctx context.Context, experiment string) rollout.Decision {
	e := p.lookup(experiment)
	if p.cfg.perCall {
		return p.decidePerCall(ctx, e, experiment)
	}
	return e.live.Decide(ctx, experiment)
}

func (p *Policy) lookup(experiment string) *entry {
	if e, ok := (*p.entries.Load())[experiment]; ok {
		return e
	}
	return p.add(experiment, !p.cfg.perCall)
}

// add registers an experiment (copy on write: Decide reads the map without
// a lock) and, in cached mode, schedules its first evaluation.
func (p *Policy) add(experiment string, evaluate bool) *entry {
	p.mu.Lock()
	old := *p.entries.Load()
	e, ok := old[experiment]
	if !ok {
		e = &entry{experiment: experiment, flag: p.flagKey(experiment)}
		m := make(map[string]*entry, len(old)+1)
		for k, v := range old {
			m[k] = v
		}
		m[experiment] = e
		p.entries.Store(&m)
	}
	p.mu.Unlock()
	if !ok && evaluate {
		p.kick()
	}
	return e
}

func (p *Policy) flagKey(experiment string) string {
	if p.cfg.flagKey == nil {
		return experiment
	}
	var key string
	if err := safe.Call("openfeature.WithFlagKey func", func() { key = p.cfg.flagKey(experiment) }, nil); err != nil {
		otel.Handle(fmt.Errorf("dualrun/rollout/openfeature: experiment %q: %w; using the experiment name as the flag key", experiment, err))
	}
	if key == "" {
		return experiment
	}
	return key
}

// kick schedules a refresh of every cached flag on a goroutine of its own,
// or a second pass if one is running. It never blocks.
func (p *Policy) kick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.running {
		p.dirty = true
		return
	}
	p.running = true
	p.wg.Go(p.refresher)
}

func (p *Policy) refresher() {
	for {
		_ = p.Refresh(p.ctx)
		p.mu.Lock()
		if !p.dirty || p.closed {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.dirty = false
		p.mu.Unlock()
	}
}

func (p *Policy) periodic() {
	p.kick()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.timer.Reset(p.cfg.refresh)
	}
}

// Refresh evaluates every known experiment's flag now, without call
// context, and returns the problems found (each a [*FlagError]; the last
// good value of those flags stays in force). The policy does this by itself
// when the provider is ready or signals a change, and periodically; call it
// to wait for fresh values, in tests or at start-up.
func (p *Policy) Refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	var errs []error
	for _, e := range p.sorted() {
		st, prob := p.evaluate(ctx, e, of.EvaluationContext{})
		if prob != nil {
			errs = append(errs, p.fail(e, prob))
			continue
		}
		p.succeed(e, st, true)
	}
	return errors.Join(errs...)
}

func (p *Policy) sorted() []*entry {
	m := *p.entries.Load()
	es := make([]*entry, 0, len(m))
	for _, e := range m {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].experiment < es[j].experiment })
	return es
}

func (p *Policy) decidePerCall(ctx context.Context, e *entry, experiment string) rollout.Decision {
	ec, prob := p.evaluationContext(ctx)
	if prob == nil {
		var st rollout.Static
		if st, prob = p.evaluate(ctx, e, ec); prob == nil {
			p.succeed(e, st, false)
			return st.Decide(ctx, experiment)
		}
	}
	_ = p.fail(e, prob) // counted and reported; the call gets the last good value
	return e.live.Decide(ctx, experiment)
}

// evaluationContext builds a per-call evaluation context: the hook's, with
// the call's key as the targeting key unless the hook set one.
func (p *Policy) evaluationContext(ctx context.Context) (of.EvaluationContext, *problem) {
	key, _ := rollout.KeyFrom(ctx)
	if p.cfg.evalContext == nil {
		return of.NewEvaluationContext(key, nil), nil
	}
	var ec of.EvaluationContext
	if err := safe.Call("openfeature.WithEvaluationContext func", func() { ec = p.cfg.evalContext(ctx) }, nil); err != nil {
		return ec, problemf(ErrorTypeInvalidContext, "%s", safe.ErrorText(err, 256))
	}
	if ec.TargetingKey() == "" && key != "" {
		ec = of.NewEvaluationContext(key, ec.Attributes())
	}
	return ec, nil
}

// succeed puts a good value in force. A cached refresh also forgets the
// problems reported so far: a problem that comes back after a good value is
// a new incident.
func (p *Policy) succeed(e *entry, st rollout.Static, cached bool) {
	changed := !e.good.Load() || e.live.Load() != st
	if changed {
		e.live.Set(st)
		e.good.Store(true)
	}
	if changed || cached {
		e.updated.Store(time.Now().UnixNano())
	}
	if e.last.Load() != nil {
		e.last.Store(nil)
	}
	if cached {
		e.mu.Lock()
		clear(e.reported)
		e.mu.Unlock()
	}
}

// fail counts a problem, reports it through otel.Handle the first time it
// is seen for this flag, and returns it as a *FlagError.
func (p *Policy) fail(e *entry, prob *problem) *FlagError {
	e.last.Store(prob)
	ferr := &FlagError{
		Experiment: e.experiment, Flag: e.flag, Type: prob.typ, Message: prob.msg,
		Keeping: e.live.Load(), HadGoodValue: e.good.Load(),
	}
	sig := prob.typ + "\x00" + prob.msg
	e.mu.Lock()
	report := !e.reported[sig] && len(e.reported) < maxReported
	if report {
		if e.reported == nil {
			e.reported = map[string]bool{}
		}
		e.reported[sig] = true
	}
	opt, ok := e.addOpts[prob.typ]
	if !ok {
		if e.addOpts == nil {
			e.addOpts = map[string]metric.AddOption{}
		}
		opt = errorAttrs(e.experiment, prob.typ)
		e.addOpts[prob.typ] = opt
	}
	e.mu.Unlock()
	p.errors.Add(context.Background(), 1, opt)
	if report {
		otel.Handle(ferr)
	}
	return ferr
}

// FlagError describes a flag value or evaluation that could not be used. It
// is what the policy sends to otel.Handle (once per distinct problem and
// flag) and what [Policy.Refresh] returns.
type FlagError struct {
	Experiment string
	Flag       string
	// Type is the error.type attribute: one of the ErrorType constants.
	Type string
	// Message says what was wrong.
	Message string
	// Keeping is the rollout that stays in force: the last good value, or
	// legacy only if HadGoodValue is false.
	Keeping      rollout.Static
	HadGoodValue bool
}

// Error describes the problem and what the policy does about it.
func (e *FlagError) Error() string {
	keep := "keeping the last good value, " + e.Keeping.String()
	if !e.HadGoodValue {
		keep = "no good value yet: legacy only"
	}
	flag := ""
	if e.Flag != e.Experiment {
		flag = fmt.Sprintf(" (flag %q)", e.Flag)
	}
	return fmt.Sprintf("dualrun/rollout/openfeature: experiment %q%s: %s: %s; %s", e.Experiment, flag, e.Type, e.Message, keep)
}

// Load returns the rollout in force for an experiment: the last good value
// of its flag, or legacy only before one was read (or for an experiment the
// policy has not seen).
func (p *Policy) Load(experiment string) rollout.Static {
	if e, ok := (*p.entries.Load())[experiment]; ok {
		return e.live.Load()
	}
	return rollout.Static{}
}

// FlagState is the state of one experiment's flag, for people and debug
// pages.
type FlagState struct {
	Experiment string
	Flag       string
	// Rollout is the rollout in force: the last good value (legacy only
	// before one was read).
	Rollout rollout.Static
	// Good reports whether a good value has been read.
	Good bool
	// Updated is when the value in force was last read (zero before).
	Updated time.Time
	// Problem is what went wrong with the latest evaluation, or nil if it
	// was good.
	Problem *FlagError
}

// Flags returns the state of every experiment the policy knows, sorted by
// experiment name.
func (p *Policy) Flags() []FlagState {
	es := p.sorted()
	out := make([]FlagState, 0, len(es))
	for _, e := range es {
		fs := FlagState{Experiment: e.experiment, Flag: e.flag, Rollout: e.live.Load(), Good: e.good.Load()}
		if ns := e.updated.Load(); ns != 0 {
			fs.Updated = time.Unix(0, ns)
		}
		if prob := e.last.Load(); prob != nil {
			fs.Problem = &FlagError{
				Experiment: e.experiment, Flag: e.flag, Type: prob.typ, Message: prob.msg,
				Keeping: fs.Rollout, HadGoodValue: fs.Good,
			}
		}
		out = append(out, fs)
	}
	return out
}

// String describes the policy and every flag it knows, e.g.
// `openfeature (cached): checkout.price = shadow 100%, candidate primary 10%`.
func (p *Policy) String() string {
	var b strings.Builder
	b.WriteString("openfeature (cached)")
	if p.cfg.perCall {
		b.Reset()
		b.WriteString("openfeature (per call)")
	}
	for i, f := range p.Flags() {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Experiment)
		if f.Flag != f.Experiment {
			fmt.Fprintf(&b, " (flag %q)", f.Flag)
		}
		b.WriteString(" = ")
		b.WriteString(f.Rollout.String())
		if !f.Good {
			b.WriteString(" (no good value yet)")
		}
		if f.Problem != nil {
			fmt.Fprintf(&b, " [%s: %s]", f.Problem.Type, f.Problem.Message)
		}
	}
	return b.String()
}

// Close removes the policy's event handlers from the client, stops its
// refresh timer, cancels a background evaluation and waits for it to
// return. Decide keeps working with the values in force. Close is
// idempotent; it does not shut the client or its provider down.
func (p *Policy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	handlers := p.handlers
	p.mu.Unlock()
	for _, h := range handlers {
		p.client.RemoveHandler(h.typ, h.cb)
	}
	p.cancel()
	p.wg.Wait()
}
