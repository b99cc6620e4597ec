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

	slots  [numKeys]string
	extras []Field
	// tags holds, per extra field, the hash of its name (nameHash). Lookups
	// by Ref compare these dense words first and the names only on a
	// match, so a search through the extras neither reads every name's
	// bytes nor misses the cache on them.
	tags []uint32
}

// Reset clears e for reuse, keeping its allocated capacity.
func (e *Event) Reset() {
	*e = Event{extras: e.extras[:0], tags: e.tags[:0], Original: e.Original[:0]}
}

// Set stores value under the dotted field name. Empty values are ignored:
// in xsoc an absent field and an empty field are the same thing. Setting a
// slotted field twice overwrites it; setting an extra field twice appends a
// second value (a list).
func (e *Event) Set(name, value string) {
	if value == "" {
		return
	}
	ni := resolve(name)
	if ni.key != noKey {
		e.slots[ni.key] = value
		return
	}
	e.extras = append(e.extras, Field{Key: ni.name, Value: value})
	e.tags = append(e.tags, ni.hash)
}

// SetKey stores value in a slotted field. It is the fast form of Set for
// parsers that know the field at compile time.
func (e *Event) SetKey(k Key, value string) {
	e.slots[k] = value
}

// Key returns the value of a slotted field, or "" if it is absent.
func (e *Event) Key(k Key) string {
	return e.slots[k]
}

// Get returns the first value of the dotted field name.
func (e *Event) Get(name string) (string, bool) {
	if k, ok := keyByName[name]; ok {
		v := e.slots[k]
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
		v := e.slots[ref.key]
		return v, v != ""
	}
	for i, t := range e.tags {
		if t == ref.hash && e.extras[i].Key == ref.name {
			return e.extras[i].Value, true
		}
	}
	return "", false
}

// Each calls fn for every value of the field that ref names, in order, and
// stops early when fn returns false.
func (e *Event) Each(ref Ref, fn func(string) bool) {
	if ref.key != noKey {
		if v := e.slots[ref.key]; v != "" {
			fn(v)
		}
		return
	}
	for i, t := range e.tags {
		if t == ref.hash && e.extras[i].Key == ref.name && !fn(e.extras[i].Value) {
			return
		}
	}
}

// Fields calls fn for every field of the event, slotted fields first in
// Key order, then extras in insertion order. It stops when fn returns false.
// @timestamp, event.id, event.ingested and observer.organization.id are not
// fields: read them from the struct.
func (e *Event) Fields(fn func(name, value string) bool) {
	for k := Key(0); k < numKeys; k++ {
		if v := e.slots[k]; v != "" && !fn(keyNames[k], v) {
			return
		}
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
	for k := Key(0); k < numKeys; k++ {
		if e.slots[k] != "" {
			n++
		}
	}
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
