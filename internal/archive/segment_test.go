package archive

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

func TestSegRefRoundTrip(t *testing.T) {
	for _, tc := range []struct{ off, n int64 }{
		{0, 0}, {0, 1}, {127, 128}, {1 << 40, maxSegPayload}, {1 << 62, 5},
	} {
		ref := appendSegRef(nil, tc.off, tc.n)
		off, n, err := parseSegRef(ref)
		if err != nil || off != tc.off || n != tc.n {
			t.Errorf("%d+%d: got %d+%d, %v", tc.off, tc.n, off, n, err)
		}
	}
	for _, bad := range [][]byte{
		nil,
		{segRefTag},
		{segRefTag, 0x80},                     // unfinished offset
		{segRefTag, 1},                        // no length
		{segRefTag, 1, 2, 3},                  // trailing byte
		appendSegRef(nil, 0, maxSegPayload+1), // too long
		{0x28, 0xb5, 0x2f, 0xfd},              // a zstd frame
		{s2Tag, 1, 2},                         // an S2 column
	} {
		if _, _, err := parseSegRef(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
}

func FuzzParseSegRef(f *testing.F) {
	f.Add(appendSegRef(nil, 12345, 678))
	f.Add([]byte{segRefTag, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		off, n, err := parseSegRef(data)
		if err != nil {
			return
		}
		if off < 0 || n < 0 || n > maxSegPayload {
			t.Fatalf("%x: %d+%d", data, off, n)
		}
		if again := appendSegRef(nil, off, n); string(again) != string(data) && len(again) >= len(data) {
			t.Fatalf("%x: re-encoded as %x", data, again)
		}
	})
}

// openSegTest opens the embedded engine at root behind an archive whose
// clock stands a day after base.
func openSegTest(t *testing.T, root string) (*Embedded, *Archive) {
	t.Helper()
	e, err := OpenEmbedded(context.Background(), root, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return base.Add(5 * 24 * time.Hour) }
	return e, a
}

// segSummary queries a in ways that read every kind of payload (heads,
// field columns, ids, original lines) and sums up the answers.
func segSummary(t *testing.T, a *Archive) string {
	t.Helper()
	ctx := context.Background()
	all := Query{Member: "m1", From: base, To: base.Add(4 * 24 * time.Hour)}
	var out []string
	for _, q := range []Query{
		all,
		{Member: "m1", From: base, To: base.Add(4 * 24 * time.Hour), Filters: []Filter{{Field: "host.name", Op: Eq, Value: "ws-3"}}},
		{Member: "m1", From: base, To: base.Add(4 * 24 * time.Hour), Text: "needle-"},
		{Member: "m1", From: base.Add(10 * time.Second), To: base.Add(20 * time.Hour)},
	} {
		n, err := a.Count(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(n))
	}
	page, err := a.Search(ctx, Query{Member: "m1", From: base, To: base.Add(4 * 24 * time.Hour), Text: `needle-42"`, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range page.Events {
		out = append(out, string(doc))
	}
	top, err := a.Top(ctx, all, "host.name", 3)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, fmt.Sprint(top))
	recent, err := a.Engine().(*Embedded).Recent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, fmt.Sprint(recent))
	return strings.Join(out, "\n")
}

// inlinePayloads rewrites root's partitions as xsoc wrote them before
// segments: every payload in its row, no segment file.
func inlinePayloads(t *testing.T, root string) {
	t.Helper()
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, root, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.parts {
		db, err := e.acquire(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"blocks", "cols"} {
			rows, err := db.Query(ctx, `SELECT rowid, data FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			inline := map[int64][]byte{}
			for rows.Next() {
				var id int64
				var data []byte
				if err := rows.Scan(&id, &data); err != nil {
					t.Fatal(err)
				}
				if inline[id], err = e.payload(p, data, id, table); err != nil {
					t.Fatal(err)
				}
			}
			rows.Close()
			for id, data := range inline {
				if _, err := db.Exec(ctx, `UPDATE `+table+` SET data = ? WHERE rowid = ?`, data, id); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := db.Exec(ctx, `DROP TABLE segment`); err != nil {
			t.Fatal(err)
		}
		e.release(p)
		if err := os.Remove(segPath(p.path)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentReadsInlinePartitions checks that partitions written before
// segments (every payload in its SQLite row) answer every query as the
// same events written now do, alone and with newer blocks added.
func TestSegmentReadsInlinePartitions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	batches := [][]*event.Event{testEvents("m1", 0, 3000), testEvents("m1", 3000, 90000)[86000:]} // the second on day 2
	fresh, old := filepath.Join(dir, "fresh"), filepath.Join(dir, "old")
	for _, root := range []string{fresh, old} {
		_, a := openSegTest(t, root)
		if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: batches[0]}}); err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	inlinePayloads(t, old)
	if segs, _ := filepath.Glob(filepath.Join(old, "*", "*.seg")); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
	for _, stage := range []struct{ name, counts string }{
		{"inline only", "3000\n300\n3000\n"},
		{"inline and segment blocks", "7010\n701\n7010\n"}, // day 0 holds both
	} {
		_, want := openSegTest(t, fresh)
		_, got := openSegTest(t, old)
		w, g := segSummary(t, want), segSummary(t, got)
		if w != g {
			t.Errorf("%s: old partitions answer\n%s\nwant\n%s", stage.name, g, w)
		}
		if !strings.HasPrefix(w, stage.counts) || !strings.Contains(w, "Needle-42") {
			t.Errorf("%s: unexpected answers\n%s", stage.name, w)
		}
		for _, a := range []*Archive{want, got} {
			if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 2, Member: "m1", Events: batches[1]}, {Stream: 1, Seq: 3, Member: "m1", Events: testEvents("m1", 3000, 10)}}); err != nil {
				t.Fatal(err)
			}
			a.Close()
		}
	}
}

// segSize returns the size of root's one segment of m1's day 0.
func segSize(t *testing.T, root string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(root, "m1", base.Format(time.DateOnly)+".seg"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestSegmentCrashStates checks the states a crash or a failed write
// leaves: bytes beyond the committed end are cut off on opening, a write
// whose transaction fails leaves neither rows nor bytes (and may be
// delivered again), and writing goes on at the committed end; with the
// payloads written once per write and once per block.
func TestSegmentCrashStates(t *testing.T) {
	for _, pending := range []int{maxPendingPayload, 1} {
		t.Run(fmt.Sprint("pending ", pending), func(t *testing.T) {
			defer func(was int) { maxPendingPayload = was }(maxPendingPayload)
			maxPendingPayload = pending
			testSegmentCrashStates(t)
		})
	}
}

func testSegmentCrashStates(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// break_ damages the archive at root after the first write; it
		// returns whether the second write must fail.
		break_ func(t *testing.T, root string, e *Embedded) bool
	}{
		{"uncommitted tail", func(t *testing.T, root string, e *Embedded) bool {
			f, err := os.OpenFile(filepath.Join(root, "m1", base.Format(time.DateOnly)+".seg"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("bytes of a write that never committed"))
			f.Close()
			return false
		}},
		{"commit fails after the append", func(t *testing.T, root string, e *Embedded) bool {
			p := e.memberParts("m1", 0, 1<<62)[0]
			db, _ := e.acquire(ctx, p)
			defer e.release(p)
			if _, err := db.Exec(ctx, `CREATE TRIGGER fail BEFORE UPDATE ON segment BEGIN SELECT RAISE(ABORT, 'injected'); END`); err != nil {
				t.Fatal(err)
			}
			return true
		}},
		{"segment write fails", func(t *testing.T, root string, e *Embedded) bool {
			p := e.memberParts("m1", 0, 1<<62)[0]
			f, err := os.Open(segPath(p.path)) // read-only: WriteAt fails
			if err != nil {
				t.Fatal(err)
			}
			e.mu.Lock()
			p.seg.Close()
			p.seg = f
			e.mu.Unlock()
			return true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "archive")
			e, a := openSegTest(t, root)
			if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 1000)}}); err != nil {
				t.Fatal(err)
			}
			committed := segSize(t, root)
			second := []Batch{{Stream: 1, Seq: 2, Member: "m1", Events: testEvents("m1", 1000, 20000)}} // 3 blocks
			if tc.break_(t, root, e) {
				if err := a.Write(ctx, second); err == nil {
					t.Fatal("the write did not fail")
				}
				if n := segSize(t, root); n != committed {
					t.Errorf("the failed write left the segment at %d bytes, want %d", n, committed)
				}
			}
			a.Close()
			e, a = openSegTest(t, root)
			defer a.Close()
			if n := segSize(t, root); n != committed {
				t.Errorf("reopened, the segment has %d bytes, want %d", n, committed)
			}
			p := e.memberParts("m1", 0, 1<<62)[0]
			if db, err := e.acquire(ctx, p); err == nil {
				db.Exec(ctx, `DROP TRIGGER IF EXISTS fail`)
				e.release(p)
			}
			if !strings.HasPrefix(segSummary(t, a), "1000\n100\n1000\n") {
				t.Errorf("after the failure: %s", segSummary(t, a))
			}
			if err := a.Write(ctx, second); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(segSummary(t, a), "21000\n2100\n21000\n") {
				t.Errorf("after writing again: %s", segSummary(t, a))
			}
		})
	}
}

// TestSegmentDamage checks that a reference the segment cannot satisfy
// gives an error naming the segment file, never a panic or wrong events.
func TestSegmentDamage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, e *Embedded, p *partition)
		want   string
	}{
		{"reference beyond the end", func(t *testing.T, e *Embedded, p *partition) {
			setColumn(t, e, p, appendSegRef(nil, 1<<40, 100))
		}, "beyond the segment's end"},
		{"bad reference", func(t *testing.T, e *Embedded, p *partition) {
			setColumn(t, e, p, []byte{segRefTag, 0x80})
		}, "bad segment reference"},
		{"segment cut short", func(t *testing.T, e *Embedded, p *partition) {
			if err := os.Truncate(segPath(p.path), 10); err != nil {
				t.Fatal(err)
			}
		}, "unexpected EOF"},
		{"segment overwritten", func(t *testing.T, e *Embedded, p *partition) {
			st, _ := os.Stat(segPath(p.path))
			if err := os.WriteFile(segPath(p.path), make([]byte, st.Size()), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "decompress"},
		{"segment missing", func(t *testing.T, e *Embedded, p *partition) {
			e.mu.Lock()
			p.seg.Close()
			p.seg = nil
			e.mu.Unlock()
			if err := os.Remove(segPath(p.path)); err != nil {
				t.Fatal(err)
			}
		}, "segment file is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "archive")
			e, a := openSegTest(t, root)
			defer a.Close()
			if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 1000)}}); err != nil {
				t.Fatal(err)
			}
			segSummary(t, a) // opens the segment
			p := e.memberParts("m1", 0, 1<<62)[0]
			tc.damage(t, e, p)
			_, err := a.Count(ctx, Query{Member: "m1", From: base, To: base.Add(time.Hour), Text: "needle"})
			if err == nil || !strings.Contains(err.Error(), segPath(p.path)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s: %s", err, segPath(p.path), tc.want)
			}
		})
	}
}

// setColumn replaces the data of every column row of p.
func setColumn(t *testing.T, e *Embedded, p *partition, data []byte) {
	t.Helper()
	db, err := e.acquire(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release(p)
	if _, err := db.Exec(context.Background(), `UPDATE cols SET data = ?`, data); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentRetention checks that dropping a day removes its segment,
// that usage counts the segment, and that a segment whose database is
// gone (a removal cut short) is removed on opening.
func TestSegmentRetention(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "archive")
	e, a := openSegTest(t, root)
	if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 90000)}}); err != nil {
		t.Fatal(err)
	}
	u, err := e.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var files int64 // but the shared-memory index
	for _, pattern := range []string{"*.db", "*.db-wal", "*.seg"} {
		names, _ := filepath.Glob(filepath.Join(root, "m1", pattern))
		for _, name := range names {
			st, _ := os.Stat(name)
			files += st.Size()
		}
	}
	if seg := segSize(t, root); u["m1"].Bytes != files || seg == 0 {
		t.Errorf("usage %d bytes, the files %d, the day-0 segment %d", u["m1"].Bytes, files, seg)
	}
	if n, err := e.Drop(ctx, "m1", base.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("dropped %d (%v), want 1", n, err)
	}
	segs, _ := filepath.Glob(filepath.Join(root, "m1", "*.seg"))
	if want := []string{filepath.Join(root, "m1", base.Add(24*time.Hour).Format(time.DateOnly)+".seg")}; !slices.Equal(segs, want) {
		t.Errorf("segments after the drop: %v, want %v", segs, want)
	}
	a.Close()
	orphan := filepath.Join(root, "m1", base.Add(-24*time.Hour).Format(time.DateOnly)+".seg")
	if err := os.WriteFile(orphan, []byte("left by a drop cut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, a = openSegTest(t, root)
	defer a.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the orphan segment is still there (%v)", err)
	}
	if n, err := a.Total(ctx, "m1"); err != nil || n != 90000-12*3600 { // base is at noon
		t.Errorf("%d events left (%v), want %d", n, err, 90000-12*3600)
	}
}

// TestSegmentKilled kills a process writing the archive (SIGKILL, so
// nothing is flushed or closed), at arbitrary points and between a
// write's append to the segment and its commit, and checks that every
// write it acknowledged is there, every block stored is readable, the
// segment holds no uncommitted bytes once opened, and writing goes on.
func TestSegmentKilled(t *testing.T) {
	if dir := os.Getenv("XSOC_SEGMENT_CHILD"); dir != "" {
		segmentChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("runs writer processes")
	}
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "archive")
	const per = 2000
	acked := 0
	for round, tc := range []struct {
		after    int  // acknowledgements before the kill
		atAppend bool // the child kills itself after the next append
	}{{1, false}, {2, true}, {2, false}, {4, false}, {1, true}} {
		after := tc.after
		cmd := exec.Command(os.Args[0], "-test.run=^TestSegmentKilled$")
		cmd.Env = append(os.Environ(), "XSOC_SEGMENT_CHILD="+root, fmt.Sprint("XSOC_SEGMENT_FROM=", acked+1))
		if tc.atAppend {
			cmd.Env = append(cmd.Env, fmt.Sprint("XSOC_SEGMENT_KILL=", acked+1+after))
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		for seen := 0; seen < after && lines.Scan(); {
			if seq, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "acked ")); err == nil {
				acked = max(acked, seq)
				seen++
			}
		}
		if !tc.atAppend {
			cmd.Process.Kill()
		}
		for lines.Scan() { // acknowledgements still in the pipe
			if seq, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "acked ")); err == nil {
				acked = max(acked, seq)
			}
		}
		cmd.Wait()
		before := map[string]int64{}
		segs, _ := filepath.Glob(filepath.Join(root, "m1", "*.seg"))
		for _, seg := range segs {
			st, _ := os.Stat(seg)
			before[seg] = st.Size()
		}
		e, a := openSegTest(t, root)
		total, err := a.Total(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if total < int64(acked*per) || total > int64((acked+1)*per) || total%per != 0 {
			t.Errorf("round %d: %d events after %d acknowledged writes of %d", round, total, acked, per)
		}
		q := Query{Member: "m1", From: base, To: base.Add(30 * 24 * time.Hour), Text: "needle-"}
		if n, err := a.Count(ctx, q); err != nil || n != total {
			t.Errorf("round %d: %d of %d events readable (%v)", round, n, total, err)
		}
		cut := false
		for _, p := range e.memberParts("m1", 0, 1<<62) {
			st, err := os.Stat(segPath(p.path))
			if err != nil || st.Size() != p.segEnd {
				t.Fatalf("round %d: %s has %v bytes (%v), %d committed", round, segPath(p.path), st.Size(), err, p.segEnd)
			}
			cut = cut || before[segPath(p.path)] > st.Size()
		}
		if tc.atAppend && (!cut || total != int64(acked*per)) {
			t.Errorf("round %d: killed after an append, the segment was cut: %v; %d events after %d acknowledged writes",
				round, cut, total, acked)
		}
		a.Close()
	}
}

// segmentChild writes batches of 2,000 events from XSOC_SEGMENT_FROM on,
// printing each one's sequence once written, until killed.
func segmentChild(t *testing.T, root string) {
	ctx := context.Background()
	from, _ := strconv.Atoi(os.Getenv("XSOC_SEGMENT_FROM"))
	e, err := OpenEmbedded(ctx, root, false)
	if err != nil {
		t.Fatal(err)
	}
	kill, _ := strconv.Atoi(os.Getenv("XSOC_SEGMENT_KILL"))
	for seq := from; seq < from+1000; seq++ {
		if seq == kill {
			testHookAppended = func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		}
		// The last unacknowledged batch again too: stored once.
		b := []Batch{{Stream: 1, Seq: uint64(seq), Member: "m1", Events: testEvents("m1", seq*2000, 2000)}}
		if err := e.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("acked %d\n", seq)
	}
}

// TestSegmentReadsWhileWriting queries while writes append to the same
// segment: every query sees whole writes, and none meets a reference
// beyond what it may read; with syncAlways too (fsync before commit).
func TestSegmentReadsWhileWriting(t *testing.T) {
	for _, syncAlways := range []bool{false, true} {
		t.Run(fmt.Sprint("syncAlways ", syncAlways), func(t *testing.T) {
			ctx := context.Background()
			e, err := OpenEmbedded(ctx, filepath.Join(t.TempDir(), "archive"), syncAlways)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			const writes, per = 8, 1500
			done := make(chan error, 1)
			go func() {
				for seq := range writes {
					b := []Batch{{Stream: 1, Seq: uint64(seq), Member: "m1", Events: testEvents("m1", seq*per, per)}}
					if err := e.Write(ctx, b); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			q := Query{Member: "m1", From: base, To: base.Add(24 * time.Hour), Text: "needle-"}
			if err := q.Check(base, func(string) bool { return true }); err != nil {
				t.Fatal(err)
			}
			for finished := false; !finished; {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					finished = true
				default:
				}
				n, err := e.Count(ctx, &q)
				if err != nil || n%per != 0 || finished && n != writes*per {
					t.Errorf("%d events (%v): want whole writes of %d, all %d once done", n, err, per, writes)
					if !finished {
						<-done // before the directory goes
					}
					return
				}
			}
		})
	}
}
