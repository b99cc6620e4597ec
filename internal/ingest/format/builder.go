package format

import (
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// span is a range of builder.buf: the bytes of one value or one field name.
type span struct{ lo, hi int }

func (s span) empty() bool { return s.lo >= s.hi }

// noSlot marks a pending field that is stored by name rather than by slot.
// event.Key is a uint8 and the slotted keys are far fewer than 255.
const noSlot event.Key = 255

// pending is one field to store once the record has been parsed. The field
// is a slot (key), a static name (name) or a name built in the buffer (dyn);
// its value is a static string (lit) or a span of the buffer (val).
type pending struct {
	key  event.Key
	name string
	dyn  span
	lit  string
	val  span
	add  bool // a further value of slot key (keyOnce)
}

// builder collects the fields of one record before they are stored in an
// event. Every value and every computed field name is appended to one byte
// buffer that becomes a single string when the record is complete, so a
// record costs one string allocation in all instead of one or two per field,
// and a record that fails to parse leaves the event untouched.
type builder struct {
	buf  []byte
	sets []pending
	has  [256]bool // slots already set, for first-value-wins fields

	time     time.Time // source timestamp, zero if the record has none
	timeRank int       // priority of the field time came from, when several can
	id       span      // event.id of an ECS record
	hasID    bool
}

func (b *builder) reset() {
	b.buf = b.buf[:0]
	b.sets = b.sets[:0]
	b.has = [256]bool{}
	b.time = time.Time{}
	b.timeRank = 0
	b.id = span{}
	b.hasID = false
}

// add appends v to the buffer and returns its span.
func (b *builder) add(v []byte) span {
	lo := len(b.buf)
	b.buf = append(b.buf, v...)
	return span{lo, len(b.buf)}
}

// bytes returns the bytes of sp. The result stays valid and unchanged
// while more is appended: appends never rewrite bytes already written.
func (b *builder) bytes(sp span) []byte { return b.buf[sp.lo:sp.hi] }

// mark returns the current end of the buffer, to start a value or a name
// assembled from several pieces; since closes it.
func (b *builder) mark() int { return len(b.buf) }

func (b *builder) since(lo int) span { return span{lo, len(b.buf)} }

// key sets slot k to the value at v.
func (b *builder) key(k event.Key, v span) {
	if v.empty() {
		return
	}
	b.has[k] = true
	b.sets = append(b.sets, pending{key: k, val: v})
}

// keyOnce sets slot k to the value at v, or, once it is set, adds v as
// a further value of the field (event.Event.AddKey): the elements of a
// list, the first in the slot.
func (b *builder) keyOnce(k event.Key, v span) {
	if !b.has[k] {
		b.key(k, v)
		return
	}
	if !v.empty() {
		b.sets = append(b.sets, pending{key: k, val: v, add: true})
	}
}

// keyLit sets slot k to the static value s.
func (b *builder) keyLit(k event.Key, s string) {
	if s == "" {
		return
	}
	b.has[k] = true
	b.sets = append(b.sets, pending{key: k, lit: s})
}

// named sets the field called name to the value at v.
func (b *builder) named(name string, v span) {
	if v.empty() {
		return
	}
	b.sets = append(b.sets, pending{key: noSlot, name: name, val: v})
}

// namedLit sets the field called name to the static value s.
func (b *builder) namedLit(name, s string) {
	b.sets = append(b.sets, pending{key: noSlot, name: name, lit: s})
}

// dynamic sets the field whose name is at n to the value at v.
func (b *builder) dynamic(n, v span) {
	if v.empty() || n.empty() {
		return
	}
	b.sets = append(b.sets, pending{key: noSlot, dyn: n, val: v})
}

// leafName returns the span of the field name prefix+extra+path for leaf
// l, built in the buffer once for consecutive leaves with the same path
// (the elements of an array). A record's handler uses one prefix.
func (p *Parser) leafName(prefix string, extra []byte, l leaf) span {
	if l.path == p.lastPath {
		return p.lastName
	}
	b := &p.b
	lo := len(b.buf)
	b.buf = append(b.buf, prefix...)
	b.buf = append(b.buf, extra...)
	b.buf = append(b.buf, p.paths[l.path.lo:l.path.hi]...)
	p.lastPath, p.lastName = l.path, span{lo, len(b.buf)}
	return p.lastName
}

// prefixed sets the field named prefix+path to the value at v, building the
// name in the buffer.
func (b *builder) prefixed(prefix string, path []byte, v span) {
	if v.empty() {
		return
	}
	lo := len(b.buf)
	b.buf = append(b.buf, prefix...)
	b.buf = append(b.buf, path...)
	b.sets = append(b.sets, pending{key: noSlot, dyn: span{lo, len(b.buf)}, val: v})
}

// flush stores every collected field in ev. It cannot fail: everything that
// can go wrong was checked while the record was parsed.
func (b *builder) flush(ev *event.Event) {
	s := string(b.buf) // the one allocation all values and names share
	for i := range b.sets {
		f := &b.sets[i]
		v := f.lit
		if v == "" {
			v = s[f.val.lo:f.val.hi]
		}
		switch {
		case f.key != noSlot && f.add:
			ev.AddKey(f.key, v)
		case f.key != noSlot:
			ev.SetKey(f.key, v)
		case f.name != "":
			ev.Set(f.name, v)
		default:
			// A record's own names: repeated (an array), they are a
			// list, in slotted fields too.
			ev.Add(s[f.dyn.lo:f.dyn.hi], v)
		}
	}
	if !b.time.IsZero() {
		ev.Time = b.time
	}
	if b.hasID {
		ev.ID = s[b.id.lo:b.id.hi]
	}
}

// checkpoint is the state of a builder to return to when an optional part
// of a record (CEF inside syslog) turns out malformed.
type checkpoint struct {
	buf, sets int
	has       [256]bool
	time      time.Time
	timeRank  int
}

func (b *builder) checkpoint() checkpoint {
	return checkpoint{buf: len(b.buf), sets: len(b.sets), has: b.has, time: b.time, timeRank: b.timeRank}
}

func (b *builder) rollback(c checkpoint) {
	b.buf = b.buf[:c.buf]
	b.sets = b.sets[:c.sets]
	b.has = c.has
	b.time = c.time
	b.timeRank = c.timeRank
}
