package intel

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// benchEngines runs a benchmark on both engines.
func benchEngines(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b, Schema())) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b, Schema())) })
}

func benchRepo(b *testing.B, db *store.DB) (*Repo, string) {
	ctx := context.Background()
	r := NewRepo(db, Options{})
	c, err := r.CreateCollection(ctx, Collection{Title: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r.SetRights(ctx, c.ID, "cert-a", Rights{Read: true, Write: true})
	r.SetRights(ctx, c.ID, "cert-b", Rights{Read: true})
	return r, c.ID
}

func benchBatch(n int) []json.RawMessage {
	objs := make([]json.RawMessage, n)
	for i := range objs {
		mark := marked(tlpGreen2)
		if i%4 == 0 {
			mark = marked(tlpRed2)
		}
		objs[i] = object("indicator", newID("indicator"), "2020-01-01T00:00:00.000Z", mark,
			`"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"`)
	}
	return objs
}

// BenchmarkAddObjects adds requests of 100 indicators; ns/op is per
// request.
func BenchmarkAddObjects(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		r, coll := benchRepo(b, db)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			objs := benchBatch(100)
			b.StartTimer()
			st, err := r.AddObjects(ctx, member, coll, objs)
			if err != nil || len(st.Failures) > 0 {
				b.Fatal(err, st.Failures)
			}
		}
	})
}

// BenchmarkObjectsPage reads pages of 100 visible objects out of 2,000,
// a quarter of which the reader may not see.
func BenchmarkObjectsPage(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		r, coll := benchRepo(b, db)
		ctx := context.Background()
		for i := 0; i < 20; i++ {
			if _, err := r.AddObjects(ctx, member, coll, benchBatch(100)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		next := ""
		for i := 0; i < b.N; i++ {
			page, err := r.Objects(ctx, other, coll, Filter{Limit: 100, Next: next})
			if err != nil || len(page.Objects) == 0 {
				b.Fatal(err)
			}
			next = page.Next
			if !page.More {
				next = ""
			}
		}
	})
}
