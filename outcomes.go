package dualrun

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// This file counts an experiment's outcomes and exports them as
// dualrun.comparisons: the totals that Stats reads, the series of each
// custom attribute set (WithMetricAttributes), and the zero-initialised
// export of every series from the first call that was to be compared.

// outcomeCounts counts calls that were to be compared by primary side,
// outcome and mismatch kind.
type outcomeCounts struct {
	// outcomes[primary][outcome] and kinds[primary][kind].
	outcomes [2][rollout.NumOutcomes]atomic.Int64
	kinds    [2][numKinds]atomic.Int64
}

func (n *outcomeCounts) add(r *record) {
	n.outcomes[r.primary][r.outcome].Add(1)
	if r.kind != NoMismatch {
		n.kinds[r.primary][r.kind].Add(1)
	}
}

// countOutcome counts one recorded comparison in the experiment's totals.
// The series of its custom attribute set are counted by recordCall.
func (c *core) countOutcome(r *record) { c.counts.add(r) }

// shed counts a call that found no free slot: one atomic add, no
// instrument call on the caller's goroutine.
func (c *core) shed(primary Side) {
	c.counts.outcomes[primary][Shed].Add(1)
}

// outcomeCount and kindCount are the experiment's totals, whatever the
// custom attributes of the calls.
func (c *core) outcomeCount(primary, o int) int64 { return c.counts.outcomes[primary][o].Load() }
func (c *core) kindCount(primary, k int) int64    { return c.counts.kinds[primary][k].Load() }

// segment is one attribute set of dualrun.comparisons and
// dualrun.call.duration: the experiment's own (base), one set of custom
// attributes, or the overflow set. Its options are built once.
type segment struct {
	// attrs are the custom attributes, sorted by key; none for the base.
	attrs []attribute.KeyValue
	hash  uint64 // of attrs, as attrKey.sum
	// counts are this set's outcomes when the experiment has custom
	// attributes (without them the totals are the base's counts).
	counts outcomeCounts

	// outcomeOpts[primary][outcome], kindOpts[primary][kind].
	outcomeOpts [2][rollout.NumOutcomes][]metric.ObserveOption
	kindOpts    [2][numKinds][]metric.ObserveOption
	// durOpts[side][role] without error.type.
	durOpts [2][2][]metric.RecordOption
}

func newSegment(t *telemetry, attrs []attribute.KeyValue) *segment {
	s := &segment{attrs: attrs}
	with := func(kvs ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(kvs, attrs...)...)
	}
	for p := range 2 {
		pa := AttrPrimary.String(sideNames[p])
		for o := range rollout.NumOutcomes {
			set := with(t.expAttr, pa, AttrOutcome.String(rollout.Outcome(o).String()))
			s.outcomeOpts[p][o] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		for k := MismatchKind(1); k < numKinds; k++ {
			set := with(t.expAttr, pa, AttrOutcome.String(rollout.Mismatch.String()), AttrMismatchKind.String(k.String()))
			s.kindOpts[p][k] = []metric.ObserveOption{metric.WithAttributeSet(set)}
		}
		for r := range 2 {
			set := with(t.expAttr, AttrSide.String(sideNames[p]), AttrRole.String(roleNames[r]))
			s.durOpts[p][r] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	return s
}

// count counts one recorded comparison in the set's own series.
func (s *segment) count(r *record) { s.counts.add(r) }

// observe exports every series of the set for both primaries, at zero
// where nothing happened yet. n gives the value of (primary, outcome) and
// k that of (primary, mismatch kind).
func (s *segment) observe(t *telemetry, o metric.Observer, n func(p, oc int) int64, k func(p, kind int) int64) {
	for p := range 2 {
		for oc := range rollout.NumOutcomes {
			if rollout.Outcome(oc) == rollout.Mismatch {
				continue // by kind below
			}
			o.ObserveInt64(t.comparison, n(p, oc), s.outcomeOpts[p][oc]...)
		}
		for kind := MismatchKind(1); kind < numKinds; kind++ {
			o.ObserveInt64(t.comparison, k(p, int(kind)), s.kindOpts[p][kind]...)
		}
	}
}

// observeComparisons exports dualrun.comparisons. Nothing is exported
// before the experiment's first call that was to be compared (compared or
// shed), so an experiment that never compares has no comparison series.
// From then on every series is exported for both primaries, at zero where
// nothing happened yet: a rate() or increase() over the first mismatch,
// panic or timeout, and the first ones after a cut-over to candidate
// primary, sees it rise from zero instead of appearing with its first value.
func (t *telemetry) observeComparisons(o metric.Observer, src counterSource) {
	if src.callCount(0, 1)+src.callCount(1, 1)+src.outcomeCount(0, int(Shed))+src.outcomeCount(1, int(Shed)) == 0 {
		return
	}
	if t.attrsFn == nil {
		t.segs.base.observe(t, o, src.outcomeCount, src.kindCount)
		return
	}
	// With custom attributes, the base set holds the shed calls (counted
	// in the totals only: the caller's goroutine does one atomic add) and
	// the compared calls whose hook gave no attribute.
	base := &t.segs.base.counts
	t.segs.base.observe(t, o, func(p, oc int) int64 {
		if oc == int(Shed) {
			return src.outcomeCount(p, oc)
		}
		return base.outcomes[p][oc].Load()
	}, func(p, k int) int64 { return base.kinds[p][k].Load() })
	for _, s := range t.segs.all() {
		s.observe(t, o,
			func(p, oc int) int64 { return s.counts.outcomes[p][oc].Load() },
			func(p, k int) int64 { return s.counts.kinds[p][k].Load() })
	}
}

// segments are the attribute sets of an experiment: the base, at most
// MaxMetricAttributeSets custom sets, and the overflow set.
type segments struct {
	base *segment
	// custom is read without a lock (copy on write under mu), in the
	// order the sets were first seen.
	custom   atomic.Pointer[[]*segment]
	overflow atomic.Pointer[segment]
	mu       sync.Mutex
}

func (ss *segments) init(t *telemetry) {
	ss.base = newSegment(t, nil)
	ss.custom.Store(new([]*segment))
}

// all returns the custom sets and the overflow set, if made.
func (ss *segments) all() []*segment {
	out := *ss.custom.Load()
	if ov := ss.overflow.Load(); ov != nil {
		out = append(out[:len(out):len(out)], ov)
	}
	return out
}

// overflowSet returns the one set of dualrun.attributes="_OTHER", made on
// first use.
func (ss *segments) overflowSet(t *telemetry) *segment {
	if s := ss.overflow.Load(); s != nil {
		return s
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.overflowSetLocked(t)
}

// of runs the metric-attributes hook with the caller's context and returns
// the set of its attributes. A runtime.Goexit in the hook is not stopped
// here: recordCall finishes the record while the goroutine unwinds.
func (ss *segments) of(caller context.Context, t *telemetry) *segment {
	if caller == nil {
		caller = context.Background()
	}
	var kvs []attribute.KeyValue
	if err := safe.Call("WithMetricAttributes func", func() { kvs = t.attrsFn(caller) }, nil); err != nil {
		reportOnce(&t.attrsFailed, fmtErr(t.name,
			"calls whose metric attributes cannot be had are counted in dualrun.attributes=\"_OTHER\"", err))
		return ss.overflowSet(t)
	}
	var key attrKey
	if why := key.set(kvs); why != "" {
		reportOnce(&t.attrsBounds, fmt.Errorf(
			"dualrun: %s: WithMetricAttributes: %s; such sets are counted in dualrun.attributes=\"_OTHER\"", t.name, why))
		return ss.overflowSet(t)
	}
	if key.n == 0 {
		return ss.base
	}
	return ss.lookup(t, &key)
}

// lookup finds or makes the set of key. The common case is a scan of at
// most MaxMetricAttributeSets sets without a lock or an allocation.
func (ss *segments) lookup(t *telemetry, key *attrKey) *segment {
	if s := find(*ss.custom.Load(), key); s != nil {
		return s
	}
	if len(*ss.custom.Load()) >= MaxMetricAttributeSets {
		reportOnce(&t.attrsCapped, fmt.Errorf(
			"dualrun: %s: WithMetricAttributes: more than %d distinct attribute sets; further ones are counted in dualrun.attributes=\"_OTHER\"",
			t.name, MaxMetricAttributeSets))
		return ss.overflowSet(t)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	cur := *ss.custom.Load()
	if s := find(cur, key); s != nil {
		return s
	}
	if len(cur) >= MaxMetricAttributeSets {
		return ss.overflowSetLocked(t)
	}
	s := newSegment(t, key.attrs())
	s.hash = key.hash
	next := append(cur[:len(cur):len(cur)], s)
	ss.custom.Store(&next)
	return s
}

// overflowSetLocked is overflowSet with ss.mu held.
func (ss *segments) overflowSetLocked(t *telemetry) *segment {
	if s := ss.overflow.Load(); s != nil {
		return s
	}
	s := newSegment(t, []attribute.KeyValue{AttrAttributes.String(otherLabel)})
	ss.overflow.Store(s)
	return s
}

// find returns the set among segs whose attributes are key's, or nil.
func find(segs []*segment, key *attrKey) *segment {
	for _, s := range segs {
		if s.hash != key.hash || len(s.attrs) != key.n {
			continue
		}
		same := true
		for i := range key.n {
			if s.attrs[i] != key.at(i) {
				same = false
				break
			}
		}
		if same {
			return s
		}
	}
	return nil
}

// attrKey is a custom attribute set in canonical form, built on the stack
// without copying the attributes: the indexes into the hook's slice of its
// attributes sorted by key, one per key (the last given), reserved keys left
// out.
type attrKey struct {
	kvs  []attribute.KeyValue
	idx  [maxCustomAttrs]uint8
	n    int
	hash uint64 // of the set, so that a lookup compares the sets only once
}

// attrSeed seeds attrKey.hash for the process.
var attrSeed = maphash.MakeSeed()

// at returns the i-th attribute of the canonical set.
func (k *attrKey) at(i int) attribute.KeyValue { return k.kvs[k.idx[i]] }

// set fills k from kvs. It returns why the set must go to the overflow set,
// or "".
func (k *attrKey) set(kvs []attribute.KeyValue) string {
	k.kvs = kvs
	for j := range kvs {
		kv := &kvs[j]
		if kv.Key == "" || kv.Key == AttrErrorType || strings.HasPrefix(string(kv.Key), "dualrun.") {
			continue // reserved: the contract's own attributes
		}
		switch kv.Value.Type() {
		case attribute.BOOL, attribute.INT64, attribute.FLOAT64:
		case attribute.STRING:
			if len(kv.Value.AsString()) > maxCustomValueLen {
				return fmt.Sprintf("the value of %q is longer than %d bytes", kv.Key, maxCustomValueLen)
			}
		default:
			return fmt.Sprintf("the value of %q is a %s; want a bool, int64, float64 or string", kv.Key, kv.Value.Type())
		}
		if j > 255 {
			return fmt.Sprintf("more than %d attributes", maxCustomAttrs)
		}
		// Insert in key order; a key already there takes the new value.
		i := 0
		for i < k.n && kvs[k.idx[i]].Key < kv.Key {
			i++
		}
		if i < k.n && kvs[k.idx[i]].Key == kv.Key {
			k.idx[i] = uint8(j)
			continue
		}
		if k.n == maxCustomAttrs {
			return fmt.Sprintf("more than %d attributes", maxCustomAttrs)
		}
		copy(k.idx[i+1:k.n+1], k.idx[i:k.n])
		k.idx[i] = uint8(j)
		k.n++
	}
	k.sum()
	return ""
}

// sum sets k.hash from the canonical attributes: the runtime's string hash
// of each key and string value, mixed with the other values' bits.
func (k *attrKey) sum() {
	h := uint64(k.n)
	for i := range k.n {
		kv := &k.kvs[k.idx[i]]
		h = mix(h, maphash.String(attrSeed, string(kv.Key)))
		var bits uint64
		switch kv.Value.Type() {
		case attribute.STRING:
			bits = maphash.String(attrSeed, kv.Value.AsString())
		case attribute.BOOL:
			if kv.Value.AsBool() {
				bits = 1
			}
		case attribute.INT64:
			bits = uint64(kv.Value.AsInt64())
		case attribute.FLOAT64:
			bits = math.Float64bits(kv.Value.AsFloat64())
		}
		h = mix(h, bits^uint64(kv.Value.Type())<<59)
	}
	k.hash = h
}

// mix folds x into the hash h.
func mix(h, x uint64) uint64 {
	h ^= x
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// attrs returns a copy of the canonical set, for a new segment.
func (k *attrKey) attrs() []attribute.KeyValue {
	out := make([]attribute.KeyValue, k.n)
	for i := range k.n {
		out[i] = k.at(i)
	}
	return out
}

// reportOnce passes err to otel.Handle the first time flag is set.
func reportOnce(flag *atomic.Bool, err error) {
	if !flag.Swap(true) {
		handle(err)
	}
}

// fmtErr wraps err for otel.Handle with the experiment's name.
func fmtErr(name, what string, err error) error {
	return fmt.Errorf("dualrun: %s: %s: %w", name, what, err)
}
