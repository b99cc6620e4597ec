package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// everyEvent raises one alert per event, naming it.
type everyEvent struct{}

func (everyEvent) Name() string { return "test" }
func (everyEvent) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	return append(out, alert.Alert{Member: ev.Member, Detector: "test", RuleID: "r", EventIDs: []string{ev.ID}})
}

// sink records raised alerts.
type sink struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (s *sink) Raise(_ context.Context, as []alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, as...)
	return nil
}

func TestProcessIdentityRejectsAndReplay(t *testing.T) {
	db := storetest.SQLite(t, eventlog.Schema())
	log := eventlog.New(db)
	sk := &sink{}
	p := New(Config{DB: db, Events: log, Detectors: []detect.Detector{everyEvent{}}, Sink: sk, Log: quiet})
	received := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := ingest.Batch{Member: "m1", Format: format.Auto, Received: received, Seq: 42, Lines: [][]byte{
		[]byte(`{"message":"no id, no time"}`),
		[]byte(`{"event":{"id":"own-id"},"observer":{"organization":{"id":"someone-else"}},"@timestamp":"2025-12-31T23:00:00Z"}`),
		[]byte(`{"winlog":{"channel":"Security"}}`), // a Windows record without an event id
	}}
	ctx := context.Background()
	for range 2 { // the second run is a redelivery
		if err := p.Process(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := log.Count(ctx, "m1"); n != 2 {
		t.Fatalf("stored %d events, want 2", n)
	}
	if n, _ := log.Count(ctx, "someone-else"); n != 0 {
		t.Fatalf("a line wrote into another member's events")
	}
	docs, err := log.Search(ctx, eventlog.Query{Member: "m1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, d := range docs {
		var m map[string]any
		json.Unmarshal(d, &m)
		ids[m["event.id"].(string)] = m["@timestamp"].(string)
	}
	if want := BatchEventID(42, 0); ids[want] != received.Format(time.RFC3339Nano) {
		t.Errorf("line without id/time: ids %v, want %s with the receive time", ids, want)
	}
	if ids["own-id"] != "2025-12-31T23:00:00Z" {
		t.Errorf("line with its own id and time: %v", ids)
	}
	rejects, _ := log.Rejects(ctx, "m1", 10)
	if len(rejects) != 1 || rejects[0].Line != 3 || rejects[0].Batch != 42 || rejects[0].Reason == "" {
		t.Errorf("rejects = %+v, want line 3 of batch 42 once, with a reason", rejects)
	}
	if len(sk.alerts) != 4 {
		t.Errorf("sink got %d alerts, want 2 per delivery (the sink deduplicates by event id)", len(sk.alerts))
	}
}

// batchSeen is a BatchDetector that records the events it was handed, call
// by call.
type batchSeen struct{ calls [][]string }

func (*batchSeen) Name() string { return "batch" }
func (d *batchSeen) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	return d.DetectBatch([]*event.Event{ev}, out)
}
func (d *batchSeen) DetectBatch(evs []*event.Event, out []alert.Alert) []alert.Alert {
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	d.calls = append(d.calls, ids)
	return out
}

// TestDetectorsSeeEveryEventOnceInChunks: a batch larger than a detection
// chunk, with bad lines among the good, reaches every detector event by
// event, in order, each good event once and no rejected one.
func TestDetectorsSeeEveryEventOnceInChunks(t *testing.T) {
	db := storetest.SQLite(t, eventlog.Schema())
	log := eventlog.New(db)
	sk := &sink{}
	bd := &batchSeen{}
	p := New(Config{DB: db, Events: log, Detectors: []detect.Detector{everyEvent{}, bd}, Sink: sk, Log: quiet})
	var lines [][]byte
	var want []string
	for i := range 3*detect.BatchSize + 5 {
		if i%7 == 3 {
			lines = append(lines, []byte(`{"broken`))
			continue
		}
		lines = append(lines, []byte(fmt.Sprintf(`{"event":{"id":"e%d"},"message":"x"}`, i)))
		want = append(want, fmt.Sprintf("e%d", i))
	}
	b := ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Now(), Seq: 1, Lines: lines}
	if err := p.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range sk.alerts {
		got = append(got, a.EventIDs[0])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("per-event detector saw %v,\nwant %v", got, want)
	}
	var batched []string
	for _, c := range bd.calls {
		if len(c) == 0 || len(c) > detect.BatchSize {
			t.Errorf("batch detector called with %d events, want 1..%d", len(c), detect.BatchSize)
		}
		batched = append(batched, c...)
	}
	if fmt.Sprint(batched) != fmt.Sprint(want) {
		t.Errorf("batch detector saw %v,\nwant %v", batched, want)
	}
}

// TestRunStoresEveryAcceptedEventOnce runs the pipeline on a real embedded
// bus: batches accepted before and while it runs are all stored, once.
func TestRunStoresEveryAcceptedEventOnce(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := storetest.SQLite(t, eventlog.Schema())
	log := eventlog.New(db)
	acc := ingest.NewAcceptor(b)
	send := func(from, n int) {
		var lines [][]byte
		for i := from; i < from+n; i++ {
			lines = append(lines, []byte(fmt.Sprintf(`{"event":{"id":"e%d"},"message":"x"}`, i)))
		}
		if err := acc.Accept(ctx, "m1", format.Auto, lines, ""); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 3000) // before the pipeline starts: two bus messages
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	p := New(Config{Bus: b, DB: db, Events: log, Log: quiet, Workers: 2, Exclusive: true})
	go func() { done <- p.Run(runCtx) }()
	for i := range 20 {
		send(3000+i*100, 100)
	}
	deadline := time.Now().Add(30 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if n, _ = log.Count(ctx, "m1"); n >= 5000 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 5000 {
		t.Fatalf("stored %d events, want 5000", n)
	}
	s, _ := b.JetStream().Stream(ctx, bus.IngestStream)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 0 {
		t.Errorf("%d batches left on the work queue after they were stored", info.State.Msgs)
	}
}
