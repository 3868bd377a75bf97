package dualwrite

import (
	"context"
	"errors"
	"fmt"

	"github.com/dualrun/dualrun/internal/safe"
)

// Store is one of the two stores of a table under migration: the old one
// (legacy) or the new one (candidate). Implement it for your own stores;
// [SQLStore] is the ready adapter for database/sql tables and [MemStore] an
// in-memory one. Every method must be safe for concurrent use.
//
// A Store keeps, beside each record, the version of the last write applied
// to its key, also for deleted keys (a tombstone): versions are what makes
// replaying a write idempotent and keeps writes in order per key. Apply must
// decide and write atomically per key (one transaction, or one lock).
type Store[T any] interface {
	// Apply applies one write (a put or a delete) as its Mode says, and
	// returns the key's version afterwards. For ModePrimary it always
	// writes, with the version max(w.Version, stored+1). For ModeReplica it
	// writes only if the stored version is lower than w.Version, and for
	// ModeRepair only if it is not higher; otherwise it changes nothing and
	// returns Skipped with the stored version. A key never written has
	// version 0.
	Apply(ctx context.Context, w Write[T]) (Applied, error)
	// Get returns the record stored under key, or an error matching
	// ErrNotFound when there is none (never written, or deleted).
	Get(ctx context.Context, key string) (Record[T], error)
	// Scan returns at most limit records whose keys sort after the key
	// after ("" starts at the beginning), in ascending byte order of the
	// keys (Go's string order). An empty result means the end.
	Scan(ctx context.Context, after string, limit int) ([]Record[T], error)
}

// Mode says how a [Store] applies a [Write].
type Mode uint8

const (
	// ModePrimary is a write to the authoritative store: it is applied
	// unconditionally, with a version above any the key had.
	ModePrimary Mode = iota
	// ModeReplica is a write copied from the other store: it is applied only
	// if it is newer than what the store holds, so a replayed (duplicate) or
	// superseded write changes nothing.
	ModeReplica
	// ModeRepair is the reconciler's copy of the primary's record: it is
	// applied unless the store holds a newer version.
	ModeRepair
)

// String returns "primary", "replica" or "repair".
func (m Mode) String() string {
	switch m {
	case ModePrimary:
		return "primary"
	case ModeReplica:
		return "replica"
	case ModeRepair:
		return "repair"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Write is one write of a record: a put of Value under Key, or a delete.
type Write[T any] struct {
	Key   string
	Value T // unused for a delete
	// Delete makes the write a delete of Key.
	Delete bool
	// Version orders the writes of a key; see [Store.Apply].
	Version uint64
	// ID is the write's idempotency key: the caller's ([WithIdempotencyKey])
	// or one derived from the writer's name, the key and the version. Stores
	// whose API deduplicates by a request ID can pass it on.
	ID   string
	Mode Mode
}

// Applied is what [Store.Apply] did.
type Applied struct {
	// Version is the key's version after the call.
	Version uint64
	// Skipped reports that the write changed nothing: the store already
	// held this write (a duplicate) or a newer one.
	Skipped bool
}

// Record is a stored record with its version.
type Record[T any] struct {
	Key     string
	Value   T
	Version uint64
}

// ErrNotFound is matched by errors.Is when a key has no record.
var ErrNotFound = errors.New("dualwrite: record not found")

// ErrPermanent marks a store error that retrying cannot fix (a rejected
// value, a constraint the record breaks): the applier stops retrying the
// write at once and counts it as a permanent failure. Wrap an error with
// [Permanent].
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as permanent (errors.Is(err, ErrPermanent) reports
// true; errors.Is and errors.As still see err). A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return safe.ErrorText(e.err, 0) }

func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }
