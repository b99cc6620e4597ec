package alert_test

import (
	"context"
	"fmt"
	"syscall"
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

// BenchmarkRaiseGroup measures raising one commit group of the pipeline's
// committer at a sustained 150k events/s: 32 detections of one rule, each
// on a host of its own (so each opens an alert, as in `xsoc bench e2e`),
// with an evidence document the size a Sysmon event flattens to, into a
// store already holding 2,000 alerts:
//
//	go test -run '^$' -bench RaiseGroup -benchtime 300x -benchmem ./internal/alert
func BenchmarkRaiseGroup(b *testing.B) {
	const group = 32
	db := storetest.SQLite(b, alert.Schema())
	s, err := alert.NewService(db, nil, alert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	victims := func(k int) []alert.Alert {
		batch := make([]alert.Alert, k)
		for j := range batch {
			n++
			host := fmt.Sprintf("VICTIM-%d", n)
			batch[j] = detection("m1", "lsass-dump-comsvcs", host, fmt.Sprintf("e%d", n), t0.Add(time.Duration(n)*10*time.Millisecond))
			batch[j].Evidence = []string{fmt.Sprintf(`{"@timestamp":"2026-12-07T10:00:00.%03dZ","event.id":"e%d","event.code":"1",`+
				`"event.provider":"Microsoft-Windows-Sysmon","host.name":"%s","process.executable":"C:\\Windows\\System32\\rundll32.exe",`+
				`"process.command_line":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full",`+
				`"process.parent.executable":"C:\\Windows\\System32\\cmd.exe","user.name":"CORP\\admin",`+
				`"event.original":"<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Sysmon\"/></System></Event>"}`,
				n%1000, n, host)}
		}
		return batch
	}
	for range 2000 / 100 {
		if _, err := s.Raise(ctx, victims(100)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := victims(group)
		b.StartTimer()
		cpu0 := processCPU()
		if _, err := s.Raise(ctx, batch); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/detection")
	b.ReportMetric(float64(cpu)/float64(b.N*group), "cpu-ns/detection")
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

// processCPU returns the CPU time the process has used, in nanoseconds:
// the store's fsyncs make wall time a poor measure of the work a Raise
// does.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
