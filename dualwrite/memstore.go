package dualwrite

import (
	"context"
	"slices"
	"sync"
)

// MemStore is a [Store] in memory: for tests, demos, and as the model of
// the Store contract. Its zero value is not usable; make one with
// [NewMemStore]. It is safe for concurrent use. Values are stored as given:
// treat them as immutable.
type MemStore[T any] struct {
	mu   sync.Mutex
	recs map[string]memRecord[T]
}

type memRecord[T any] struct {
	value   T
	version uint64
	deleted bool // a tombstone: the version stays
}

// NewMemStore returns an empty MemStore.
func NewMemStore[T any]() *MemStore[T] {
	return &MemStore[T]{recs: make(map[string]memRecord[T])}
}

// Apply implements [Store].
func (m *MemStore[T]) Apply(ctx context.Context, w Write[T]) (Applied, error) {
	if err := ctx.Err(); err != nil {
		return Applied{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[w.Key]
	v, ok := nextVersion(w.Mode, r.version, w.Version)
	if !ok {
		return Applied{Version: r.version, Skipped: true}, nil
	}
	m.recs[w.Key] = memRecord[T]{value: w.Value, version: v, deleted: w.Delete}
	return Applied{Version: v}, nil
}

// nextVersion returns the version a write of mode and version wv makes of a
// key at version stored, or false when the write must be skipped: the rule
// every Store follows.
func nextVersion(mode Mode, stored, wv uint64) (uint64, bool) {
	switch mode {
	case ModePrimary:
		return max(wv, stored+1), true
	case ModeReplica:
		return wv, stored < wv
	default: // ModeRepair
		return wv, stored <= wv
	}
}

// Get implements [Store].
func (m *MemStore[T]) Get(ctx context.Context, key string) (Record[T], error) {
	if err := ctx.Err(); err != nil {
		return Record[T]{}, err
	}
	m.mu.Lock()
	r, ok := m.recs[key]
	m.mu.Unlock()
	if !ok || r.deleted {
		return Record[T]{}, ErrNotFound
	}
	return Record[T]{Key: key, Value: r.value, Version: r.version}, nil
}

// Scan implements [Store]. It sorts the keys on every call: fine for tests
// and demos, not for millions of records.
func (m *MemStore[T]) Scan(ctx context.Context, after string, limit int) ([]Record[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.recs))
	for k, r := range m.recs {
		if k > after && !r.deleted {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]Record[T], len(keys))
	for i, k := range keys {
		r := m.recs[k]
		out[i] = Record[T]{Key: k, Value: r.value, Version: r.version}
	}
	return out, nil
}

// Version returns the version of key (0 if it was never written), also for
// a deleted key.
func (m *MemStore[T]) Version(key string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[key].version
}
