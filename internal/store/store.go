// Package store is xsoc's relational store: embedded SQLite by default,
// PostgreSQL for scale-out, behind one type.
//
// Every package owns its own tables: it declares them as a named, ordered
// list of migrations (Schema) and runs its own queries through DB. Queries
// are written once in the portable subset both engines share — "?"
// placeholders (rewritten to $n for PostgreSQL), INSERT ... ON CONFLICT,
// BIGINT Unix-nanosecond timestamps, TEXT for JSON — so that no package
// knows which engine is underneath.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the engine under a DB.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open store. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	path    string // the SQLite file; "" for PostgreSQL

	// stmts holds SQLite statements prepared once for the life of the
	// store (see cached).
	stmts stmtCache
}

// SQLiteOption tunes an embedded store.
type SQLiteOption func(*sqliteOptions)

type sqliteOptions struct {
	synchronous string
}

// SyncNormal makes commits durable against a crash of xsoc (kill -9) but
// not against a power cut: SQLite's WAL is then fsynced at checkpoints,
// not at every commit. It matches the bus's default durability, and lifts
// the per-commit fsync that otherwise bounds the pipeline.
func SyncNormal() SQLiteOption {
	return func(o *sqliteOptions) { o.synchronous = "NORMAL" }
}

// walCheckpointPages is how many pages the WAL grows to (about 40 MB)
// before a commit copies them into the database file. A commit of alerts
// rewrites the same few dozen pages (the last of each table and index it
// extends), and a checkpoint copies each page once however often the WAL
// holds it: at SQLite's default of 1,000 pages checkpoints were a tenth
// of the cost of committing an alert. Durability does not change: a
// commit is durable once in the WAL (synchronous as chosen), and a
// checkpoint only moves committed pages.
const walCheckpointPages = "10000"

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode with synchronous=FULL unless SyncNormal is given: a committed
// transaction then survives a kill -9 and a power cut.
func OpenSQLite(path string, opts ...SQLiteOption) (*DB, error) {
	o := sqliteOptions{synchronous: "FULL"}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := makePrivate(path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + o.synchronous + ")" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint(" + walCheckpointPages + ")" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite has one writer at a time; a small pool avoids lock churn while
	// still letting readers run beside the writer in WAL mode.
	db.SetMaxOpenConns(4)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &DB{sql: db, dialect: SQLite, path: path}, nil
}

// makePrivate creates the database file at path readable and writable by
// its owner only, or takes group and other access away from an existing
// one and its WAL and shared-memory files: they hold every member's
// events. SQLite creates the WAL and shared-memory files with the
// database file's mode.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpenPostgres connects to the PostgreSQL database at url
// (postgres://user@host:port/db?sslmode=disable).
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	return &DB{sql: db, dialect: Postgres}, nil
}

// SQLiteFile is the name of the embedded database in a node's data
// directory.
const SQLiteFile = "xsoc.db"

// Open opens PostgreSQL when postgresURL is set, otherwise the SQLite file
// SQLiteFile under dataDir with opts.
func Open(ctx context.Context, dataDir, postgresURL string, opts ...SQLiteOption) (*DB, error) {
	if postgresURL != "" {
		return OpenPostgres(ctx, postgresURL)
	}
	return OpenSQLite(filepath.Join(dataDir, SQLiteFile), opts...)
}

// redact hides a password in a connection URL for error messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	cred := url[scheme+3 : at]
	if i := strings.IndexByte(cred, ':'); i >= 0 {
		return url[:scheme+3] + cred[:i] + ":***" + url[at:]
	}
	return url
}

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Path returns the file of an SQLite store, "" for PostgreSQL.
func (db *DB) Path() string { return db.path }

// Close closes the store.
func (db *DB) Close() error {
	db.stmts.close()
	return db.sql.Close()
}

// rebind rewrites "?" placeholders to "$1, $2, ..." for PostgreSQL. It
// skips question marks inside single-quoted literals.
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Exec runs a statement.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := db.cached(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.sql.ExecContext(ctx, db.rebind(q), args...)
}

// Query runs a query returning rows.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := db.cached(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.sql.QueryContext(ctx, db.rebind(q), args...)
}

// QueryRow runs a query returning at most one row.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := db.cached(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.sql.QueryRowContext(ctx, db.rebind(q), args...)
}

// Tx is a transaction with the same placeholder rewriting as DB.
type Tx struct {
	tx *sql.Tx
	db *DB

	mu sync.Mutex
	// stmts are the statements this transaction ran prepared, bound to
	// its connection (SQLite).
	stmts map[string]*sql.Stmt
	// rows are the last rows each prepared query returned: a statement
	// steps through one result at a time, so while those are open the
	// same query runs unprepared.
	rows map[string]*sql.Rows
	// unshared are statements prepared for this transaction alone, to be
	// kept by the store once it ends (see DB.keep).
	unshared []string
	// ended run once the transaction has committed or rolled back.
	ended []func()
}

// AfterEnd registers fn to run once the transaction has committed or
// rolled back, last registered first: a lock taken for the transaction's
// writes is released once they are visible to others.
func (t *Tx) AfterEnd(fn func()) {
	t.mu.Lock()
	t.ended = append(t.ended, fn)
	t.mu.Unlock()
}

// end runs the AfterEnd functions.
func (t *Tx) end() {
	t.mu.Lock()
	ended := t.ended
	t.ended = nil
	t.mu.Unlock()
	for i := len(ended) - 1; i >= 0; i-- {
		ended[i]()
	}
}

// maxTxStmts bounds the statements a transaction keeps prepared (queries
// built with a varying number of placeholders are each one).
const maxTxStmts = 128

// prepared returns q prepared on the transaction's connection, or nil to
// run it unprepared. SQLite parses an unprepared statement every time it
// runs, and the alert commit path runs a few dozen statements per
// commit: parsing was a good part of its cost. So statements are
// prepared once per connection for the life of the store (DB.cached) and
// bound to each transaction that runs them; a statement the store does
// not hold yet is prepared for this transaction and handed to the store
// when it ends. PostgreSQL's driver keeps its own cache of prepared
// statements per connection.
func (t *Tx) prepared(ctx context.Context, q string) *sql.Stmt {
	if t.db.dialect != SQLite {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.stmts[q]; ok {
		return st
	}
	if len(t.stmts) >= maxTxStmts {
		return nil
	}
	var st *sql.Stmt
	if shared := t.db.stmts.get(q); shared != nil {
		st = t.tx.StmtContext(ctx, shared)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(ctx, q); err != nil {
			return nil // run unprepared: the error shows there
		}
		if cacheable(q) {
			t.unshared = append(t.unshared, q)
		}
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[q] = st
	return st
}

// Exec runs a statement inside the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.db.rebind(q), args...)
}

// Query runs a query inside the transaction. The caller closes the rows
// before the transaction ends, as database/sql requires.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, q); st != nil && !t.open(q) {
		rows, err := st.QueryContext(ctx, args...)
		if err == nil {
			t.mu.Lock()
			if t.rows == nil {
				t.rows = map[string]*sql.Rows{}
			}
			t.rows[q] = rows
			t.mu.Unlock()
		}
		return rows, err
	}
	return t.tx.QueryContext(ctx, t.db.rebind(q), args...)
}

// open reports whether rows the prepared query q returned are still
// being read.
func (t *Tx) open(q string) bool {
	t.mu.Lock()
	rows := t.rows[q]
	t.mu.Unlock()
	if rows == nil {
		return false
	}
	_, err := rows.Columns() // fails once the rows are closed
	return err == nil
}

// QueryRow runs a single-row query inside the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.prepared(ctx, q); st != nil && !t.open(q) {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.db.rebind(q), args...)
}

// Prepare prepares a statement for repeated use inside the transaction.
func (t *Tx) Prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, t.db.rebind(q))
}

// Dialect reports the engine.
func (t *Tx) Dialect() Dialect { return t.db.dialect }

// InTx runs fn in a transaction, committing if fn returns nil and rolling
// back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &Tx{tx: tx, db: db}
	defer func() { db.keep(ctx, t.unshared) }()
	defer t.end()
	if err := fn(t); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ErrNotFound is returned (wrapped) by lookups that find nothing.
var ErrNotFound = errors.New("not found")

// NotFound reports whether err means "no such row".
func NotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, sql.ErrNoRows)
}

// Nanos converts a time to the BIGINT form stored in every table (Unix
// nanoseconds, 0 for the zero time).
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Time converts stored Unix nanoseconds back to a UTC time.
func Time(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Exclusive runs fn while holding the store-wide lock named key: on
// PostgreSQL a session advisory lock, which serialises fn across every
// process sharing the store (and is released if this process dies); on
// SQLite, whose store belongs to one process, fn simply runs.
func (db *DB) Exclusive(ctx context.Context, key int64, fn func() error) error {
	if db.dialect != Postgres {
		return fn()
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("store: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	return fn()
}
