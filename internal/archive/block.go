package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/xsoc/xsoc/internal/event"
)

// A block holds up to maxBlockEvents events of one partition, column by
// column. Columns keep like values together (every host name, then every
// command line), which is what lets zstd find the repetition in
// telemetry: a 600-byte Sysmon event takes about a sixth of that on disk.
//
// Each column is compressed on its own (zstd, or S2 for short field
// columns: codec.compressColumn), and stored apart from the others
// (since version 2), so that a query reads and decompresses only the columns it
// filters on; the whole block is read only for the events it returns. The
// block's head holds the times and the column names:
//
//	version n tMin
//	n × (time - previous time)     zigzag varint, the first from tMin
//	n × (ingested - time)          zigzag
//	F, then F × (len name, name)   the columns, by index
//
// A column is a run of entries (event gap, tag, [value]): the gap is the
// event's index minus the previous entry's (0 for a second value of the
// same event, a list), the first entry counting from -1; the tag says what
// the value is:
//
//	len<<1 | 1   the value's bytes follow
//	0            the same value as the column's previous entry
//	(k+1)<<1     the same value as the first value of column k (k smaller
//	             than this column's index) for this event
//
// The last two spare the writer the bytes (and the compressor the work)
// of what telemetry repeats most: constant fields (event.kind, the
// channel) and fields a parser fills from one another (process.executable
// and winlog.event_data.Image are the same string). The event ids and the
// original lines are two more columns, colID and colOriginal.
//
// Version 3 numbers the references to other columns apart from the
// splices, which version 2 lacked:
//
//	(2k+1)<<1    the same value as the first value of column k (k smaller
//	             than this column's index) for this event
//	(2k+2)<<1,   that value with p bytes before it and s after it: a
//	p, p bytes,  field a parser took from inside another (the hash in
//	s, s bytes   Sysmon's Hashes, the executable in its command line)
//
// Version 2 blocks (tag (k+1)<<1 for a reference, no splices) and version
// 1 blocks (everything in one compressed blob, ids and originals in the
// head, every value literal) are still read.
const blockVersion = 3

// The columns every event has; their names are not valid field names.
const (
	colID       = "\x00id"
	colOriginal = "\x00original"
)

// maxBlockEvents bounds a block: large enough for zstd to see the
// repetition, small enough that a selective query decompresses little.
const maxBlockEvents = 8192

// maxKeptColumns bounds the column buffers a writer keeps between blocks.
const maxKeptColumns = 4096

// maxRefMisses bounds, per column and block, the searches for another
// column of the event holding the same value, and those for another
// column holding a value found inside it (a splice).
const maxRefMisses = 3

// minSplice is the shortest value of another column a splice refers to:
// below it, the splice's lengths take about what they save.
const minSplice = 8

// blockWriter gathers events into columns.
type blockWriter struct {
	n             int
	tMin, tMax    int64
	times, ingest []int64
	cols          map[string]*column
	order         []*column // columns by index: in order of first appearance
	id, original  *column
	first         *column       // the first field column of the last event: a guess
	touched       []*column     // columns given a value by the event being added
	fields        []event.Field // the fields of the event being added
	bloom         bloomBuilder
}

type column struct {
	name  string
	index int // in the block's order; -1 while the block has no value
	last  int // event index of the last entry; -1 for none
	buf   []byte
	bloom bool // its values go into the block's bloom filter
	// prev is the last entry's value and first the first value of event
	// last. Both alias the events of the block being written, which stay
	// untouched until it is.
	prev, first string
	ref         *column // a column whose value this one repeated lately
	misses      int     // failed searches for ref in this block
	// splice is a column whose value one of this one's held lately, at
	// byte spliceAt; spliceMisses counts failed searches for one.
	splice       *column
	spliceAt     int
	spliceMisses int
	next         *column // the column after this one in the last event: a guess that saves a map lookup
	stats        colStats
	withStats    bool // a field column: its values are summarised
}

func newBlockWriter() *blockWriter {
	w := &blockWriter{}
	w.newColumns()
	return w
}

func (w *blockWriter) newColumns() {
	w.cols = make(map[string]*column, 64)
	w.id = w.column(colID)
	w.original = w.column(colOriginal)
	w.original.bloom = false // nobody looks for a whole line by equality
	w.first = nil
}

// reset empties w for the next block, keeping its buffers.
func (w *blockWriter) reset() {
	w.n, w.tMin, w.tMax = 0, 0, 0
	w.times, w.ingest = w.times[:0], w.ingest[:0]
	for _, c := range w.order {
		c.buf, c.index, c.last = c.buf[:0], -1, -1
		c.prev, c.first, c.ref, c.misses = "", "", nil, 0
		c.splice, c.spliceAt, c.spliceMisses = nil, 0, 0
		c.stats.reset()
	}
	w.order = w.order[:0]
	w.touched = w.touched[:0]
	clear(w.fields)                   // they alias the events of the last block
	if len(w.cols) > maxKeptColumns { // senders may invent field names without end
		w.newColumns()
	}
	w.bloom.reset()
}

// column returns the column of name, creating it.
func (w *blockWriter) column(name string) *column {
	c := w.cols[name]
	if c == nil {
		c = &column{name: name, index: -1, last: -1, bloom: true, withStats: isField(name)}
		w.cols[name] = c
	}
	return c
}

// addAll appends evs in order.
func (w *blockWriter) addAll(evs []*event.Event) {
	for _, ev := range evs {
		w.add(ev)
	}
}

// add appends one event.
func (w *blockWriter) add(ev *event.Event) {
	t := ev.Time.UnixNano()
	if w.n == 0 || t < w.tMin {
		w.tMin = t
	}
	if w.n == 0 || t > w.tMax {
		w.tMax = t
	}
	w.times = append(w.times, t)
	w.ingest = append(w.ingest, ev.Ingested.UnixNano())
	i := w.n
	w.touched = w.touched[:0]
	w.put(w.id, i, ev.ID)
	w.put(w.original, i, unsafeString(ev.Original))
	var prev *column
	w.fields = ev.AppendFields(w.fields[:0])
	for _, f := range w.fields {
		// Events of one source list their fields in the same order:
		// follow the last event's chain before asking the map.
		c := w.first
		if prev != nil {
			c = prev.next
		}
		if c == nil || c.name != f.Key {
			c = w.column(f.Key)
			if prev == nil {
				w.first = c
			} else {
				prev.next = c
			}
		}
		w.put(c, i, f.Value)
		prev = c
	}
	w.n++
}

// put appends one value of event i to c.
func (w *blockWriter) put(c *column, i int, v string) {
	if c.index < 0 {
		c.index = len(w.order)
		w.order = append(w.order, c)
	}
	gap := i - c.last
	c.buf = binary.AppendUvarint(c.buf, uint64(gap))
	switch {
	case c.last >= 0 && v == c.prev: // in the statistics already
		c.buf = append(c.buf, 0)
	case gap != 0 && w.refer(c, i, v): // c.ref holds v
		r := c.ref
		if c.bloom && !r.bloom { // the original line: not in the filter
			w.bloom.add(v)
		}
		if c.withStats {
			if r.withStats {
				c.stats.addFrom(&r.stats, v)
			} else {
				c.stats.add(v)
			}
		}
	default:
		if gap == 0 || !w.spliced(c, i, v) {
			c.buf = binary.AppendUvarint(c.buf, uint64(len(v))<<1|1)
			c.buf = append(c.buf, v...)
		}
		// A value the column's statistics took already is in the bloom
		// filter already: every field column's values go into it.
		if (!c.withStats || c.stats.add(v)) && c.bloom {
			w.bloom.add(v)
		}
	}
	c.prev = v
	if gap != 0 {
		c.first = v
		w.touched = append(w.touched, c)
	}
	c.last = i
}

// refer appends a reference to another column of event i whose first value
// is v, if it finds one, and reports whether it did.
func (w *blockWriter) refer(c *column, i int, v string) bool {
	if r := c.ref; r != nil {
		if r.last == i && r.first == v {
			c.buf = binary.AppendUvarint(c.buf, uint64(2*r.index+1)<<1)
			return true
		}
		c.ref = nil
	}
	if c.misses >= maxRefMisses {
		return false
	}
	for _, r := range w.touched { // each holds a value of event i
		if r.index < c.index && r.first == v {
			c.ref = r
			c.buf = binary.AppendUvarint(c.buf, uint64(2*r.index+1)<<1)
			return true
		}
	}
	c.misses++
	return false
}

// spliced appends v as a splice of the first value of another column of
// event i found inside it, if it finds one, and reports whether it did.
// It looks where the last splice of c found its column's value, then
// (up to maxRefMisses failures a block) in every column of the event.
//
// The other value must be most of v (splicing): a reader of c decodes
// that column too, which doubles what reading c costs, for little when
// the splice spares a small part of v (an executable in its command
// line: 105 → 65 B/event before compression, 7.0 → 6.0 after, but the
// command lines a contains filter reads took 180–230 → 390–445 ns/event
// to decode: go test -bench BlockRead).
func (w *blockWriter) spliced(c *column, i int, v string) bool {
	if r := c.splice; r != nil && r.last == i && splicing(r.first, v) {
		at := c.spliceAt
		if at+len(r.first) > len(v) || v[at:at+len(r.first)] != r.first {
			at = strings.Index(v, r.first)
		}
		if at >= 0 {
			c.spliceAt = at
			w.appendSplice(c, r, v, at)
			return true
		}
	}
	if c.spliceMisses >= maxRefMisses {
		return false
	}
	for _, r := range w.touched {
		if r.index < c.index && len(r.first) >= minSplice && splicing(r.first, v) {
			if at := strings.Index(v, r.first); at >= 0 {
				c.splice, c.spliceAt = r, at
				w.appendSplice(c, r, v, at)
				return true
			}
		}
	}
	c.spliceMisses++
	return false
}

// splicing reports whether a value of another column may make up value
// v with bytes around it: it is shorter than v, but at least half of it.
func splicing(other, v string) bool { return len(other) < len(v) && 2*len(other) >= len(v) }

// appendSplice appends to c the tag and the bytes of v around the first
// value of r, found at byte at.
func (w *blockWriter) appendSplice(c, r *column, v string, at int) {
	c.buf = binary.AppendUvarint(c.buf, uint64(2*r.index+2)<<1)
	c.buf = binary.AppendUvarint(c.buf, uint64(at))
	c.buf = append(c.buf, v[:at]...)
	rest := v[at+len(r.first):]
	c.buf = binary.AppendUvarint(c.buf, uint64(len(rest)))
	c.buf = append(c.buf, rest...)
}

// encodeHead appends the block's head, uncompressed, to dst.
func (w *blockWriter) encodeHead(dst []byte) []byte {
	dst = slices.Grow(dst, 32+2*binary.MaxVarintLen64*w.n+len(w.order)*32)
	dst = binary.AppendUvarint(dst, blockVersion)
	dst = binary.AppendUvarint(dst, uint64(w.n))
	dst = binary.AppendVarint(dst, w.tMin)
	prev := w.tMin
	for _, t := range w.times {
		dst = binary.AppendVarint(dst, t-prev)
		prev = t
	}
	for i, t := range w.ingest {
		dst = binary.AppendVarint(dst, t-w.times[i])
	}
	dst = binary.AppendUvarint(dst, uint64(len(w.order)))
	for _, c := range w.order {
		dst = binary.AppendUvarint(dst, uint64(len(c.name)))
		dst = append(dst, c.name...)
	}
	return dst
}

// encodeStats appends the statistics of field column c to dst. The
// columns must be encoded in order (w.order), each once: c's statistics
// take in those of the earlier columns it refers to (colStats.merge).
func (w *blockWriter) encodeStats(c *column, dst []byte) []byte {
	c.stats.merge()
	return c.stats.encode(dst)
}

// fieldNames returns the names of the block's field columns.
func (w *blockWriter) fieldNames() []string {
	names := make([]string, 0, len(w.order))
	for _, c := range w.order {
		if isField(c.name) {
			names = append(names, c.name)
		}
	}
	return names
}

// isField tells a field column from colID and colOriginal.
func isField(name string) bool { return !strings.HasPrefix(name, "\x00") }

// block is a decoded block. Its strings alias the decompressed columns.
type block struct {
	version  int
	n        int
	times    []int64
	ingested []int64
	names    []string // the columns, by index (version 2 and later)
	// load fetches and decompresses a column of a block of version 2 or later.
	load func(name string) ([]byte, error)
	raw  map[string][]byte // columns fetched (version 1: all of them)
	cols map[string]*values
}

// values is a decoded column: its entries' event indices and values.
type values struct {
	ev    []int32
	val   []string
	first []string // per event, on demand (references)
}

var errCorrupt = errors.New("archive: corrupt block")

// decodeBlock parses a block's uncompressed head (version 2 and later) or whole
// block (version 1); load fetches a later block's columns.
func decodeBlock(data []byte, load func(name string) ([]byte, error)) (*block, error) {
	r := reader{b: data}
	v := r.uvarint()
	if v < 1 || v > blockVersion {
		return nil, fmt.Errorf("archive: block version %d, want up to %d", v, blockVersion)
	}
	n := int(r.uvarint())
	if r.err != nil || n < 0 || n > 1<<24 {
		return nil, errCorrupt
	}
	b := &block{version: int(v), n: n, times: make([]int64, n), ingested: make([]int64, n), load: load,
		raw: map[string][]byte{}, cols: map[string]*values{}}
	prev := r.varint()
	for i := range n {
		b.times[i] = prev + r.varint()
		if v > 1 {
			prev = b.times[i]
		}
	}
	for i := range n {
		b.ingested[i] = b.times[i] + r.varint()
	}
	if v == 1 {
		return b, b.decodeV1(&r, len(data))
	}
	f := int(r.uvarint())
	if r.err != nil || f < 0 || f > len(data) {
		return nil, errCorrupt
	}
	b.names = make([]string, f)
	for i := range f {
		b.names[i] = string(r.bytes(int(r.uvarint())))
	}
	if r.err != nil {
		return nil, r.err
	}
	return b, nil
}

// decodeV1 reads the rest of a version 1 block: ids, originals, columns.
func (b *block) decodeV1(r *reader, size int) error {
	for _, name := range []string{colID, colOriginal} {
		vs := &values{ev: make([]int32, b.n), val: make([]string, b.n)}
		for i := range vs.ev {
			vs.ev[i] = int32(i)
		}
		r.strings(vs.val)
		b.cols[name] = vs
	}
	f := int(r.uvarint())
	if r.err != nil || f < 0 || f > size {
		return errCorrupt
	}
	for range f {
		name := string(r.bytes(int(r.uvarint())))
		b.raw[name] = r.bytes(int(r.uvarint()))
		b.names = append(b.names, name)
	}
	return r.err
}

// column returns the values of the column name, decoding it on first use;
// a column the block lacks has none.
func (b *block) column(name string) (*values, error) {
	if vs, ok := b.cols[name]; ok {
		return vs, nil
	}
	self := slices.Index(b.names, name)
	data, ok := b.raw[name]
	if !ok && self >= 0 && b.load != nil {
		var err error
		if data, err = b.load(name); err != nil {
			return nil, err
		}
		b.raw[name] = data
	}
	vs := &values{}
	r := reader{b: data}
	i := -1
	var arena []byte // spliced values
	for len(r.b) > 0 && r.err == nil {
		gap := int(r.uvarint())
		i += gap
		if i < 0 || i >= b.n {
			return nil, errCorrupt
		}
		var v string
		tag := r.uvarint()
		switch {
		case b.version == 1:
			v = unsafeString(r.bytes(int(tag)))
		case tag&1 == 1:
			v = unsafeString(r.bytes(int(tag >> 1)))
		case tag == 0:
			if len(vs.val) == 0 {
				return nil, errCorrupt
			}
			v = vs.val[len(vs.val)-1]
		default:
			k, splice := int(tag>>1)-1, false
			if b.version > 2 {
				k, splice = int(tag>>1-1)>>1, tag>>1&1 == 0
			}
			if k >= self || gap == 0 { // only earlier columns: no cycles
				return nil, errCorrupt
			}
			src, err := b.column(b.names[k])
			if err != nil {
				return nil, err
			}
			v = src.firstOf(b.n)[i]
			if splice {
				before := r.bytes(int(r.uvarint()))
				after := r.bytes(int(r.uvarint()))
				if r.err != nil {
					return nil, r.err
				}
				arena, v = appendSplice(arena, before, v, after)
			}
		}
		vs.ev = append(vs.ev, int32(i))
		vs.val = append(vs.val, v)
	}
	if r.err != nil {
		return nil, r.err
	}
	b.cols[name] = vs
	return vs, nil
}

// appendSplice returns before+v+after, held in arena (or in a new one if
// it lacks the room), and arena with it.
func appendSplice(arena, before []byte, v string, after []byte) ([]byte, string) {
	n := len(before) + len(v) + len(after)
	if cap(arena)-len(arena) < n {
		arena = make([]byte, 0, max(n, 64<<10)) // the values before keep theirs
	}
	start := len(arena)
	arena = append(append(append(arena, before...), v...), after...)
	return arena, unsafeString(arena[start:])
}

// firstOf returns, per event of a block of n, the column's first value.
func (vs *values) firstOf(n int) []string {
	if vs.first == nil {
		vs.first = make([]string, n)
		for j := len(vs.ev) - 1; j >= 0; j-- {
			vs.first[vs.ev[j]] = vs.val[j]
		}
	}
	return vs.first
}

// each calls fn for every value of column name: the event's index and the
// value.
func (b *block) each(name string, fn func(i int, v string)) error {
	vs, err := b.column(name)
	if err != nil {
		return err
	}
	for j, i := range vs.ev {
		fn(int(i), vs.val[j])
	}
	return nil
}

// perEvent returns one value per event of a column every event has
// (colID, colOriginal).
func (b *block) perEvent(name string) ([]string, error) {
	vs, err := b.column(name)
	if err != nil {
		return nil, err
	}
	return vs.firstOf(b.n), nil
}

// fields returns the names of the block's field columns, sorted.
func (b *block) fields() []string {
	var names []string
	for _, name := range b.names {
		if isField(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names) // a stable field order
	return names
}

// events rebuilds the events at the given indices (ascending), reading
// each column once.
func (b *block) events(idx []int, member string) ([]*event.Event, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	ids, err := b.perEvent(colID)
	if err != nil {
		return nil, err
	}
	originals, err := b.perEvent(colOriginal)
	if err != nil {
		return nil, err
	}
	out := make([]*event.Event, len(idx))
	slot := make([]*event.Event, b.n)
	for j, i := range idx {
		ev := &event.Event{ID: strings.Clone(ids[i]), Member: member,
			Time: time.Unix(0, b.times[i]).UTC(), Ingested: time.Unix(0, b.ingested[i]).UTC(),
			Original: []byte(originals[i])}
		out[j], slot[i] = ev, ev
	}
	for _, name := range b.fields() {
		err := b.each(name, func(i int, v string) {
			if ev := slot[i]; ev != nil {
				ev.Add(name, strings.Clone(v)) // several values in a row: a list
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reader reads varints and slices, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// strings fills out with length-prefixed strings: all lengths first, then
// all bytes.
func (r *reader) strings(out []string) {
	lens := make([]int, len(out))
	for i := range lens {
		lens[i] = int(r.uvarint())
	}
	for i, l := range lens {
		out[i] = unsafeString(r.bytes(l))
	}
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

// codec compresses and decompresses blocks. It is safe for concurrent use.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec() *codec {
	// One goroutine per call: the archive runs beside detection on few
	// cores, and EncodeAll/DecodeAll on whole columns need no stream
	// state. No checksum: SQLite and PostgreSQL keep the bytes intact, and
	// a corrupt frame still fails to decode. A 64 KiB window: at the
	// fastest level, matches further back in a column cost more bits
	// than they save (embedded blocks of Sysmon events: 112.2 → 107.0
	// B/event against 8 MiB, at the same CPU), and decoding needs less
	// memory. Frames written with a larger window still decode. Literals
	// are entropy coded even in a block without matches (at the fastest
	// level they are not by default, and such a block is stored raw): a
	// column of numbers that do not repeat (process ids) has no match
	// but only a dozen distinct bytes, which Huffman coding stores in
	// half their size (Sysmon events: process.pid 6.8 → 3.1 B/event, the
	// block's columns 90.8 → 87.1, at the same CPU).
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(64<<10), zstd.WithEncoderCRC(false), zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		panic(err) // only on invalid options
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		panic(err)
	}
	return &codec{enc: enc, dec: dec}
}

func (c *codec) compress(dst, src []byte) []byte { return c.enc.EncodeAll(src, dst) }

// s2Tag starts a column compressed with S2 (block format) rather than
// zstd. A zstd frame always starts with its magic (0x28 first), and the
// decoder takes nothing else, so older columns never start with it.
const s2Tag = 0x00

// maxColumnBytes bounds a decompressed column, as the zstd decoder's
// memory limit does: a corrupt length must not allocate without bound.
const maxColumnBytes = 256 << 20

// compressColumn appends column name of a block of n events, compressed,
// to dst. A field column of at most s2MaxColumn bytes per event (the
// constant and short ones: event.kind, ports, user names) goes through
// S2: zstd's fixed cost per call, at its fastest level, is most of its
// work on them, and its entropy coding saves few bytes there. Long
// columns (command lines, hashes, host names), the ids and the original
// lines keep zstd, which stores them in about half what S2 takes; so does
// a column S2 cannot halve (addresses, counters), where zstd's entropy
// coding pays.
func (c *codec) compressColumn(dst, src []byte, name string, n int) []byte {
	if !isField(name) || len(src) > s2MaxColumn*n {
		return c.compress(dst, src)
	}
	dst = slices.Grow(dst, 1+s2.MaxEncodedLen(len(src))) // len(src) ≤ s2MaxColumn × maxBlockEvents
	dst = append(dst, s2Tag)
	out := s2.Encode(dst[len(dst):cap(dst)], src)
	if len(out)*2 > len(src) {
		return c.compress(dst[:len(dst)-1], src)
	}
	return dst[:len(dst)+len(out)]
}

// s2MaxColumn is the most bytes per event of a column compressColumn
// gives S2 (xsoc bench hunt: 4.37 → 3.94 µs write CPU per event, 117 →
// 116 B).
const s2MaxColumn = 16

// decompress undoes compress or compressColumn.
func (c *codec) decompress(src []byte) ([]byte, error) {
	if len(src) > 0 && src[0] == s2Tag {
		src = src[1:]
		n, err := s2.DecodedLen(src)
		if err != nil || n > maxColumnBytes {
			return nil, fmt.Errorf("archive: decompress: %w", errCorrupt)
		}
		out, err := s2.Decode(make([]byte, n), src)
		if err != nil {
			return nil, fmt.Errorf("archive: decompress: %w", err)
		}
		return out, nil
	}
	out, err := c.dec.DecodeAll(src, nil)
	if err != nil {
		return nil, fmt.Errorf("archive: decompress: %w", err)
	}
	return out, nil
}
