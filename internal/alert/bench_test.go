package alert_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// BenchmarkRaise measures raising batches of 100 detections on SQLite:
// "new" opens 100 alerts per batch, "fold" folds 100 repeats of 10 rules
// into their open alerts.
func BenchmarkRaise(b *testing.B) {
	for _, mode := range []string{"new", "fold"} {
		b.Run(mode, func(b *testing.B) {
			db := storetest.SQLite(b, alert.Schema())
			s, err := alert.NewService(db, nil, alert.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			batch := make([]alert.Alert, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					rule := fmt.Sprintf("r%d", j%10)
					if mode == "new" {
						rule = fmt.Sprintf("r%d-%d", i, j)
					}
					batch[j] = detection("m1", rule, "h1", fmt.Sprintf("e%d-%d", i, j), t0.Add(time.Duration(i)*time.Second))
				}
				if _, err := s.Raise(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/detection")
		})
	}
}

// BenchmarkListSorted measures one page of 50 alerts in each sort order
// out of 100,000 stored, on SQLite and PostgreSQL, as a member that sees
// about half of them (its own and others' TLP:GREEN): the first page and
// a page 50,000 alerts deep. Every order reads its (column, id) index, so
// the two should cost about the same:
//
//	go test -run '^$' -bench ListSorted -benchtime 50x ./internal/alert
func BenchmarkListSorted(b *testing.B) {
	const stored = 100_000
	engines := map[string]func(testing.TB, ...store.Schema) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres}
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db := engines[engine](b, alert.Schema())
			c := &clock{now: t0}
			s, err := alert.NewService(db, nil, alert.Options{Now: c.Now})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < stored; i += 1000 {
				c.Set(t0.Add(time.Duration(i) * time.Second))
				batch := make([]alert.Alert, 1000)
				for j := range batch {
					n := i + j
					batch[j] = detection([]string{"m1", "m2", "m3"}[n%3], fmt.Sprintf("r%d", n), "h", fmt.Sprintf("e%d", n), t0.Add(time.Duration(n)*time.Second))
					batch[j].Severity = alert.Severity(n % 5)
					batch[j].TLP = []tlp.Level{tlp.Green, tlp.Amber}[n/3%2]
				}
				if _, err := s.Raise(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			v := alert.Viewer{Member: "m1"}
			for _, k := range alert.SortKeys() {
				sort := alert.Sort{Key: k}
				// The cursor 50,000 alerts in.
				deep := alert.Filter{Sort: sort, Limit: 1000}
				for range 25 {
					p, err := s.List(ctx, v, deep)
					if err != nil {
						b.Fatal(err)
					}
					deep.Cursor = p.Next
				}
				for _, at := range []struct {
					name   string
					cursor string
				}{{"first", ""}, {"deep", deep.Cursor}} {
					b.Run(string(k)+"/"+at.name, func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							p, err := s.List(ctx, v, alert.Filter{Sort: sort, Limit: 50, Cursor: at.cursor})
							if err != nil || len(p.Alerts) != 50 {
								b.Fatalf("page of %d: %v", len(p.Alerts), err)
							}
						}
					})
				}
			}
		})
	}
}
