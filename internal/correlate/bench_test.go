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
	as, c := benchCorrelator(b)
	ctx := context.Background()
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

// BenchmarkProcessOneRuleMany measures placing alerts of one rule at many
// hosts of one member, with many earlier alerts of that rule within the
// campaign window — what a busy node sees, and what `xsoc bench e2e`
// sends (one credential dump per 500 events, each on a host of its
// own). Every alert's rule key is a campaign key; deciding whether it
// crossed a border must not read all the earlier sightings of the key,
// or placing an alert grows with the alerts before it.
func BenchmarkProcessOneRuleMany(b *testing.B) {
	for _, prior := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("prior=%d", prior), func(b *testing.B) {
			as, c := benchCorrelator(b)
			ctx := context.Background()
			n := 0
			place := func(k int) {
				batch := make([]alert.Alert, k)
				for j := range batch {
					n++
					batch[j] = alert.Alert{
						Member: "de1", EventTime: t0.Add(time.Duration(n) * time.Millisecond), Detector: "sigma",
						RuleID: "lsass-dump-comsvcs", Severity: alert.Critical, Techniques: []string{"T1003.001"},
						Key: fmt.Sprintf("VICTIM-%d", n),
						Observables: []alert.Observable{
							{Type: "host", Value: fmt.Sprintf("VICTIM-%d", n)},
							{Type: "user-account", Value: `CORP\admin`},
						},
						EventIDs: []string{fmt.Sprintf("e%d", n)},
					}
				}
				raised, err := as.Raise(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Process(ctx, raised); err != nil {
					b.Fatal(err)
				}
			}
			for range prior / 500 {
				place(500)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				place(10) // a commit group's alerts at 50k events/s
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10), "ns/alert")
		})
	}
}

// benchCorrelator returns an alert service and a correlator over a fresh
// SQLite store.
func benchCorrelator(b *testing.B) (*alert.Service, *correlate.Correlator) {
	db := storetest.SQLite(b, schemas()...)
	as, err := alert.NewService(db, nil, alert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := correlate.NewCorrelator(db, as, correlate.Options{MemberCountry: func(m string) string { return countries[m] }})
	if err != nil {
		b.Fatal(err)
	}
	return as, c
}
