package ingest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// sysmonLine is a realistic ~600-byte winlogbeat Sysmon event.
func sysmonLine(i int) string {
	return fmt.Sprintf(`{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"chrome.exe --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%064x","IntegrityLevel":"Medium"}},"host":{"name":"WS-%04d"}}`,
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano), i%5000, i, i%900, i%60000, i, i%5000)
}

// BenchmarkHTTPIngest measures the accept path — read, split, validate,
// publish to the embedded JetStream and wait for the ack — for 500-event
// requests, without an HTTP client in the way.
func BenchmarkHTTPIngest(b *testing.B) {
	bs := openBus(b, 0)
	h := NewHandler(NewAcceptor(bs), func(*http.Request) (string, bool) { return "m1", true }, slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{})
	var body bytes.Buffer
	const perRequest = 500
	for i := range perRequest {
		body.WriteString(sysmonLine(i))
		body.WriteByte('\n')
	}
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	b.SetParallelism(8) // as many requests in flight as a busy node sees
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(body.Bytes())))
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "events/s")
}
