package node

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// BenchmarkAlertCommit measures what committing an alert costs a node:
// the alert sink's whole Raise — deduplication and storage, publication
// on the bus, the responders and sightings, and correlation into
// incidents and campaigns — for the alerts `xsoc bench e2e` raises (a
// credential dump on a host of its own, found by a starter Sigma rule),
// on the embedded default (SQLite) and on PostgreSQL. At 50k events/s a
// commit group holds one alert or a few, so group=1 is what the
// pipeline's committer mostly sees; group=16 is one full group.
// cpu-ns/alert is the process's CPU time (GC, the embedded NATS server
// and SQLite included) per alert committed:
//
//	go test -run '^$' -bench AlertCommit -benchtime 2000x ./internal/node
func BenchmarkAlertCommit(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, group := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/group=%d", engine, group), func(b *testing.B) {
				n, victim := commitBenchNode(b, engine)
				ctx := context.Background()
				// Earlier alerts fill the store the way a running node's is.
				for i := 0; i < 2000; i += 100 {
					if err := n.sink.Raise(ctx, victim(i, 100)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				alerts, next := 0, 2000
				cpu0 := processCPU()
				for b.Loop() {
					batch := victim(next, group)
					next += group
					if err := n.sink.Raise(ctx, batch); err != nil {
						b.Fatal(err)
					}
					alerts += len(batch)
				}
				b.ReportMetric(float64(processCPU()-cpu0)/float64(alerts), "cpu-ns/alert")
				b.ReportMetric(float64(alerts)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}

// commitBenchNode opens a node on engine (not running: its alert sink is
// called directly) with one member, and returns it with a function
// building the alerts of k victims from the i-th on, as detection raises
// them.
func commitBenchNode(b *testing.B, engine string) (*Node, func(i, k int) []alert.Alert) {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	if engine == "postgres" {
		cfg.PostgresURL = storetest.SchemaURL(b, "xsoc_nodebench_")
	}
	ctx := context.Background()
	n, err := Open(ctx, cfg, quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.Close)
	if _, _, err := n.Members.Add(ctx, member.Member{ID: "bench", Name: "Bench", Country: "DE", Sector: "energy"}); err != nil {
		b.Fatal(err)
	}
	var parser format.Parser
	var ev event.Event
	start := time.Now().UTC()
	victim := func(i, k int) []alert.Alert {
		var out []alert.Alert
		for j := i; j < i+k; j++ {
			ev.Reset()
			line := fmt.Appendf(nil, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"VICTIM-%d","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\admin"}}}`,
				start.Add(time.Duration(j)*10*time.Millisecond).Format(time.RFC3339Nano), j)
			if err := parser.Parse(format.Auto, line, &ev); err != nil {
				b.Fatal(err)
			}
			ev.Member, ev.ID, ev.Ingested = "bench", fmt.Sprintf("e%d", j), time.Now()
			before := len(out)
			out = n.Sigma.Detect(&ev, out)
			if len(out) == before {
				b.Fatal("the credential dump raised no alert")
			}
		}
		return out
	}
	return n, victim
}

// processCPU returns the CPU time the process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
