package dualrun

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun/internal/stats"
	"github.com/dualrun/dualrun/rollout"
)

// core is the part of an experiment that does not depend on T: admission,
// counters, telemetry, reports and shutdown. Keeping it out of the generic
// type keeps each instantiation small.
type core struct {
	name      string
	seq       uint64 // registration order
	cfg       config
	policy    rollout.Policy
	static    *rollout.Static // policy, when it is a rollout.Static: called directly
	observer  rollout.Observer
	tel       *telemetry
	calls     *stats.Striped // slot = primary<<1 | compared
	workers   *workers
	deadlines deadlineQueue
	labels    [2]context.Context

	inflight atomic.Int64 // shadow slots taken
	pending  atomic.Int64 // compared calls not yet recorded
	queued   atomic.Int64 // reports queued in outboxes
	closed   atomic.Bool

	idleMu sync.Mutex
	idleCh chan struct{}

	// outcomes[primary][outcome] and kinds[primary][kind] feed the
	// dualrun.comparisons instrument and Stats.
	outcomes     [2][rollout.NumOutcomes]atomic.Int64
	kinds        [2][numKinds]atomic.Int64
	latency      [2]stats.Histogram
	sideErrs     [2]atomic.Int64
	policyPanics atomic.Int64
	cmpAdvised   atomic.Bool

	reportsPublished  atomic.Int64
	reportsDropped    atomic.Int64
	reportsSuppressed atomic.Int64
	limiter           *stats.Limiter
	dedup             dedupSet
	fields            fieldSet
	outboxes          []*outbox
	lastReport        atomic.Pointer[Report]
}

func newCore(name string, cfg config) *core {
	c := &core{
		name:    name,
		cfg:     cfg,
		policy:  cfg.policy,
		calls:   stats.NewStriped(),
		idleCh:  make(chan struct{}),
		limiter: stats.NewLimiter(cfg.reportRate, cfg.reportBurst),
	}
	c.workers = newWorkers(func() int64 { return c.callCount(0, 1) + c.callCount(1, 1) })
	c.observer, _ = cfg.policy.(rollout.Observer)
	if s, ok := cfg.policy.(rollout.Static); ok {
		c.static = &s
	}
	c.tel = newTelemetry(name, cfg.meterProvider, cfg.traceProvider, c)
	c.fields.init(c.tel, cfg.maxFields)
	for s := range 2 {
		c.labels[s] = pprof.WithLabels(context.Background(), pprof.Labels(
			"dualrun.experiment", name, "dualrun.side", rollout.Side(s).String()))
	}
	for _, p := range cfg.publishers {
		c.outboxes = append(c.outboxes, newOutbox(c, p, cfg.reportQueue))
	}
	register(c)
	return c
}

func (c *core) callCount(primary, compared int) int64 { return c.calls.Load(primary<<1 | compared) }
func (c *core) outcomeCount(primary, o int) int64     { return c.outcomes[primary][o].Load() }
func (c *core) kindCount(primary, k int) int64        { return c.kinds[primary][k].Load() }
func (c *core) inFlight() int64                       { return c.inflight.Load() }

// decide asks the policy. The default (no policy) and rollout.Static are
// called directly; any other policy goes through decideSafe.
func (c *core) decide(ctx context.Context) Decision {
	if c.static != nil {
		return c.static.Decide(ctx, c.name)
	}
	if c.policy == nil {
		return Decision{Shadow: true}
	}
	return c.decideSafe(ctx)
}

// decideSafe asks a user policy, recovering a panic into "legacy only".
func (c *core) decideSafe(ctx context.Context) (d Decision) {
	defer func() {
		if v := recover(); v != nil {
			d = Decision{}
			c.policyPanics.Add(1)
			handle(fmt.Errorf("dualrun: %s: rollout policy panicked (running legacy only): %v", c.name, v))
		}
	}()
	return c.policy.Decide(ctx, c.name)
}

// acquire claims a shadow slot under the experiment's limit and the
// process-wide cap, without locks. It reports false (shed) when either is
// full, and closed when the experiment was shut down meanwhile.
func (c *core) acquire() (ok, closed bool) {
	limit := int64(c.cfg.maxInFlight)
	for {
		n := c.inflight.Load()
		if n >= limit {
			return false, false
		}
		if c.inflight.CompareAndSwap(n, n+1) {
			break
		}
	}
	if !acquireProcessSlot() {
		c.inflight.Add(-1)
		return false, false
	}
	if c.closed.Load() {
		c.releaseSlot()
		return false, true
	}
	c.pending.Add(1)
	return true, false
}

func (c *core) releaseSlot() {
	c.inflight.Add(-1)
	releaseProcessSlot()
	c.notifyIdle()
}

func (c *core) donePending() {
	c.pending.Add(-1)
	c.notifyIdle()
}

// shed counts a call that found no free slot: one atomic add, no
// instrument call on the caller's goroutine.
func (c *core) shed(primary Side) {
	c.outcomes[primary][Shed].Add(1)
}

func (c *core) notifyIdle() {
	if !c.closed.Load() {
		return
	}
	c.idleMu.Lock()
	close(c.idleCh)
	c.idleCh = make(chan struct{})
	c.idleMu.Unlock()
}

func (c *core) idle() bool {
	return c.inflight.Load() == 0 && c.pending.Load() == 0 && c.queued.Load() == 0
}

// Shutdown stops new shadows (calls go on, primary only), then waits until
// every shadow slot is released, every compared call is recorded and every
// queued Report is published. It returns ctx.Err() if that has not happened
// when ctx ends. It is idempotent and safe to call concurrently with Run.
func (c *core) Shutdown(ctx context.Context) error {
	c.closed.Store(true)
	for {
		c.idleMu.Lock()
		ch := c.idleCh
		c.idleMu.Unlock()
		if c.idle() {
			// No shadow runs and none can start: let the workers go.
			c.workers.close()
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// record is the outcome of one compared call, ready to be recorded.
type record struct {
	ctx       context.Context // the shadow span's context
	outcome   Outcome
	kind      MismatchKind
	primary   Side
	durations [2]time.Duration // by side; 0 = did not finish
	errs      [2]error         // by side
	finished  [2]bool
	cbErr     error // a user callback's failure (outcome error)
	paths     []string
	diff      func(limit int) string
	call      *callInfo
}

// record observes, counts and reports one compared call. It runs on the
// shadow goroutine (or the deadline timer's), never the caller's.
func (c *core) record(r *record) {
	if c.observer != nil {
		if err := c.observe(r); err != nil {
			r.outcome, r.kind, r.cbErr = Error, NoMismatch, err
		}
	}
	c.outcomes[r.primary][r.outcome].Add(1)
	if r.kind != NoMismatch {
		c.kinds[r.primary][r.kind].Add(1)
	}
	c.tel.recordCall(c, r)
	if reportable(r.outcome) {
		c.report(r)
	}
}

func reportable(o Outcome) bool {
	return o == Mismatch || o == Timeout || o == Panic || o == Error
}

func (c *core) observe(r *record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: fmt.Errorf("rollout observer panicked: %v", v), Stack: debug.Stack()}
		}
	}()
	c.observer.Observe(rollout.Observation{
		Experiment:        c.name,
		Outcome:           r.outcome,
		Primary:           r.primary,
		LegacyDuration:    r.durations[Legacy],
		CandidateDuration: r.durations[Candidate],
		LegacyErr:         r.errs[Legacy] != nil,
		CandidateErr:      r.errs[Candidate] != nil,
	})
	return nil
}

// report rate-limits, deduplicates, builds and queues a Report.
func (c *core) report(r *record) {
	now := time.Now()
	sig := signature(r)
	if !c.dedup.admit(now, sig, c.cfg.reportDedup, c.limiter) {
		c.reportsSuppressed.Add(1)
		return
	}
	rep := &Report{
		Experiment:        c.name,
		Time:              now,
		Outcome:           r.outcome,
		Kind:              r.kind,
		Primary:           r.primary,
		LegacyDuration:    r.durations[Legacy],
		CandidateDuration: r.durations[Candidate],
		LegacyErr:         r.errs[Legacy],
		CandidateErr:      r.errs[Candidate],
		CallbackErr:       r.cbErr,
		Paths:             r.paths,
		CallerSpan:        r.call.callerSpan,
		ShadowSpan:        r.call.span.SpanContext(),
	}
	if c.cfg.reportKeys {
		rep.Key, _ = rollout.KeyFrom(r.call.caller)
	}
	if r.diff != nil {
		rep.Diff = r.diff(c.cfg.diffLimit)
	}
	c.lastReport.Store(rep)
	for _, o := range c.outboxes {
		o.push(rep)
	}
}

// fieldSet is the bounded set of differing paths of one experiment.
type fieldSet struct {
	tel *telemetry
	max int

	mu    sync.Mutex
	paths map[string]*fieldEntry
}

type fieldEntry struct {
	n   atomic.Int64
	opt []metric.AddOption
}

func (f *fieldSet) init(t *telemetry, maxFields int) {
	f.tel, f.max = t, maxFields
	f.paths = make(map[string]*fieldEntry)
}

func (f *fieldSet) add(ctx context.Context, path string) {
	f.mu.Lock()
	e, ok := f.paths[path]
	if !ok {
		if len(f.paths) >= f.max {
			path = otherField
			e = f.paths[path]
		}
		if e == nil {
			e = &fieldEntry{opt: []metric.AddOption{metric.WithAttributeSet(
				attributeSet(f.tel.expAttr, AttrField.String(path)))}}
			f.paths[path] = e
		}
	}
	f.mu.Unlock()
	e.n.Add(1)
	f.tel.fields.Add(ctx, 1, e.opt...)
}

// FieldCount is how often a folded path differed.
type FieldCount struct {
	Path  string
	Count int64
}

func (f *fieldSet) top() []FieldCount {
	f.mu.Lock()
	out := make([]FieldCount, 0, len(f.paths))
	for p, e := range f.paths {
		out = append(out, FieldCount{Path: p, Count: e.n.Load()})
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

// dedupSet suppresses reports whose signature (outcome, kind, error types,
// paths) was already reported within dedupWindow.
type dedupSet struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// dedupMax bounds the signatures remembered; beyond it the set starts over.
const dedupMax = 1024

func signature(r *record) string {
	return fmt.Sprintf("%d/%d/%s/%s/%q", r.outcome, r.kind,
		errorType(r.errs[Legacy]), errorType(r.errs[Candidate]), r.paths)
}

// admit reports whether a report with signature sig may go out now: it was
// not reported within the window, and the rate limiter allows it. The check
// and the record are one step, so concurrent duplicates go out once.
func (d *dedupSet) admit(now time.Time, sig string, window time.Duration, l *stats.Limiter) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if window > 0 {
		if t, ok := d.seen[sig]; ok && now.Sub(t) < window {
			return false
		}
	}
	if !l.Allow(now) {
		return false
	}
	if window > 0 {
		if d.seen == nil || len(d.seen) >= dedupMax {
			d.seen = make(map[string]time.Time)
		}
		d.seen[sig] = now
	}
	return true
}
