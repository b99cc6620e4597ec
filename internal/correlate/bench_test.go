package correlate_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
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
// or placing an alert grows with the alerts before it. A commit group
// holds 10 alerts at 50k events/s, 32 at 150k; cpu-ns/alert is the
// process's CPU time per alert raised and placed:
//
//	go test -run '^$' -bench ProcessOneRuleMany -benchtime 100x ./internal/correlate
func BenchmarkProcessOneRuleMany(b *testing.B) {
	for _, prior := range []int{1000, 10000} {
		for _, group := range []int{10, 32} {
			if prior == 10000 && group == 32 {
				continue
			}
			benchOneRuleMany(b, prior, group)
		}
	}
}

// benchOneRuleMany runs one case of BenchmarkProcessOneRuleMany: prior
// alerts placed first, then groups of group alerts.
func benchOneRuleMany(b *testing.B, prior, group int) {
	name := fmt.Sprintf("prior=%d", prior)
	if group != 10 {
		name += fmt.Sprintf("/group=%d", group)
	}
	b.Run(name, func(b *testing.B) {
		as, c := benchCorrelator(b)
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
			raiseAndPlace(b, as, c, batch)
		}
		for range prior / 500 {
			place(500)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		for i := 0; i < b.N; i++ {
			place(group)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/alert")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*group), "cpu-ns/alert")
	})
}

// raiseAndPlace raises batch and places the alerts raised.
func raiseAndPlace(b *testing.B, as *alert.Service, c *correlate.Correlator, batch []alert.Alert) {
	ctx := context.Background()
	raised, err := as.Raise(ctx, batch)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Process(ctx, raised); err != nil {
		b.Fatal(err)
	}
}

// processCPU returns the CPU time the process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchCorrelator returns an alert service and a correlator over the
// store given, or a fresh SQLite store.
func benchCorrelator(b *testing.B, on ...*store.DB) (*alert.Service, *correlate.Correlator) {
	var db *store.DB
	if len(on) > 0 {
		db = on[0]
	} else {
		db = storetest.SQLite(b, schemas()...)
	}
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

// BenchmarkIncidentsSorted measures one page of 50 incidents in each sort
// order out of 5,000 (10,000 alerts of three members, half of them
// TLP:AMBER+STRICT), on SQLite and PostgreSQL, as an operator and as a
// member that sees about two thirds of them: the first page and one
// 2,000 incidents deep. A page aggregates the viewer's visible cells of
// every incident, so its cost grows with the incidents stored, not with
// the depth:
//
//	go test -run '^$' -bench IncidentsSorted -benchtime 20x ./internal/correlate
func BenchmarkIncidentsSorted(b *testing.B) {
	const stored = 5000
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db := storetest.SQLite(b, schemas()...)
			if engine == "postgres" {
				db = storetest.Postgres(b, schemas()...)
			}
			ctx := context.Background()
			as, c := benchCorrelator(b, db)
			members := []string{"fr1", "nl1", "de1"}
			for i := 0; i < 2*stored; i += 500 {
				batch := make([]alert.Alert, 500)
				for j := range batch {
					n := i + j
					batch[j] = alert.Alert{
						Member: members[n/2%3], EventTime: t0.Add(time.Duration(n) * time.Second), Detector: "sigma",
						RuleID: fmt.Sprintf("r%d", n), Severity: alert.Severity(n % 5), TLP: []tlp.Level{tlp.Green, tlp.AmberStrict}[n/6%2],
						Observables: []alert.Observable{{Type: "host", Value: fmt.Sprintf("h%d", n/2)}},
						EventIDs:    []string{fmt.Sprintf("e%d", n)},
					}
				}
				raiseAndPlace(b, as, c, batch)
			}
			for _, v := range []alert.Viewer{{Operator: true}, {Member: "fr1"}} {
				who := "operator"
				if !v.Operator {
					who = v.Member
				}
				for _, k := range correlate.SortKeys() {
					sort := correlate.Sort{Key: k}
					deep := correlate.Filter{Sort: sort, Limit: 500}
					for range 4 {
						p, err := c.Incidents(ctx, v, deep)
						if err != nil {
							b.Fatal(err)
						}
						deep.Cursor = p.Next
					}
					for _, at := range []struct {
						name, cursor string
					}{{"first", ""}, {"deep", deep.Cursor}} {
						b.Run(who+"/"+string(k)+"/"+at.name, func(b *testing.B) {
							for i := 0; i < b.N; i++ {
								p, err := c.Incidents(ctx, v, correlate.Filter{Sort: sort, Limit: 50, Cursor: at.cursor})
								if err != nil || len(p.Incidents) != 50 {
									b.Fatalf("page of %d: %v", len(p.Incidents), err)
								}
							}
						})
					}
				}
			}
		})
	}
}
