package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// Writer writes the records of one table to the old store (legacy) and the
// new one (candidate) during a migration, reads them back through a
// dualrun experiment, and reconciles the stores. Make it with [New]; it is
// safe for concurrent use. Close it when done.
//
// A write goes to the primary store first (chosen per key by the rollout
// policy). Only when that succeeded is the same write, with a version and
// an idempotency key, applied to the other store: immediately, as the
// write experiment's sequential shadow, bounded by WithSecondaryTimeout and
// never waited for beyond WithSyncBudget; and in any case through the
// journal, where the intent was recorded before the write returned. A
// background applier retries what failed, with backoff, in order per key,
// until it succeeds, across restarts.
type Writer[T any] struct {
	name       string
	policyName string
	cfg        config
	stores     [2]Store[T]
	outbox     [2]*SQLStore[T] // the store itself, when it journals in its own transaction
	journal    *Journal
	sources    []*sqlJournal // every journal holding this writer's entries
	codec      Codec[T]
	policy     rollout.Policy
	clock      versionClock
	grace      int64 // ns an entry is left to the write's own shadow before the applier takes it

	wexp *dualrun.Experiment[writeResult]
	rexp *dualrun.Experiment[T]
	cexp *dualrun.Experiment[T]
	eng  *compare.Comparer[T]
	tel  *telemetry
	app  *applier[T]
	ack  *acker

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	retries, failures, applied, skipped atomic.Int64
	lastErr                             atomic.Pointer[string]
	lastRec                             atomic.Pointer[Reconciliation]
}

// Ack is what a write returns: the primary's acknowledgement.
type Ack struct {
	Key string
	// Version is the version the primary store gave the write.
	Version uint64
	// Deleted reports a delete.
	Deleted bool
	// Primary is the store that took the write first.
	Primary dualrun.Side
}

// writeResult is the value of the write experiment: the primary's Ack and
// where its journal entry is, for the shadow that applies it.
// It holds no pointer: dualrun's Reports format it.
type writeResult struct {
	ack  Ack
	seq  int64
	src  int           // index in the writer's sources
	done chan struct{} // closed by the shadow (WithSyncBudget)
}

// ErrClosed is returned by the methods of a closed Writer.
var ErrClosed = errors.New("dualwrite: writer closed")

// JournalError is the error of a write whose intent could not be recorded
// in the embedded journal (the journal's file failed, or it is closed):
// nothing was written to either store. Writes whose primary keeps an
// outbox cannot fail this way: their entry is in the primary's own
// transaction.
type JournalError struct {
	Key string
	Err error
}

// Error says what happened.
func (e *JournalError) Error() string {
	return fmt.Sprintf("dualwrite: key %q: the write could not be journaled, nothing was written: %s",
		safe.Cut(e.Key, 128), safe.ErrorText(e.Err, 512))
}

// Unwrap returns the journal's error.
func (e *JournalError) Unwrap() error { return e.Err }

// New returns the writer name of records of type T between the stores
// legacy (the old one) and candidate (the new one), and starts its applier,
// which first replays what an earlier process left in the journals. The
// name is the dualrun.experiment attribute of its metrics and the prefix of
// its experiments ("<name>.write", "<name>.read", "<name>.reconcile"):
// keep it stable. Entries in the journals belong to a writer by name.
//
// New fails when an option is for another type than T, or when a store
// has no outbox and no [WithJournal] was given.
func New[T any](name string, legacy, candidate Store[T], opts ...Option) (*Writer[T], error) {
	if name == "" {
		return nil, errors.New("dualwrite: New: the writer name is empty")
	}
	if legacy == nil || candidate == nil {
		return nil, fmt.Errorf("dualwrite: New(%q): both stores are required", name)
	}
	cfg := newConfig(opts)
	w := &Writer[T]{name: name, cfg: cfg, stores: [2]Store[T]{legacy, candidate}, codec: JSONCodec[T]{}}
	w.policyName = name
	if cfg.policyName != "" {
		w.policyName = cfg.policyName
	}
	if cfg.codec != nil {
		c, ok := cfg.codec.(Codec[T])
		if !ok {
			return nil, fmt.Errorf("dualwrite: New(%q): WithCodec was given a %T, want a Codec of the writer's type", name, cfg.codec)
		}
		w.codec = c
	}
	eng, err := compare.New[T](cfg.spec)
	if err != nil {
		return nil, fmt.Errorf("dualwrite: New(%q): %w", name, err)
	}
	w.eng = eng
	for i, s := range w.stores {
		if ss, ok := s.(*SQLStore[T]); ok && ss.outbox != nil {
			w.outbox[i] = ss
			w.addSource(ss.outbox)
			continue
		}
		if cfg.journal == nil {
			return nil, fmt.Errorf("dualwrite: New(%q): the %s store (%T) keeps no outbox: give an embedded journal with WithJournal",
				name, dualrun.Side(i), s)
		}
	}
	if cfg.journal != nil {
		w.journal = cfg.journal
		w.addSource(cfg.journal.j)
	}
	w.policy = cfg.policy
	if w.policy == nil {
		w.policy = defaultPolicy
	}
	w.grace = int64(2 * cfg.secondaryTimeout)
	w.tel = newTelemetry(name, cfg.meterProvider, cfg.tracerProvider, func() int64 { return time.Now().UnixNano() })

	common := append([]dualrun.Option(nil), cfg.expOpts...)
	if cfg.meterProvider != nil {
		common = append(common, dualrun.WithMeterProvider(cfg.meterProvider))
	}
	if cfg.tracerProvider != nil {
		common = append(common, dualrun.WithTracerProvider(cfg.tracerProvider))
	}
	cmpOpts := specOptions[T](cfg.spec)
	w.wexp = dualrun.New[writeResult](name+".write", append(common,
		dualrun.WithRollout(writePolicy{p: w.policy, name: w.policyName}),
		dualrun.WithSequentialShadow(),
		dualrun.WithShadowTimeout(cfg.secondaryTimeout),
		dualrun.WithComparer(func(l, c writeResult) bool { return l.ack == c.ack }),
	)...)
	w.rexp = dualrun.New[T](name+".read", append(append(common, cmpOpts...),
		dualrun.WithRollout(newReadPolicy(w.policy, w.policyName)))...)
	w.cexp = dualrun.New[T](name+".reconcile", append(append(common, cmpOpts...),
		dualrun.WithRollout(rollout.Static{Shadow: rollout.All}))...)
	w.ack = newAcker(&sqlSources{
		sources: w.sources,
		timeout: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), w.bookTimeout())
		},
		reappend:  w.reappend,
		confirmed: func() { w.app.kick() },
	})
	w.app = newApplier(w)
	return w, nil
}

// specOptions turns the comparison part of the configuration into
// dualrun options, so that reads and the reconciler compare alike.
func specOptions[T any](s compare.Spec) []dualrun.Option {
	var out []dualrun.Option
	if len(s.CmpOpts) > 0 {
		out = append(out, dualrun.WithCmpOptions(s.CmpOpts...))
	}
	if fn, ok := s.Comparer.(func(T, T) bool); ok {
		out = append(out, dualrun.WithComparer(fn))
	}
	for _, n := range s.Normalizers {
		if fn, ok := n.(func(T) T); ok {
			out = append(out, dualrun.WithNormalizer(fn))
		}
	}
	return out
}

func (w *Writer[T]) addSource(j *sqlJournal) {
	for _, s := range w.sources {
		if s == j {
			return
		}
	}
	w.sources = append(w.sources, j)
}

func (w *Writer[T]) sourceIndex(j *sqlJournal) int {
	for i, s := range w.sources {
		if s == j {
			return i
		}
	}
	panic("dualwrite: internal error: unknown journal")
}

// Name returns the writer's name.
func (w *Writer[T]) Name() string { return w.name }

// idKey carries a caller's idempotency key.
type idKey struct{}

// WithIdempotencyKey returns a copy of ctx that makes the next write with
// it carry id as its idempotency key ([Write.ID]) in both stores, instead
// of the one dualwrite derives from the writer's name, the key and a number
// unique to the write.
func WithIdempotencyKey(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// derivedID is the idempotency key of a write without one of the
// caller's: the writer's name, the key, and a number unique to the write.
func (w *Writer[T]) derivedID(key string, n uint64) string {
	return w.name + "/" + key + "@" + strconv.FormatUint(n, 10)
}

// Put writes v under key: to the primary store, durably journaled for the
// other one, before it returns. It returns the primary's error, if any
// (then nothing is to be copied: an intent the embedded journal recorded
// first is resolved from the primary by the applier), or a
// [*JournalError]. The secondary store's failures never fail or delay it
// beyond WithSyncBudget.
func (w *Writer[T]) Put(ctx context.Context, key string, v T) (Ack, error) {
	return w.write(ctx, key, v, false)
}

// Delete deletes key, as Put writes it.
func (w *Writer[T]) Delete(ctx context.Context, key string) (Ack, error) {
	var zero T
	return w.write(ctx, key, zero, true)
}

// writeOp is one write, shared by the experiment's two functions.
type writeOp[T any] struct {
	w      *Writer[T]
	key    string
	value  T
	del    bool
	id     string
	shadow bool // the write's own shadow is expected to apply the entry
	done   chan struct{}
}

func (op *writeOp[T]) legacy(ctx context.Context) (writeResult, error) {
	return op.run(ctx, dualrun.Legacy)
}

func (op *writeOp[T]) candidate(ctx context.Context) (writeResult, error) {
	return op.run(ctx, dualrun.Candidate)
}

func (op *writeOp[T]) run(ctx context.Context, side dualrun.Side) (writeResult, error) {
	if dualrun.IsShadow(ctx) {
		return op.w.secondary(ctx, side, op)
	}
	return op.w.primary(ctx, side, op)
}

func (w *Writer[T]) write(ctx context.Context, key string, v T, del bool) (Ack, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if w.closed.Load() {
		return Ack{}, ErrClosed
	}
	op := &writeOp[T]{w: w, key: key, value: v, del: del}
	op.id, _ = ctx.Value(idKey{}).(string)
	ctx = dualrun.WithKey(ctx, key)
	d := w.wexp.Decide(ctx)
	op.shadow = d.Shadow
	if d.Shadow && w.cfg.syncBudget > 0 {
		op.done = make(chan struct{})
	}
	res, err := w.wexp.RunDecision(ctx, d, op.legacy, op.candidate)
	if err != nil {
		return Ack{}, err
	}
	if op.done != nil {
		t := time.NewTimer(w.cfg.syncBudget)
		select {
		case <-op.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return res.ack, nil
}

// primary writes to the primary store, with the journal entry for the
// other store in the same transaction (an outbox) or right after it (the
// embedded journal).
func (w *Writer[T]) primary(ctx context.Context, side dualrun.Side, op *writeOp[T]) (writeResult, error) {
	now := time.Now().UnixNano()
	wr := Write[T]{Key: op.key, Value: op.value, Delete: op.del, Version: w.clock.next(), ID: op.id, Mode: ModePrimary}
	if wr.ID == "" {
		// Unique per write (the clock never repeats in a process), and the
		// same in both stores.
		wr.ID = w.derivedID(op.key, wr.Version)
		op.id = wr.ID
	}
	e := &entry{
		writer: w.name, target: side.Other(), key: op.key, op: opPut, id: wr.ID,
		createdAt: now, nextAt: now,
	}
	if op.shadow {
		e.nextAt = now + w.grace
	}
	if op.del {
		e.op = opDelete
	} else {
		p, err := w.encode(op.value)
		if err != nil {
			return writeResult{}, fmt.Errorf("dualwrite: %s: encode the value of key %q: %w", w.name, op.key, err)
		}
		e.payload = p
	}
	var (
		a   Applied
		seq int64
		src *sqlJournal
		err error
	)
	if ss := w.outbox[side]; ss != nil {
		e.confirmed = true
		a, seq, err = ss.applyWithOutbox(ctx, wr, e)
		src = ss.outbox
		if err == nil && !op.shadow {
			w.app.kick() // no shadow will apply it: the applier does, now
		}
	} else {
		// The intent goes first, synced: if the process dies after the
		// primary's commit, the applier finds it and asks the primary what
		// it holds (resolve). It is not due before the write had time to
		// finish.
		e.version, e.nextAt = wr.Version, now+w.settle()
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.bookTimeout())
		seq, err = w.journal.append(jctx, e)
		cancel()
		if err != nil {
			return writeResult{}, &JournalError{Key: op.key, Err: err}
		}
		src = w.journal.j
		// A failed primary write leaves the intent behind: the primary may
		// have taken it all the same (a timeout after the commit), and the
		// applier will tell.
		if a, err = w.stores[side].Apply(ctx, wr); err == nil && !op.shadow {
			e.version, e.confirmed = a.Version, true
			w.ack.confirm(w.sourceIndex(src), seq, e) // then the applier takes it
		}
	}
	if err != nil {
		return writeResult{}, err
	}
	w.clock.observe(a.Version)
	return writeResult{
		ack: Ack{Key: op.key, Version: a.Version, Deleted: op.del, Primary: side},
		seq: seq, src: w.sourceIndex(src), done: op.done,
	}, nil
}

// secondary applies a write, which the primary took, to the other store:
// the shadow of the write experiment. On failure the entry stays in the
// journal with a retry scheduled.
func (w *Writer[T]) secondary(ctx context.Context, side dualrun.Side, op *writeOp[T]) (writeResult, error) {
	pr, ok := dualrun.PrimaryResult[writeResult](ctx)
	if !ok {
		return writeResult{}, errors.New("dualwrite: internal error: the secondary write has no primary result")
	}
	res := pr.Value
	if res.done != nil {
		defer close(res.done)
	}
	if pr.Err != nil {
		return writeResult{}, pr.Err // nothing was written: nothing to copy
	}
	wr := Write[T]{Key: op.key, Value: op.value, Delete: op.del, Version: res.ack.Version, ID: op.id, Mode: ModeReplica}
	a, err := w.applyTo(ctx, side, wr)
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.bookTimeout())
	defer cancel()
	if err != nil {
		w.shadowFailed(bctx, res, side, op, err)
		w.app.kick() // to plan its wake-up for the retry
		return writeResult{}, err
	}
	w.appliedOne(side, a)
	w.ack.add(res.src, res.seq)
	return res, nil
}

// settle is how long an unconfirmed entry of the embedded journal is left
// alone before the applier resolves it from the primary: its write is
// expected to be over by then. A write whose primary call takes longer,
// and whose shadow was shed, reaches the other store through the
// reconciler only.
func (w *Writer[T]) settle() int64 {
	return max(w.grace, int64(w.cfg.applyTimeout))
}

// bookTimeout bounds one journal operation: generous, since a write that
// cannot record its outcome is applied again later (harmless, but wasted).
func (w *Writer[T]) bookTimeout() time.Duration {
	return max(w.cfg.applyTimeout, DefaultApplyTimeout)
}

// applyTo applies wr to the store of side, behind recover: a panicking
// store is a failed attempt, retried like any other.
func (w *Writer[T]) applyTo(ctx context.Context, side dualrun.Side, wr Write[T]) (Applied, error) {
	var (
		a   Applied
		err error
	)
	if perr := safe.Call(side.String()+" store Apply", func() { a, err = w.stores[side].Apply(ctx, wr) }, nil); perr != nil {
		return Applied{}, perr
	}
	return a, err
}

func (w *Writer[T]) appliedOne(side dualrun.Side, a Applied) {
	r := 0
	if a.Skipped {
		r = 1
		w.skipped.Add(1)
	} else {
		w.applied.Add(1)
	}
	w.tel.applied.Add(context.Background(), 1, w.tel.result[side][r])
}

// failed records a failed attempt of entry e (of journal src) towards
// target: a retry after the backoff, or the failed state for a permanent
// error or when the attempts are used up. It reports whether the entry
// stays pending (and so holds back the later entries of its key), and
// whether it was still in the journal.
func (w *Writer[T]) failed(ctx context.Context, src *sqlJournal, target dualrun.Side, e entry, cause error) (pending, found bool) {
	attempts := e.attempts + 1
	text := fmt.Sprintf("%s: key %q -> %s: %s", w.name, safe.Cut(e.key, 128), target, safe.ErrorText(cause, 512))
	w.lastErr.Store(&text)
	reason := -1
	var ee *EntryError
	switch {
	case errors.As(cause, &ee):
		reason = 0
	case errors.Is(cause, ErrPermanent):
		reason = 1
	case w.cfg.maxAttempts > 0 && attempts >= w.cfg.maxAttempts:
		reason = 2
	}
	if reason >= 0 {
		w.failures.Add(1)
		w.tel.failures.Add(context.Background(), 1, w.tel.reason[target][reason])
		if e.seq > 0 {
			handleLive(ctx, src.fail(ctx, e.seq, attempts, cause))
		}
		return false, true
	}
	w.retries.Add(1)
	w.tel.retries.Add(context.Background(), 1, w.tel.side[target])
	next := time.Now().Add(backoff(w.cfg.retryInitial, w.cfg.retryMax, attempts)).UnixNano()
	found, err := src.retry(ctx, e.seq, attempts, next, e.version, cause)
	handleLive(ctx, err)
	return true, found
}

// shadowFailed records the failure of a write's own secondary write. The
// entry is confirmed with the primary's version on the way; if the
// applier removed it meanwhile (it resolved an intent whose primary write
// was slower than the grace period), a confirmed one takes its place.
func (w *Writer[T]) shadowFailed(ctx context.Context, res writeResult, side dualrun.Side, op *writeOp[T], cause error) {
	src := w.sources[res.src]
	e := entry{seq: res.seq, key: op.key, version: res.ack.Version}
	if _, found := w.failed(ctx, src, side, e, cause); found {
		return
	}
	e = entry{
		writer: w.name, target: side, key: op.key, op: opPut, version: res.ack.Version, id: op.id,
		createdAt: time.Now().UnixNano(), confirmed: true, attempts: 1,
	}
	e.nextAt = e.createdAt + int64(backoff(w.cfg.retryInitial, w.cfg.retryMax, 1))
	if op.del {
		e.op = opDelete
	} else {
		p, err := w.encode(op.value)
		if err != nil {
			handle(err)
			return
		}
		e.payload = p
	}
	w.reappend(ctx, &e)
}

// reappend journals e again (see shadowFailed and acker.confirm).
func (w *Writer[T]) reappend(ctx context.Context, e *entry) {
	var err error
	if ss := w.outbox[e.target.Other()]; ss != nil {
		_, err = ss.outbox.insert(ctx, ss.outbox.db, e)
	} else {
		_, err = w.journal.append(ctx, e)
	}
	handleLive(ctx, err)
}

func (w *Writer[T]) encode(v T) (p []byte, err error) {
	if perr := safe.Call("Codec.Marshal", func() { p, err = w.codec.Marshal(v) }, nil); perr != nil {
		return nil, perr
	}
	if err == nil && p == nil {
		p = []byte{} // a put always has a payload
	}
	return p, err
}

func (w *Writer[T]) decode(p []byte) (v T, err error) {
	if perr := safe.Call("Codec.Unmarshal", func() { v, err = w.codec.Unmarshal(p) }, nil); perr != nil {
		return v, perr
	}
	return v, err
}

// Get reads key through the writer's read experiment: from the primary
// store (per the rollout policy), compared in the background with the other
// store's record when the policy shadows the read, so that divergence
// shows up as mismatches with field paths in dualrun's telemetry. A
// missing key is an error matching [ErrNotFound] (on both sides: a match).
func (w *Writer[T]) Get(ctx context.Context, key string) (T, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = dualrun.WithKey(ctx, key)
	return w.rexp.Run(ctx, w.getter(dualrun.Legacy, key), w.getter(dualrun.Candidate, key))
}

func (w *Writer[T]) getter(side dualrun.Side, key string) dualrun.Func[T] {
	return func(ctx context.Context) (T, error) {
		r, err := w.stores[side].Get(ctx, key)
		return r.Value, err
	}
}

// Primary returns the store that is primary for key now, per the rollout
// policy.
func (w *Writer[T]) Primary(ctx context.Context, key string) dualrun.Side {
	if ctx == nil {
		ctx = context.Background()
	}
	return w.wexp.Decide(dualrun.WithKey(ctx, key)).Primary
}

// Close stops the applier (entries not yet applied stay in the journals
// for the next process), waits for the secondary writes under way, and
// releases the writer's experiments. It does not close the stores or the
// journal, which the caller owns. It returns ctx.Err() if secondary writes
// are still running when ctx ends. It is idempotent.
func (w *Writer[T]) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		w.app.close()
		errs := []error{
			w.wexp.Shutdown(ctx), w.rexp.Shutdown(ctx), w.cexp.Shutdown(ctx),
		}
		w.ack.close()
		w.wexp.Unregister()
		w.rexp.Unregister()
		w.cexp.Unregister()
		w.tel.unregister()
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}
