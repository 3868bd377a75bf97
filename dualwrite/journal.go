package dualwrite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// journalTable is the table of journal entries, in the embedded journal's
// SQLite file and, as the transactional outbox, in an SQLStore's database.
const journalTable = "dualwrite_journal"

// sqlJournal is a journal of pending writes kept in a table of a
// database/sql database: the embedded journal (a SQLite file of its own) or
// an SQLStore's outbox (in the store's own database, written in the same
// transaction as the store's write). Several writers may share one: every
// row names its writer.
type sqlJournal struct {
	db   *sql.DB
	d    Dialect
	name string // "journal <path>" or "outbox of <table>", for errors

	insertQ, readyQ, doneQ, retryQ, confirmQ, failQ, statsQ, nextQ, keyQ, failedQ, requeueQ string
}

func newSQLJournal(ctx context.Context, db *sql.DB, d Dialect, name string) (*sqlJournal, error) {
	j := &sqlJournal{db: db, d: d, name: name}
	t := journalTable
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
			seq ` + d.serialKey() + `,
			writer TEXT NOT NULL,
			target SMALLINT NOT NULL,
			k TEXT NOT NULL,
			op SMALLINT NOT NULL,
			version BIGINT NOT NULL,
			id TEXT NOT NULL,
			payload ` + d.blob() + `,
			created_at BIGINT NOT NULL,
			next_at BIGINT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			state SMALLINT NOT NULL DEFAULT 0,
			confirmed SMALLINT NOT NULL DEFAULT 1,
			last_error TEXT
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_ready ON ` + t + ` (writer, state, next_at)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_key ON ` + t + ` (writer, k, target, seq)`,
	}
	for _, s := range ddl {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, sqlErr(err, "%s: create the journal table", name)
		}
	}
	p := d.ph
	j.insertQ = `INSERT INTO ` + t + ` (writer, target, k, op, version, id, payload, created_at, next_at, attempts, confirmed)
		VALUES (` + phs(d, 1, 11) + `) RETURNING seq`
	// Ready entries, oldest first, leaving out those behind an earlier
	// pending entry of the same key and target that is waiting for its
	// retry: per key, entries are applied in journal order.
	// Ready entries, oldest first, leaving out those behind an earlier
	// pending entry of the same key and target that is waiting for its
	// retry: per key, entries are applied in journal order. An unconfirmed
	// entry is ready only once its write had time to finish (p3), even
	// when Drain hurries the applier (p2 is then the end of time).
	j.readyQ = `SELECT ` + entryColumns + ` FROM ` + t + ` j
		WHERE j.writer = ` + p(1) + ` AND j.state = 0 AND j.next_at <= ` + p(2) + `
		AND (j.confirmed <> 0 OR j.created_at <= ` + p(3) + `)
		AND NOT EXISTS (SELECT 1 FROM ` + t + ` e WHERE e.writer = j.writer AND e.k = j.k
			AND e.target = j.target AND e.seq < j.seq AND e.state = 0 AND e.next_at > ` + p(2) + `)
		ORDER BY j.seq LIMIT ` + p(4)
	j.doneQ = `DELETE FROM ` + t + ` WHERE seq = ` + p(1)
	j.retryQ = `UPDATE ` + t + ` SET attempts = ` + p(1) + `, next_at = ` + p(2) + `, last_error = ` + p(3) +
		`, version = ` + p(4) + `, confirmed = 1 WHERE seq = ` + p(5) + ` AND state = 0`
	j.confirmQ = `UPDATE ` + t + ` SET version = ` + p(1) + `, next_at = ` + p(2) + `, confirmed = 1 WHERE seq = ` + p(3) + ` AND state = 0`
	j.failQ = `UPDATE ` + t + ` SET state = 1, attempts = ` + p(1) + `, last_error = ` + p(2) + ` WHERE seq = ` + p(3)
	j.statsQ = `SELECT target, state, COUNT(*), MIN(created_at) FROM ` + t + ` WHERE writer = ` + p(1) + ` GROUP BY target, state`
	j.nextQ = `SELECT MIN(next_at) FROM ` + t + ` WHERE writer = ` + p(1) + ` AND state = 0 AND next_at > ` + p(2)
	j.keyQ = `SELECT COUNT(*) FROM ` + t + ` WHERE writer = ` + p(1) + ` AND k = ` + p(2) + ` AND target = ` + p(3) + ` AND state = 0`
	j.failedQ = `SELECT seq, k, target, version, attempts, created_at, last_error FROM ` + t + ` WHERE writer = ` + p(1) + ` AND state = 1 ORDER BY seq LIMIT ` + p(2)
	j.requeueQ = `UPDATE ` + t + ` SET state = 0, attempts = 0, next_at = 0 WHERE writer = ` + p(1) + ` AND state = 1`
	return j, nil
}

// phs returns the placeholders from..to, comma-separated.
func phs(d Dialect, from, to int) string {
	s := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		s = append(s, d.ph(i))
	}
	return strings.Join(s, ", ")
}

// execQuerier is what inserting an entry needs: a *sql.DB or a *sql.Tx.
type execQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insert adds e through q (the store's transaction for an outbox) and
// returns its sequence number.
func (j *sqlJournal) insert(ctx context.Context, q execQuerier, e *entry) (int64, error) {
	if e.version > math.MaxInt64 {
		return 0, fmt.Errorf("dualwrite: %s: key %q: %w", j.name, e.key, errVersionRange)
	}
	var seq int64
	err := q.QueryRowContext(ctx, j.insertQ, e.writer, int64(e.target), e.key, int64(e.op),
		int64(e.version), e.id, e.payload, e.createdAt, e.nextAt, e.attempts, b2i(e.confirmed)).Scan(&seq)
	if err != nil {
		return 0, sqlErr(err, "%s: record the write of key %q", j.name, e.key)
	}
	return seq, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ready returns up to limit entries of writer due at now, in journal
// order, as raw rows: decoding them is the applier's job, so that a
// malformed row fails alone. Unconfirmed entries must have been created at
// or before settled.
func (j *sqlJournal) ready(ctx context.Context, writer string, now, settled int64, limit int) ([]rawEntry, error) {
	rows, err := j.db.QueryContext(ctx, j.readyQ, writer, now, settled, limit)
	if err != nil {
		return nil, sqlErr(err, "%s: read pending writes", j.name)
	}
	defer rows.Close()
	var out []rawEntry
	for rows.Next() {
		var r rawEntry
		if err := rows.Scan(r.dest()...); err != nil {
			// A column whose value does not even scan (text in an integer
			// column of a hand-edited SQLite row): keep what was read (the
			// seq comes first) so the applier can mark the entry failed.
			r.scanErr = err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return out, sqlErr(err, "%s: read pending writes", j.name)
	}
	return out, nil
}

// maxDoneBatch bounds the entries removed by one statement.
const maxDoneBatch = 500

// done removes applied entries, in statements of at most maxDoneBatch.
func (j *sqlJournal) done(ctx context.Context, seqs ...int64) error {
	for len(seqs) > 0 {
		n := min(len(seqs), maxDoneBatch)
		args := make([]any, n)
		for i, s := range seqs[:n] {
			args[i] = s
		}
		q := j.doneQ
		if n > 1 {
			q = `DELETE FROM ` + journalTable + ` WHERE seq IN (` + phs(j.d, 1, n) + `)`
		}
		if _, err := j.db.ExecContext(ctx, q, args...); err != nil {
			return sqlErr(err, "%s: remove %d applied entries", j.name, n)
		}
		seqs = seqs[n:]
	}
	return nil
}

// retry schedules another attempt of a pending entry, with the write's
// version (which confirms an unconfirmed entry). It reports whether the
// entry was still there.
func (j *sqlJournal) retry(ctx context.Context, seq int64, attempts int, nextAt int64, version uint64, cause error) (bool, error) {
	res, err := j.db.ExecContext(ctx, j.retryQ, attempts, nextAt, safe.ErrorText(cause, 1024), int64(version), seq)
	if err != nil {
		return true, sqlErr(err, "%s: schedule a retry of entry %d", j.name, seq)
	}
	n, err := res.RowsAffected()
	return err != nil || n > 0, nil
}

// confirm records the version the primary gave the write of an
// unconfirmed entry, and makes it due at nextAt. It reports whether the
// entry was still there.
func (j *sqlJournal) confirm(ctx context.Context, seq int64, version uint64, nextAt int64) (bool, error) {
	res, err := j.db.ExecContext(ctx, j.confirmQ, int64(version), nextAt, seq)
	if err != nil {
		return true, sqlErr(err, "%s: confirm entry %d", j.name, seq)
	}
	n, err := res.RowsAffected()
	return err != nil || n > 0, nil
}

// fail moves an entry to the failed state, where it stays until requeued.
func (j *sqlJournal) fail(ctx context.Context, seq int64, attempts int, cause error) error {
	_, err := j.db.ExecContext(ctx, j.failQ, attempts, safe.ErrorText(cause, 1024), seq)
	return sqlErr(err, "%s: mark entry %d failed", j.name, seq)
}

// journalStats are the counts of one writer's entries in a journal, by
// target store.
type journalStats struct {
	pending [2]int64
	oldest  [2]int64 // created_at of the oldest pending entry, 0 if none
	failed  [2]int64
}

func (j *sqlJournal) stats(ctx context.Context, writer string) (journalStats, error) {
	var s journalStats
	rows, err := j.db.QueryContext(ctx, j.statsQ, writer)
	if err != nil {
		return s, sqlErr(err, "%s: count pending writes", j.name)
	}
	defer rows.Close()
	for rows.Next() {
		var target, state, n sql.NullInt64
		var oldest sql.NullInt64
		if err := rows.Scan(&target, &state, &n, &oldest); err != nil {
			return s, sqlErr(err, "%s: count pending writes", j.name)
		}
		if !target.Valid || target.Int64 < 0 || target.Int64 > 1 {
			continue // malformed rows: counted when the applier meets them
		}
		t := target.Int64
		switch state.Int64 {
		case statePending:
			s.pending[t] += n.Int64
			if oldest.Valid && (s.oldest[t] == 0 || oldest.Int64 < s.oldest[t]) {
				s.oldest[t] = oldest.Int64
			}
		case stateFailed:
			s.failed[t] += n.Int64
		}
	}
	return s, sqlErr(rows.Err(), "%s: count pending writes", j.name)
}

// nextDue returns when the earliest pending entry of writer not due at
// now becomes due (0 if none).
func (j *sqlJournal) nextDue(ctx context.Context, writer string, now int64) (int64, error) {
	var n sql.NullInt64
	err := j.db.QueryRowContext(ctx, j.nextQ, writer, now).Scan(&n)
	return n.Int64, sqlErr(err, "%s: look up the next retry", j.name)
}

// pendingFor counts the pending entries of key towards target.
func (j *sqlJournal) pendingFor(ctx context.Context, writer, key string, target dualrun.Side) (int64, error) {
	var n int64
	err := j.db.QueryRowContext(ctx, j.keyQ, writer, key, int64(target)).Scan(&n)
	return n, sqlErr(err, "%s: look up pending writes of key %q", j.name, key)
}

// FailedWrite is a journal entry the applier gave up on: it stays in the
// journal, in the failed state, until [Writer.Retry] requeues it.
type FailedWrite struct {
	// Seq is the entry's sequence number in Journal.
	Seq     int64
	Journal string
	Key     string
	// Target is the store the write could not be applied to.
	Target   dualrun.Side
	Version  uint64
	Attempts int
	// Created is when the write was journaled, in Unix nanoseconds.
	Created int64
	// LastError is the text of the last error.
	LastError string
}

func (j *sqlJournal) failed(ctx context.Context, writer string, limit int) ([]FailedWrite, error) {
	rows, err := j.db.QueryContext(ctx, j.failedQ, writer, limit)
	if err != nil {
		return nil, sqlErr(err, "%s: list failed writes", j.name)
	}
	defer rows.Close()
	var out []FailedWrite
	for rows.Next() {
		// Read as text: a failed entry may be a malformed row, whose
		// integer columns hold anything.
		var seq int64
		var k, target, version, attempts, create, lastErr sql.NullString
		if err := rows.Scan(&seq, &k, &target, &version, &attempts, &create, &lastErr); err != nil {
			out = append(out, FailedWrite{Seq: seq, Journal: j.name, LastError: "unreadable row: " + err.Error()})
			continue
		}
		num := func(s sql.NullString) int64 {
			n, _ := strconv.ParseInt(s.String, 10, 64)
			return n
		}
		out = append(out, FailedWrite{
			Seq: seq, Journal: j.name, Key: k.String, Target: dualrun.Side(num(target) & 1),
			Version: uint64(max(num(version), 0)), Attempts: int(min(max(num(attempts), 0), math.MaxInt32)),
			Created: num(create), LastError: lastErr.String,
		})
	}
	return out, sqlErr(rows.Err(), "%s: list failed writes", j.name)
}

func (j *sqlJournal) requeue(ctx context.Context, writer string) (int64, error) {
	res, err := j.db.ExecContext(ctx, j.requeueQ, writer)
	if err != nil {
		return 0, sqlErr(err, "%s: requeue failed writes", j.name)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Journal is the embedded journal: a SQLite file (through the pure-Go
// modernc.org/sqlite, nothing to install) that records, before a write is
// acknowledged, the intent to apply it to the other store, for writes
// whose primary store has no transactional outbox of its own (any store
// but an [SQLStore]). Several writers may share one Journal. It is safe for
// concurrent use. Close it after the writers that use it.
//
// Appends of concurrent writers are committed together (group commit): one
// transaction and one sync for all the entries waiting while the previous
// commit ran.
type Journal struct {
	j      *sqlJournal
	db     *sql.DB
	reqs   chan *appendReq // unbuffered: a send succeeds only into the committer
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	closed atomic.Bool
}

type appendReq struct {
	ctx   context.Context
	e     *entry
	reply chan appendReply // buffered 1: the committer never blocks on it
}

type appendReply struct {
	seq int64
	err error
}

// ErrJournalClosed is returned by writes that need a closed Journal.
var ErrJournalClosed = errors.New("dualwrite: journal closed")

// maxBatch bounds the entries committed in one transaction.
const maxBatch = 256

// OpenJournal opens (creating it if needed) the embedded journal in the
// SQLite file at path, with the settings of [SQLiteDSN]: an entry is on
// disk, synced, when the write that made it returns.
func OpenJournal(ctx context.Context, path string) (*Journal, error) {
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("dualwrite: open journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	sj, err := newSQLJournal(ctx, db, SQLite, "journal "+path)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	j := &Journal{
		j: sj, db: db,
		reqs: make(chan *appendReq),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go j.commitLoop()
	return j, nil
}

// Close stops the journal and closes its file. Entries are on disk already;
// writes still waiting to be journaled fail with ErrJournalClosed. It is
// idempotent.
func (j *Journal) Close() error {
	var err error
	j.once.Do(func() {
		j.closed.Store(true)
		close(j.stop)
		<-j.done
		err = j.db.Close()
	})
	return err
}

// append journals e, committed with whatever other appends are waiting.
func (j *Journal) append(ctx context.Context, e *entry) (int64, error) {
	if j.closed.Load() {
		return 0, ErrJournalClosed
	}
	r := &appendReq{ctx: ctx, e: e, reply: make(chan appendReply, 1)}
	select {
	case j.reqs <- r:
	case <-j.stop:
		return 0, ErrJournalClosed
	}
	rep := <-r.reply
	return rep.seq, rep.err
}

func (j *Journal) commitLoop() {
	defer close(j.done)
	batch := make([]*appendReq, 0, maxBatch)
	for {
		select {
		case r := <-j.reqs:
			batch = append(batch[:0], r)
		more:
			for len(batch) < maxBatch {
				select {
				case r := <-j.reqs:
					batch = append(batch, r)
				default:
					break more
				}
			}
			j.commit(batch)
			clear(batch)
		case <-j.stop:
			return
		}
	}
}

// commit writes a batch in one transaction. If that fails, each entry is
// tried on its own, so that one bad entry fails alone.
func (j *Journal) commit(batch []*appendReq) {
	if len(batch) > 1 {
		seqs, err := j.commitTx(batch)
		if err == nil {
			for i, r := range batch {
				r.reply <- appendReply{seq: seqs[i]}
			}
			return
		}
	}
	for _, r := range batch {
		seqs, err := j.commitTx([]*appendReq{r})
		if err != nil {
			r.reply <- appendReply{err: err}
			continue
		}
		r.reply <- appendReply{seq: seqs[0]}
	}
}

func (j *Journal) commitTx(batch []*appendReq) ([]int64, error) {
	ctx := batch[0].ctx
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, sqlErr(err, "%s: begin", j.j.name)
	}
	seqs := make([]int64, len(batch))
	for i, r := range batch {
		seq, err := j.j.insert(ctx, tx, r.e)
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		seqs[i] = seq
	}
	if err := tx.Commit(); err != nil {
		return nil, sqlErr(err, "%s: commit", j.j.name)
	}
	return seqs, nil
}
