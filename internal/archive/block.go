package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/xsoc/xsoc/internal/event"
)

// A block holds up to maxBlockEvents events of one partition, stored
// column by column and compressed with zstd. Columns keep like values
// together (every host name, then every command line), which is what lets
// zstd find the repetition in telemetry: a 600-byte Sysmon event takes
// about a tenth of that on disk.
//
// Layout before compression (all integers are varints):
//
//	version n tBase
//	n × (time - tBase)            zigzag
//	n × (ingested - time)         zigzag
//	n × (len id)                  then the ids, concatenated
//	n × (len original)            then the originals, concatenated
//	F, then per field: len name, name, len column, column
//
// A column is a run of (event gap, len value, value): the gap is the
// event's index minus the previous entry's (0 for a second value of the
// same event, a list), the first entry counting from -1.
const blockVersion = 1

// maxBlockEvents bounds a block: large enough for zstd to see the
// repetition, small enough that a selective query decompresses little.
const maxBlockEvents = 8192

// maxKeptColumns bounds the column buffers a writer keeps between blocks.
const maxKeptColumns = 4096

// blockWriter gathers events into columns.
type blockWriter struct {
	n             int
	tMin, tMax    int64
	times, ingest []int64
	idLens, ids   []byte
	origLens      []byte
	origs         []byte
	cols          map[string]*column
	order         []*column // columns in order of first appearance
	bloom         bloomBuilder
}

type column struct {
	name string
	last int
	buf  []byte
}

func newBlockWriter() *blockWriter {
	return &blockWriter{cols: make(map[string]*column, 64)}
}

// reset empties w for the next block, keeping its buffers.
func (w *blockWriter) reset() {
	w.n, w.tMin, w.tMax = 0, 0, 0
	w.times, w.ingest = w.times[:0], w.ingest[:0]
	w.idLens, w.ids, w.origLens, w.origs = w.idLens[:0], w.ids[:0], w.origLens[:0], w.origs[:0]
	for _, c := range w.order {
		c.buf, c.last = c.buf[:0], -1
	}
	w.order = w.order[:0]
	if len(w.cols) > maxKeptColumns { // senders may invent field names without end
		w.cols = make(map[string]*column, 64)
	}
	w.bloom.reset()
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
	w.idLens = binary.AppendUvarint(w.idLens, uint64(len(ev.ID)))
	w.ids = append(w.ids, ev.ID...)
	w.origLens = binary.AppendUvarint(w.origLens, uint64(len(ev.Original)))
	w.origs = append(w.origs, ev.Original...)
	i := w.n
	ev.Fields(func(name, value string) bool {
		c := w.cols[name]
		if c == nil {
			c = &column{name: name, last: -1}
			w.cols[name] = c
		}
		if c.last == -1 && len(c.buf) == 0 {
			w.order = append(w.order, c)
		}
		c.buf = binary.AppendUvarint(c.buf, uint64(i-c.last))
		c.buf = binary.AppendUvarint(c.buf, uint64(len(value)))
		c.buf = append(c.buf, value...)
		c.last = i
		w.bloom.add(name, value)
		return true
	})
	w.n++
}

// encode appends the block's uncompressed form to dst.
func (w *blockWriter) encode(dst []byte) []byte {
	size := 32 + 2*binary.MaxVarintLen64*w.n + len(w.idLens) + len(w.ids) + len(w.origLens) + len(w.origs)
	for _, c := range w.order {
		size += 2*binary.MaxVarintLen64 + len(c.name) + len(c.buf)
	}
	dst = slices.Grow(dst, size)
	dst = binary.AppendUvarint(dst, blockVersion)
	dst = binary.AppendUvarint(dst, uint64(w.n))
	dst = binary.AppendVarint(dst, w.tMin)
	for _, t := range w.times {
		dst = binary.AppendVarint(dst, t-w.tMin)
	}
	for i, t := range w.ingest {
		dst = binary.AppendVarint(dst, t-w.times[i])
	}
	dst = append(dst, w.idLens...)
	dst = append(dst, w.ids...)
	dst = append(dst, w.origLens...)
	dst = append(dst, w.origs...)
	dst = binary.AppendUvarint(dst, uint64(len(w.order)))
	for _, c := range w.order {
		dst = binary.AppendUvarint(dst, uint64(len(c.name)))
		dst = append(dst, c.name...)
		dst = binary.AppendUvarint(dst, uint64(len(c.buf)))
		dst = append(dst, c.buf...)
	}
	return dst
}

// fieldNames returns the names of the block's columns.
func (w *blockWriter) fieldNames() []string {
	names := make([]string, len(w.order))
	for i, c := range w.order {
		names[i] = c.name
	}
	return names
}

// block is a decoded block. Its strings alias the decompressed buffer.
type block struct {
	n         int
	times     []int64
	ingested  []int64
	ids       []string
	originals []string
	cols      map[string][]byte // raw column bytes, decoded on demand
}

var errCorrupt = errors.New("archive: corrupt block")

// decodeBlock parses an uncompressed block.
func decodeBlock(data []byte) (*block, error) {
	r := reader{b: data}
	if v := r.uvarint(); v != blockVersion {
		return nil, fmt.Errorf("archive: block version %d, want %d", v, blockVersion)
	}
	n := int(r.uvarint())
	if n < 0 || n > 1<<24 {
		return nil, errCorrupt
	}
	b := &block{n: n, times: make([]int64, n), ingested: make([]int64, n), ids: make([]string, n), originals: make([]string, n)}
	base := r.varint()
	for i := range n {
		b.times[i] = base + r.varint()
	}
	for i := range n {
		b.ingested[i] = b.times[i] + r.varint()
	}
	r.strings(b.ids)
	r.strings(b.originals)
	f := int(r.uvarint())
	if r.err != nil || f < 0 || f > len(data) {
		return nil, errCorrupt
	}
	b.cols = make(map[string][]byte, f)
	for range f {
		name := r.bytes(int(r.uvarint()))
		b.cols[string(name)] = r.bytes(int(r.uvarint()))
	}
	if r.err != nil {
		return nil, r.err
	}
	return b, nil
}

// each calls fn for every value of column name: the event's index and the
// value.
func (b *block) each(name string, fn func(i int, v string)) {
	col, ok := b.cols[name]
	if !ok {
		return
	}
	r := reader{b: col}
	i := -1
	for len(r.b) > 0 && r.err == nil {
		i += int(r.uvarint())
		v := r.bytes(int(r.uvarint()))
		if r.err != nil || i >= b.n {
			return
		}
		fn(i, unsafeString(v))
	}
}

// events rebuilds the events at the given indices (ascending), reading
// each column once.
func (b *block) events(idx []int, member string) []*event.Event {
	if len(idx) == 0 {
		return nil
	}
	out := make([]*event.Event, len(idx))
	slot := make([]*event.Event, b.n)
	for j, i := range idx {
		ev := &event.Event{ID: strings.Clone(b.ids[i]), Member: member,
			Time: time.Unix(0, b.times[i]).UTC(), Ingested: time.Unix(0, b.ingested[i]).UTC(),
			Original: []byte(b.originals[i])}
		out[j], slot[i] = ev, ev
	}
	names := make([]string, 0, len(b.cols))
	for name := range b.cols {
		names = append(names, name)
	}
	slices.Sort(names) // a stable field order
	for _, name := range names {
		b.each(name, func(i int, v string) {
			if ev := slot[i]; ev != nil {
				ev.Add(name, strings.Clone(v)) // several values in a row: a list
			}
		})
	}
	return out
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
	// cores, and EncodeAll/DecodeAll on whole blocks need no stream state.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(8<<20))
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

func (c *codec) decompress(src []byte) ([]byte, error) {
	out, err := c.dec.DecodeAll(src, nil)
	if err != nil {
		return nil, fmt.Errorf("archive: decompress: %w", err)
	}
	return out, nil
}
