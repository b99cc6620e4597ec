// Package storetest gives tests a fresh, real store on every engine xsoc
// supports: a temporary SQLite file, and a private schema in the PostgreSQL
// server named by XSOC_TEST_POSTGRES_URL (default: the local server's
// database "test"). No engine is faked.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/store"
)

// DefaultPostgresURL is the server the tests use when XSOC_TEST_POSTGRES_URL
// is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the URL of the test PostgreSQL server.
func PostgresURL() string {
	if u := os.Getenv("XSOC_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLite opens a fresh SQLite store in a temporary directory, migrated with
// schemas, closed when the test ends.
func SQLite(t testing.TB, schemas ...store.Schema) *store.DB {
	t.Helper()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "xsoc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), schemas...); err != nil {
		t.Fatal(err)
	}
	return db
}

// Postgres opens a store on a new, private PostgreSQL schema (dropped when
// the test ends), migrated with schemas. Set XSOC_TEST_POSTGRES=skip to skip
// PostgreSQL tests on a machine without the server; CI never sets it.
func Postgres(t testing.TB, schemas ...store.Schema) *store.DB {
	t.Helper()
	return postgresHandles(t, 1, schemas...)[0]
}

// postgresHandles opens n handles on one new, private schema.
func postgresHandles(t testing.TB, n int, schemas ...store.Schema) []*store.DB {
	t.Helper()
	url := SchemaURL(t, "xsoc_test_")
	var dbs []*store.DB
	for range n {
		db, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // before the schema is dropped: cleanups run last first
		dbs = append(dbs, db)
	}
	if err := dbs[0].Migrate(context.Background(), schemas...); err != nil {
		t.Fatal(err)
	}
	return dbs
}

// Each runs fn as a subtest once per engine.
func Each(t *testing.T, schemas []store.Schema, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, schemas...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, schemas...)) })
}

// EachTwice runs fn as a subtest once per engine with two handles on one
// store, as two processes (a node and the CLI) have.
func EachTwice(t *testing.T, schemas []store.Schema, fn func(t *testing.T, a, b *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		a := SQLite(t, schemas...)
		b, err := store.OpenSQLite(a.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		fn(t, a, b)
	})
	t.Run("postgres", func(t *testing.T) {
		dbs := postgresHandles(t, 2, schemas...)
		fn(t, dbs[0], dbs[1])
	})
}

// SchemaURL creates a new, private schema named prefix plus a random
// suffix on the test PostgreSQL server and returns a URL whose search path
// is that schema, for processes of their own; the schema is dropped when
// the test ends.
func SchemaURL(t testing.TB, prefix string) string {
	t.Helper()
	if os.Getenv("XSOC_TEST_POSTGRES") == "skip" {
		t.Skip("XSOC_TEST_POSTGRES=skip")
	}
	ctx := context.Background()
	admin, err := store.OpenPostgres(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL not reachable (start it, or set XSOC_TEST_POSTGRES=skip): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(PostgresURL(), "?") {
		sep = "&"
	}
	return PostgresURL() + sep + "search_path=" + schema
}
