package alert_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store/storetest"
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
