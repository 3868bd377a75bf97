package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// applier is a writer's background goroutine: it applies the journaled
// writes that their own shadow did not (shed, paused, failed, or left by a
// process that stopped), retrying with backoff, in journal order per key,
// several keys at once.
type applier[T any] struct {
	w     *Writer[T]
	kickc chan struct{} // buffered 1: a pending wake-up
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	// Owned by the applier goroutine.
	counts  []journalStats // last count of each source
	failing []bool         // each source's last access failed

	mu      sync.Mutex
	rounds  chan struct{} // closed and replaced when a round ends
	hurry   int           // > 0: rounds ignore backoff (Drain)
	lastErr error         // the last round's journal error
}

// report passes a journal's error to the OpenTelemetry error handler when
// the journal starts failing, not at every round while it stays down.
func (a *applier[T]) report(ctx context.Context, si int, err error) {
	switch {
	case err == nil:
		a.failing[si] = false
	case ctx.Err() != nil: // the applier is stopping
	case !a.failing[si]:
		a.failing[si] = true
		handle(err)
	}
}

func newApplier[T any](w *Writer[T]) *applier[T] {
	a := &applier[T]{
		w:       w,
		kickc:   make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		rounds:  make(chan struct{}),
		counts:  make([]journalStats, len(w.sources)),
		failing: make([]bool, len(w.sources)),
	}
	go a.loop()
	return a
}

// kick wakes the applier for a round now.
func (a *applier[T]) kick() {
	select {
	case a.kickc <- struct{}{}:
	default:
	}
}

func (a *applier[T]) close() {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
	})
}

func (a *applier[T]) loop() {
	defer close(a.done)
	t := time.NewTimer(0) // the first round replays what an earlier process left
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-a.kickc:
		case <-t.C:
		}
		wait := a.w.cfg.pollInterval
		if due := a.round(); due > 0 {
			// Wake for the earliest retry rather than the next poll.
			wait = min(wait, max(time.Duration(due-time.Now().UnixNano()), time.Millisecond))
		}
		t.Reset(wait)
	}
}

// round applies what is due in every journal, until nothing due is left or
// the applier is stopped, then counts what is pending. It returns when the
// earliest entry not yet due becomes due (0: none).
func (a *applier[T]) round() (due int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var firstErr error
	a.mu.Lock()
	hurry := a.hurry > 0
	a.mu.Unlock()
	for si, src := range a.w.sources {
		// Batches until what is due is done; in a hurry (Drain), one
		// batch: entries that fail are due again at once then.
		for ctx.Err() == nil {
			n, err := a.batch(ctx, src, hurry)
			if err != nil {
				firstErr = err
				a.report(ctx, si, err)
				break
			}
			if hurry || n < a.w.cfg.batch {
				break
			}
		}
		sctx, scancel := context.WithTimeout(ctx, a.w.bookTimeout())
		st, err := src.stats(sctx, a.w.name)
		if err == nil {
			var next int64
			if next, err = src.nextDue(sctx, a.w.name, time.Now().UnixNano()); next > 0 && (due == 0 || next < due) {
				due = next
			}
		}
		scancel()
		if err == nil {
			a.counts[si] = st // a journal that cannot be read keeps its last count
		} else if firstErr == nil {
			firstErr = err
		}
		a.report(ctx, si, err)
	}
	var total journalStats
	for _, st := range a.counts {
		for i := range 2 {
			total.pending[i] += st.pending[i]
			total.failed[i] += st.failed[i]
			if st.oldest[i] > 0 && (total.oldest[i] == 0 || st.oldest[i] < total.oldest[i]) {
				total.oldest[i] = st.oldest[i]
			}
		}
	}
	a.w.tel.snapshot.Store(&total)
	a.mu.Lock()
	a.lastErr = firstErr
	close(a.rounds)
	a.rounds = make(chan struct{})
	a.mu.Unlock()
	return due
}

// batch applies one batch of due entries of src, and returns how many it
// read.
func (a *applier[T]) batch(ctx context.Context, src *sqlJournal, hurry bool) (int, error) {
	w := a.w
	now := time.Now().UnixNano()
	settled := now - w.settle()
	if hurry {
		now = math.MaxInt64
	}
	rctx, cancel := context.WithTimeout(ctx, w.bookTimeout())
	raws, err := src.ready(rctx, w.name, now, settled, w.cfg.batch)
	cancel()
	if err != nil {
		return 0, err
	}
	// Group by (key, target), keeping journal order within a group and the
	// order of first appearance between groups. A malformed row fails
	// alone, at once.
	type groupKey struct {
		key    string
		target dualrun.Side
	}
	groups := make(map[groupKey][]entry)
	var order []groupKey
	for i := range raws {
		e, err := decodeEntry(&raws[i])
		if err != nil {
			a.malformed(ctx, src, &raws[i], err)
			continue
		}
		g := groupKey{e.key, e.target}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], e)
	}
	sem := make(chan struct{}, w.cfg.applyConcurrency)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int64
	)
	for _, g := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(es []entry) {
			defer func() { <-sem; wg.Done() }()
			for _, e := range es {
				if ctx.Err() != nil {
					return
				}
				ok, done := a.apply(ctx, src, e)
				if done {
					mu.Lock()
					applied = append(applied, e.seq)
					mu.Unlock()
				}
				if !ok {
					return // the key waits for its retry: its later entries too
				}
			}
		}(groups[g])
	}
	wg.Wait()
	// The batch's applied entries go in one statement, before the next
	// batch is read.
	bctx, bcancel := context.WithTimeout(ctx, w.bookTimeout())
	defer bcancel()
	if err := src.done(bctx, applied...); err != nil && ctx.Err() == nil {
		handle(err) // applied again later, as duplicates
	}
	return len(raws), nil
}

// malformed fails an entry that does not decode.
func (a *applier[T]) malformed(ctx context.Context, src *sqlJournal, r *rawEntry, cause error) {
	ee := &EntryError{Journal: src.name, Err: cause}
	if r.seq.Valid {
		ee.Seq = r.seq.Int64
	}
	if r.key.Valid {
		ee.Key = r.key.String
	}
	target := dualrun.Side(0)
	if r.target.Valid && r.target.Int64 == 1 {
		target = 1
	}
	bctx, cancel := context.WithTimeout(ctx, a.w.bookTimeout())
	defer cancel()
	_, _ = a.w.failed(bctx, src, target, entry{seq: ee.Seq, key: ee.Key}, ee)
	handle(ee)
}

// apply applies one entry. It reports whether the key's next entry may
// follow (it succeeded, or failed for good), and whether the entry is to
// be removed (it was applied).
func (a *applier[T]) apply(ctx context.Context, src *sqlJournal, e entry) (next, applied bool) {
	w := a.w
	bctx, bcancel := context.WithTimeout(ctx, w.bookTimeout())
	defer bcancel()
	wr := Write[T]{Key: e.key, Delete: e.op == opDelete, Version: e.version, ID: e.id, Mode: ModeReplica}
	if wr.ID == "" {
		wr.ID = w.derivedID(e.key, e.version)
	}
	if !wr.Delete {
		v, err := w.decode(e.payload)
		if err != nil {
			ee := &EntryError{Seq: e.seq, Journal: src.name, Key: e.key, Err: fmt.Errorf("payload: %w", err)}
			_, _ = w.failed(bctx, src, e.target, e, ee)
			handle(ee)
			return true, false
		}
		wr.Value = v
	}
	actx, cancel := context.WithTimeout(ctx, w.cfg.applyTimeout)
	defer cancel()
	var (
		ap  Applied
		err error
	)
	if e.confirmed {
		ap, err = w.applyTo(actx, e.target, wr)
	} else {
		ap, err = a.resolve(actx, e, wr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, false // stopping: the entry stays as it was
		}
		pending, _ := w.failed(bctx, src, e.target, e, err)
		return !pending, false
	}
	w.appliedOne(e.target, ap)
	return true, true
}

// resolve applies an unconfirmed entry of the embedded journal: its write
// went to the primary after the entry was synced, and nobody confirmed
// that it succeeded (the process died, or the write's shadow could not
// run). The primary's record says: a version at least the entry's means
// the primary took this write or a later one, and that record is what
// the other store must get; a lower version, or no record for a put,
// means the primary never took it, and there is nothing to copy. A delete
// is applied when the primary has no record either way.
func (a *applier[T]) resolve(ctx context.Context, e entry, wr Write[T]) (Applied, error) {
	w := a.w
	primary := e.target.Other()
	var (
		rec Record[T]
		err error
	)
	if perr := safe.Call(primary.String()+" store Get", func() { rec, err = w.stores[primary].Get(ctx, e.key) }, nil); perr != nil {
		return Applied{}, perr
	}
	switch {
	case errors.Is(err, ErrNotFound):
		if !wr.Delete {
			return Applied{Skipped: true}, nil // never taken (or deleted since, by a write of its own)
		}
	case err != nil:
		return Applied{}, fmt.Errorf("dualwrite: resolve entry %d: read key %q from the %s store: %w", e.seq, e.key, primary, err)
	case rec.Version < e.version:
		return Applied{Skipped: true}, nil // never taken
	default:
		wr.Value, wr.Version, wr.Delete = rec.Value, rec.Version, false
	}
	return w.applyTo(ctx, e.target, wr)
}

// Drain waits until every journaled write of the writer has been applied
// (writes in the failed state aside), asking the applier to retry at once
// rather than after its backoff. It returns ctx.Err() with the count of
// what is still pending when ctx ends first.
func (w *Writer[T]) Drain(ctx context.Context) error {
	if w.closed.Load() {
		return ErrClosed
	}
	a := w.app
	a.mu.Lock()
	a.hurry++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.hurry--
		a.mu.Unlock()
	}()
	prev := int64(-1)
	for {
		a.mu.Lock()
		next := a.rounds
		a.mu.Unlock()
		a.kick()
		select {
		case <-next:
		case <-ctx.Done():
			return w.drainErr(ctx)
		case <-a.stop:
			return ErrClosed
		}
		n, err := w.Pending(ctx)
		if err == nil && n == 0 {
			return nil
		}
		if err != nil || (prev >= 0 && n >= prev) {
			// No progress (a store is down): pause before the next round
			// rather than retry in a tight loop.
			t := time.NewTimer(min(w.cfg.retryInitial, w.cfg.pollInterval))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return w.drainErr(ctx)
			}
		}
		prev = n
	}
}

func (w *Writer[T]) drainErr(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.applyTimeout)
	defer cancel()
	n, err := w.Pending(cctx)
	if err != nil {
		return fmt.Errorf("dualwrite: %s: drain: %w (and counting what is pending failed: %w)", w.name, ctx.Err(), err)
	}
	w.app.mu.Lock()
	last := w.app.lastErr
	w.app.mu.Unlock()
	if last != nil {
		return fmt.Errorf("dualwrite: %s: drain: %d writes still pending: %w (the applier's last error: %w)", w.name, n, ctx.Err(), last)
	}
	return fmt.Errorf("dualwrite: %s: drain: %d writes still pending: %w", w.name, n, ctx.Err())
}

// Pending counts the journaled writes of the writer not yet applied to the
// other store (writes in the failed state aside), asking the journals now.
func (w *Writer[T]) Pending(ctx context.Context) (int64, error) {
	var n int64
	for _, src := range w.sources {
		st, err := src.stats(ctx, w.name)
		if err != nil {
			return n, err
		}
		n += st.pending[0] + st.pending[1]
	}
	return n, nil
}

// Failed lists up to limit writes of the writer in the failed state, per
// journal, oldest first.
func (w *Writer[T]) Failed(ctx context.Context, limit int) ([]FailedWrite, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []FailedWrite
	for _, src := range w.sources {
		f, err := src.failed(ctx, w.name, limit)
		out = append(out, f...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Retry moves the writer's failed writes back to pending, to be applied at
// once (after the cause was fixed: a column added, a constraint relaxed),
// and returns how many it moved.
func (w *Writer[T]) Retry(ctx context.Context) (int64, error) {
	var n int64
	for _, src := range w.sources {
		k, err := src.requeue(ctx, w.name)
		n += k
		if err != nil {
			return n, err
		}
	}
	w.app.kick()
	return n, nil
}
