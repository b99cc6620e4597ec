package store

import (
	"context"
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
