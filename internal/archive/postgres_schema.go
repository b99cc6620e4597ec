package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaVersion is returned (wrapped) when the PostgreSQL archive's
// schema is newer than this build of xsoc knows: it refuses to start, and
// a running writer refuses to write, rather than store events the newer
// schema's queries would not find.
var ErrSchemaVersion = errors.New("archive: schema version mismatch")

// pgSchemaLock is the advisory lock that serialises schema changes
// between processes starting together.
const pgSchemaLock = 727275

// pgMigrations are the archive's schema versions in order: migration i
// takes the schema from version i to i+1. Released migrations are never
// edited; a change is a new migration appended to the list. Version 1 is
// the schema of archives made before versions were recorded (its
// statements do nothing on those).
func pgMigrations() []func(ctx context.Context, tx pgx.Tx) error {
	return []func(ctx context.Context, tx pgx.Tx) error{
		execAll(postgresSchemaV1),
		migrateHotColumns,
	}
}

// pgSchemaVersion is the version this build writes and queries.
func pgSchemaVersion() int { return len(pgMigrations()) }

const postgresSchemaV1 = `
CREATE TABLE IF NOT EXISTS archive_events (
	member TEXT NOT NULL,
	id TEXT NOT NULL,
	ts BIGINT NOT NULL,
	ingested BIGINT NOT NULL,
	day INTEGER NOT NULL,
	doc JSONB NOT NULL
) PARTITION BY RANGE (day);
CREATE TABLE IF NOT EXISTS archive_batches (stream BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (stream, seq));
CREATE TABLE IF NOT EXISTS archive_fields (member TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (member, name));
CREATE TABLE IF NOT EXISTS archive_counts (member TEXT NOT NULL, day INTEGER NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (member, day));
CREATE OR REPLACE FUNCTION xsoc_vals(d jsonb, f text) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS
	'SELECT jsonb_array_elements_text(CASE jsonb_typeof(d->f) WHEN ''array'' THEN d->f WHEN ''string'' THEN jsonb_build_array(d->f) ELSE ''[]''::jsonb END)';
CREATE OR REPLACE FUNCTION xsoc_inet(t text) RETURNS inet LANGUAGE plpgsql IMMUTABLE AS
	'BEGIN RETURN t::inet; EXCEPTION WHEN others THEN RETURN NULL; END';
CREATE OR REPLACE FUNCTION xsoc_num(t text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS
	'BEGIN RETURN t::double precision; EXCEPTION WHEN others THEN RETURN NULL; END'`

// execAll returns a migration running the statements of sql in order.
func execAll(sql string) func(ctx context.Context, tx pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		for _, stmt := range strings.Split(sql, ";\n") {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%w in %q", err, stmt)
			}
		}
		return nil
	}
}

// migrateHotColumns (version 2) adds the typed columns of the hot fields
// and the lists flag, fills them for the events stored before (once, in
// SQL: lower-cased text, addresses and numbers cast by PostgreSQL),
// compresses new documents with LZ4, and indexes every existing partition
// as new ones are.
func migrateHotColumns(ctx context.Context, tx pgx.Tx) error {
	adds := []string{"ADD COLUMN IF NOT EXISTS lists BOOLEAN NOT NULL DEFAULT false"}
	sets := []string{}
	var anyList []string
	for _, h := range pgHotFields {
		adds = append(adds, "ADD COLUMN IF NOT EXISTS "+h.column+" "+h.sqlType())
		first := "(CASE jsonb_typeof(doc->'" + h.key.Name() + "') WHEN 'array' THEN doc->'" + h.key.Name() + "'->>0 ELSE doc->>'" + h.key.Name() + "' END)"
		switch h.kind {
		case pgInet:
			sets = append(sets, h.column+" = xsoc_inet("+first+")")
		case pgNumber:
			sets = append(sets, h.column+" = xsoc_num("+first+")")
		default:
			sets = append(sets, h.column+" = lower("+first+")")
		}
		anyList = append(anyList, "jsonb_typeof(doc->'"+h.key.Name()+"') = 'array'")
	}
	sets = append(sets, "lists = COALESCE("+strings.Join(anyList, " OR ")+", false)")
	stmts := []string{
		"ALTER TABLE archive_events " + strings.Join(adds, ", "),
		"UPDATE archive_events SET " + strings.Join(sets, ", "),
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%w in %q", err, stmt)
		}
	}
	if err := compressWithLZ4(ctx, tx); err != nil {
		return err
	}
	trgm, err := ensureTrigrams(ctx, tx)
	if err != nil {
		return err
	}
	parts, err := partitionNames(ctx, tx)
	if err != nil {
		return err
	}
	for _, name := range parts {
		for _, stmt := range partitionIndexes(name, trgm) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%w in %q", err, stmt)
			}
		}
	}
	return nil
}

// compressWithLZ4 makes new documents compress with LZ4 where the server
// has it: PostgreSQL compresses a row over 2 kB (here, a process creation
// with its original line), and LZ4 does it at a fraction of the CPU of the
// default pglz for about the same size. Without LZ4, pglz stays.
func compressWithLZ4(ctx context.Context, tx pgx.Tx) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, `ALTER TABLE archive_events ALTER COLUMN doc SET COMPRESSION lz4`); err != nil {
		return sp.Rollback(ctx)
	}
	return sp.Commit(ctx)
}

// partitionNames lists the day partitions of archive_events.
func partitionNames(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'archive_events'::regclass`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ensureTrigrams installs pg_trgm if it is missing (it is a trusted
// extension: the database's owner may install it) and returns the
// qualified name of its GIN operator class, or "" when it cannot be had:
// contains filters then read the column without an index.
func ensureTrigrams(ctx context.Context, tx pgx.Tx) (string, error) {
	if ops, err := trigramOps(ctx, tx); err != nil || ops != "" {
		return ops, err
	}
	// In a savepoint: a refusal must not abort the migration.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return "", err
	}
	if _, err := sp.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public`); err != nil {
		return "", sp.Rollback(ctx)
	}
	if err := sp.Commit(ctx); err != nil {
		return "", err
	}
	return trigramOps(ctx, tx)
}

// trigramOps returns the qualified name of pg_trgm's GIN operator class,
// or "" if the extension is not installed.
func trigramOps(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, error) {
	var schema string
	err := q.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return pgx.Identifier{schema, "gin_trgm_ops"}.Sanitize(), nil
}

// partitionIndexes are the statements indexing the day partition name:
// BRIN on time, a B-tree on (member, time), the event id lower-cased, each
// hot column where it has a value, and the events with lists. trgm is
// pg_trgm's operator class ("" without it).
func partitionIndexes(name, trgm string) []string {
	stmts := []string{
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_ts ON %s USING brin (ts)`, name, name),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_member_ts ON %s (member, ts)`, name, name),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_id ON %s (%s)`, name, name, pgIDExpr),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_lists ON %s (ts) WHERE lists`, name, name),
	}
	for _, h := range pgHotFields {
		using := ""
		if h.kind == pgWords {
			if trgm == "" {
				continue
			}
			using = "USING gin "
			stmts = append(stmts, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_%s ON %s %s(%s %s) WHERE %s IS NOT NULL`,
				name, h.column, name, using, h.column, trgm, h.column))
			continue
		}
		stmts = append(stmts, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s_%s ON %s (%s) WHERE %s IS NOT NULL`,
			name, h.column, name, h.column, h.column))
	}
	return stmts
}

// pgIDExpr is the indexed form of the event id: equality and prefix on
// event.id ignore case.
const pgIDExpr = `(lower(id) COLLATE "C")`

// migrate brings the schema at pool to this build's version, or refuses
// a newer one. One process at a time: the others wait on the lock and
// then find the work done.
func migrate(ctx context.Context, pool *pgxpool.Pool, upTo int) error {
	steps := pgMigrations()[:upTo]
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgSchemaLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS archive_schema (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		have, err := schemaVersion(ctx, tx, false)
		if err != nil {
			return err
		}
		if have > pgSchemaVersion() {
			return newerSchema(have)
		}
		for v := have; v < len(steps); v++ {
			if err := steps[v](ctx, tx); err != nil {
				return fmt.Errorf("migration to version %d: %w", v+1, err)
			}
		}
		if have >= len(steps) {
			return nil
		}
		if have == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO archive_schema (version) VALUES ($1)`, len(steps))
		} else {
			_, err = tx.Exec(ctx, `UPDATE archive_schema SET version = $1`, len(steps))
		}
		return err
	})
}

// schemaVersion reads the recorded version (0 for none). share holds it
// until the transaction ends, so no migration runs under a writer.
func schemaVersion(ctx context.Context, tx pgx.Tx, share bool) (int, error) {
	sql := `SELECT version FROM archive_schema`
	if share {
		sql += ` FOR SHARE`
	}
	var v int
	err := tx.QueryRow(ctx, sql).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// checkVersion fails unless the schema is at this build's version.
func checkVersion(ctx context.Context, tx pgx.Tx) error {
	v, err := schemaVersion(ctx, tx, true)
	if err != nil {
		return err
	}
	switch {
	case v > pgSchemaVersion():
		return newerSchema(v)
	case v < pgSchemaVersion():
		return fmt.Errorf("%w: the PostgreSQL archive's schema is at version %d, this xsoc writes version %d: restart this worker to upgrade it", ErrSchemaVersion, v, pgSchemaVersion())
	}
	return nil
}

func newerSchema(v int) error {
	return fmt.Errorf("%w: the PostgreSQL archive's schema is at version %d, this xsoc knows up to version %d: it was upgraded by a newer xsoc; upgrade this worker", ErrSchemaVersion, v, pgSchemaVersion())
}
