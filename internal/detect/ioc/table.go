package ioc

import (
	"hash/maphash"
	"math/bits"
)

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
}

// newFlatTable returns a table with room for n keys.
func newFlatTable[K comparable](n int) flatTable[K] {
	return flatTable[K]{slots: make([]flatSlot[K], tableSize(n))}
}

// get returns the reference stored for k, or 0.
func (t *flatTable[K]) get(k K, h uint64) uint32 {
	n := len(t.slots)
	if n == 0 {
		return 0
	}
	for i := slotIndex(h, n); ; {
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

// insert adds a key the table does not hold yet. The builder guarantees
// uniqueness and capacity.
func (t *flatTable[K]) insert(k K, h uint64, ref uint32) {
	n := len(t.slots)
	for i := slotIndex(h, n); ; {
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
// bytes per slot plus the key bytes, with no per-key allocation.
type strTable struct {
	seed  maphash.Seed
	slots []strSlot
	arena []byte
}

// newStrTable returns a table with room for n keys totalling size bytes.
func newStrTable(seed maphash.Seed, n, size int) strTable {
	return strTable{seed: seed, slots: make([]strSlot, tableSize(n)), arena: make([]byte, 0, size)}
}

// get returns the reference stored for k, or 0.
func (t *strTable) get(k []byte) uint32 {
	n := len(t.slots)
	if n == 0 {
		return 0
	}
	h := maphash.Bytes(t.seed, k)
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

// insert adds a key the table does not hold yet. The caller has checked
// that the key is at most maxURLLen bytes and that the arena stays under
// 4 GiB.
func (t *strTable) insert(k []byte, ref uint32) {
	h := maphash.Bytes(t.seed, k)
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
