package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestSchemaVersionMismatchIsRefused: a worker built for another schema
// version than the store's refuses with what to do, and an older build
// does not migrate (or run on) a store a newer one upgraded.
func TestSchemaVersionMismatchIsRefused(t *testing.T) {
	older := store.Schema{Owner: testSchema.Owner, Migrations: testSchema.Migrations[:1]}
	newer := store.Schema{Owner: testSchema.Owner, Migrations: append(append([]string{}, testSchema.Migrations...),
		`ALTER TABLE things ADD COLUMN extra TEXT NOT NULL DEFAULT ''`)}
	storetest.Each(t, []store.Schema{testSchema}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tests := []struct {
			name   string
			schema store.Schema
			want   string // "" for no error
		}{
			{"same version", testSchema, ""},
			{"worker older than the store", older, "upgraded by a newer xsoc; upgrade this worker"},
			{"worker newer than the store", newer, "start the API process of this version"},
		}
		for _, tt := range tests {
			err := db.CheckSchema(ctx, tt.schema)
			if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("%s: CheckSchema = %v, want %q", tt.name, err, tt.want)
			}
		}
		if err := db.Migrate(ctx, older); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Errorf("an older build migrating a newer store: %v, want ErrSchemaMismatch", err)
		}
	})
}

// TestExclusiveSerialises: on PostgreSQL, holders of one store-wide lock
// on two handles (as two processes) never run at once.
func TestExclusiveSerialises(t *testing.T) {
	storetest.EachTwice(t, []store.Schema{testSchema}, func(t *testing.T, a, b *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		inside, overlaps := 0, 0
		var wg sync.WaitGroup
		for i := range 20 {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Exclusive(ctx, 4242, func() error {
					mu.Lock()
					inside++
					if inside > 1 {
						overlaps++
					}
					mu.Unlock()
					_, err := db.Exec(ctx, `INSERT INTO things (name, at) VALUES (?, 0)`, "x"+strings.Repeat("y", i))
					mu.Lock()
					inside--
					mu.Unlock()
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if overlaps > 0 && a.Dialect() == store.Postgres { // SQLite's store has one process: fn just runs
			t.Fatalf("%d holders of the lock overlapped", overlaps)
		}
	})
}
