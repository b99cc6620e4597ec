package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/archive"
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
	ids := map[string]bool{}
	for _, a := range sk.alerts {
		if a.Member != "m1" {
			t.Errorf("an alert of member %q: a line wrote as another member", a.Member)
		}
		ids[a.EventIDs[0]] = true
	}
	if !ids[BatchEventID(42, 0)] || !ids["own-id"] || len(ids) != 2 {
		t.Errorf("alerts name events %v, want %s (the line without id) and own-id", ids, BatchEventID(42, 0))
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

// counter is an AlertSink counting alerts per event id; block, while
// set, makes Raise wait.
type counter struct {
	mu    sync.Mutex
	seen  map[string]int
	alert chan struct{}
}

func (c *counter) Raise(_ context.Context, as []alert.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range as {
		c.seen[a.EventIDs[0]]++
	}
	select {
	case c.alert <- struct{}{}:
	default:
	}
	return nil
}

func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// TestDetectionNeverWaitsForTheArchive runs both paths on a real embedded
// bus: with the archive stopped, every accepted event is still detected;
// the archive, started later, stopped mid-way and started again, catches
// up with every event stored exactly once; and the stream keeps each batch
// exactly until both paths are done with it.
func TestDetectionNeverWaitsForTheArchive(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := storetest.SQLite(t, eventlog.Schema())
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
	send(0, 3000) // before anything runs: two bus messages
	sk := &counter{seen: map[string]int{}, alert: make(chan struct{}, 1)}
	detection := New(Config{Bus: b, DB: db, Events: eventlog.New(db), Detectors: []detect.Detector{everyEvent{}},
		Sink: sk, Log: quiet, Workers: 2, Exclusive: true})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go detection.Run(runCtx)
	for i := range 20 {
		send(3000+i*100, 100)
	}
	waitUntil(t, func() bool { return sk.distinct() == 5000 }, "every event detected with no archive running")
	if p, err := Pending(ctx, b, bus.ArchiveConsumer); err != nil || p != 22 {
		t.Fatalf("archive consumer has %d batches pending (%v), want all 22", p, err)
	}
	eng, err := archive.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "archive"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	arch, err := archive.New(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	total := func() int64 { n, _ := arch.Total(ctx, "m1"); return n }
	for round := range 2 { // stopped once in the middle, then run to the end
		actx, astop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- NewArchiver(ArchiverConfig{Bus: b, Archive: arch, Log: quiet, Exclusive: true}).Run(actx)
		}()
		if round == 0 {
			waitUntil(t, func() bool { return total() > 0 }, "the archive storing")
		} else {
			waitUntil(t, func() bool { return total() >= 5000 }, "the archive catching up")
		}
		astop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := total(); n != 5000 {
		t.Fatalf("archive holds %d events, want 5000", n)
	}
	for id, n := range sk.seen {
		if n > 1 {
			t.Errorf("event %s alerted %d times", id, n)
		}
	}
	// The archive's acknowledgements are not waited for: the stream
	// empties once the server has them.
	s, _ := b.JetStream().Stream(ctx, bus.IngestStream)
	waitUntil(t, func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, "the stream to drop every batch both paths acknowledged")
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
