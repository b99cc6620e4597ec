package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Schema is the tables one package owns: an owner name (the package's) and
// its migrations in order. A migration, once released, is never edited:
// changes are new migrations appended to the list.
//
// Statements use the portable subset: TEXT, BIGINT, INTEGER, DOUBLE
// PRECISION, BOOLEAN-as-INTEGER, PRIMARY KEY, UNIQUE, CREATE INDEX IF NOT
// EXISTS. The token AUTOINCREMENT_PK is replaced by the engine's
// auto-increment primary key ("INTEGER PRIMARY KEY AUTOINCREMENT" or
// "BIGSERIAL PRIMARY KEY").
type Schema struct {
	Owner      string
	Migrations []string
}

// Migrate applies the migrations of each schema that have not run yet,
// each in its own transaction, recording progress in xsoc_migrations. It is
// safe to call at every start and from several processes: PostgreSQL takes
// an advisory lock, SQLite's immediate transactions serialise writers.
func (db *DB) Migrate(ctx context.Context, schemas ...Schema) error {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS xsoc_migrations (
		owner TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (owner, version))`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	if err := db.refuseNewer(ctx, schemas); err != nil {
		return err
	}
	for _, s := range schemas {
		for i, stmt := range s.Migrations {
			if err := db.migrateOne(ctx, s.Owner, i+1, stmt); err != nil {
				return fmt.Errorf("store: migrate %s #%d: %w", s.Owner, i+1, err)
			}
		}
	}
	return nil
}

func (db *DB) migrateOne(ctx context.Context, owner string, version int, stmt string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(727274)`); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM xsoc_migrations WHERE owner = ? AND version = ?`,
			owner, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, part := range splitStatements(db.translateDDL(stmt)) {
			if _, err := tx.Exec(ctx, part); err != nil {
				return fmt.Errorf("%w in %q", err, part)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO xsoc_migrations (owner, version) VALUES (?, ?)`, owner, version)
		return err
	})
}

func (db *DB) translateDDL(stmt string) string {
	if db.dialect == Postgres {
		return strings.ReplaceAll(stmt, "AUTOINCREMENT_PK", "BIGSERIAL PRIMARY KEY")
	}
	return strings.ReplaceAll(stmt, "AUTOINCREMENT_PK", "INTEGER PRIMARY KEY AUTOINCREMENT")
}

// splitStatements splits a migration on semicolons that end a line; DDL in
// migrations keeps string literals free of such semicolons.
func splitStatements(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";\n") {
		if p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), ";")); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ErrSchemaMismatch is returned (wrapped) when the store's schema is not
// the one this build of xsoc knows.
var ErrSchemaMismatch = errors.New("store: schema version mismatch")

// versions returns the highest applied migration per owner.
func (db *DB) versions(ctx context.Context) (map[string]int, error) {
	rows, err := db.Query(ctx, `SELECT owner, MAX(version) FROM xsoc_migrations GROUP BY owner`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var owner string
		var v int
		if err := rows.Scan(&owner, &v); err != nil {
			return nil, err
		}
		out[owner] = v
	}
	return out, rows.Err()
}

// CheckSchema reports whether the store's schema is exactly the one
// schemas describe, without changing it: scaled-out workers check, and
// leave migrating to the API process of their own version. A store ahead
// of this build (migrated by a newer xsoc) or behind it is refused with
// what to do.
func (db *DB) CheckSchema(ctx context.Context, schemas ...Schema) error {
	have, err := db.versions(ctx)
	if err != nil {
		return fmt.Errorf("%w: the store has no xsoc schema (%v); start the API process (xsoc serve --role api) first, it creates the schema", ErrSchemaMismatch, err)
	}
	for _, s := range schemas {
		switch v := have[s.Owner]; {
		case v > len(s.Migrations):
			return fmt.Errorf("%w: the store's %s tables are at version %d, this xsoc knows up to %d: the store was upgraded by a newer xsoc; upgrade this worker", ErrSchemaMismatch, s.Owner, v, len(s.Migrations))
		case v < len(s.Migrations):
			return fmt.Errorf("%w: the store's %s tables are at version %d, this xsoc needs %d: start the API process of this version (xsoc serve --role api) to upgrade the store, then this worker", ErrSchemaMismatch, s.Owner, v, len(s.Migrations))
		}
	}
	return nil
}

// refuseNewer fails when the store holds migrations of schemas beyond
// what this build knows: running older code on a newer schema corrupts
// data quietly.
func (db *DB) refuseNewer(ctx context.Context, schemas []Schema) error {
	have, err := db.versions(ctx)
	if err != nil {
		return err
	}
	for _, s := range schemas {
		if v := have[s.Owner]; v > len(s.Migrations) {
			return fmt.Errorf("%w: the store's %s tables are at version %d, this xsoc knows up to %d: the store was upgraded by a newer xsoc; run that version", ErrSchemaMismatch, s.Owner, v, len(s.Migrations))
		}
	}
	return nil
}
