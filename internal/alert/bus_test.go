package alert_test

import (
	"context"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestPublishOnRealBus raises alerts through an embedded JetStream and
// checks that each state of an alert is stored once, even when published
// twice.
func TestPublishOnRealBus(t *testing.T) {
	if alert.SubjectPrefix != bus.AlertSubject {
		t.Fatalf("alert.SubjectPrefix %q differs from bus.AlertSubject %q", alert.SubjectPrefix, bus.AlertSubject)
	}
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := storetest.SQLite(t, alert.Schema())
	s := newService(t, db, b, &clock{now: t0.Add(time.Minute)}, nil)
	for _, batch := range [][]alert.Alert{
		{detection("m1", "r1", "h1", "e1", t0), detection("m2", "r1", "h1", "e1", t0)},
		{detection("m1", "r1", "h1", "e2", t0)},
	} {
		if _, err := s.Raise(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Force every alert to be published again: the msg ids repeat, so the
	// stream absorbs them. (The last batch's publications are recorded
	// first, or Republish would record them itself.)
	if err := s.RecordPublished(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE alerts SET published = 0`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Republish(ctx); err != nil || n != 2 {
		t.Fatalf("Republish = %d, %v; want 2", n, err)
	}
	stream, err := b.JetStream().Stream(ctx, bus.AlertStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// m1's alert at count 1 and 2, m2's at count 1; the republished
	// states are duplicates.
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages, want 3", info.State.Msgs)
	}
	var _ store.Schema = alert.Schema()
}
