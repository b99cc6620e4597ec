package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/xsoc/xsoc/internal/event"
)

// writeBlock encodes evs as one version 2 block and returns it decoded
// again, its columns served from the writer's buffers.
func writeBlock(t testing.TB, evs []*event.Event) *block {
	w := newBlockWriter()
	w.reset()
	for _, ev := range evs {
		w.add(ev)
	}
	cols := map[string][]byte{}
	for _, c := range w.order {
		cols[c.name] = slices.Clone(c.buf)
	}
	b, err := decodeBlock(w.encodeHead(nil), func(name string) ([]byte, error) { return cols[name], nil })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameEvent compares two events' JSON documents, whose field order may
// differ.
func sameEvent(t *testing.T, got, want *event.Event) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got.AppendJSON(nil), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want.AppendJSON(nil), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("event %s:\n got %v\nwant %v", want.ID, g, w)
	}
}

func TestBlockRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	mk := func(id string, dt time.Duration, fields ...string) *event.Event {
		ev := &event.Event{ID: id, Member: "m1", Time: at.Add(dt), Ingested: at.Add(time.Minute), Original: []byte("line " + id)}
		for i := 0; i+1 < len(fields); i += 2 {
			ev.Add(fields[i], fields[i+1])
		}
		return ev
	}
	img := `C:\Windows\System32\cmd.exe`
	cases := []struct {
		name string
		evs  []*event.Event
	}{
		{"one event", []*event.Event{mk("a", 0, "host.name", "WS-1")}},
		{"a value repeated from the previous event", []*event.Event{
			mk("a", 0, "event.kind", "event", "host.name", "WS-1"),
			mk("b", time.Second, "event.kind", "event", "host.name", "WS-2"),
			mk("c", 2*time.Second, "event.kind", "event", "host.name", "WS-2")}},
		{"a value another field of the event holds", []*event.Event{
			mk("a", 0, "process.executable", img, "winlog.event_data.Image", img),
			mk("b", 0, "process.executable", "x.exe", "winlog.event_data.Image", "x.exe"),
			mk("c", 0, "process.executable", "y.exe", "winlog.event_data.Image", "z.exe"),
			mk("d", 0, "winlog.event_data.Image", "y.exe")}},
		{"lists and fields in changing order", []*event.Event{
			mk("a", 0, "tags", "t1", "tags", "t1", "dns.answers.data", "1.2.3.4", "dns.answers.data", "1.2.3.4"),
			mk("b", -time.Second, "user.name", "t1", "tags", "t1", "host.name", "t1"),
			mk("c", time.Hour, "host.name", "t1", "user.name", "u", "tags", "u")}},
		{"no id, no original", []*event.Event{{Member: "m1", Time: at, Ingested: at}, {Member: "m1", Time: at, Ingested: at}}},
		{"a value holding another field's at moving places (splices)", []*event.Event{
			mk("a", 0, "process.hash.sha256", "0123456789abcdef", "winlog.event_data.Hashes", "SHA256=0123456789abcdef"),
			mk("b", 0, "process.hash.sha256", "fedcba9876543210", "winlog.event_data.Hashes", "SHA256=fedcba9876543210"),
			mk("c", 0, "process.hash.sha256", "fedcba9876543210", "winlog.event_data.Hashes", "M=00,SHA256=fedcba9876543210,I=1"),
			mk("d", 0, "process.hash.sha256", "1111222233334444", "winlog.event_data.Hashes", "1111222233334444,x"),
			mk("e", 0, "winlog.event_data.Hashes", "SHA256=1111222233334444"),
			mk("f", 0, "process.hash.sha256", "5555666677778888", "winlog.event_data.Hashes", "SHA256=0123456789abcdef"),
			mk("g", 0, "process.executable", img, "process.command_line", img+" /c whoami", "process.hash.sha256", "9999aaaabbbbcccc",
				"winlog.event_data.Hashes", "SHA256=9999aaaabbbbcccc", "winlog.event_data.CommandLine", "cmd /c "+img)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := writeBlock(t, c.evs)
			idx := make([]int, len(c.evs))
			for i := range idx {
				idx[i] = i
			}
			got, err := b.events(idx, "m1")
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.evs {
				sameEvent(t, got[i], want)
			}
		})
	}
}

func TestBlockWriterSparesRepeats(t *testing.T) {
	evs, _ := sysmonEvents(t, 1000)
	w := newBlockWriter()
	w.reset()
	for _, ev := range evs {
		w.add(ev)
	}
	// Copies of another field (pid) and constants take two bytes an
	// event: the gap and the tag.
	for _, name := range []string{"winlog.event_data.ProcessId", "winlog.event_data.CommandLine", "event.kind", "winlog.channel"} {
		if n := len(w.cols[name].buf); n > 2*len(evs)+64 {
			t.Errorf("%s: %d bytes for %d events", name, n, len(evs))
		}
	}
	// A splice: "SHA256=" and the hash in process.hash.sha256 (gap, tag,
	// 7, "SHA256=", 0).
	if n := len(w.cols["winlog.event_data.Hashes"].buf); n > 12*len(evs)+64 {
		t.Errorf("Hashes: %d bytes for %d events", n, len(evs))
	}
	// Not the command lines, of which the executable is a small part:
	// reading them would read the executables' column too.
	loaded := map[string]bool{}
	b, err := decodeBlock(w.encodeHead(nil), func(name string) ([]byte, error) { loaded[name] = true; return w.cols[name].buf, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.column("process.command_line"); err != nil || len(loaded) != 1 {
		t.Errorf("reading the command lines read %v (%v)", loaded, err)
	}
	b = writeBlock(t, evs)
	got, err := b.events([]int{0, 999}, "m1")
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range []int{0, 999} {
		sameEvent(t, got[i], evs[j])
	}
}

// v1Block encodes events in the version 1 layout (one blob; ids and
// originals in it; every value literal), as archives written before
// version 2 hold them.
func v1Block(evs []*event.Event) []byte {
	var out []byte
	out = binary.AppendUvarint(out, 1)
	out = binary.AppendUvarint(out, uint64(len(evs)))
	base := evs[0].Time.UnixNano()
	out = binary.AppendVarint(out, base)
	for _, ev := range evs {
		out = binary.AppendVarint(out, ev.Time.UnixNano()-base)
	}
	for _, ev := range evs {
		out = binary.AppendVarint(out, ev.Ingested.UnixNano()-ev.Time.UnixNano())
	}
	for _, get := range []func(*event.Event) string{
		func(ev *event.Event) string { return ev.ID }, func(ev *event.Event) string { return string(ev.Original) }} {
		for _, ev := range evs {
			out = binary.AppendUvarint(out, uint64(len(get(ev))))
		}
		for _, ev := range evs {
			out = append(out, get(ev)...)
		}
	}
	cols := map[string][]byte{}
	var names []string
	last := map[string]int{}
	for i, ev := range evs {
		ev.Fields(func(name, v string) bool {
			l, ok := last[name]
			if !ok {
				l = -1
				names = append(names, name)
			}
			cols[name] = binary.AppendUvarint(cols[name], uint64(i-l))
			cols[name] = binary.AppendUvarint(cols[name], uint64(len(v)))
			cols[name] = append(cols[name], v...)
			last[name] = i
			return true
		})
	}
	out = binary.AppendUvarint(out, uint64(len(names)))
	for _, name := range names {
		out = binary.AppendUvarint(out, uint64(len(name)))
		out = append(out, name...)
		out = binary.AppendUvarint(out, uint64(len(cols[name])))
		out = append(out, cols[name]...)
	}
	return out
}

func TestBlockReadsVersion1(t *testing.T) {
	evs := testEvents("m1", 0, 300)
	b, err := decodeBlock(v1Block(evs), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.events([]int{0, 100, 299}, "m1")
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range []int{0, 100, 299} {
		sameEvent(t, got[i], evs[j])
	}
}

// TestBlockReadsVersion2 reads a version 2 block, whose references to
// another column are tagged (k+1)<<1, as archives written before splices
// hold them: the same tag in version 3 is a splice or another column.
func TestBlockReadsVersion2(t *testing.T) {
	var head []byte
	for _, x := range []uint64{2, 2, 0, 0, 0, 0, 0, 3} { // version, n, tMin, 2 times, 2 ingested, 3 columns
		head = binary.AppendUvarint(head, x)
	}
	for _, name := range []string{"host.name", "host.hostname", "user.name"} {
		head = append(binary.AppendUvarint(head, uint64(len(name))), name...)
	}
	lit := func(b []byte, v string) []byte { return append(binary.AppendUvarint(b, uint64(len(v))<<1|1), v...) }
	cols := map[string][]byte{
		"host.name":     lit(append(lit([]byte{1}, "WS-1"), 1), "WS-2"), // gap 1, literal; gap 1, literal
		"host.hostname": {1, 1 << 1, 1, 1 << 1},                         // both events: host.name's value (k = 0)
		"user.name":     append(lit([]byte{1}, "alice"), 1, 2<<1),       // the second: host.hostname's (k = 1)
	}
	b, err := decodeBlock(head, func(name string) ([]byte, error) { return cols[name], nil })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"host.name": {"WS-1", "WS-2"}, "host.hostname": {"WS-1", "WS-2"}, "user.name": {"alice", "WS-2"}}
	for name, vals := range want {
		vs, err := b.column(name)
		if err != nil || !slices.Equal(vs.val, vals) {
			t.Errorf("%s: %q (%v), want %q", name, vs.val, err, vals)
		}
	}
}

// FuzzDecodeBlock feeds damaged heads and columns to the reader: it must
// fail cleanly, never panic or run away.
func FuzzDecodeBlock(f *testing.F) {
	evs := testEvents("m1", 0, 20)
	w := newBlockWriter()
	w.reset()
	for _, ev := range evs {
		w.add(ev)
	}
	f.Add(w.encodeHead(nil), slices.Clone(w.cols["host.name"].buf), "host.name")
	f.Add(w.encodeHead(nil), slices.Clone(w.cols["process.pid"].buf), "process.pid")
	sys, _ := sysmonEvents(f, 5)
	w.reset()
	w.addAll(sys)
	f.Add(w.encodeHead(nil), slices.Clone(w.cols["winlog.event_data.Hashes"].buf), "winlog.event_data.Hashes")
	f.Add(v1Block(evs), []byte{}, "host.name")
	f.Fuzz(func(t *testing.T, head, col []byte, name string) {
		b, err := decodeBlock(head, func(string) ([]byte, error) { return col, nil })
		if err != nil {
			return
		}
		b.column(name)
		for _, n := range b.names {
			b.column(n)
		}
		all := make([]int, b.n)
		for i := range all {
			all[i] = i
		}
		b.events(all, "m1")
	})
}

// TestWriterKeepsNoEvents checks that after a write the engine's block
// writer holds no string of the events written: its columns and
// statistics alias them, and would keep their buffers alive until the
// next write.
func TestWriterKeepsNoEvents(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t)
	evs, _ := sysmonEvents(t, 100)
	if err := e.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: evs}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range e.w.fields[:cap(e.w.fields)] {
		if f != (event.Field{}) {
			t.Fatalf("the writer keeps field %v", f)
		}
	}
	for name, c := range e.w.cols {
		if c.prev != "" || c.first != "" || c.stats.seen != ([seenSlots]string{}) || c.stats.near != ([nearSlots]string{}) {
			t.Fatalf("column %q keeps values of the events written", name)
		}
	}
}

// TestCodecCodesNumbers checks that a column of numbers without
// repetition (the process ids of a block of Sysmon events), in which
// zstd's fastest level finds no matches, has its literals entropy coded
// all the same: its ten digits take well under a byte each.
func TestCodecCodesNumbers(t *testing.T) {
	evs, _ := sysmonEvents(t, maxBlockEvents)
	w := newBlockWriter()
	w.addAll(evs)
	col := w.cols["process.pid"].buf
	c := newCodec()
	out := c.compressColumn(nil, col, "process.pid", maxBlockEvents)
	if len(out)*10 > len(col)*6 {
		t.Errorf("%d bytes of numbers compress to %d", len(col), len(out))
	}
	back, err := c.decompress(out)
	if err != nil || !bytes.Equal(back, col) {
		t.Fatalf("round trip: %v", err)
	}
}

// openEmbedded opens an embedded engine in a fresh directory, closed at
// the end of the test.
func openEmbedded(t *testing.T) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(context.Background(), filepath.Join(t.TempDir(), "archive"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// blocksAndCount returns how many blocks a query of member m1 over the
// hour from base with filter f would read, and how many events it counts.
func blocksAndCount(t *testing.T, e *Embedded, f Filter) (int, int64) {
	t.Helper()
	ctx := context.Background()
	q := Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: []Filter{f}}
	if err := q.Check(base, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	refs, err := e.candidates(ctx, &q)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.Count(ctx, &q)
	if err != nil {
		t.Fatal(err)
	}
	return len(refs), n
}

// TestCodecReadsFormerFrames checks that columns compressed as xsoc did
// before the window shrank to 64 KiB (an 8 MiB window, larger than the
// column) and before S2 (zstd for every column) still decode, and that
// the current columns round-trip: small field columns in S2, the original
// lines in zstd.
func TestCodecReadsFormerFrames(t *testing.T) {
	evs, _ := sysmonEvents(t, maxBlockEvents)
	w := newBlockWriter()
	w.addAll(evs)
	former, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(8<<20), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	c := newCodec()
	big, s2Cols := 0, 0
	for _, col := range w.order {
		if len(col.buf) > 64<<10 {
			big++
		}
		current := c.compressColumn(nil, col.buf, col.name, w.n)
		if current[0] == s2Tag {
			s2Cols++
			if !isField(col.name) {
				t.Errorf("column %q took S2", col.name)
			}
		}
		frames := map[string][]byte{"former": former.EncodeAll(col.buf, nil), "zstd": c.compress(nil, col.buf), "current": current}
		for name, frame := range frames {
			got, err := c.decompress(frame)
			if err != nil || !slices.Equal(got, col.buf) {
				t.Errorf("%s frame of column %s (%d bytes): decoded %d bytes, %v", name, col.name, len(col.buf), len(got), err)
			}
		}
	}
	if big == 0 || s2Cols == 0 {
		t.Fatalf("%d columns larger than the window, %d in S2: the test checks too little", big, s2Cols)
	}
}

// TestCodecCorruptS2 checks that a damaged S2 column is an error.
func TestCodecCorruptS2(t *testing.T) {
	c := newCodec()
	src := []byte(strings.Repeat("process.executable C:\\Windows\\System32\\svchost.exe ", 200))
	good := c.compressColumn(nil, src, "process.executable", len(src))
	if good[0] != s2Tag {
		t.Fatal("the column did not take S2")
	}
	huge := append([]byte{s2Tag}, binary.AppendUvarint(nil, 1<<40)...)
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"no body":   {s2Tag},
		"too long":  huge,
		"garbage":   append(slices.Clone(good[:3]), bytes.Repeat([]byte{0xff}, 64)...),
	} {
		if out, err := c.decompress(data); err == nil {
			t.Errorf("%s: decoded %d bytes, want an error", name, len(out))
		}
	}
}

// FuzzDecompress feeds damaged columns to the codec: it must fail
// cleanly, never panic or allocate without bound.
func FuzzDecompress(f *testing.F) {
	c := newCodec()
	src := []byte(strings.Repeat("event.kind event ", 100))
	f.Add(c.compressColumn(nil, src, "event.kind", 100))
	f.Add(c.compress(nil, src))
	f.Fuzz(func(t *testing.T, data []byte) {
		if out, err := c.decompress(data); err == nil && len(out) > maxColumnBytes {
			t.Fatalf("decoded %d bytes", len(out))
		}
	})
}
