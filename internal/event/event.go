// Package event defines xsoc's normalised security event: a flat set of
// ECS-style dotted fields ("source.ip", "process.command_line", ...) plus the
// raw original, the owning member and an identifier that survives replay.
//
// Field access by name is the detection hot path. The most used ECS fields
// have a fixed slot (a [Key]) so that a detector that resolved a field name
// once at compile time reads the value with an array index; every other
// field lives in a small slice that is scanned. The scan compares a dense
// array of name hashes first, and the names of well-known fields (Sysmon
// and Security EventData) are one shared copy that Set and RefOf both
// use, so finding a field by Ref seldom reads a name's bytes.
package event

import (
	"math/bits"
	"time"
)

// Field is one extra (non-slotted) field of an event. A field that holds a
// list appears once per element, in order.
type Field struct {
	Key   string
	Value string
}

// Event is one normalised event. The zero value is an empty event ready to
// be filled; Reset makes an Event reusable so that a pipeline can recycle
// them without allocating.
type Event struct {
	// ID identifies the event within its member. Replays of the same input
	// produce the same ID, and the store keeps one event per (Member, ID).
	ID string
	// Member is the ID of the member organisation that sent the event
	// (ECS observer.organization.id). Every derived object carries it.
	Member string
	// Time is when the event happened at the source (@timestamp).
	Time time.Time
	// Ingested is when xsoc accepted the event (event.ingested).
	Ingested time.Time
	// Original is the raw input line, kept verbatim (event.original).
	Original []byte

	// slotAt holds, per slot, one plus the position of its value among
	// the event's slotted values (0: the slot is empty): the first
	// inlineVals in inl, the rest in more. An event fills a dozen or two
	// of its hundred slots: its values side by side are a few cache
	// lines where an array of every slot's string was 1.5 KB, which
	// Reset, the parser and the detectors each took cache misses on,
	// event after event of a batch. They are kept in the Event itself,
	// next to slotAt, so that reading one from an event that is no
	// longer in the cache costs no extra pointer to chase.
	slotAt [numKeys]uint8
	nvals  uint8 // slotted values held
	// used has a bit per slot that may hold a value (set by Set, SetKey
	// and AddKey; a slot set to "" keeps its bit): Fields, Len and
	// AppendJSON visit the slots in Key order by it.
	used   [usedWords]uint64
	inl    [inlineVals]string
	more   []string
	extras []Field
	// tags holds, per extra field, the hash of its name (nameHash). Lookups
	// by Ref compare these dense words first and the names only on a
	// match, so a search through the extras neither reads every name's
	// bytes nor misses the cache on them.
	tags []uint32
	// index finds an extra field by name without walking the extras: an
	// open-addressing table keyed by the name's hash, holding one plus
	// the position of the name's first value (0: empty slot). A lookup of
	// a field the event lacks, the common case for a detector trying a
	// rule's candidate fields, stops at the first empty slot. unindexed
	// says the table is not used: more distinct names than it takes, or
	// positions beyond a byte. lists says some name may have several
	// values, so Each must look past the first.
	index     [indexSize]uint8
	names     uint8 // names in index
	unindexed bool
	lists     bool
	// slotLists says some slotted field has further values (Add, AddKey):
	// they are extras under the slot's name, not indexed, which Each and
	// EachMore find by walking the extras.
	slotLists bool
}

// usedWords is the size of Event.used: a bit per slot.
const usedWords = (int(numKeys) + 63) / 64

// inlineVals is how many slotted values an Event holds in itself; more
// go to Event.more. Events of the usual sources fill fewer.
const inlineVals = 32

// indexSize is the extras index's slot count, a power of two; at most
// maxIndexed names are indexed, so probes always reach an empty slot.
const (
	indexSize  = 64
	maxIndexed = indexSize * 3 / 4
)

// Reset clears e for reuse, keeping its allocated capacity. It clears
// field by field instead of assigning a fresh Event, to keep the
// capacity of the slices: a field added to Event must be cleared here
// too (TestResetClearsEverything checks that none is forgotten).
func (e *Event) Reset() {
	clear(e.inl[:min(int(e.nvals), inlineVals)])
	e.slotAt = [numKeys]uint8{}
	e.used = [usedWords]uint64{}
	e.nvals = 0
	e.more = e.more[:0]
	e.ID, e.Member = "", ""
	e.Time, e.Ingested = time.Time{}, time.Time{}
	e.Original = e.Original[:0]
	e.extras, e.tags = e.extras[:0], e.tags[:0]
	e.index = [indexSize]uint8{}
	e.names, e.unindexed, e.lists, e.slotLists = 0, false, false, false
}

// setSlot stores value in slot k and marks the slot used.
func (e *Event) setSlot(k Key, value string) {
	if p := e.slotAt[k]; p != 0 {
		*e.valAt(p) = value
		return
	}
	if e.nvals < inlineVals {
		e.inl[e.nvals] = value
	} else {
		e.more = append(e.more, value)
	}
	e.nvals++
	e.slotAt[k] = e.nvals
	e.used[k>>6] |= 1 << (k & 63)
}

// valAt returns where the slotted value at p (1 + its position) is.
func (e *Event) valAt(p uint8) *string {
	if p <= inlineVals {
		return &e.inl[p-1]
	}
	return &e.more[p-1-inlineVals]
}

// slot returns the value of slot k, "" if it has none.
func (e *Event) slot(k Key) string {
	switch p := e.slotAt[k]; {
	case p == 0:
		return ""
	case p <= inlineVals:
		return e.inl[p-1]
	default:
		return e.more[p-1-inlineVals]
	}
}

// eachSlot calls fn with every slot holding a value, in Key order, until
// fn returns false; it reports whether fn never did.
func (e *Event) eachSlot(fn func(k Key, v string) bool) bool {
	for w, word := range e.used {
		for ; word != 0; word &= word - 1 {
			k := Key(w<<6 | bits.TrailingZeros64(word))
			if v := *e.valAt(e.slotAt[k]); v != "" && !fn(k, v) {
				return false
			}
		}
	}
	return true
}

// Set stores value under the dotted field name. Empty values are ignored:
// in xsoc an absent field and an empty field are the same thing. Setting a
// slotted field twice overwrites it; setting an extra field twice appends a
// second value (a list).
func (e *Event) Set(name, value string) {
	if value == "" {
		return
	}
	e.SetRef(RefOf(name), value)
}

// SetRef is Set for a name resolved with RefOf, for a parser that stores
// the same names record after record and resolves each once.
func (e *Event) SetRef(ref Ref, value string) {
	switch {
	case value == "":
	case ref.key != noKey:
		e.setSlot(ref.key, value)
	default:
		e.setExtra(nameInfo(ref), value)
	}
}

// setExtra appends value as a field of the extra name ni.
func (e *Event) setExtra(ni nameInfo, value string) {
	if !e.unindexed {
		e.indexExtra(ni)
	}
	e.extras = append(e.extras, Field{Key: ni.name, Value: value})
	e.tags = append(e.tags, ni.hash)
}

// Add stores value as one more value of the dotted field name: a list.
// The first value of a slotted field takes the slot, and the others
// follow it in order (Lookup and Get give the first, Each every one); for
// other fields Add is Set. Empty values are ignored.
func (e *Event) Add(name, value string) {
	if value == "" {
		return
	}
	e.AddRef(RefOf(name), value)
}

// AddRef is Add for a name resolved with RefOf; see SetRef.
func (e *Event) AddRef(ref Ref, value string) {
	switch {
	case value == "":
	case ref.key != noKey:
		e.AddKey(ref.key, value)
	default:
		e.setExtra(nameInfo(ref), value)
	}
}

// AddKey stores value as one more value of a slotted field; see Add.
func (e *Event) AddKey(k Key, value string) {
	switch {
	case value == "":
	case e.slot(k) == "":
		e.setSlot(k, value)
	default:
		e.extras = append(e.extras, Field{Key: keyNames[k], Value: value})
		e.tags = append(e.tags, keyHashes[k])
		e.slotLists = true
	}
}

// SlotLists reports whether a slotted field of the event holds several
// values (see Add).
func (e *Event) SlotLists() bool { return e.slotLists }

// EachMore calls fn with the values of slotted fields past their first
// (those Add made lists of), in order, and stops when fn returns false.
// Detectors that read slots directly use it to see every value of a list.
func (e *Event) EachMore(fn func(k Key, value string) bool) {
	if !e.slotLists {
		return
	}
	for _, f := range e.extras {
		if k, ok := keyByName[f.Key]; ok && !fn(k, f.Value) {
			return
		}
	}
}

// indexExtra files the extra field about to be appended under its name,
// unless the name is filed already (the field becomes a list) or the
// index is full.
func (e *Event) indexExtra(ni nameInfo) {
	pos := len(e.extras)
	i := ni.hash & (indexSize - 1)
	for ; e.index[i] != 0; i = (i + 1) & (indexSize - 1) {
		if p := e.index[i] - 1; e.tags[p] == ni.hash && e.extras[p].Key == ni.name {
			e.lists = true
			return
		}
	}
	if pos >= 255 || e.names == maxIndexed {
		// Lookups walk the extras from now on; telling lists apart
		// would cost a walk per Set, so Each assumes there are some.
		e.unindexed, e.lists = true, true
		return
	}
	e.index[i] = uint8(pos + 1)
	e.names++
}

// find returns the position of the first extra field named name (whose
// hash is h), or -1.
func (e *Event) find(h uint32, name string) int {
	if !e.unindexed {
		for i := h & (indexSize - 1); e.index[i] != 0; i = (i + 1) & (indexSize - 1) {
			if p := int(e.index[i]) - 1; e.tags[p] == h && e.extras[p].Key == name {
				return p
			}
		}
		return -1
	}
	for i, t := range e.tags {
		if t == h && e.extras[i].Key == name {
			return i
		}
	}
	return -1
}

// SetKey stores value in a slotted field. It is the fast form of Set for
// parsers that know the field at compile time.
func (e *Event) SetKey(k Key, value string) {
	e.setSlot(k, value)
}

// Key returns the value of a slotted field, or "" if it is absent.
func (e *Event) Key(k Key) string {
	return e.slot(k)
}

// Get returns the first value of the dotted field name.
func (e *Event) Get(name string) (string, bool) {
	if k, ok := keyByName[name]; ok {
		v := e.slot(k)
		return v, v != ""
	}
	for i := range e.extras {
		if e.extras[i].Key == name {
			return e.extras[i].Value, true
		}
	}
	return "", false
}

// Lookup returns the first value of the field that ref names. It is the
// form detectors use on the hot path: ref was resolved once, up front.
func (e *Event) Lookup(ref Ref) (string, bool) {
	if ref.key != noKey {
		v := e.slot(ref.key)
		return v, v != ""
	}
	if p := e.find(ref.hash, ref.name); p >= 0 {
		return e.extras[p].Value, true
	}
	return "", false
}

// Each calls fn for every value of the field that ref names, in order, and
// stops early when fn returns false.
func (e *Event) Each(ref Ref, fn func(string) bool) {
	if ref.key != noKey {
		v := e.slot(ref.key)
		if v == "" || !fn(v) || !e.slotLists {
			return
		}
		h, name := keyHashes[ref.key], keyNames[ref.key]
		for i := range e.tags {
			if e.tags[i] == h && e.extras[i].Key == name && !fn(e.extras[i].Value) {
				return
			}
		}
		return
	}
	p := e.find(ref.hash, ref.name)
	if p < 0 || !fn(e.extras[p].Value) || !e.lists {
		return
	}
	for i := p + 1; i < len(e.tags); i++ {
		if e.tags[i] == ref.hash && e.extras[i].Key == ref.name && !fn(e.extras[i].Value) {
			return
		}
	}
}

// The two Prefetch methods read the memory that field lookups are about
// to use, so that a detector working through a batch of events can have
// the cache misses of several events in flight at once instead of taking
// them one after the other, event by event. A read whose result nothing
// waits for lets the processor go on; many such reads issued together
// cost about one trip to memory. They return a value computed from what
// they read, which the caller must keep (add it up and store it), or the
// compiler may drop the reads. PrefetchFields reads the field table
// (slots, names, extras index); PrefetchValues reads the values' bytes, a
// cache line apart, and should run after PrefetchFields of every event of
// the batch, when the table is on its way; PrefetchValue does so for one
// field.
func (e *Event) PrefetchFields() uint64 {
	var sum uint64
	for k := 0; k < int(numKeys); k += cacheLine {
		sum += uint64(e.slotAt[k])
	}
	for i := 0; i < int(e.nvals); i += lineStrings {
		sum += uint64(len(*e.valAt(uint8(i + 1))))
	}
	for i := 0; i < len(e.extras); i += lineFields {
		sum += uint64(len(e.extras[i].Key))
	}
	for i := 0; i < len(e.tags); i += lineTags {
		sum += uint64(e.tags[i])
	}
	return sum + uint64(e.index[0])
}

// PrefetchValue reads the bytes of the first value of the field ref
// names; see PrefetchFields.
func (e *Event) PrefetchValue(ref Ref) uint64 {
	if ref.key != noKey {
		return touchString(e.slot(ref.key))
	}
	if p := e.find(ref.hash, ref.name); p >= 0 {
		return touchString(e.extras[p].Value)
	}
	return 0
}

// PrefetchValues reads the bytes of every value; see PrefetchFields.
func (e *Event) PrefetchValues() uint64 {
	var sum uint64
	for p := 1; p <= int(e.nvals); p++ {
		sum += touchString(*e.valAt(uint8(p)))
	}
	for i := range e.extras {
		sum += touchString(e.extras[i].Value)
	}
	return sum
}

// touchString reads one byte per cache line of v.
func touchString(v string) uint64 {
	var sum uint64
	for i := 0; i < len(v); i += cacheLine {
		sum += uint64(v[i])
	}
	return sum
}

// Cache geometry for the Prefetch methods: a 64-byte line holds four
// string headers, two Fields and sixteen tags.
const (
	cacheLine   = 64
	lineStrings = cacheLine / 16
	lineFields  = cacheLine / 32
	lineTags    = cacheLine / 4
)

// Fields calls fn for every field of the event, slotted fields first in
// Key order, then extras in insertion order. It stops when fn returns false.
// @timestamp, event.id, event.ingested and observer.organization.id are not
// fields: read them from the struct.
func (e *Event) Fields(fn func(name, value string) bool) {
	if !e.eachSlot(func(k Key, v string) bool { return fn(keyNames[k], v) }) {
		return
	}
	for _, f := range e.extras {
		if !fn(f.Key, f.Value) {
			return
		}
	}
}

// Len reports the number of field values the event holds.
func (e *Event) Len() int {
	n := len(e.extras)
	e.eachSlot(func(Key, string) bool { n++; return true })
	return n
}

// Ref is a resolved field name: a slot for the common ECS fields, the name
// itself for the rest. Resolve names once (when a rule is compiled) and use
// Event.Lookup per event.
type Ref struct {
	key  Key
	hash uint32 // nameHash(name), for extra fields
	name string
}

// RefOf resolves a dotted field name.
func RefOf(name string) Ref {
	return Ref(resolve(name))
}

// nameHash is the 32-bit FNV-1a hash of an extra field's name. Equal
// names have equal hashes; a collision only costs a name comparison.
func nameHash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return h
}

// Name returns the dotted field name ref stands for.
func (r Ref) Name() string { return r.name }
