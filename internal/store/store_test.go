package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestTxRepeatsStatements: a transaction running the same statements many
// times (SQLite keeps them prepared for the transaction), interleaved
// with multi-row queries and with more distinct statements than it keeps
// prepared, gives the same results on every engine, and the next
// transaction starts afresh.
func TestTxRepeatsStatements(t *testing.T) {
	storetest.Each(t, []store.Schema{testSchema}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for round := range 2 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for i := range 300 {
					name := fmt.Sprintf("r%d-%d", round, i)
					if _, err := tx.Exec(ctx, `INSERT INTO things (name, at) VALUES (?, ?)`, name, int64(i)); err != nil {
						return err
					}
					var at int64
					if err := tx.QueryRow(ctx, `SELECT at FROM things WHERE name = ?`, name).Scan(&at); err != nil || at != int64(i) {
						return fmt.Errorf("read back %s: %d, %v", name, at, err)
					}
					// A varying number of placeholders: a new statement each time.
					args := []any{}
					for j := 0; j <= i%150; j++ {
						args = append(args, fmt.Sprintf("r%d-%d", round, j))
					}
					var n int
					if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM things WHERE name IN (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...).Scan(&n); err != nil || n != len(args) {
						return fmt.Errorf("count of %d names: %d, %v", len(args), n, err)
					}
				}
				rows, err := tx.Query(ctx, `SELECT name FROM things WHERE name LIKE ? ORDER BY at`, fmt.Sprintf("r%d-%%", round))
				if err != nil {
					return err
				}
				defer rows.Close()
				var names []string
				for rows.Next() {
					var name string
					if err := rows.Scan(&name); err != nil {
						return err
					}
					// SQLite runs statements between the rows of an open
					// query (PostgreSQL's connection is busy until the
					// rows are read).
					if tx.Dialect() == store.SQLite {
						if _, err := tx.Exec(ctx, `UPDATE things SET note = ? WHERE name = ?`, "seen", name); err != nil {
							return err
						}
					}
					names = append(names, name)
				}
				if err := rows.Err(); err != nil {
					return err
				}
				rows.Close()
				for _, name := range names {
					if _, err := tx.Exec(ctx, `UPDATE things SET note = ? WHERE name = ?`, "seen", name); err != nil {
						return err
					}
				}
				if len(names) != 300 {
					return fmt.Errorf("listed %d of 300", len(names))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM things WHERE note = 'seen'`).Scan(&n); err != nil || n != 600 {
			t.Fatalf("%d rows updated, %v; want 600", n, err)
		}
	})
}

// TestStatementsOutliveTransactions: statements prepared once for the
// store serve every later transaction and the store's own queries, at
// once from several goroutines; the same query run again while its rows
// are still being read (SQLite) reads both in full; and a statement
// prepared before a schema change sees the new schema (SQLite).
func TestStatementsOutliveTransactions(t *testing.T) {
	storetest.Each(t, []store.Schema{testSchema}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const list = `SELECT name FROM things ORDER BY name`
		names := func(q interface {
			Query(context.Context, string, ...any) (*sql.Rows, error)
		}) ([]string, error) {
			rows, err := q.Query(ctx, list)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					return nil, err
				}
				out = append(out, n)
			}
			return out, rows.Err()
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					err := db.InTx(ctx, func(tx *store.Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO things (name, at) VALUES (?, ?)`, fmt.Sprintf("w%d-%02d", w, i), int64(i))
						return err
					})
					var n int
					if err == nil {
						err = db.QueryRow(ctx, `SELECT COUNT(*) FROM things WHERE name LIKE ?`, fmt.Sprintf("w%d-%%", w)).Scan(&n)
					}
					if err == nil && n != i+1 {
						err = fmt.Errorf("writer %d sees %d of its %d rows", w, n, i+1)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			rows, err := tx.Query(ctx, list)
			if err != nil {
				return err
			}
			defer rows.Close()
			outer := 0
			for rows.Next() {
				outer++
				if tx.Dialect() != store.SQLite || outer%10 != 0 {
					continue // PostgreSQL's connection is busy until the rows are read
				}
				inner, err := names(tx)
				if err != nil || len(inner) != 100 {
					return fmt.Errorf("the same query inside its own rows read %d names, %v", len(inner), err)
				}
			}
			if outer != 100 {
				return fmt.Errorf("the outer query read %d names", outer)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		const one = `SELECT * FROM things WHERE name = ?`
		width := func() int {
			var cols []string
			err := db.InTx(ctx, func(tx *store.Tx) error {
				rows, err := tx.Query(ctx, one, "w0-00")
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, err = rows.Columns()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return len(cols)
		}
		if db.Dialect() != store.SQLite {
			return // pgx's own statement cache fails such a statement once
		}
		before := width()
		if _, err := db.Exec(ctx, `ALTER TABLE things ADD COLUMN extra TEXT NOT NULL DEFAULT ''`); err != nil {
			t.Fatal(err)
		}
		if after := width(); after != before+1 {
			t.Fatalf("%d columns before adding one, %d after", before, after)
		}
	})
}

// TestSQLiteSettings: every connection of an embedded store has the
// settings its durability and cost rest on.
func TestSQLiteSettings(t *testing.T) {
	db := storetest.SQLite(t, testSchema)
	ctx := context.Background()
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL unless SyncNormal is given
		{"foreign_keys", "1"},
		{"wal_autocheckpoint", "10000"},
	} {
		var got string
		if err := db.QueryRow(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil || got != tt.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tt.pragma, got, err, tt.want)
		}
	}
}
