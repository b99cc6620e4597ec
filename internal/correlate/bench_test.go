package correlate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// BenchmarkProcess measures placing batches of 100 raised alerts on
// SQLite: 20 hosts at 4 members in 3 countries sharing a few public IPs,
// so that both local grouping and campaign detection do work.
func BenchmarkProcess(b *testing.B) {
	db := storetest.SQLite(b, schemas()...)
	ctx := context.Background()
	as, err := alert.NewService(db, nil, alert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := correlate.NewCorrelator(db, as, correlate.Options{MemberCountry: func(m string) string { return countries[m] }})
	if err != nil {
		b.Fatal(err)
	}
	members := []string{"fr1", "fr2", "de1", "nl1"}
	batch := make([]alert.Alert, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = alert.Alert{
				Member: members[j%4], EventTime: t0.Add(time.Duration(i*100+j) * time.Second), Detector: "sigma",
				RuleID: fmt.Sprintf("r%d", j%7), Severity: alert.Medium, Techniques: []string{"T1059.001"},
				Observables: []alert.Observable{
					{Type: "host", Value: fmt.Sprintf("h%d", j%20)},
					{Type: "ipv4-addr", Value: fmt.Sprintf("203.0.113.%d", j%5)},
				},
				EventIDs: []string{fmt.Sprintf("e%d-%d", i, j)},
			}
		}
		b.StopTimer()
		raised, err := as.Raise(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.Process(ctx, raised); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/alert")
}
