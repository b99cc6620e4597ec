package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// externalURL is the NATS JetStream server the external-mode tests use.
func externalURL() string {
	if u := os.Getenv("XSOC_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// openBoth returns an embedded bus and, unless XSOC_TEST_NATS=skip, one on
// the external server.
func openBoth(t *testing.T, cfg Config) map[string]*Bus {
	t.Helper()
	out := map[string]*Bus{}
	emb := cfg
	emb.DataDir = t.TempDir()
	b, err := Open(context.Background(), emb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	out["embedded"] = b
	if os.Getenv("XSOC_TEST_NATS") == "skip" {
		return out
	}
	out["external"] = openExternal(t, cfg, testNamespace())
	return out
}

// testNamespace returns a namespace of the test's own on the shared
// server.
func testNamespace() string { return fmt.Sprintf("bustest%d", time.Now().UnixNano()) }

// openExternal opens a bus on the external server in namespace, whose
// streams are deleted when the test ends.
func openExternal(t *testing.T, cfg Config, namespace string) *Bus {
	t.Helper()
	cfg.URL, cfg.Namespace = externalURL(), namespace
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("external NATS at %s not reachable (start it, or set XSOC_TEST_NATS=skip): %v", cfg.URL, err)
	}
	t.Cleanup(func() {
		b.DeleteNamespace(context.Background())
		b.Close()
	})
	return b
}

func TestPublishIsDurableAndIdempotent(t *testing.T) {
	for name, b := range openBoth(t, Config{}) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			subject := fmt.Sprintf("%s.test-%d", IngestSubject, time.Now().UnixNano())
			hdr := nats.Header{}
			hdr.Set("X-Test", "1")
			seq1, err := b.Publish(ctx, subject, hdr, []byte("a\nb\n"), "id-"+subject)
			if err != nil {
				t.Fatal(err)
			}
			seq2, err := b.Publish(ctx, subject, hdr, []byte("a\nb\n"), "id-"+subject)
			if err != nil {
				t.Fatal(err)
			}
			if seq1 != seq2 {
				t.Fatalf("duplicate publish stored twice: seq %d and %d", seq1, seq2)
			}
			s, err := b.JetStream().Stream(ctx, b.IngestStream())
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.GetMsg(ctx, seq1)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != "a\nb\n" || m.Header.Get("X-Test") != "1" {
				t.Fatalf("stored %q %v", m.Data, m.Header)
			}
			s.DeleteMsg(ctx, seq1)
		})
	}
}

func TestEmbeddedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := b.Publish(ctx, IngestSubject+".m1", nil, []byte("kept"), "")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.JetStream().Stream(ctx, IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if string(m.Data) != "kept" {
		t.Fatalf("after restart: got %q", m.Data)
	}
}

func TestFullStreamIsBackpressureNotLoss(t *testing.T) {
	ctx := context.Background()
	b, err := Open(ctx, Config{DataDir: t.TempDir(), IngestMaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	payload := make([]byte, 8<<10)
	var full error
	stored := 0
	for i := 0; i < 32 && full == nil; i++ {
		if _, err := b.Publish(ctx, IngestSubject+".m1", nil, payload, ""); err != nil {
			full = err
		} else {
			stored++
		}
	}
	if !errors.Is(full, ErrFull) {
		t.Fatalf("publishing past the stream limit: err = %v, want ErrFull", full)
	}
	info, err := b.JetStream().Stream(ctx, IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(stored) {
		t.Fatalf("stream holds %d messages, %d were acknowledged", got, stored)
	}
}
