package format

import (
	"time"
	"unsafe"

	"github.com/xsoc/xsoc/internal/event"
)

// span is a range of builder.buf, the bytes of one value, or of
// builder.names, the bytes of one field name.
type span struct{ lo, hi int }

func (s span) empty() bool { return s.lo >= s.hi }

// noSlot marks a pending field that is stored by name rather than by slot.
// event.Key is a uint8 and the slotted keys are far fewer than 255.
const noSlot event.Key = 255

// pending is one field to store once the record has been parsed. The field
// is a slot (key), a static name (name) or a name built in names (dyn);
// its value is a static string (lit) or a span of the buffer (val). Static
// strings are held in builder.strs and named here by 1 + their index, so
// that a pending holds no pointer: appending one then needs no GC write
// barrier, which, with a collection running, cost more than the append.
type pending struct {
	key  event.Key
	add  bool  // a further value of slot key (keyOnce)
	name int32 // 1 + index in strs of a static name, or 0
	lit  int32 // 1 + index in strs of a static value, or 0
	dyn  span
	val  span
}

// builder collects the fields of one record before they are stored in an
// event. Every value is appended to one byte buffer that becomes a single
// string when the record is complete, so a record costs no allocation of
// its own (the string is a piece of a chunk several records share; see
// chunkSize), and a record that fails to parse leaves the event untouched.
type builder struct {
	buf  []byte
	sets []pending
	strs []string // the static names and values of sets
	// names holds the field names built for the record. They are kept
	// apart from the values: resolved, a name is the event package's
	// copy of a known name or the one the parser keeps (see refBytes),
	// never a piece of the record's string, which is then that much
	// shorter.
	names []byte
	// refs holds the field names of the sets that have one, in order,
	// resolved (see ref).
	refs []namedRef
	// seen resolves the built names met before, so that a record's
	// names cost no allocation when the last record's differ (see
	// refBytes). It is emptied when it reaches maxSeen names.
	seen map[string]event.Ref
	has  [256]bool // slots already set, for first-value-wins fields

	time     time.Time // source timestamp, zero if the record has none
	timeRank int       // priority of the field time came from, when several can
	id       span      // event.id of an ECS record
	hasID    bool
}

func (b *builder) reset(record int) {
	if cap(b.buf)-len(b.buf) < record+chunkSlack {
		b.buf = make([]byte, 0, max(chunkSize, 2*record+chunkSlack))
	}
	b.buf = b.buf[:0]
	b.sets = b.sets[:0]
	b.strs = b.strs[:0]
	b.names = b.names[:0]
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

// extend adds a zero element to *s and returns it, for the caller to fill
// in place. Appending a composite literal instead built it on the stack in
// overlapping 16-byte stores, then read it back to copy it: the reads
// waited for the stores to retire (no store-to-load forwarding across
// them), which made the thirty pending sets of a Windows record a sixth
// of its mapping.
func extend[T any](s *[]T) *T {
	n := len(*s)
	if n == cap(*s) {
		var zero T
		*s = append(*s, zero)
	} else {
		*s = (*s)[:n+1]
	}
	e := &(*s)[n]
	var zero T
	*e = zero // the element may hold an earlier record's
	return e
}

// push adds a pending set for slot k (noSlot for a named field), zero but
// for its key, and returns it to be filled in place; see extend.
func (b *builder) push(k event.Key) *pending {
	f := extend(&b.sets)
	f.key = k
	return f
}

// key sets slot k to the value at v.
func (b *builder) key(k event.Key, v span) {
	if v.empty() {
		return
	}
	b.has[k] = true
	b.push(k).val = v
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
		f := b.push(k)
		f.val, f.add = v, true
	}
}

// keyLit sets slot k to the static value s.
func (b *builder) keyLit(k event.Key, s string) {
	if s == "" {
		return
	}
	b.has[k] = true
	lit := b.str(s)
	b.push(k).lit = lit
}

// str files the static string s in strs and returns what a pending
// names it by.
func (b *builder) str(s string) int32 {
	b.strs = append(b.strs, s)
	return int32(len(b.strs))
}

// named sets the field called name to the value at v.
func (b *builder) named(name string, v span) {
	if v.empty() {
		return
	}
	name32 := b.str(name)
	f := b.push(noSlot)
	f.name, f.val = name32, v
}

// namedLit sets the field called name to the static value s.
func (b *builder) namedLit(name, s string) {
	name32, lit := b.str(name), b.str(s)
	f := b.push(noSlot)
	f.name, f.lit = name32, lit
}

// dynamic sets the field whose name is at n to the value at v.
func (b *builder) dynamic(n, v span) {
	if v.empty() || n.empty() {
		return
	}
	f := b.push(noSlot)
	f.dyn, f.val = n, v
}

// leafName returns the span of the field name prefix+extra+path for leaf
// l, built in the buffer once for consecutive leaves with the same path
// (the elements of an array). A record's handler uses one prefix.
func (p *Parser) leafName(prefix string, extra []byte, l leaf) span {
	if l.path == p.lastPath {
		return p.lastName
	}
	b := &p.b
	lo := len(b.names)
	b.names = append(b.names, prefix...)
	b.names = append(b.names, extra...)
	b.names = append(b.names, p.paths[l.path.lo:l.path.hi]...)
	p.lastPath, p.lastName = l.path, span{lo, len(b.names)}
	return p.lastName
}

// addName appends the field name n to names and returns its span.
func (b *builder) addName(n []byte) span {
	return b.joinName("", n)
}

// joinName appends the field name prefix+n to names and returns its span.
func (b *builder) joinName(prefix string, n []byte) span {
	lo := len(b.names)
	b.names = append(b.names, prefix...)
	b.names = append(b.names, n...)
	return span{lo, len(b.names)}
}

// prefixed sets the field named prefix+path to the value at v, building the
// name in the buffer.
func (b *builder) prefixed(prefix string, path []byte, v span) {
	if v.empty() {
		return
	}
	n := b.joinName(prefix, path)
	f := b.push(noSlot)
	f.dyn, f.val = n, v
}

// The values of a record are a string in a chunk that the builder shares
// out among records: one allocation for a dozen records of the usual
// size instead of one per record. flush hands out the bytes of the
// record as a string and moves the start of buf past them, so they are
// never written again (appends write beyond len(buf); truncations stay
// above its start). A chunk lives as long as any string in it: a value
// that a detector keeps holds the chunk, a few records' worth, which is
// why chunks are kept small.
const (
	chunkSize  = 8 << 10
	chunkSlack = 256 // room for the values a record derives (pids, URLs, ...)
)

// flush stores every collected field in ev. It cannot fail: everything that
// can go wrong was checked while the record was parsed.
func (b *builder) flush(ev *event.Event) {
	// The string all the record's values share, in the chunk; see
	// chunkSize for why its bytes do not change.
	s := unsafe.String(unsafe.SliceData(b.buf), len(b.buf))
	b.buf = b.buf[len(b.buf):]
	names := 0
	for i := range b.sets {
		f := &b.sets[i]
		var v string
		if f.lit != 0 {
			v = b.strs[f.lit-1]
		} else {
			v = s[f.val.lo:f.val.hi]
		}
		switch {
		case f.key != noSlot && f.add:
			ev.AddKey(f.key, v)
		case f.key != noSlot:
			ev.SetKey(f.key, v)
		case f.name != 0:
			ev.SetRef(b.ref(names, b.strs[f.name-1]), v)
			names++
		default:
			// A record's own names: repeated (an array), they are a
			// list, in slotted fields too.
			ev.AddRef(b.refBytes(names, b.names[f.dyn.lo:f.dyn.hi]), v)
			names++
		}
	}
	if !b.time.IsZero() {
		ev.Time = b.time
	}
	if b.hasID {
		ev.ID = s[b.id.lo:b.id.hi]
	}
}

// namedRef is a field name and what it resolves to.
type namedRef struct {
	name string
	ref  event.Ref
}

// ref resolves name, the n-th field name of the record (counting those
// the builder stores by name), from n = 0 up. The records of one source
// mostly have the same names in the same order, so the name the previous
// record had at n is compared first: equal bytes cost less than hashing
// the name to look it up.
func (b *builder) ref(n int, name string) event.Ref {
	if n < len(b.refs) && b.refs[n].name == name {
		return b.refs[n].ref
	}
	return b.remember(n, event.RefOf(name))
}

// maxSeen bounds builder.seen: names are few per source, but a record
// may make up its own.
const maxSeen = 4096

// refBytes is ref for a name built in names. A name met before resolves
// without allocating: from the previous record, or from seen. A new one
// is copied to a string once.
func (b *builder) refBytes(n int, name []byte) event.Ref {
	if n < len(b.refs) && b.refs[n].name == string(name) {
		return b.refs[n].ref
	}
	ref, ok := b.seen[string(name)]
	if !ok {
		ref = event.RefOf(string(name))
		if b.seen == nil || len(b.seen) >= maxSeen {
			b.seen = make(map[string]event.Ref)
		}
		b.seen[ref.Name()] = ref
	}
	return b.remember(n, ref)
}

// remember records ref as the resolution of the record's n-th name.
func (b *builder) remember(n int, ref event.Ref) event.Ref {
	r := namedRef{name: ref.Name(), ref: ref}
	if n < len(b.refs) {
		b.refs[n] = r
	} else {
		b.refs = append(b.refs, r)
	}
	return ref
}

// checkpoint is the state of a builder to return to when an optional part
// of a record (CEF inside syslog) turns out malformed.
type checkpoint struct {
	buf, sets, strs, names int
	has                    [256]bool
	time                   time.Time
	timeRank               int
}

func (b *builder) checkpoint() checkpoint {
	return checkpoint{buf: len(b.buf), sets: len(b.sets), strs: len(b.strs), names: len(b.names), has: b.has, time: b.time, timeRank: b.timeRank}
}

func (b *builder) rollback(c checkpoint) {
	b.buf = b.buf[:c.buf]
	b.sets = b.sets[:c.sets]
	b.strs = b.strs[:c.strs]
	b.names = b.names[:c.names]
	b.has = c.has
	b.time = c.time
	b.timeRank = c.timeRank
}
