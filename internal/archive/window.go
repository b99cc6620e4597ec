package archive

import (
	"hash/maphash"
	"math/bits"
)

// window remembers the ids of the last events stored, up to a bound, in
// two generations: when the current one is full it becomes the previous
// one and the oldest is forgotten. Memory stays bounded however many
// events pass. It keeps 128-bit hashes of (member, id), not the strings,
// which may alias buffers that are reused.
//
// Each generation is an open-addressing table with linear probing, sized
// up front to twice the ids it holds: a lookup of an absent id touches
// one cache line in most cases, where a Go map of a million 16-byte keys
// costs a miss on its control word and another on its slot, and the
// writer asks about every event it stores.
type window struct {
	half      int // ids per generation
	seeds     [2]maphash.Seed
	cur, prev table
	sink      uint64 // what touch read, kept so its loads stay
}

type idHash [2]uint64

// table is a set of idHash in open addressing. The zero key marks an
// empty slot, so a key that hashes to zero is stored as {0, 1}: one more
// 128-bit collision, as likely as any other.
type table struct {
	slots []idHash // a power of two long, or nil until first used
	n     int
}

// newWindow returns a window of size ids. Its current generation is
// allocated up front (the previous one at the first turnover): growing
// a table of half a million keys while loading would rehash it.
func newWindow(size int) *window {
	w := &window{half: max(size/2, 1), seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	w.cur.slots = make([]idHash, w.slotCount())
	return w
}

// slotCount keeps the load factor at most one half, where linear
// probing averages 2.5 probes for an absent key and 1.5 for a present one.
func (w *window) slotCount() int {
	return 1 << bits.Len(uint(2*w.half-1))
}

// memberHash is the part of an id's hash its member contributes; hash
// the member once per batch, not once per event.
type memberHash [2]uint64

func (w *window) member(member string) memberHash {
	return memberHash{maphash.String(w.seeds[0], member), maphash.String(w.seeds[1], member)}
}

// hash combines the member's hash with the id's: two independent 64-bit
// hashes, so that two ids collide only with a chance of 2^-128.
func (w *window) hash(m memberHash, id string) idHash {
	return idHash{maphash.String(w.seeds[0], id) ^ m[0]*0x9e3779b97f4a7c15, maphash.String(w.seeds[1], id) ^ m[1]*0xc2b2ae3d27d4eb4f}
}

// has reports whether k was inserted and not yet forgotten.
func (w *window) has(k idHash) bool {
	k = nonZero(k)
	_, in := w.cur.find(k)
	if !in {
		_, in = w.prev.find(k)
	}
	return in
}

// insert adds k unless the window has it, and reports whether it added
// it: the check and the insertion share one probe of each generation.
func (w *window) insert(k idHash) bool {
	k = nonZero(k)
	i, in := w.cur.find(k)
	if in {
		return false
	}
	if _, in := w.prev.find(k); in {
		return false
	}
	if w.cur.n >= w.half {
		w.turn()
		i, _ = w.cur.find(k)
	}
	w.cur.slots[i] = k
	w.cur.n++
	return true
}

// touch reads k's home slots in both generations and does nothing with
// them: called a few ids ahead of insert, it makes their cache misses
// overlap with the lookups in between instead of following each other.
func (w *window) touch(k idHash) {
	x := w.cur.slots[k[0]&uint64(len(w.cur.slots)-1)][1]
	if w.prev.slots != nil {
		x ^= w.prev.slots[k[0]&uint64(len(w.prev.slots)-1)][1]
	}
	w.sink ^= x
}

// turn makes the current generation the previous one, forgetting the
// oldest, and reuses its table, cleared, as the current one.
func (w *window) turn() {
	w.prev, w.cur = w.cur, w.prev
	if w.cur.slots == nil {
		w.cur.slots = make([]idHash, w.slotCount())
	} else {
		clear(w.cur.slots)
	}
	w.cur.n = 0
}

// remove forgets k, undoing its insert when the write that would have
// stored its event failed.
func (w *window) remove(k idHash) {
	k = nonZero(k)
	if !w.cur.remove(k) {
		w.prev.remove(k)
	}
}

func nonZero(k idHash) idHash {
	if k == (idHash{}) {
		k[1] = 1
	}
	return k
}

// find returns the slot holding k, or else the empty slot where the
// probe for it ended (where to insert it).
func (t *table) find(k idHash) (int, bool) {
	if t.n == 0 {
		if t.slots == nil {
			return 0, false
		}
		return int(k[0] & uint64(len(t.slots)-1)), false
	}
	mask := uint64(len(t.slots) - 1)
	for i := k[0] & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case k:
			return int(i), true
		case idHash{}:
			return int(i), false
		}
	}
}

// remove deletes k by backward shift: each later key of the probe run
// whose home slot allows it moves into the gap, so no tombstones pile up
// and lookups stay as short as if k had never been inserted.
func (t *table) remove(k idHash) bool {
	i, in := t.find(k)
	if !in {
		return false
	}
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j] != (idHash{}); j = (j + 1) & mask {
		home := int(t.slots[j][0]) & mask
		if (j-home)&mask >= (j-i)&mask { // the gap lies on its probe path
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = idHash{}
	t.n--
	return true
}
