package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/safe"
)

// Divergence is what the reconciler found for one record.
type Divergence uint8

const (
	// InSync means both stores hold equal records (after normalizers).
	InSync Divergence = iota
	// Missing means the primary store has the record and the secondary not.
	Missing
	// Extra means the secondary store has a record the primary has not.
	Extra
	// Changed means both have the record, with different values.
	Changed
	// InFlight means the stores differ on the key while a journaled write
	// of it is still pending: the applier is on it, it is not divergence.
	InFlight

	numDivergence
)

var divergenceNames = [...]string{"match", "missing", "extra", "changed", "pending"}

// String returns the dualwrite.divergence attribute value: "match",
// "missing", "extra", "changed" or "pending".
func (d Divergence) String() string {
	if int(d) < len(divergenceNames) {
		return divergenceNames[d]
	}
	return fmt.Sprintf("Divergence(%d)", uint8(d))
}

// Defaults of the reconciler.
const (
	// DefaultReconcileRate is how many records per second the reconciler
	// compares (WithRate).
	DefaultReconcileRate = 1000.0
	// DefaultReconcileBatch is how many records it reads from each store at
	// once (WithBatchSize).
	DefaultReconcileBatch = 500
	// DefaultMaxListed bounds the divergent records a Reconciliation lists
	// (WithMaxListed); all are counted.
	DefaultMaxListed = 100
)

// ReconcileOption configures one [Writer.Reconcile].
type ReconcileOption interface{ applyRec(recConfig) recConfig }

type recConfig struct {
	rate      float64
	batch     int
	after     string
	until     string
	repair    bool
	maxListed int
}

type recOptionFunc func(recConfig) recConfig

func (f recOptionFunc) applyRec(c recConfig) recConfig { return f(c) }

// WithRate bounds the reconciler to perSecond records per second (default
// 1,000), so that a scan of a large table does not compete with the
// service for the stores. perSecond <= 0 removes the bound.
func WithRate(perSecond float64) ReconcileOption {
	return recOptionFunc(func(c recConfig) recConfig {
		c.rate = perSecond
		return c
	})
}

// WithBatchSize sets how many records the reconciler reads from each store
// at once (default 500). It panics if n < 1.
func WithBatchSize(n int) ReconcileOption {
	if n < 1 {
		panic(fmt.Sprintf("dualwrite: WithBatchSize(%d): want at least 1", n))
	}
	return recOptionFunc(func(c recConfig) recConfig {
		c.batch = n
		return c
	})
}

// WithKeyRange limits the scan to the keys k with after < k <= until, in
// byte order; "" for until means no end. To resume an interrupted
// reconciliation, pass its LastKey as after.
func WithKeyRange(after, until string) ReconcileOption {
	return recOptionFunc(func(c recConfig) recConfig {
		c.after, c.until = after, until
		return c
	})
}

// WithRepair makes the reconciler repair the secondary store of each
// divergent record from the primary: copy a missing or changed record,
// delete an extra one (with [ModeRepair]: never over a newer write). Off by
// default: run a dry run first and read its report.
func WithRepair() ReconcileOption {
	return recOptionFunc(func(c recConfig) recConfig {
		c.repair = true
		return c
	})
}

// WithMaxListed bounds the divergent records listed in the Reconciliation
// (default 100); all are counted. It panics if n < 0.
func WithMaxListed(n int) ReconcileOption {
	if n < 0 {
		panic(fmt.Sprintf("dualwrite: WithMaxListed(%d): want n >= 0", n))
	}
	return recOptionFunc(func(c recConfig) recConfig {
		c.maxListed = n
		return c
	})
}

// Reconciliation is the report of one [Writer.Reconcile].
type Reconciliation struct {
	Writer   string
	Started  time.Time
	Finished time.Time
	// Repair reports whether repairs were made (WithRepair); false is a
	// dry run.
	Repair bool
	// Scanned counts the keys compared; Counts splits them by Divergence.
	Scanned int64
	Counts  [numDivergence]int64
	// Repaired counts records repaired; RepairFailed those that could not
	// be (the secondary holds a newer write, or the store failed).
	Repaired, RepairFailed int64
	// Records lists the first divergent records (WithMaxListed).
	Records []DivergentRecord
	// LastKey is the last key compared: resume after it with WithKeyRange.
	LastKey string
}

// Divergent counts the records that differ for good: missing, extra or
// changed (records with a write in flight are not).
func (r *Reconciliation) Divergent() int64 {
	return r.Counts[Missing] + r.Counts[Extra] + r.Counts[Changed]
}

// String summarizes the report on one line.
func (r *Reconciliation) String() string {
	mode := "dry run"
	if r.Repair {
		mode = fmt.Sprintf("repaired %d, repair failed %d", r.Repaired, r.RepairFailed)
	}
	return fmt.Sprintf("%s: %d records: %d in sync, %d missing, %d extra, %d changed, %d in flight (%s)",
		r.Writer, r.Scanned, r.Counts[InSync], r.Counts[Missing], r.Counts[Extra], r.Counts[Changed],
		r.Counts[InFlight], mode)
}

// DivergentRecord is one record on which the stores differ.
type DivergentRecord struct {
	Key  string
	Kind Divergence
	// Primary is the store that is primary for the key.
	Primary dualrun.Side
	// Paths are the folded differing paths (Changed), as dualrun reports
	// them, such as ".Email".
	Paths []string
	// Diff is a human-readable difference, from legacy (-) to candidate
	// (+), at most 4 KiB. It holds values.
	Diff string
	// Repaired reports a successful repair; RepairErr why one failed.
	Repaired  bool
	RepairErr error
}

// errNewerSecondary is the repair error of a secondary holding a newer
// write than the primary.
var errNewerSecondary = errors.New("the secondary store holds a newer write than the primary: not overwritten")

// Reconcile compares the two stores record by record, in key order, at a
// bounded rate, and reports the records that are missing from the
// secondary store, extra in it, or changed. Each key's primary is the one
// the rollout policy picks for it. A difference is checked again, with
// fresh reads, before it is reported, and a key with a journaled write in
// flight is counted as such, not as divergence. Every compared record goes
// through the writer's "<name>.reconcile" dualrun experiment, so
// divergence is also in dualrun's outcomes (a missing record is a mismatch
// of kind "error", a changed one of kind "value" with its field paths), its
// telemetry, and its Reports; and in dualwrite.reconcile.records.
//
// With WithRepair, the secondary store is repaired from the primary. It
// returns the report so far together with the error of a store that fails
// to scan.
func (w *Writer[T]) Reconcile(ctx context.Context, opts ...ReconcileOption) (*Reconciliation, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if w.closed.Load() {
		return nil, ErrClosed
	}
	cfg := recConfig{rate: DefaultReconcileRate, batch: DefaultReconcileBatch, maxListed: DefaultMaxListed}
	for _, o := range opts {
		if o != nil {
			cfg = o.applyRec(cfg)
		}
	}
	ctx, span := w.tel.tracer.Start(ctx, "dualwrite.reconcile "+w.name,
		trace.WithAttributes(dualrun.AttrExperiment.String(w.name), attribute.Bool("dualwrite.repair", cfg.repair)))
	defer span.End()

	rep := &Reconciliation{Writer: w.name, Started: time.Now(), Repair: cfg.repair}
	r := reconciler[T]{w: w, cfg: cfg, rep: rep}
	err := r.run(ctx)
	rep.Finished = time.Now()
	span.SetAttributes(
		attribute.Int64("dualwrite.scanned", rep.Scanned),
		attribute.Int64("dualwrite.divergent", rep.Divergent()),
		attribute.Int64("dualwrite.repaired", rep.Repaired),
	)
	if err != nil {
		span.SetStatus(codes.Error, safe.ErrorText(err, 256))
	}
	w.lastRec.Store(rep)
	return rep, err
}

type reconciler[T any] struct {
	w   *Writer[T]
	cfg recConfig
	rep *Reconciliation
}

// cursor walks one store in key order, a batch at a time.
type cursor[T any] struct {
	store Store[T]
	side  dualrun.Side
	buf   []Record[T]
	after string
	end   bool
}

func (c *cursor[T]) head(ctx context.Context, batch int) (*Record[T], error) {
	if len(c.buf) == 0 && !c.end {
		var recs []Record[T]
		var err error
		if perr := safe.Call(c.side.String()+" store Scan", func() {
			recs, err = c.store.Scan(ctx, c.after, batch)
		}, nil); perr != nil {
			err = perr
		}
		if err != nil {
			return nil, fmt.Errorf("dualwrite: reconcile: scan the %s store after key %q: %w", c.side, c.after, err)
		}
		// A store that breaks the Scan contract (unordered, repeated or
		// earlier keys) must not make the merge loop forever.
		prev := c.after
		for i, r := range recs {
			if r.Key <= prev {
				return nil, fmt.Errorf("dualwrite: reconcile: the %s store's Scan returned key %q after %q: keys must ascend",
					c.side, r.Key, prev)
			}
			prev = recs[i].Key
		}
		if len(recs) == 0 {
			c.end = true
		} else {
			c.buf, c.after = recs, prev
		}
	}
	if len(c.buf) == 0 {
		return nil, nil
	}
	return &c.buf[0], nil
}

func (c *cursor[T]) pop() { c.buf = c.buf[1:] }

func (r *reconciler[T]) run(ctx context.Context) error {
	w := r.w
	cur := [2]*cursor[T]{
		{store: w.stores[dualrun.Legacy], side: dualrun.Legacy, after: r.cfg.after},
		{store: w.stores[dualrun.Candidate], side: dualrun.Candidate, after: r.cfg.after},
	}
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var heads [2]*Record[T]
		for i, c := range cur {
			h, err := c.head(ctx, r.cfg.batch)
			if err != nil {
				return err
			}
			heads[i] = h
		}
		var key string
		switch {
		case heads[0] == nil && heads[1] == nil:
			return nil
		case heads[1] == nil || (heads[0] != nil && heads[0].Key < heads[1].Key):
			key = heads[0].Key
			heads[1] = nil
		case heads[0] == nil || heads[1].Key < heads[0].Key:
			key = heads[1].Key
			heads[0] = nil
		default:
			key = heads[0].Key
		}
		if r.cfg.until != "" && key > r.cfg.until {
			return nil
		}
		for i, h := range heads {
			if h != nil {
				cur[i].pop()
			}
		}
		r.compare(ctx, key, heads[0], heads[1])
		if err := r.pace(ctx, start); err != nil {
			return err
		}
	}
}

// pace waits until the records compared so far fit the rate.
func (r *reconciler[T]) pace(ctx context.Context, start time.Time) error {
	if r.cfg.rate <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(r.rep.Scanned) / r.cfg.rate * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verdict is what the reconciler found for a key.
type verdict[T any] struct {
	kind    Divergence
	primary dualrun.Side
	recs    [2]*Record[T]
	v       compare.Verdict[T]
}

func (r *reconciler[T]) judge(ctx context.Context, key string, recs [2]*Record[T]) verdict[T] {
	vd := verdict[T]{primary: r.w.Primary(ctx, key), recs: recs}
	p, s := recs[vd.primary], recs[vd.primary.Other()]
	switch {
	case p != nil && s == nil:
		vd.kind = Missing
	case p == nil && s != nil:
		vd.kind = Extra
	case p != nil && s != nil:
		vd.v = r.w.eng.Compare(recs[0].Value, nil, recs[1].Value, nil)
		if vd.v.Kind != compare.Match && !vd.v.Ignored {
			vd.kind = Changed
		}
	}
	return vd
}

func (r *reconciler[T]) compare(ctx context.Context, key string, l, c *Record[T]) {
	w, rep := r.w, r.rep
	rep.Scanned++
	rep.LastKey = key
	vd := r.judge(ctx, key, [2]*Record[T]{l, c})
	if vd.kind != InSync {
		// Look again, with fresh reads: a write may have landed between
		// the two scans.
		if fresh, ok := r.reread(ctx, key); ok {
			vd = r.judge(ctx, key, fresh)
		}
		if vd.kind != InSync && r.inFlight(ctx, key) {
			vd.kind = InFlight
		}
	}
	rep.Counts[vd.kind]++
	w.tel.recs.Add(ctx, 1, w.tel.divs[vd.kind])
	if vd.kind == InFlight {
		return
	}
	r.report(ctx, vd)
	if vd.kind == InSync {
		return
	}
	d := DivergentRecord{Key: key, Kind: vd.kind, Primary: vd.primary}
	if vd.kind == Changed {
		d.Paths = vd.v.Paths
		d.Diff = vd.v.Diff(4 << 10)
		if vd.v.Kind == compare.Failed {
			d.Diff = "comparison failed: " + safe.ErrorText(vd.v.Err, 1024)
		}
	}
	if r.cfg.repair {
		r.repair(ctx, &d, vd)
	}
	if len(rep.Records) < r.cfg.maxListed {
		rep.Records = append(rep.Records, d)
	}
}

// report runs the record pair through the reconcile experiment, for
// dualrun's outcomes, telemetry and Reports.
func (r *reconciler[T]) report(ctx context.Context, vd verdict[T]) {
	side := func(rec *Record[T]) dualrun.Func[T] {
		return func(context.Context) (T, error) {
			if rec == nil {
				var zero T
				return zero, ErrNotFound
			}
			return rec.Value, nil
		}
	}
	ctx = dualrun.WithKey(ctx, vd.keyOf())
	_, _ = r.w.cexp.RunDecision(ctx, dualrun.Decision{Primary: vd.primary, Shadow: true},
		side(vd.recs[dualrun.Legacy]), side(vd.recs[dualrun.Candidate]))
}

func (vd verdict[T]) keyOf() string {
	for _, r := range vd.recs {
		if r != nil {
			return r.Key
		}
	}
	return ""
}

// reread reads key from both stores; false if a store failed.
func (r *reconciler[T]) reread(ctx context.Context, key string) ([2]*Record[T], bool) {
	var out [2]*Record[T]
	for i, s := range r.w.stores {
		var (
			rec Record[T]
			err error
		)
		if perr := safe.Call(dualrun.Side(i).String()+" store Get", func() { rec, err = s.Get(ctx, key) }, nil); perr != nil {
			return out, false
		}
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return out, false
		default:
			rec.Key = key
			out[i] = &rec
		}
	}
	return out, true
}

// inFlight reports whether a journaled write of key is still pending.
func (r *reconciler[T]) inFlight(ctx context.Context, key string) bool {
	for _, src := range r.w.sources {
		for t := range 2 {
			n, err := src.pendingFor(ctx, r.w.name, key, dualrun.Side(t))
			if err == nil && n > 0 {
				return true
			}
		}
	}
	return false
}

// repair copies the primary's record to the secondary store, or deletes
// the secondary's extra record.
func (r *reconciler[T]) repair(ctx context.Context, d *DivergentRecord, vd verdict[T]) {
	w := r.w
	sec := vd.primary.Other()
	p, s := vd.recs[vd.primary], vd.recs[sec]
	wr := Write[T]{Key: d.Key, Mode: ModeRepair}
	if p != nil {
		wr.Value, wr.Version = p.Value, p.Version
	} else {
		wr.Delete, wr.Version = true, s.Version
	}
	wr.ID = w.name + "/" + d.Key + "@repair"
	a, err := w.applyTo(ctx, sec, wr)
	switch {
	case err != nil:
		d.RepairErr = err
	case a.Skipped:
		d.RepairErr = fmt.Errorf("%w (secondary version %d, primary's %d)", errNewerSecondary, a.Version, wr.Version)
	default:
		d.Repaired = true
	}
	if d.Repaired {
		r.rep.Repaired++
		w.tel.repairs.Add(ctx, 1, w.tel.expOnly)
	} else {
		r.rep.RepairFailed++
	}
}

// Summary lists the report's divergent records, one per line, after
// String's line, for logs and the example.
func (r *Reconciliation) Summary() string {
	var b strings.Builder
	b.WriteString(r.String())
	for _, d := range r.Records {
		fmt.Fprintf(&b, "\n  %s %q (primary %s)", d.Kind, d.Key, d.Primary)
		if len(d.Paths) > 0 {
			fmt.Fprintf(&b, " paths=%v", d.Paths)
		}
		switch {
		case d.Repaired:
			b.WriteString(" repaired")
		case d.RepairErr != nil:
			b.WriteString(" repair failed: " + safe.ErrorText(d.RepairErr, 256))
		}
	}
	return b.String()
}
