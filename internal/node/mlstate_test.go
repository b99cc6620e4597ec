package node

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xsoc/xsoc/internal/detect/ml"
)

// lockedBuffer is a log sink that goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMLStateAcrossRestarts: a damaged state file is named in a warning
// and the detector starts fresh; when the node stops, both stateful ML
// detectors save what they learnt, and the next start restores it
// without a warning.
func TestMLStateAcrossRestarts(t *testing.T) {
	cfg := nodeConfig(t)
	dir := filepath.Join(cfg.DataDir, "ml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "anomaly.state")
	if err := os.WriteFile(damaged, []byte("XSOCMLST but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		var logs lockedBuffer
		ctx, cancel := context.WithCancel(context.Background())
		n, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		cancel()
		<-done
		return logs.String()
	}
	logs := run()
	if !strings.Contains(logs, "starts fresh") || !strings.Contains(logs, damaged) || !strings.Contains(logs, "checksum mismatch") {
		t.Fatalf("no warning naming %s:\n%s", damaged, logs)
	}
	if err := ml.LoadState(damaged, ml.NewAnomaly(ml.AnomalyOptions{})); err != nil {
		t.Fatalf("anomaly state not saved at stop: %v", err)
	}
	if err := ml.LoadState(filepath.Join(dir, "firstseen.state"), ml.NewFirstSeen(ml.FirstSeenOptions{})); err != nil {
		t.Fatalf("first-seen state not saved at stop: %v", err)
	}
	if logs := run(); strings.Contains(logs, "starts fresh") {
		t.Fatalf("saved state refused on restart:\n%s", logs)
	}
}
