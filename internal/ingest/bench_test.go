package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

// sysmonLine is a realistic ~600-byte winlogbeat Sysmon event.
func sysmonLine(i int) string {
	return fmt.Sprintf(`{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"chrome.exe --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%064x","IntegrityLevel":"Medium"}},"host":{"name":"WS-%04d"}}`,
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano), i%5000, i, i%900, i%60000, i, i%5000)
}

// sysmonBody is an NDJSON body of n sysmonLines.
func sysmonBody(n int) []byte {
	var body bytes.Buffer
	for i := range n {
		body.WriteString(sysmonLine(i))
		body.WriteByte('\n')
	}
	return body.Bytes()
}

// processCPU returns the CPU time (user and system) the process has used:
// the handler's, the embedded NATS server's and the garbage collector's.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkHTTPIngest measures the accept path — read, split, validate,
// publish to the embedded JetStream and wait for the ack — for 500-event
// requests, without an HTTP client in the way. cpu-ns/event is the
// process's CPU time per accepted event, the embedded server and GC
// included: what the accept path costs a node's cores.
func BenchmarkHTTPIngest(b *testing.B) {
	bs := openBus(b, 0)
	h := NewHandler(NewAcceptor(bs), func(*http.Request) (string, bool) { return "m1", true }, slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{})
	const perRequest = 500
	body := sysmonBody(perRequest)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(8) // as many requests in flight as a busy node sees
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(body)))
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*perRequest), "cpu-ns/event")
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "events/s")
}

// discard is a Publisher that stores nothing, so that BenchmarkAccept
// measures the handler alone.
type discard struct{}

func (discard) Publish(context.Context, string, nats.Header, []byte, string) (uint64, error) {
	return 1, nil
}

// BenchmarkAccept measures the handler's own work on a 500-event request
// — reading the body, splitting, checking each line, cutting the bus
// messages — with a publisher that stores nothing. cpu-ns/event is the
// process's CPU time per event, GC included.
func BenchmarkAccept(b *testing.B) {
	for _, f := range []format.Format{format.Auto, format.Windows} {
		b.Run(string(f), func(b *testing.B) {
			h := NewHandler(NewAcceptor(discard{}), func(*http.Request) (string, bool) { return "m1", true }, slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{})
			const perRequest = 500
			body := sysmonBody(perRequest)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest?format="+string(f), bytes.NewReader(body)))
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*perRequest), "cpu-ns/event")
		})
	}
}
