package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

var testSchema = store.Schema{Owner: "storetest", Migrations: []string{
	`CREATE TABLE things (id AUTOINCREMENT_PK, name TEXT NOT NULL UNIQUE, at BIGINT NOT NULL);
	CREATE INDEX IF NOT EXISTS things_at ON things (at)`,
	`ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT '?'`,
}}

func TestStoreOnEveryEngine(t *testing.T) {
	storetest.Each(t, []store.Schema{testSchema}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Migrating twice is a no-op.
		if err := db.Migrate(ctx, testSchema); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for _, n := range []string{"a", "b", "a"} {
				if _, err := tx.Exec(ctx, `INSERT INTO things (name, at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, n, store.Nanos(now)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var note string
		var at int64
		if err := db.QueryRow(ctx, `SELECT COUNT(*), MIN(note), MAX(at) FROM things WHERE name <> '?'`).Scan(&n, &note, &at); err != nil {
			t.Fatal(err)
		}
		if n != 2 || note != "?" || !store.Time(at).Equal(now) {
			t.Fatalf("got n=%d note=%q at=%v, want 2, ?, %v", n, note, store.Time(at), now)
		}
		// A failing transaction leaves nothing behind.
		_ = db.InTx(ctx, func(tx *store.Tx) error {
			tx.Exec(ctx, `INSERT INTO things (name, at) VALUES ('c', 1)`)
			_, err := tx.Exec(ctx, `INSERT INTO nosuchtable VALUES (1)`)
			return err
		})
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM things`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("rolled-back insert visible: n=%d err=%v", n, err)
		}
	})
}

// TestSQLiteFilesAreOwnerOnly: the database, its WAL and shared-memory
// files and a directory xsoc creates for them are the owner's alone, even
// under a permissive umask; an existing database open to others is
// tightened.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "xsoc.db")
	db, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), testSchema); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), fi.Mode().Perm(), mode)
		}
	}
	db.Close()
	os.Chmod(path, 0o644)
	if db, err = store.OpenSQLite(path); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("reopened database has mode %v, want 0600", fi.Mode().Perm())
	}
}
