package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/store"
)

// BenchmarkProcess measures the detection side per event: parse a
// winlogbeat Sysmon record, run no detectors, raise nothing.
func BenchmarkProcess(b *testing.B) {
	db, err := store.OpenSQLite(filepath.Join(b.TempDir(), "x.db"), store.SyncNormal())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Migrate(ctx, eventlog.Schema()); err != nil {
		b.Fatal(err)
	}
	p := New(Config{DB: db, Events: eventlog.New(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	const n = 500
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = []byte(fmt.Sprintf(`{"@timestamp":"2026-01-01T00:00:00Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"chrome.exe --type=renderer --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d"}}}`, i, i, i))
	}
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		err := p.Process(ctx, ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Now(), Seq: seq, Lines: lines})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
