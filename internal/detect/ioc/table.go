package ioc

import "math/bits"

// The base layer's hash tables are flat, open-addressed with linear probing
// and immutable once built: the builder knows how many keys it will insert,
// sizes the table to at most maxLoad full, and never deletes. A slot holds
// the key and a meta reference (0 marks an empty slot), so a miss costs one
// or two cache lines and no pointer chasing. Table sizes need not be powers
// of two: a slot index is the high word of hash×size.

// maxLoadNum/maxLoadDen is the highest fill ratio a table is built with.
const (
	maxLoadNum = 7
	maxLoadDen = 10
)

// tableSize returns the slot count for n keys.
func tableSize(n int) int {
	if n == 0 {
		return 0
	}
	return n*maxLoadDen/maxLoadNum + 1
}

// slotIndex maps a hash onto [0, n).
func slotIndex(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// lineStart is a flatTable's group mask for 8-byte slots (IPv4): probes
// start at the beginning of a group of 8 slots, which is one cache line
// (large slices are page-aligned), so a lookup usually reads one line.
// Larger slots do not divide a line, and start anywhere (mask ^0).
const lineStart = ^7

// mix64 is a seeded 64-bit finaliser (the murmur3 fmix64 constants) for
// integer keys; its high bits, which slotIndex uses, depend on every key bit.
func mix64(x, seed uint64) uint64 {
	x ^= seed
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// flatSlot is one slot of a flatTable.
type flatSlot[K comparable] struct {
	key K
	ref uint32
}

// flatTable maps fixed-size keys (IPv4 as uint32, IPv6 and hashes as byte
// arrays) to meta references. The caller supplies each key's hash so that
// the table needs no per-type hash function.
type flatTable[K comparable] struct {
	slots []flatSlot[K]
	start int // mask applied to a probe's first slot
}

// newFlatTable returns a table with room for n keys whose probes start at
// slot indexes masked with start (lineStart or ^0).
func newFlatTable[K comparable](n, start int) flatTable[K] {
	return flatTable[K]{slots: make([]flatSlot[K], tableSize(n)), start: start}
}

// get returns the reference stored for k, or 0.
func (t *flatTable[K]) get(k K, h uint64) uint32 {
	n := len(t.slots)
	if n == 0 {
		return 0
	}
	for i := slotIndex(h, n) & t.start; ; {
		s := &t.slots[i]
		if s.ref == 0 {
			return 0
		}
		if s.key == k {
			return s.ref
		}
		if i++; i == n {
			i = 0
		}
	}
}

// first returns the first slot a lookup of hash h reads, or nil for an
// empty table; base.touch reads it early (see matcher.flush).
func (t *flatTable[K]) first(h uint64) *flatSlot[K] {
	if n := len(t.slots); n != 0 {
		return &t.slots[slotIndex(h, n)&t.start]
	}
	return nil
}

// insert adds a key the table does not hold yet. The builder guarantees
// uniqueness and capacity.
func (t *flatTable[K]) insert(k K, h uint64, ref uint32) {
	n := len(t.slots)
	for i := slotIndex(h, n) & t.start; ; {
		if t.slots[i].ref == 0 {
			t.slots[i] = flatSlot[K]{key: k, ref: ref}
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}

// strSlot is one slot of a strTable: where the key's bytes are in the arena,
// 16 more hash bits to skip most unequal keys without touching the arena,
// and the meta reference.
type strSlot struct {
	off uint32
	n   uint16
	tag uint16
	ref uint32
}

// strTable maps byte strings (domains, URLs, e-mail addresses) to meta
// references. Keys live back to back in one arena, so the table costs 12
// bytes per slot plus the key bytes, with no per-key allocation. Like
// flatTable, it takes each key's hash from the caller.
type strTable struct {
	slots []strSlot
	arena []byte
}

// newStrTable returns a table with room for n keys totalling size bytes.
func newStrTable(n, size int) strTable {
	return strTable{slots: make([]strSlot, tableSize(n)), arena: make([]byte, 0, size)}
}

// get returns the reference stored for k, whose hash with the table's
// seed is h, or 0.
func (t *strTable) get(k []byte, h uint64) uint32 {
	n := len(t.slots)
	if n == 0 {
		return 0
	}
	tag := uint16(h)
	for i := slotIndex(h, n); ; {
		s := &t.slots[i]
		if s.ref == 0 {
			return 0
		}
		if s.tag == tag && int(s.n) == len(k) && string(t.arena[s.off:s.off+uint32(s.n)]) == string(k) {
			return s.ref
		}
		if i++; i == n {
			i = 0
		}
	}
}

// touch reads the first slot a lookup of hash h reads.
func (t *strTable) touch(h uint64) uint32 {
	if n := len(t.slots); n != 0 {
		return t.slots[slotIndex(h, n)].ref
	}
	return 0
}

// insert adds a key the table does not hold yet. The caller has checked
// that the key is at most maxURLLen bytes and that the arena stays under
// 4 GiB.
func (t *strTable) insert(k []byte, h uint64, ref uint32) {
	s := strSlot{off: uint32(len(t.arena)), n: uint16(len(k)), tag: uint16(h), ref: ref}
	t.arena = append(t.arena, k...)
	n := len(t.slots)
	for i := slotIndex(h, n); ; {
		if t.slots[i].ref == 0 {
			t.slots[i] = s
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}

// key returns the bytes of slot s's key.
func (t *strTable) key(s strSlot) []byte {
	return t.arena[s.off : s.off+uint32(s.n)]
}
