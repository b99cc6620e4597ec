package pipeline

import (
	"context"
	"fmt"
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

// testBatch is batch seq of n lines; every fifth line is broken, the
// others name their event e<seq>-<line>.
func testBatch(seq uint64, n int) ingest.Batch {
	lines := make([][]byte, n)
	for i := range lines {
		if i%5 == 4 {
			lines[i] = []byte(`{"broken`)
			continue
		}
		lines[i] = fmt.Appendf(nil, `{"event":{"id":"e%d-%d"},"host":{"name":"h%d"},"message":"x"}`, seq, i, seq)
	}
	return ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Unix(1_700_000_000, int64(seq)), Seq: seq, Lines: lines}
}

// msgOf is batch b as a path takes it off the bus: its header decoded,
// its lines not yet.
func msgOf(b ingest.Batch) *input {
	hdr, body := ingest.EncodeBatch(b)
	in, err := busInput(hdr, body, b.Seq)
	if err != nil {
		panic(err) // EncodeBatch wrote what busInput cannot read
	}
	return in
}

// takeBatch is path me taking batch b off the bus through s.
func takeBatch(s *Shared, me path, b ingest.Batch) *parsed {
	p, err := s.parse(me, msgOf(b), true)
	if err != nil {
		panic(err) // a body EncodeBatch wrote does not decode
	}
	return p
}

// bothRunning returns a Shared both paths have joined.
func bothRunning() *Shared {
	s := newShared(maxSharedLines)
	s.join(detectPath)
	s.join(archivePath)
	return s
}

// checkParsed fails unless p holds exactly batch b's good lines, each
// whole: an event handed back to the pool and parsed again as another
// would show another id or host.
func checkParsed(t *testing.T, who string, b ingest.Batch, p *parsed) {
	t.Helper()
	if len(p.events)+len(p.rejects) != len(b.Lines) {
		t.Errorf("%s: batch %d: %d events and %d rejects of %d lines", who, b.Seq, len(p.events), len(p.rejects), len(b.Lines))
		return
	}
	good := 0
	for i := range b.Lines {
		if i%5 == 4 {
			continue
		}
		ev := p.events[good]
		good++
		host, _ := ev.Get("host.name")
		if ev.ID != fmt.Sprintf("e%d-%d", b.Seq, i) || host != fmt.Sprintf("h%d", b.Seq) || ev.Member != "m1" {
			t.Errorf("%s: batch %d line %d holds event %s of host %s", who, b.Seq, i, ev.ID, host)
			return
		}
	}
	for j, r := range p.rejects {
		if r.line != 5*j+4 || r.reason == "" {
			t.Errorf("%s: batch %d: reject %d is line %d (%q)", who, b.Seq, j, r.line, r.reason)
		}
	}
}

// TestSharedBothPathsSeeEveryEventOnce runs the two paths through one
// Shared at once, each holding a few batches before letting go, as the
// pipeline's committer and the archive's writer do. Every batch reaches
// each path once, whole, parsed once in all when the other path took it
// from the first; and no event goes back to the pool, to be parsed again,
// while the other path still reads it (with -race, neither does any
// write to an event race with the other path's reads).
func TestSharedBothPathsSeeEveryEventOnce(t *testing.T) {
	s := newShared(maxSharedLines)
	s.maxWait = time.Hour // no giving up on a parse under way: the counts below are exact
	s.join(detectPath)
	s.join(archivePath)
	const batches, lines = 300, 40
	// Neither path gets more than a few batches ahead of the other, as
	// the bus's delivery keeps them (a path far ahead or behind parses
	// for itself: TestSharedArchiveFarBehind).
	var mu sync.Mutex
	step := sync.NewCond(&mu)
	var done [numPaths]uint64
	var wg sync.WaitGroup
	for _, me := range []path{detectPath, archivePath} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []*parsed
			var heldBatches []ingest.Batch
			for seq := uint64(1); seq <= batches; seq++ {
				mu.Lock()
				for seq > done[me.other()]+aheadSlack {
					step.Wait()
				}
				mu.Unlock()
				b := testBatch(seq, lines)
				p := takeBatch(s, me, b)
				mu.Lock()
				done[me] = seq
				step.Broadcast()
				mu.Unlock()
				checkParsed(t, me.String(), b, p)
				held, heldBatches = append(held, p), append(heldBatches, b)
				if len(held) > 3+int(me) { // the two paths hold different numbers of batches
					checkParsed(t, me.String(), heldBatches[0], held[0])
					held[0].release()
					held, heldBatches = held[1:], heldBatches[1:]
				}
			}
			for i, p := range held {
				checkParsed(t, me.String(), heldBatches[i], p)
				p.release()
			}
		}()
	}
	wg.Wait()
	parsed := s.counts[detectPath][0].Load() + s.counts[archivePath][0].Load()
	reused := s.counts[detectPath][1].Load() + s.counts[archivePath][1].Load()
	if parsed != batches || reused != batches {
		t.Errorf("%v: want every batch parsed once and reused once", s)
	}
	if s.lines != 0 || len(s.left) != 0 || s.oldest != nil || s.newest != nil {
		t.Errorf("%d lines of %d batches still left after both paths took every batch", s.lines, len(s.left))
	}
}

// TestSharedArchiveBehind: with the archive path running but not taking
// anything yet, detection leaves it batches only up to the bound, the
// oldest, which the archive comes to first; the archive then takes those
// and parses the others itself, each batch once, and once both let go no
// batch is held.
func TestSharedArchiveBehind(t *testing.T) {
	const maxLines, lines, batches = 200, 40, 30
	const kept = maxLines / lines
	s := newShared(maxLines)
	s.maxWait = time.Hour
	s.join(detectPath)
	s.join(archivePath)
	var all []*parsed
	for seq := uint64(1); seq <= batches; seq++ {
		p := takeBatch(s, detectPath, testBatch(seq, lines))
		all = append(all, p)
		p.release()
		if s.lines > maxLines {
			t.Fatalf("after batch %d the Shared holds %d lines, more than %d", seq, s.lines, maxLines)
		}
	}
	for seq := range uint64(batches) {
		if left := s.left[seq+1] != nil; left != (seq < kept) {
			t.Errorf("batch %d left for the archive: %v; want the oldest %d", seq+1, left, kept)
		}
	}
	for i, p := range all[kept:] {
		if n := p.refs.Load(); n != 0 || p.events != nil {
			t.Errorf("batch %d, not left and released by detection, holds %d references", kept+i+1, n)
		}
	}
	for seq := uint64(1); seq <= batches; seq++ {
		b := testBatch(seq, lines)
		p := takeBatch(s, archivePath, b)
		checkParsed(t, "archive", b, p)
		p.release()
	}
	if got := s.counts[archivePath][1].Load(); got != kept {
		t.Errorf("%v: the archive reused %d batches, want the %d left", s, got, kept)
	}
	if s.lines > (aheadSlack+1)*lines {
		t.Errorf("%d lines left: the archive left detection parses of batches detection had passed long before", s.lines)
	}
	s.leave(detectPath)
	for i, p := range all {
		if n := p.refs.Load(); n != 0 {
			t.Errorf("batch %d holds %d references after both paths let go", i+1, n)
		}
	}
}

// TestSharedDropsWhatTheOtherPassed: once full, a Shared drops the
// batches left for a path that has gone past them (it took them
// elsewhere, or before they were left) to make room for new ones, but
// not those it has still to come to.
func TestSharedDropsWhatTheOtherPassed(t *testing.T) {
	const maxLines, lines = 100, 10
	s := newShared(maxLines)
	s.join(detectPath)
	s.join(archivePath)
	var left []*parsed
	for seq := uint64(1); seq <= 10; seq++ { // fills it
		p := takeBatch(s, detectPath, testBatch(seq, lines))
		p.release()
		left = append(left, p)
	}
	p := takeBatch(s, detectPath, testBatch(11, lines))
	p.release()
	if s.left[11] != nil || s.left[1] == nil {
		t.Fatal("a full Shared dropped a batch the archive has still to come to")
	}
	// The archive takes batch 8, which makes room for one; batches 1–3
	// are now behind it by more than the slack.
	p = takeBatch(s, archivePath, testBatch(8, lines))
	p.release()
	for seq := uint64(12); seq <= 15; seq++ {
		p := takeBatch(s, detectPath, testBatch(seq, lines))
		p.release()
		if s.left[seq] == nil {
			t.Errorf("batch %d not left though the archive passed batches 1–3", seq)
		}
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if s.left[seq] != nil || left[seq-1].refs.Load() != 0 {
			t.Errorf("batch %d, passed by the archive, still held", seq)
		}
	}
	if p := takeBatch(s, detectPath, testBatch(16, lines)); s.left[16] != nil || s.left[4] == nil || s.lines != maxLines {
		t.Errorf("batch 16 left, or batch 4 dropped (%d lines held): batch 4 is within the slack of the archive, not passed", s.lines)
	} else {
		p.release()
	}
}

// TestSharedNothingForAPathFarBehind: batches far ahead of the other path
// are not left for it.
func TestSharedNothingForAPathFarBehind(t *testing.T) {
	s := bothRunning()
	p := takeBatch(s, archivePath, testBatch(1, 1))
	p.release()
	for seq := uint64(1); seq <= behindSlack+10; seq++ {
		p := takeBatch(s, detectPath, testBatch(seq, 1))
		p.release()
		if left := s.left[seq] != nil; left != (seq > 1 && seq <= 1+behindSlack) {
			t.Fatalf("batch %d left for the archive at batch 1: %v", seq, left)
		}
	}
}

// TestSharedNothingLeftForAStoppedPath: while the archive path does not
// run, detection leaves nothing; when it stops, what was left for it is
// let go at once.
func TestSharedNothingLeftForAStoppedPath(t *testing.T) {
	s := newShared(maxSharedLines)
	s.join(detectPath)
	p := takeBatch(s, detectPath, testBatch(1, 10))
	p.release()
	if s.lines != 0 || p.refs.Load() != 0 {
		t.Fatalf("detection left %d lines for an archive path that does not run", s.lines)
	}
	s.join(archivePath)
	p = takeBatch(s, detectPath, testBatch(2, 10))
	p.release()
	if s.lines != 10 || p.refs.Load() != 1 {
		t.Fatalf("detection left %d lines (%d references) for the running archive path, want 10 (1)", s.lines, p.refs.Load())
	}
	s.leave(archivePath)
	if s.lines != 0 || p.refs.Load() != 0 || p.events != nil {
		t.Errorf("%d lines, %d references left after the archive path stopped", s.lines, p.refs.Load())
	}
}

// TestSharedNeverWaitsLong: a parse under way that never ends (a stand-in
// for a stalled path) holds the other path back at most maxWait; it then
// parses the batch itself.
func TestSharedNeverWaitsLong(t *testing.T) {
	s := newShared(maxSharedLines)
	s.maxWait = time.Millisecond
	s.join(detectPath)
	s.join(archivePath)
	b := testBatch(7, 20)
	stalled := s.newParsed(detectPath, decodedInput(b), 2)
	stalled.body = msgOf(b).body
	stalled.done = make(chan struct{}) // never closed
	s.mu.Lock()
	s.list(stalled)
	s.mu.Unlock()
	p := takeBatch(s, archivePath, b)
	checkParsed(t, "archive", b, p)
	p.release()
	if p == stalled || s.counts[archivePath][0].Load() != 1 {
		t.Errorf("%v: want the archive to parse the batch itself", s)
	}
	if n := stalled.refs.Load(); n != 1 {
		t.Errorf("the stalled parse holds %d references, want only its own", n)
	}
}

// TestSharedRedeliveryIsParsedAgain: a path taking a batch a second time
// (a redelivery) parses it for itself and leaves the copy it left for the
// other path in place; a batch of another stream under the same number
// is not taken for it.
func TestSharedRedeliveryIsParsedAgain(t *testing.T) {
	s := bothRunning()
	b := testBatch(3, 10)
	first := takeBatch(s, detectPath, b)
	again := takeBatch(s, detectPath, b)
	if again == first || s.counts[detectPath][0].Load() != 2 {
		t.Fatalf("%v: detection took its own parse for the other path", s)
	}
	first.release()
	again.release()
	other := b
	other.Received = other.Received.Add(time.Second) // another batch numbered the same
	p := takeBatch(s, archivePath, other)
	if p == first {
		t.Fatal("the archive took another batch's events")
	}
	p.release()
	p = takeBatch(s, archivePath, b)
	if p != first {
		t.Fatalf("%v: the archive did not take detection's parse", s)
	}
	checkParsed(t, "archive", b, p)
	p.release()
}

// TestBothPathsShareOnTheBus runs detection and the archive on a real
// embedded bus with one Shared: each batch, sent once both run, is parsed
// once and taken by the other path; every event is alerted once and
// archived once.
func TestBothPathsShareOnTheBus(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db := storetest.SQLite(t, eventlog.Schema())
	eng, err := archive.OpenEmbedded(ctx, filepath.Join(t.TempDir(), "archive"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	arch, err := archive.New(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	shared := newShared(maxSharedLines)
	shared.maxWait = time.Hour
	sk := &counter{seen: map[string]int{}, alert: make(chan struct{}, 1)}
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stop(); running.Wait() }()
	for _, run := range []func(context.Context) error{
		New(Config{Bus: b, DB: db, Events: eventlog.New(db), Detectors: []detect.Detector{everyEvent{}, readsAll{}},
			Sink: sk, Log: quiet, Workers: 2, Exclusive: true, Shared: shared}).Run,
		NewArchiver(ArchiverConfig{Bus: b, Archive: arch, Log: quiet, Exclusive: true, Shared: shared}).Run,
	} {
		running.Add(1)
		go func() { defer running.Done(); _ = run(runCtx) }()
	}
	waitUntil(t, func() bool {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		return shared.active[detectPath] == 1 && shared.active[archivePath] == 1
	}, "both paths to run")
	acc := ingest.NewAcceptor(b)
	const batches, lines = 20, 100
	for i := range batches {
		var ls [][]byte
		for j := range lines {
			ls = append(ls, fmt.Appendf(nil, `{"event":{"id":"e%d"},"message":"x"}`, i*lines+j))
		}
		if err := acc.Accept(ctx, "m1", format.Auto, ls, ""); err != nil {
			t.Fatal(err)
		}
	}
	total := func() int64 { n, _ := arch.Total(ctx, "m1"); return n }
	waitUntil(t, func() bool { return sk.distinct() == batches*lines && total() >= batches*lines }, "every event detected and archived")
	if n := total(); n != batches*lines {
		t.Errorf("archive holds %d events, want %d", n, batches*lines)
	}
	for id, n := range sk.seen {
		if n != 1 {
			t.Errorf("event %s alerted %d times", id, n)
		}
	}
	parsed := shared.counts[detectPath][0].Load() + shared.counts[archivePath][0].Load()
	reused := shared.counts[detectPath][1].Load() + shared.counts[archivePath][1].Load()
	if parsed != batches || reused != batches {
		t.Errorf("%v: want each of the %d batches parsed once and reused once", shared, batches)
	}
}

// readsAll is a detector reading every field of every event, as the
// archive does, so that -race sees both paths read shared events.
type readsAll struct{}

func (readsAll) Name() string { return "reads-all" }
func (readsAll) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	n := 0
	ev.Fields(func(name, value string) bool { n += len(name) + len(value); return true })
	if n < 0 || len(ev.AppendJSON(nil)) == 0 {
		panic("unreachable")
	}
	return out
}

// TestSharedArchiveFollowsDetection: with follow set, an archive take of a
// batch detection has not reached waits for detection to parse it and
// takes that parse; detection stopping, or taking nothing for
// followStall, ends the wait and the archive parses the batch itself.
func TestSharedArchiveFollowsDetection(t *testing.T) {
	s := newShared(maxSharedLines)
	s.maxWait = time.Hour
	s.followStall = time.Hour
	s.join(detectPath)
	s.join(archivePath)

	b := testBatch(1, 10)
	got := make(chan *parsed)
	go func() { got <- takeBatch(s, archivePath, b) }()
	select {
	case p := <-got:
		p.release()
		t.Fatalf("the archive took batch 1 before detection did (%v)", s)
	case <-time.After(20 * time.Millisecond):
	}
	d := takeBatch(s, detectPath, b)
	a := <-got
	checkParsed(t, "archive", b, a)
	if a != d || s.counts[detectPath][0].Load() != 1 || s.counts[archivePath][1].Load() != 1 {
		t.Errorf("%v: want the archive to take detection's parse", s)
	}
	a.release()
	d.release()

	// Detection stops: the archive, waiting, parses for itself.
	b2 := testBatch(2, 10)
	go func() { got <- takeBatch(s, archivePath, b2) }()
	time.Sleep(10 * time.Millisecond)
	s.leave(detectPath)
	a = <-got
	checkParsed(t, "archive", b2, a)
	a.release()
	if s.counts[archivePath][0].Load() != 1 {
		t.Errorf("%v: want the archive to parse batch 2 itself", s)
	}

	// Detection runs but takes nothing: the wait ends after followStall.
	s.join(detectPath)
	s.mu.Lock()
	s.followStall = 5 * time.Millisecond
	s.mu.Unlock()
	b3 := testBatch(3, 10)
	a = takeBatch(s, archivePath, b3)
	checkParsed(t, "archive", b3, a)
	a.release()
	if s.counts[archivePath][0].Load() != 2 || s.followers != 0 {
		t.Errorf("%v, %d followers: want the archive to parse batch 3 itself", s, s.followers)
	}
}

// TestSharedTakesWithoutDecoding: a path taking the other path's parse
// never decodes the batch's lines — detection's rejects still carry their
// samples — while a batch with the same header and number of lines but
// another body is not taken for it, and a body that does not decode is
// an error that leaves nothing behind.
func TestSharedTakesWithoutDecoding(t *testing.T) {
	s := bothRunning()
	b := testBatch(4, 10)
	a := takeBatch(s, archivePath, b)
	in := msgOf(b)
	w, err := New(Config{Log: quiet, Shared: s}).prepare(in, true)
	if err != nil {
		t.Fatal(err)
	}
	if w.parsed != a || in.decoded || in.batch.Lines != nil {
		t.Fatalf("%v: detection decoded the lines (%v) or did not take the archive's parse", s, in.decoded)
	}
	if len(w.rejects) != 2 || w.rejects[0].Sample != `{"broken` || w.rejects[0].Line != 5 {
		t.Errorf("rejects %+v, want lines 5 and 10 with their samples", w.rejects)
	}
	w.parsed.release()
	a.release()

	other := testBatch(5, 10)
	d := takeBatch(s, detectPath, other)
	other.Lines[0] = []byte(`{"event":{"id":"x"}}`) // same header, same number of lines
	p := takeBatch(s, archivePath, other)
	if p == d || s.counts[archivePath][1].Load() != 0 {
		t.Fatalf("%v: the archive took a parse of another body", s)
	}
	if ev := p.events[0]; ev.ID != "x" {
		t.Errorf("the archive's first event is %s, want x", ev.ID)
	}
	p.release()
	d.release()

	bad := msgOf(testBatch(6, 10))
	bad.body = bad.body[:len(bad.body)-4]
	lines := s.lines
	if p, err := s.parse(detectPath, bad, true); err == nil || p != nil {
		t.Fatalf("a truncated body parsed (%v)", err)
	}
	if s.left[6] != nil || s.lines != lines {
		t.Errorf("an undecodable batch was left for the archive")
	}
}
