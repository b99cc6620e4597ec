package archive

import "hash/maphash"

// window remembers the ids of the last events stored, up to a bound, in
// two generations: when the current one is full it becomes the previous
// one and the oldest is forgotten. Memory stays bounded however many
// events pass. It keeps 128-bit hashes of (member, id), not the strings,
// which may alias buffers that are reused.
type window struct {
	size      int
	seeds     [2]maphash.Seed
	cur, prev map[idHash]struct{}
}

type idHash [2]uint64

// newWindow returns a window of size ids. Its current generation is
// sized up front: growing a map of half a million keys rehashes it
// several times, which the writer would pay for while loading.
func newWindow(size int) *window {
	return &window{size: size, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		cur: make(map[idHash]struct{}, size/2), prev: map[idHash]struct{}{}}
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

func (w *window) has(k idHash) bool {
	if _, ok := w.cur[k]; ok {
		return true
	}
	_, ok := w.prev[k]
	return ok
}

func (w *window) add(k idHash) {
	if len(w.cur) >= w.size/2 {
		w.prev, w.cur = w.cur, make(map[idHash]struct{}, w.size/2)
	}
	w.cur[k] = struct{}{}
}
