package dualwrite

import (
	"time"

	"github.com/dualrun/dualrun"
)

// Stats is a snapshot of a writer's state: how far each store lags, what
// the applier did, and the writer's dualrun experiments. The journal
// figures are those of the applier's last round (every poll interval).
type Stats struct {
	Name string
	// Pending counts journaled writes not yet applied, by target store
	// (indexed by dualrun.Side); OldestPending is the age of the oldest.
	Pending       [2]int64
	OldestPending [2]time.Duration
	// Failed counts writes in the failed state, by target store.
	Failed [2]int64
	// Applied and Skipped count journaled writes applied to the other store
	// by this process (Skipped: it had them already); Retries counts failed
	// attempts scheduled again; Failures counts writes given up.
	Applied, Skipped, Retries, Failures int64
	// LastError describes the last failed attempt ("" if none).
	LastError string
	// Writes, Reads and Reconciles are the statistics of the writer's
	// dualrun experiments: every write compared with its secondary write
	// (a secondary failure is a mismatch of kind "error", a slow one a
	// timeout), the compared reads, and the reconciler's comparisons.
	Writes, Reads, Reconciles dualrun.Stats
	// LastReconciliation is the report of the last Reconcile, or nil.
	LastReconciliation *Reconciliation
}

// Stats returns a snapshot of the writer's statistics. It does not query
// the journals (see [Writer.Pending] for that).
func (w *Writer[T]) Stats() Stats {
	s := Stats{
		Name:               w.name,
		Applied:            w.applied.Load(),
		Skipped:            w.skipped.Load(),
		Retries:            w.retries.Load(),
		Failures:           w.failures.Load(),
		Writes:             w.wexp.Stats(),
		Reads:              w.rexp.Stats(),
		Reconciles:         w.cexp.Stats(),
		LastReconciliation: w.lastRec.Load(),
	}
	if e := w.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	if js := w.tel.snapshot.Load(); js != nil {
		now := time.Now().UnixNano()
		s.Pending, s.Failed = js.pending, js.failed
		for i, o := range js.oldest {
			if o > 0 && now > o {
				s.OldestPending[i] = time.Duration(now - o)
			}
		}
	}
	return s
}
