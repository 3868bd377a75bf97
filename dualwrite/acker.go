package dualwrite

import (
	"context"
	"sync"
	"time"
)

// acker removes the journal entries that writes' own shadows applied, in
// batches: one DELETE (one commit, one sync) for all the entries applied
// while the previous one ran, instead of one per write. Until it is
// removed, an applied entry is not due for the applier (its write's grace
// period), and if the process stops first it is applied again after the
// restart, as a duplicate that changes nothing.
type acker struct {
	w      *sqlSources
	mu     sync.Mutex
	seqs   [][]int64 // by source index
	confs  []confirmation
	signal chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// sqlSources is what the acker needs of a writer: its journals and the
// timeout of a journal operation.
type sqlSources struct {
	sources []*sqlJournal
	timeout func() (context.Context, context.CancelFunc)
	// reappend journals an entry again, confirmed; confirmed is called
	// after confirmations were recorded.
	reappend  func(context.Context, *entry)
	confirmed func()
}

// confirmation is an unconfirmed entry whose primary write succeeded, with
// no shadow to apply it: e has the version the primary gave it.
type confirmation struct {
	src int
	seq int64
	e   *entry
}

// ackLinger is how long the acker waits for more entries before it removes
// what it has: up to that long, an applied entry stays in the journal (and
// would be applied again, as a duplicate, after a crash).
const ackLinger = 10 * time.Millisecond

func newAcker(s *sqlSources) *acker {
	k := &acker{
		w:      s,
		seqs:   make([][]int64, len(s.sources)),
		signal: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go k.loop()
	return k
}

// add queues an applied entry for removal.
func (k *acker) add(src int, seq int64) {
	k.mu.Lock()
	k.seqs[src] = append(k.seqs[src], seq)
	k.mu.Unlock()
	select {
	case k.signal <- struct{}{}:
	default:
	}
}

// confirm queues the confirmation of an unconfirmed entry.
func (k *acker) confirm(src int, seq int64, e *entry) {
	k.mu.Lock()
	k.confs = append(k.confs, confirmation{src: src, seq: seq, e: e})
	k.mu.Unlock()
	select {
	case k.signal <- struct{}{}:
	default:
	}
}

func (k *acker) loop() {
	defer close(k.done)
	for {
		select {
		case <-k.signal:
			// Linger, so that the removals of the writes around this one
			// share its commit.
			t := time.NewTimer(ackLinger)
			select {
			case <-t.C:
			case <-k.stop:
				t.Stop()
				k.flush()
				return
			}
			k.flush()
		case <-k.stop:
			k.flush()
			return
		}
	}
}

func (k *acker) flush() {
	k.mu.Lock()
	batches, confs := k.seqs, k.confs
	k.seqs, k.confs = make([][]int64, len(batches)), nil
	k.mu.Unlock()
	if len(confs) > 0 {
		ctx, cancel := k.w.timeout()
		for _, c := range confs {
			found, err := k.w.sources[c.src].confirm(ctx, c.seq, c.e.version, time.Now().UnixNano())
			handle(err)
			if !found {
				// The applier resolved the intent before the primary's
				// commit (slower than the grace period) and found nothing.
				c.e.nextAt = time.Now().UnixNano()
				k.w.reappend(ctx, c.e)
			}
		}
		cancel()
		k.w.confirmed()
	}
	for i, seqs := range batches {
		if len(seqs) == 0 {
			continue
		}
		ctx, cancel := k.w.timeout()
		if err := k.w.sources[i].done(ctx, seqs...); err != nil {
			handle(err) // applied again later, as duplicates
		}
		cancel()
	}
}

// close removes what is queued, then stops.
func (k *acker) close() {
	k.once.Do(func() {
		close(k.stop)
		<-k.done
	})
}
