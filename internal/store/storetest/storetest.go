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
	schema := "xsoc_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(PostgresURL(), "?") {
		sep = "&"
	}
	db, err := store.OpenPostgres(ctx, PostgresURL()+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	if err := db.Migrate(ctx, schemas...); err != nil {
		t.Fatal(err)
	}
	return db
}

// Each runs fn as a subtest once per engine.
func Each(t *testing.T, schemas []store.Schema, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, schemas...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, schemas...)) })
}
