package dualwrite

import (
	"database/sql"
	"errors"
	"math"
	"strings"
	"testing"
)

func validRaw() rawEntry {
	return rawEntry{
		seq:       sql.NullInt64{Int64: 7, Valid: true},
		writer:    sql.NullString{String: "w", Valid: true},
		target:    sql.NullInt64{Int64: 1, Valid: true},
		key:       sql.NullString{String: "k", Valid: true},
		op:        sql.NullInt64{Int64: opPut, Valid: true},
		version:   sql.NullInt64{Int64: 42, Valid: true},
		id:        sql.NullString{String: "w/k@1", Valid: true},
		payload:   []byte(`{}`),
		createdAt: sql.NullInt64{Int64: 1, Valid: true},
		nextAt:    sql.NullInt64{Int64: 2, Valid: true},
		attempts:  sql.NullInt64{Int64: 3, Valid: true},
	}
}

func TestDecodeEntry(t *testing.T) {
	tests := []struct {
		name, reason string
		edit         func(*rawEntry)
		want         string // "" : decodes
	}{
		{name: "valid", reason: "a row as the journal writes it decodes", edit: func(*rawEntry) {}},
		{name: "delete", reason: "a delete needs no payload", edit: func(r *rawEntry) { r.op.Int64, r.payload = opDelete, nil }},
		{name: "no-id", reason: "a NULL id means a derived one", edit: func(r *rawEntry) { r.id.Valid = false }},
		{name: "scan-error", reason: "a row that did not scan", edit: func(r *rawEntry) { r.scanErr = errors.New("bad column") }, want: "unreadable row"},
		{name: "seq", reason: "the seq must be positive", edit: func(r *rawEntry) { r.seq.Int64 = 0 }, want: "seq is 0"},
		{name: "seq-null", reason: "the seq must be there", edit: func(r *rawEntry) { r.seq.Valid = false }, want: "seq is NULL"},
		{name: "key-null", reason: "the key must be there", edit: func(r *rawEntry) { r.key.Valid = false }, want: "key is NULL"},
		{name: "writer", reason: "the writer must be named", edit: func(r *rawEntry) { r.writer.String = "" }, want: "writer"},
		{name: "target", reason: "only legacy and candidate exist", edit: func(r *rawEntry) { r.target.Int64 = 2 }, want: "target is 2"},
		{name: "op", reason: "only put and delete exist", edit: func(r *rawEntry) { r.op.Int64 = 0 }, want: "op is 0"},
		{name: "version", reason: "versions are positive", edit: func(r *rawEntry) { r.version.Int64 = -1 }, want: "version is -1"},
		{name: "payload", reason: "a put carries its value", edit: func(r *rawEntry) { r.payload = nil }, want: "payload is NULL"},
		{name: "created", reason: "the creation time is needed for the lag", edit: func(r *rawEntry) { r.createdAt.Valid = false }, want: "created_at is NULL"},
		{name: "attempts", reason: "attempts fit an int32", edit: func(r *rawEntry) { r.attempts.Int64 = math.MaxInt64 }, want: "attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRaw()
			tt.edit(&r)
			e, err := decodeEntry(&r)
			if tt.want == "" {
				if err != nil || e.seq != 7 || e.key != "k" || e.target != 1 || e.version != 42 || e.attempts != 3 {
					t.Fatalf("%s: %+v, %v", tt.reason, e, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: err = %v, want %q", tt.reason, err, tt.want)
			}
		})
	}
}

// FuzzDecodeEntry: no row, however damaged, makes the decoder panic, and
// whatever it accepts satisfies the journal's invariants.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(int64(7), "w", int64(1), "k", int64(1), int64(42), []byte(`{}`), int64(1), int64(0), uint8(0))
	f.Add(int64(1), "", int64(0), "", int64(2), int64(1), []byte(nil), int64(5), int64(-1), uint8(0xff))
	f.Add(int64(-3), "w", int64(9), "k\x00", int64(7), int64(0), []byte{0xff}, int64(0), int64(math.MaxInt64), uint8(0x10))
	f.Fuzz(func(t *testing.T, seq int64, writer string, target int64, key string, op, version int64,
		payload []byte, created, attempts int64, nulls uint8,
	) {
		r := rawEntry{
			seq:       sql.NullInt64{Int64: seq, Valid: nulls&1 == 0},
			writer:    sql.NullString{String: writer, Valid: nulls&2 == 0},
			target:    sql.NullInt64{Int64: target, Valid: nulls&4 == 0},
			key:       sql.NullString{String: key, Valid: nulls&8 == 0},
			op:        sql.NullInt64{Int64: op, Valid: nulls&16 == 0},
			version:   sql.NullInt64{Int64: version, Valid: nulls&32 == 0},
			payload:   payload,
			createdAt: sql.NullInt64{Int64: created, Valid: nulls&64 == 0},
			attempts:  sql.NullInt64{Int64: attempts, Valid: nulls&128 == 0},
		}
		e, err := decodeEntry(&r)
		if err != nil {
			if (&EntryError{Err: err}).Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if e.seq <= 0 || e.writer == "" || e.target > 1 || (e.op != opPut && e.op != opDelete) ||
			e.version == 0 || e.version > math.MaxInt64 || (e.op == opPut && e.payload == nil) ||
			e.createdAt <= 0 || e.attempts < 0 {
			t.Fatalf("accepted an entry that breaks the invariants: %+v", e)
		}
	})
}
