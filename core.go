package dualrun

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/internal/stats"
	"github.com/dualrun/dualrun/rollout"
)

// core is the part of an experiment that does not depend on T: decisions,
// counters, telemetry, reports and the lifecycle. Keeping it out of the
// generic type keeps each instantiation small.
type core struct {
	name      string
	seq       uint64 // registration order
	cfg       config
	policy    rollout.Policy
	static    *rollout.Static // policy, when it is a rollout.Static: called directly
	live      *rollout.Live   // policy, when it is a *rollout.Live: called directly
	ramp      *rollout.Ramp   // policy, when it is a *rollout.Ramp: called directly
	observer  rollout.Observer
	tel       *telemetry
	calls     *stats.Striped // slot = primary<<1 | compared
	workers   *workers
	deadlines deadlineQueue
	labels    [2]context.Context

	inflight atomic.Int64  // shadow slots taken
	pending  atomic.Int64  // compared calls not yet recorded
	queued   atomic.Int64  // reports queued in outboxes
	off      atomic.Uint32 // offClosed | offPaused: no new shadow
	closed   atomic.Bool
	released atomic.Bool
	runName  bool // made by Run: listed in runExperiments
	owner    any  // the *Experiment[T] of a Run experiment

	idleMu sync.Mutex
	idleCh chan struct{}

	// counts feeds the dualrun.comparisons instrument and Stats
	// (outcomes.go).
	counts         outcomeCounts
	latency        [2]stats.Histogram
	sideErrs       [2]atomic.Int64
	policyFailures atomic.Int64
	policyAdvised  atomic.Bool
	observerFails  atomic.Int64
	cmpAdvised     atomic.Bool

	reportsPublished  atomic.Int64
	reportsDropped    atomic.Int64
	reportsSuppressed atomic.Int64
	limiter           *stats.Limiter
	dedup             dedupSet
	fields            fieldSet
	noise             noiseTable
	classes           classTable
	outboxes          []*outbox
	lastReport        atomic.Pointer[Report]
}

// Bits of core.off.
const (
	offClosed = 1 << iota
	offPaused
)

func newCore(name string, cfg config) *core {
	c := &core{
		name:    name,
		cfg:     cfg,
		policy:  cfg.policy,
		calls:   stats.NewStriped(),
		idleCh:  make(chan struct{}),
		limiter: stats.NewLimiter(cfg.reportRate, cfg.reportBurst),
		classes: classTable{max: DefaultMaxClasses},
	}
	c.noise.init(&c.cfg)
	c.workers = newWorkers(func() int64 { return c.callCount(0, 1) + c.callCount(1, 1) })
	c.observer, _ = cfg.policy.(rollout.Observer)
	switch p := cfg.policy.(type) {
	case rollout.Static:
		c.static = &p
	case *rollout.Live:
		c.live = p
	case *rollout.Ramp:
		c.ramp = p
	}
	for s := range 2 {
		c.labels[s] = pprof.WithLabels(context.Background(), pprof.Labels(
			"dualrun.experiment", name, "dualrun.side", rollout.Side(s).String()))
	}
	if !register(c) {
		// Over the cap of live experiments: primary only, nothing
		// registered (no instruments, no callbacks), so a service that
		// makes names dynamically degrades instead of running out of
		// memory.
		c.tel = newTelemetry(name, noopMeterProvider, noopTracerProvider, c)
		c.fields.init(c.tel, cfg.maxFields)
		c.closed.Store(true)
		c.off.Store(offClosed)
		c.released.Store(true)
		return c
	}
	c.tel = newTelemetry(name, cfg.meterProvider, cfg.traceProvider, c)
	c.fields.init(c.tel, cfg.maxFields)
	for _, p := range cfg.publishers {
		c.outboxes = append(c.outboxes, newOutbox(p, cfg.reportQueue))
	}
	return c
}

func (c *core) callCount(primary, compared int) int64 { return c.calls.Load(primary<<1 | compared) }
func (c *core) inFlight() int64                       { return c.inflight.Load() }

// shadowsAllowed reports whether a new shadow may start: shadows are not
// disabled process-wide, and the experiment is neither paused nor shut down.
func (c *core) shadowsAllowed() bool {
	return !shadowsOff.Load() && c.off.Load() == 0
}

func (c *core) setPaused(paused bool) {
	for {
		old := c.off.Load()
		next := old &^ offPaused
		if paused {
			next |= offPaused
		}
		if c.off.CompareAndSwap(old, next) {
			return
		}
	}
}

// decide asks the policy. The default (no policy), rollout.Static,
// *rollout.Live and *rollout.Ramp cannot panic and are called directly; any
// other policy goes through decideSafe. Run and Decide test for a
// rollout.Static themselves and call it inlined: decide with it inlined is
// too large for the compiler to inline, and the call cost a measured 2–3 ns.
func (c *core) decide(ctx context.Context) Decision {
	switch {
	case c.static != nil:
		return c.static.Decide(ctx, c.name)
	case c.live != nil:
		return c.live.Decide(ctx, c.name)
	case c.policy == nil:
		return Decision{Shadow: true}
	case c.ramp != nil:
		return c.ramp.Decide(ctx, c.name)
	}
	return c.decideSafe(ctx)
}

// errBadSide is reported when a policy returns a Side that is neither
// Legacy nor Candidate.
var errBadSide = errors.New("returned a Decision whose Primary is neither Legacy nor Candidate")

// decideSafe asks a user policy, turning a panic or an invalid decision into
// "legacy only", counted. A runtime.Goexit in the policy ends the caller's
// goroutine, as it would without dualrun; nothing is held yet.
func (c *core) decideSafe(ctx context.Context) (d Decision) {
	defer func() {
		if v := recover(); v != nil {
			d = Decision{}
			c.policyFailed(safe.Recovered("rollout policy", v))
		}
	}()
	d = c.policy.Decide(ctx, c.name)
	if d.Primary > Candidate {
		c.policyFailed(&CallbackError{Callback: "rollout policy", Err: fmt.Errorf("%w (%d)", errBadSide, d.Primary)})
		return Decision{}
	}
	return d
}

// policyFailed counts a failed decision, and reports the first one of the
// experiment through the OpenTelemetry error handler.
func (c *core) policyFailed(err error) {
	c.policyFailures.Add(1)
	if !c.policyAdvised.Swap(true) {
		handle(fmt.Errorf("dualrun: %s: running legacy only for this call: %w", c.name, err))
	}
}

func (c *core) donePending() {
	c.pending.Add(-1)
	c.notifyIdle()
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

// closeShadows stops new shadows for good.
func (c *core) closeShadows() {
	c.closed.Store(true)
	for {
		old := c.off.Load()
		if c.off.CompareAndSwap(old, old|offClosed) {
			break
		}
	}
	c.notifyIdle()
}

// Shutdown stops new shadows, waits until the experiment is idle, flushes
// its publishers and releases it. See [Experiment.Shutdown].
func (c *core) Shutdown(ctx context.Context) error {
	c.closeShadows()
	for {
		c.idleMu.Lock()
		ch := c.idleCh
		c.idleMu.Unlock()
		if c.idle() {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			c.cancelPublishes()
			return ctx.Err()
		}
	}
	// No shadow runs and none can start: let the workers go, and stop the
	// timers that would keep the experiment alive.
	c.workers.close()
	c.deadlines.stop()
	err := c.flushPublishers(ctx)
	c.cancelPublishes()
	return err
}

// release forgets the experiment: AllStats no longer lists it, its
// OpenTelemetry callbacks are unregistered, and a Run experiment's name is
// free again. New shadows stop. Its Stats stay readable through the
// Experiment.
func (c *core) release() {
	if c.released.Swap(true) {
		return
	}
	c.closeShadows()
	unregister(c)
	c.tel.releaseInstruments()
}

// record is the outcome of one compared call, ready to be recorded.
type record struct {
	outcome   Outcome
	kind      MismatchKind
	primary   Side
	finished  [2]bool
	durations [2]time.Duration // by side; 0 = did not finish
	errs      [2]error         // by side
	errTypes  [2]string        // by side: error.type, set by recordCall
	cbErr     error            // a user callback's failure (outcome error)
	paths     []string
	noisy     []string // paths of a mismatch learned as noise
	diff      func(limit int) string
	call      *callInfo
}

// record observes, counts and reports one compared call. It runs on the
// shadow goroutine (or the deadline timer's), never the caller's. A policy
// observer that panics makes the call outcome error; one that calls
// runtime.Goexit too, recorded by the hook while its goroutine unwinds.
func (c *core) record(r *record) {
	if c.observer != nil {
		err := safe.Call("rollout observer", func() { c.observe(r) }, func(err error) {
			c.observerFailed(r, err)
			c.finishRecord(r)
		})
		if err != nil {
			c.observerFailed(r, err)
		}
	}
	c.finishRecord(r)
}

// finish records a compared call whose shadow returned, then lets it go:
// the pending count and the shadow slot, even if the goroutine is ending.
func (c *core) finish(r *record) {
	defer c.releaseSlot()
	defer c.donePending()
	c.record(r)
}

func (c *core) observerFailed(r *record, err error) {
	c.observerFails.Add(1)
	r.outcome, r.kind, r.cbErr, r.paths, r.diff = Error, NoMismatch, err, nil, nil
}

// finishRecord counts, records telemetry and reports. No user callback
// runs here but the metric-attributes hook, which guards itself.
func (c *core) finishRecord(r *record) {
	class := "" // the mismatch class key, passed along (not kept in r, to keep it small)
	if r.outcome == Mismatch {
		class = c.classes.add(r.kind, r.paths)
	}
	c.countOutcome(r)
	c.tel.recordCall(c, r, class)
	if reportable(r.outcome) {
		c.report(r, class)
	}
}

func reportable(o Outcome) bool {
	return o == Mismatch || o == Timeout || o == Panic || o == Error
}

func (c *core) observe(r *record) {
	c.observer.Observe(rollout.Observation{
		Experiment:        c.name,
		Outcome:           r.outcome,
		Primary:           r.primary,
		LegacyDuration:    r.durations[Legacy],
		CandidateDuration: r.durations[Candidate],
		LegacyErr:         r.errs[Legacy] != nil,
		CandidateErr:      r.errs[Candidate] != nil,
	})
}

// recordAbortedBeforeShadow records a sequential call whose primary
// panicked or called runtime.Goexit: its shadow never started.
func (c *core) recordAbortedBeforeShadow(ci *callInfo) {
	defer c.releaseSlot()
	defer c.donePending()
	ci.span, ci.spanCtx = noSpan, context.Background()
	r := &ci.rec
	*r = record{outcome: Aborted, primary: ci.primary, call: ci}
	c.record(r)
}

// telemetryConfig gives the telemetry the experiment's configuration.
func (c *core) telemetryConfig() *config { return &c.cfg }
