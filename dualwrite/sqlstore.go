package dualwrite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/dualrun/dualrun/internal/safe"
)

// versionsTable keeps, in each SQL database, the version of every key
// dualwrite wrote (deleted keys included), so that the user's tables keep
// their own schema.
const versionsTable = "dualwrite_versions"

// Table describes a database/sql table holding records of type T: where
// each field of T goes. The old and the new store of a migration have a
// Table each, which is where the schema change lives (one column split in
// two, a renamed column, another type).
//
// The key column must hold text and be the table's primary key (or carry
// a unique index): writes are upserts on it. On PostgreSQL, give it
// COLLATE "C" so that the reconciler's key-ordered scans use its index.
type Table[T any] struct {
	// Name is the table's name, optionally schema-qualified ("s.t").
	Name string
	// Key is the key column.
	Key string
	// Columns are the value columns, in the order of Values and Scan.
	Columns []string
	// Values returns v's column values, one per column, in order.
	Values func(v T) ([]any, error)
	// Scan makes a T from a row: it calls scan once with one destination
	// pointer per column, in order, as sql.Rows.Scan takes them.
	Scan func(scan func(dest ...any) error) (T, error)
}

// SchemaError says that a table does not have the columns its [Table]
// names: the stores' schemas and the code disagree.
type SchemaError struct {
	// Table is the table's name.
	Table string
	// Err is the database's answer to a query of the columns.
	Err error
}

// Error names the table and what the database said.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("dualwrite: table %s does not match its Table description (key and columns): %s",
		e.Table, safe.ErrorText(e.Err, 1024))
}

// Unwrap returns the database's error.
func (e *SchemaError) Unwrap() error { return e.Err }

// SQLStore is a [Store] over a table of a database/sql database (SQLite or
// PostgreSQL). It keeps key versions in the table dualwrite_versions and,
// unless [WithoutOutbox], the journal of writes for the other store in the
// table dualwrite_journal of the same database: the transactional outbox,
// written in the transaction that writes the record, so that a write
// acknowledged by this store as primary is never lost for the other one.
// NewSQLStore creates both tables when missing.
//
// Apply runs one transaction. Errors that retrying cannot fix (SQLSTATE
// classes 22 and 23, SQLite's constraint, mismatch and too-big codes) are
// marked [ErrPermanent]. It is safe for concurrent use.
type SQLStore[T any] struct {
	db     *sql.DB
	d      Dialect
	t      Table[T]
	outbox *sqlJournal

	bumpQ      [3]string // by Mode
	versionQ   string
	upsertQ    string
	deleteQ    string
	getQ, scnQ string
}

// SQLOption configures an [SQLStore].
type SQLOption interface{ applySQL(sqlConfig) sqlConfig }

type sqlConfig struct {
	noOutbox bool
}

type sqlOptionFunc func(sqlConfig) sqlConfig

func (f sqlOptionFunc) applySQL(c sqlConfig) sqlConfig { return f(c) }

// WithoutOutbox makes the store keep no outbox: writes for which it is
// primary are journaled in the writer's embedded [Journal] instead (after
// the store's commit, before the write returns). Use it when dualwrite must
// not create a table in that database.
func WithoutOutbox() SQLOption {
	return sqlOptionFunc(func(c sqlConfig) sqlConfig {
		c.noOutbox = true
		return c
	})
}

// NewSQLStore returns the store of table t in db, whose dialect is d. It
// checks that the table has t's key and columns (a [*SchemaError] if not)
// and creates dualwrite's own tables when missing.
func NewSQLStore[T any](ctx context.Context, db *sql.DB, d Dialect, t Table[T], opts ...SQLOption) (*SQLStore[T], error) {
	if db == nil {
		return nil, errors.New("dualwrite: NewSQLStore: nil *sql.DB")
	}
	if !d.valid() {
		return nil, fmt.Errorf("dualwrite: NewSQLStore: unknown dialect %v; use dualwrite.SQLite or dualwrite.Postgres", d)
	}
	if err := checkTable(t); err != nil {
		return nil, err
	}
	var cfg sqlConfig
	for _, o := range opts {
		if o != nil {
			cfg = o.applySQL(cfg)
		}
	}
	s := &SQLStore[T]{db: db, d: d, t: t}
	s.build()
	// Qualified names: SQLite takes an unknown bare "name" for a string.
	probe := `SELECT t.` + quoteIdent(t.Key) + s.colList("t.", true) + ` FROM ` + quoteIdent(t.Name) + ` t WHERE 1 = 0`
	rows, err := db.QueryContext(ctx, probe)
	if err != nil {
		return nil, &SchemaError{Table: t.Name, Err: err}
	}
	_ = rows.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+versionsTable+` (
		tbl TEXT NOT NULL, k TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (tbl, k))`); err != nil {
		return nil, sqlErr(err, "create table %s", versionsTable)
	}
	if !cfg.noOutbox {
		if s.outbox, err = newSQLJournal(ctx, db, d, "outbox of "+t.Name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func checkTable[T any](t Table[T]) error {
	if err := checkIdent(t.Name); err != nil {
		return fmt.Errorf("dualwrite: Table.Name %q: %w", t.Name, err)
	}
	if err := checkIdent(t.Key); err != nil {
		return fmt.Errorf("dualwrite: table %s: Table.Key %q: %w", t.Name, t.Key, err)
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("dualwrite: table %s: Table.Columns is empty", t.Name)
	}
	for _, c := range t.Columns {
		if err := checkIdent(c); err != nil {
			return fmt.Errorf("dualwrite: table %s: column %q: %w", t.Name, c, err)
		}
	}
	if t.Values == nil || t.Scan == nil {
		return fmt.Errorf("dualwrite: table %s: Table.Values and Table.Scan are required", t.Name)
	}
	return nil
}

// colList returns ", c1, c2" (with the prefix on each column, leading
// comma when comma).
func (s *SQLStore[T]) colList(prefix string, comma bool) string {
	var b strings.Builder
	for i, c := range s.t.Columns {
		if i > 0 || comma {
			b.WriteString(", ")
		}
		b.WriteString(prefix + quoteIdent(c))
	}
	return b.String()
}

func (s *SQLStore[T]) build() {
	d, p := s.d, s.d.ph
	v := versionsTable
	ins := `INSERT INTO ` + v + ` (tbl, k, version) VALUES (` + phs(d, 1, 3) + `) ON CONFLICT (tbl, k) DO UPDATE SET version = `
	s.bumpQ[ModePrimary] = ins + d.greatest() + `(` + v + `.version + 1, excluded.version) RETURNING version`
	s.bumpQ[ModeReplica] = ins + `excluded.version WHERE ` + v + `.version < excluded.version RETURNING version`
	s.bumpQ[ModeRepair] = ins + `excluded.version WHERE ` + v + `.version <= excluded.version RETURNING version`
	s.versionQ = `SELECT version FROM ` + v + ` WHERE tbl = ` + p(1) + ` AND k = ` + p(2)

	tbl, key := quoteIdent(s.t.Name), quoteIdent(s.t.Key)
	n := len(s.t.Columns)
	var set strings.Builder
	for i, c := range s.t.Columns {
		if i > 0 {
			set.WriteString(", ")
		}
		set.WriteString(quoteIdent(c) + " = excluded." + quoteIdent(c))
	}
	s.upsertQ = `INSERT INTO ` + tbl + ` (` + key + s.colList("", true) + `) VALUES (` + phs(d, 1, n+1) +
		`) ON CONFLICT (` + key + `) DO UPDATE SET ` + set.String()
	s.deleteQ = `DELETE FROM ` + tbl + ` WHERE ` + key + ` = ` + p(1)
	sel := `SELECT t.` + key + s.colList("t.", true) + `, v.version FROM ` + tbl + ` t LEFT JOIN ` + v +
		` v ON v.tbl = ` + p(1) + ` AND v.k = t.` + key
	s.getQ = sel + ` WHERE t.` + key + ` = ` + p(2)
	s.scnQ = sel + ` WHERE t.` + key + d.byteOrder() + ` > ` + p(2) + ` ORDER BY t.` + key + d.byteOrder() + ` LIMIT ` + p(3)
}

// Table returns the store's table description.
func (s *SQLStore[T]) Table() Table[T] { return s.t }

// Apply implements [Store].
func (s *SQLStore[T]) Apply(ctx context.Context, w Write[T]) (Applied, error) {
	a, _, err := s.apply(ctx, w, nil, nil)
	return a, err
}

// applyWithOutbox is Apply for a primary write that also records e, with
// the version the write got, in the store's outbox, in the same
// transaction. It returns the entry's sequence number.
func (s *SQLStore[T]) applyWithOutbox(ctx context.Context, w Write[T], e *entry) (Applied, int64, error) {
	return s.apply(ctx, w, e, s.outbox)
}

func (s *SQLStore[T]) apply(ctx context.Context, w Write[T], e *entry, ob *sqlJournal) (a Applied, seq int64, err error) {
	if w.Mode > ModeRepair {
		return Applied{}, 0, Permanent(fmt.Errorf("dualwrite: table %s: unknown write mode %v", s.t.Name, w.Mode))
	}
	if w.Version > math.MaxInt64 {
		return Applied{}, 0, Permanent(fmt.Errorf("dualwrite: table %s: key %q: %w", s.t.Name, w.Key, errVersionRange))
	}
	var vals []any
	if !w.Delete {
		if vals, err = s.values(w.Value); err != nil {
			return Applied{}, 0, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Applied{}, 0, sqlErr(err, "table %s: begin", s.t.Name)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var version int64
	err = tx.QueryRowContext(ctx, s.bumpQ[w.Mode], s.t.Name, w.Key, int64(w.Version)).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		// The store holds this write or a newer one: change nothing.
		if err = tx.QueryRowContext(ctx, s.versionQ, s.t.Name, w.Key).Scan(&version); err != nil {
			return Applied{}, 0, sqlErr(err, "table %s: read the version of key %q", s.t.Name, w.Key)
		}
		if err = tx.Commit(); err != nil {
			return Applied{}, 0, sqlErr(err, "table %s: commit", s.t.Name)
		}
		return Applied{Version: uint64(version), Skipped: true}, 0, nil
	}
	if err != nil {
		return Applied{}, 0, sqlErr(err, "table %s: version key %q", s.t.Name, w.Key)
	}
	if w.Delete {
		_, err = tx.ExecContext(ctx, s.deleteQ, w.Key)
	} else {
		_, err = tx.ExecContext(ctx, s.upsertQ, append([]any{w.Key}, vals...)...)
	}
	if err != nil {
		return Applied{}, 0, sqlErr(err, "table %s: write key %q", s.t.Name, w.Key)
	}
	if ob != nil {
		e.version = uint64(version)
		if seq, err = ob.insert(ctx, tx, e); err != nil {
			return Applied{}, 0, err
		}
	}
	if err = tx.Commit(); err != nil {
		return Applied{}, 0, sqlErr(err, "table %s: commit", s.t.Name)
	}
	return Applied{Version: uint64(version)}, seq, nil
}

// values runs Table.Values behind recover and checks its arity.
func (s *SQLStore[T]) values(v T) ([]any, error) {
	var vals []any
	var verr error
	if err := safe.Call("Table.Values of "+s.t.Name, func() { vals, verr = s.t.Values(v) }, nil); err != nil {
		return nil, Permanent(err)
	}
	if verr != nil {
		return nil, Permanent(fmt.Errorf("dualwrite: table %s: Table.Values: %w", s.t.Name, verr))
	}
	if len(vals) != len(s.t.Columns) {
		return nil, Permanent(fmt.Errorf("dualwrite: table %s: Table.Values returned %d values for %d columns",
			s.t.Name, len(vals), len(s.t.Columns)))
	}
	return vals, nil
}

// Get implements [Store].
func (s *SQLStore[T]) Get(ctx context.Context, key string) (Record[T], error) {
	rows, err := s.db.QueryContext(ctx, s.getQ, s.t.Name, key)
	if err != nil {
		return Record[T]{}, sqlErr(err, "table %s: read key %q", s.t.Name, key)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Record[T]{}, sqlErr(err, "table %s: read key %q", s.t.Name, key)
		}
		return Record[T]{}, ErrNotFound
	}
	return s.scanRow(rows)
}

// Scan implements [Store].
func (s *SQLStore[T]) Scan(ctx context.Context, after string, limit int) ([]Record[T], error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, s.scnQ, s.t.Name, after, limit)
	if err != nil {
		return nil, sqlErr(err, "table %s: scan after %q", s.t.Name, after)
	}
	defer rows.Close()
	var out []Record[T]
	for rows.Next() {
		r, err := s.scanRow(rows)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, sqlErr(rows.Err(), "table %s: scan after %q", s.t.Name, after)
}

// scanRow reads key, columns, version through Table.Scan.
func (s *SQLStore[T]) scanRow(rows *sql.Rows) (Record[T], error) {
	var (
		r       Record[T]
		version sql.NullInt64
		called  bool
		serr    error
	)
	scan := func(dest ...any) error {
		if called {
			return errors.New("scan called twice")
		}
		called = true
		if len(dest) != len(s.t.Columns) {
			return fmt.Errorf("scan got %d destinations for %d columns", len(dest), len(s.t.Columns))
		}
		args := make([]any, 0, len(dest)+2)
		args = append(args, &r.Key)
		args = append(args, dest...)
		return rows.Scan(append(args, &version)...)
	}
	if err := safe.Call("Table.Scan of "+s.t.Name, func() { r.Value, serr = s.t.Scan(scan) }, nil); err != nil {
		return Record[T]{}, err
	}
	if serr == nil && !called {
		serr = errors.New("Table.Scan did not call scan")
	}
	if serr != nil {
		return Record[T]{}, fmt.Errorf("dualwrite: table %s: read a row: %w", s.t.Name, serr)
	}
	if version.Valid && version.Int64 > 0 {
		r.Version = uint64(version.Int64)
	}
	return r, nil
}
