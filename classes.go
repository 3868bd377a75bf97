package dualrun

import (
	"sort"
	"strings"
	"sync"
)

// This file keeps an experiment's mismatch classes: the distinct sets of
// differing paths (with the mismatch kind), counted, with one sample Report
// each — "which kinds of difference, how often".

// DefaultMaxClasses bounds the mismatch classes tracked per experiment.
const DefaultMaxClasses = 16

// MismatchClass is one kind of difference: a mismatch kind and the set of
// paths that differed together, such as {.Tax, .Total}.
type MismatchClass struct {
	Kind  MismatchKind
	Paths []string
	// Count is how many mismatches had exactly this kind and path set. Once
	// more distinct classes were seen than are tracked, a new class takes
	// the place of the least frequent one and inherits its count as
	// Overcount: Count − Overcount is a lower bound, Count an upper one.
	Count, Overcount int64
	// Sample is a Report of this class, when one was built (Reports are
	// rate-limited and deduplicated), or nil.
	Sample *Report
}

// classTable is a bounded top-K of mismatch classes (the space-saving
// algorithm: memory stays at max entries whatever the number of distinct
// classes, and a frequent class is never lost).
type classTable struct {
	mu      sync.Mutex
	max     int
	entries map[string]*MismatchClass
}

// classKey is the identity of a mismatch: its kind and path set (paths are
// sorted by the engine).
func classKey(kind MismatchKind, paths []string) string {
	return kind.String() + "\x00" + strings.Join(paths, "\x00")
}

// add counts one mismatch and returns its class key.
func (t *classTable) add(kind MismatchKind, paths []string) string {
	key := classKey(kind, paths)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = make(map[string]*MismatchClass)
	}
	if e, ok := t.entries[key]; ok {
		e.Count++
		return key
	}
	if len(t.entries) < max(t.max, 1) {
		t.entries[key] = &MismatchClass{Kind: kind, Paths: paths, Count: 1}
		return key
	}
	// Full: replace the least frequent class.
	var minKey string
	var minE *MismatchClass
	for k, e := range t.entries {
		if minE == nil || e.Count < minE.Count || (e.Count == minE.Count && k < minKey) {
			minKey, minE = k, e
		}
	}
	delete(t.entries, minKey)
	t.entries[key] = &MismatchClass{Kind: kind, Paths: paths, Count: minE.Count + 1, Overcount: minE.Count}
	return key
}

// sample keeps rep as the sample of its class if the class has none.
func (t *classTable) sample(key string, rep *Report) {
	t.mu.Lock()
	if e, ok := t.entries[key]; ok && e.Sample == nil {
		e.Sample = rep
	}
	t.mu.Unlock()
}

// top returns the classes, most frequent first.
func (t *classTable) top() []MismatchClass {
	t.mu.Lock()
	out := make([]MismatchClass, 0, len(t.entries))
	for _, e := range t.entries {
		c := *e
		c.Paths = append([]string(nil), e.Paths...)
		out = append(out, c)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return classKey(out[i].Kind, out[i].Paths) < classKey(out[j].Kind, out[j].Paths)
	})
	return out
}
