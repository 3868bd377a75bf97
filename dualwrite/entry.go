package dualwrite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// Journal entry operations, as stored.
const (
	opPut    = 1
	opDelete = 2
)

// Journal entry states, as stored.
const (
	statePending = 0
	stateFailed  = 1
)

// entry is one journaled write: the intent to apply to the target store
// what the other store (the primary of the write) has. Times are Unix
// nanoseconds.
type entry struct {
	seq       int64
	writer    string
	target    dualrun.Side
	key       string
	op        int
	version   uint64
	id        string
	payload   []byte // the codec's bytes of the value; nil for a delete
	createdAt int64
	nextAt    int64
	attempts  int
	// confirmed is false for an entry of the embedded journal written
	// before its primary write (an intent): its version is the proposal,
	// and whether the primary took the write is unknown until the writer
	// confirms it, or the applier asks the primary (resolve).
	confirmed bool
}

// rawEntry is a journal row as scanned, before it is trusted: every column
// may be NULL or out of range in a row that was written by hand, by an
// older version, or damaged.
type rawEntry struct {
	seq       sql.NullInt64
	writer    sql.NullString
	target    sql.NullInt64
	key       sql.NullString
	op        sql.NullInt64
	version   sql.NullInt64
	id        sql.NullString
	payload   []byte
	createdAt sql.NullInt64
	nextAt    sql.NullInt64
	attempts  sql.NullInt64
	confirmed sql.NullInt64
	scanErr   error // the row's columns did not scan
}

// dest returns the scan destinations in the order of entryColumns.
func (r *rawEntry) dest() []any {
	return []any{
		&r.seq, &r.writer, &r.target, &r.key, &r.op, &r.version, &r.id,
		&r.payload, &r.createdAt, &r.nextAt, &r.attempts, &r.confirmed,
	}
}

// entryColumns are the journal columns read into a rawEntry.
const entryColumns = "seq, writer, target, k, op, version, id, payload, created_at, next_at, attempts, confirmed"

// EntryError is a journal entry that cannot be applied as it is: a
// malformed row (a column NULL or out of range, a payload the codec cannot
// decode). The applier moves such an entry to the failed state at once and
// counts it in dualwrite.failures with reason "malformed"; other entries,
// of the same key included, go on.
type EntryError struct {
	// Seq is the entry's sequence number in its journal (0 if unreadable).
	Seq int64
	// Journal names the journal: "journal <path>" or "outbox of <table>".
	Journal string
	// Key is the entry's key, if it could be read.
	Key string
	// Err says what is wrong.
	Err error
}

// Error describes the entry and what is wrong with it.
func (e *EntryError) Error() string {
	return fmt.Sprintf("dualwrite: %s: entry %d (key %q) is malformed: %s",
		e.Journal, e.Seq, safe.Cut(e.Key, 128), safe.ErrorText(e.Err, 512))
}

// Unwrap returns what is wrong.
func (e *EntryError) Unwrap() error { return e.Err }

// decodeEntry checks a raw row and turns it into an entry. It never panics
// and never trusts a field: the fuzz test feeds it arbitrary rows.
func decodeEntry(r *rawEntry) (entry, error) {
	var e entry
	bad := func(format string, args ...any) (entry, error) {
		return entry{}, fmt.Errorf(format, args...)
	}
	if r.scanErr != nil {
		return bad("unreadable row: %s", safe.ErrorText(r.scanErr, 256))
	}
	if !r.seq.Valid || r.seq.Int64 <= 0 {
		return bad("seq is %s, want a positive integer", nullInt(r.seq))
	}
	e.seq = r.seq.Int64
	if !r.key.Valid {
		return bad("key is NULL")
	}
	e.key = r.key.String
	if !r.writer.Valid || r.writer.String == "" {
		return bad("writer is NULL or empty")
	}
	e.writer = r.writer.String
	if !r.target.Valid || (r.target.Int64 != int64(dualrun.Legacy) && r.target.Int64 != int64(dualrun.Candidate)) {
		return bad("target is %s, want 0 (legacy) or 1 (candidate)", nullInt(r.target))
	}
	e.target = dualrun.Side(r.target.Int64)
	if !r.op.Valid || (r.op.Int64 != opPut && r.op.Int64 != opDelete) {
		return bad("op is %s, want 1 (put) or 2 (delete)", nullInt(r.op))
	}
	e.op = int(r.op.Int64)
	if !r.version.Valid || r.version.Int64 <= 0 {
		return bad("version is %s, want a positive integer", nullInt(r.version))
	}
	e.version = uint64(r.version.Int64)
	if r.id.Valid {
		e.id = r.id.String
	}
	if e.op == opPut && r.payload == nil {
		return bad("payload is NULL for a put")
	}
	e.payload = r.payload
	if !r.createdAt.Valid || r.createdAt.Int64 <= 0 {
		return bad("created_at is %s, want a positive integer", nullInt(r.createdAt))
	}
	e.createdAt = r.createdAt.Int64
	if r.nextAt.Valid {
		e.nextAt = r.nextAt.Int64
	}
	if r.attempts.Valid {
		if r.attempts.Int64 < 0 || r.attempts.Int64 > math.MaxInt32 {
			return bad("attempts is %d, want 0..%d", r.attempts.Int64, math.MaxInt32)
		}
		e.attempts = int(r.attempts.Int64)
	}
	e.confirmed = !r.confirmed.Valid || r.confirmed.Int64 != 0
	return e, nil
}

func nullInt(v sql.NullInt64) string {
	if !v.Valid {
		return "NULL"
	}
	return fmt.Sprint(v.Int64)
}

// errVersionRange is the error of a version that does not fit the
// journal's and the SQL stores' BIGINT.
var errVersionRange = errors.New("version above 2^63-1")
