package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

func openBus(t testing.TB, maxBytes int64) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), bus.Config{DataDir: t.TempDir(), IngestMaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// storedLines returns every line stored on the ingest stream, in order.
func storedLines(t *testing.T, b *bus.Bus) []string {
	t.Helper()
	ctx := context.Background()
	s, err := b.JetStream().Stream(ctx, bus.IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		batch, err := DecodeBatch(m.Header, m.Data, seq)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range batch.Lines {
			out = append(out, string(l))
		}
	}
	return out
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestHTTPIngest(t *testing.T) {
	good := `{"@timestamp":"2026-01-01T00:00:00Z","source":{"ip":"10.0.0.1"}}`
	big := `{"x":"` + strings.Repeat("a", MaxLineBytes) + `"}`
	truncated := gz(good + "\n" + good + "\n" + good)
	truncated = truncated[:len(truncated)-12] // cut the gzip trailer and some data
	tests := []struct {
		name        string
		member      string
		contentType string
		encoding    string
		query       string
		body        []byte
		status      int
		accepted    int
		rejected    int
		reason      string // substring of the first error or message
	}{
		{"good batch", "m1", "application/x-ndjson", "", "", []byte(good + "\n" + good + "\n\n"), 200, 2, 0, ""},
		{"bad line kept apart", "m1", "application/x-ndjson", "", "", []byte(good + "\n{not json\n" + good), 200, 2, 1, "invalid JSON"},
		{"oversize line", "m1", "application/x-ndjson", "", "", []byte(good + "\n" + big + "\n"), 200, 1, 1, "1 MiB"},
		{"NUL in a JSON string", "m1", "application/x-ndjson", "", "", []byte("{\"a\":\"x\x00y\"}\n" + good), 200, 1, 1, "NUL byte"},
		{"NUL between JSON tokens", "m1", "application/x-ndjson", "", "", []byte("{\"a\":1\x00}\n" + good), 200, 1, 1, "NUL byte"},
		{"NUL in a syslog line", "m1", "text/plain", "", "", []byte("<34>1 2026-01-01T00:00:00Z host app 1 ID47 - he\x00llo\n" + good), 200, 1, 1, "NUL byte"},
		{"array is not an event", "m1", "", "", "", []byte("[1,2]\n"), 400, 0, 1, "not a JSON object"},
		{"wrong content type", "m1", "application/xml", "", "", []byte(good), 415, 0, 0, "unsupported Content-Type"},
		{"unknown encoding", "m1", "", "br", "", []byte(good), 400, 0, 0, "Content-Encoding"},
		{"gzip", "m1", "application/x-ndjson", "gzip", "", gz(good + "\n" + good + "\n"), 200, 2, 0, ""},
		{"not gzip at all", "m1", "", "gzip", "", []byte(good), 400, 0, 0, "gzip"},
		{"truncated gzip keeps complete lines", "m1", "", "gzip", "", truncated, 200, 0, 0, "truncated"},
		{"unknown format", "m1", "", "", "format=xml", []byte(good), 400, 0, 0, "unknown format"},
		{"syslog lines", "m1", "text/plain", "", "format=syslog", []byte("<34>1 2026-01-01T00:00:00Z host app 1 ID47 - hello\nno pri here\n"), 200, 1, 1, ""},
		{"no member", "", "", "", "", []byte(good), 403, 0, 0, "member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBus(t, 0)
			h := NewHandler(NewAcceptor(b), func(*http.Request) (string, bool) { return tt.member, tt.member != "" }, slog.Default(), Limits{})
			req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest?"+tt.query, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			body := rec.Body.String()
			if tt.reason != "" && !strings.Contains(body, tt.reason) {
				t.Errorf("answer %s does not mention %q", body, tt.reason)
			}
			if rec.Code != 200 && rec.Code != 400 || strings.Contains(body, `"error"`) {
				if n := len(storedLines(t, b)); n != 0 {
					t.Errorf("%d lines stored for a refused request", n)
				}
				return
			}
			var res Result
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if tt.name == "truncated gzip keeps complete lines" {
				// How much of the cut stream decompresses depends on the
				// gzip block layout; what matters is that every complete
				// line is kept and the cut one is not.
				if res.Accepted < 1 || res.Note == "" {
					t.Errorf("truncated gzip: %+v", res)
				}
			} else if res.Accepted != tt.accepted || res.Rejected != tt.rejected {
				t.Errorf("accepted %d rejected %d, want %d %d (%s)", res.Accepted, res.Rejected, tt.accepted, tt.rejected, body)
			}
			stored := storedLines(t, b)
			if len(stored) != res.Accepted {
				t.Errorf("%d lines stored, %d accepted", len(stored), res.Accepted)
			}
			for _, l := range stored {
				if strings.Contains(l, "not json") || len(l) > MaxLineBytes {
					t.Errorf("rejected line stored: %.60q", l)
				}
			}
		})
	}
}

func TestHTTPIngestOversizeBodyIs413(t *testing.T) {
	b := openBus(t, 0)
	h := NewHandler(NewAcceptor(b), func(*http.Request) (string, bool) { return "m1", true }, slog.Default(), Limits{})
	h.maxBody = 4 << 10
	body := strings.Repeat(`{"message":"x"}`+"\n", 1000) // 16 KB
	for _, enc := range []string{"", "gzip"} {
		data := []byte(body)
		if enc == "gzip" {
			data = gz(body) // small on the wire, large once decompressed
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(data))
		req.Header.Set("Content-Encoding", enc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "too large") {
			t.Errorf("encoding %q: %d %s", enc, rec.Code, rec.Body)
		}
	}
	if n := len(storedLines(t, b)); n != 0 {
		t.Errorf("%d lines stored from refused bodies", n)
	}
}

func TestHTTPIngestFullBusIs503(t *testing.T) {
	b := openBus(t, 32<<10)
	h := NewHandler(NewAcceptor(b), func(*http.Request) (string, bool) { return "m1", true }, slog.Default(), Limits{})
	// Bodies are compressed on the bus: fill it with incompressible lines.
	rnd := rand.New(rand.NewPCG(1, 2))
	var body []byte
	for range 10 {
		body = append(body, `{"message":"`...)
		for range 1000 {
			body = append(body, 'a'+byte(rnd.IntN(26)))
		}
		body = append(body, "\"}\n"...)
	}
	var last *httptest.ResponseRecorder
	for range 20 {
		last = httptest.NewRecorder()
		h.ServeHTTP(last, httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(body)))
		if last.Code != 200 {
			break
		}
	}
	if last.Code != http.StatusServiceUnavailable || last.Header().Get("Retry-After") == "" {
		t.Fatalf("full bus answered %d (Retry-After %q): %s", last.Code, last.Header().Get("Retry-After"), last.Body)
	}
}

func TestChunkKeepsOrderAndBounds(t *testing.T) {
	var lines [][]byte
	for i := range 5001 {
		lines = append(lines, []byte(fmt.Sprintf("line %d", i)))
	}
	chunks := chunk(lines)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks, want 3", len(chunks))
	}
	n := 0
	for _, c := range chunks {
		if len(c) > maxBatchLines {
			t.Errorf("chunk of %d lines", len(c))
		}
		for _, l := range c {
			if string(l) != fmt.Sprintf("line %d", n) {
				t.Fatalf("line %d is %q", n, l)
			}
			n++
		}
	}
}

func TestSyslogUDPAndTCP(t *testing.T) {
	b := openBus(t, 0)
	s, err := ListenSyslog(SyslogConfig{Member: "m1", UDP: "127.0.0.1:0", TCP: "127.0.0.1:0"}, NewAcceptor(b), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()

	udp, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	udp.Write([]byte("<13>Jan  2 03:04:05 host1 sshd[42]: Accepted password for root"))
	udp.Write([]byte("garbage without pri"))
	udp.Close()

	tcp, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	m1 := "<34>1 2026-01-01T00:00:00Z host2 app 1 ID47 - octet counted"
	fmt.Fprintf(tcp, "%d %s", len(m1), m1)
	fmt.Fprintf(tcp, "<34>1 2026-01-01T00:00:01Z host2 app 1 ID47 - newline framed\n")
	fmt.Fprintf(tcp, "<134>CEF:0|Vendor|Product|1.0|100|Blocked|5|src=10.0.0.1 dst=203.0.113.5\n")
	tcp.Close()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && s.Stats.Accepted.Load() < 4 {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if got := s.Stats.Accepted.Load(); got != 4 {
		t.Fatalf("accepted %d syslog lines, want 4", got)
	}
	if got := s.Stats.Rejected.Load(); got != 1 {
		t.Errorf("rejected %d, want 1", got)
	}
	stored := storedLines(t, b)
	if len(stored) != 4 {
		t.Fatalf("stored %d lines: %q", len(stored), stored)
	}
	for _, l := range stored {
		f := format.Sniff([]byte(l))
		if f != format.Syslog && f != format.CEF {
			t.Errorf("stored line sniffed as %s: %q", f, l)
		}
	}
}

func FuzzHTTPSplit(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n\n{bad\n<34>1 - - - - - - x\n"), "auto")
	f.Add([]byte("\r\n\x00\n"), "ecs")
	f.Add([]byte("CEF:0|a|b|c|d|e|5|k=v\n"), "cef")
	f.Add([]byte(zeekDNSLog+"#close\t-\n{\"a\":1}\n"), "auto")
	h := NewHandler(nil, nil, slog.Default(), Limits{})
	f.Fuzz(func(t *testing.T, body []byte, fs string) {
		fm, err := format.ParseFormat(fs)
		if err != nil {
			return
		}
		var res Result
		n := 0
		runs, err := splitBody(h, body, fm, &res)
		if err != nil {
			return
		}
		for _, r := range runs {
			lines := bytes.Split(bytes.TrimSuffix(r.data, []byte{'\n'}), []byte{'\n'})
			if len(lines) != r.lines || len(r.data) > maxBatchBytes {
				t.Fatalf("run of %d bytes holds %d lines, says %d", len(r.data), len(lines), r.lines)
			}
			for _, l := range lines {
				if len(bytes.TrimSpace(l)) == 0 {
					t.Fatalf("accepted empty line in %q", r.data)
				}
			}
			n += r.lines
		}
		if n != res.Accepted {
			t.Fatalf("runs hold %d lines, %d accepted", n, res.Accepted)
		}
	})
}
