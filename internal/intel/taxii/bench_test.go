package taxii

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// BenchmarkServeObjectsPage serves the first page of 100 objects (of
// 1,000) through the handler, authentication and JSON encoding included,
// on SQLite: "visible" when the reader may see them all (TLP:GREEN),
// "hidden" when it may see none (TLP:AMBER, another member's) and the
// answer is an empty page.
func BenchmarkServeObjectsPage(b *testing.B) {
	b.Run("visible", func(b *testing.B) { benchServe(b, tlp.Green) })
	b.Run("hidden", func(b *testing.B) { benchServe(b, tlp.Amber) })
}

func benchServe(b *testing.B, level tlp.Level) {
	db := storetest.SQLite(b, intel.Schema(), Schema())
	repo := intel.NewRepo(db, intel.Options{})
	ctx := context.Background()
	c, _ := repo.CreateCollection(ctx, intel.Collection{Title: "bench", CommunityRead: true, DefaultTLP: &level})
	repo.SetRights(ctx, c.ID, "cert-a", intel.Rights{Read: true, Write: true})
	for i := 0; i < 10; i++ {
		var objs []json.RawMessage
		for j := 0; j < 100; j++ {
			objs = append(objs, indicator("indicator--"+intel.NewUUID(), "2020-01-01T00:00:00.000Z"))
		}
		if _, err := repo.AddObjects(ctx, intel.Viewer{Member: "cert-a"}, c.ID, objs); err != nil {
			b.Fatal(err)
		}
	}
	srv, _ := NewServer(Config{Repo: repo, Authenticate: testAuth})
	path := "/taxii2/api/collections/" + c.ID + "/objects/?limit=100"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.SetBasicAuth("cert-b", "key-b")
		req.Header.Set("Accept", MediaTAXII)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
