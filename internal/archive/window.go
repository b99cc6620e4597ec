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

func newWindow(size int) *window {
	return &window{size: size, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		cur: map[idHash]struct{}{}, prev: map[idHash]struct{}{}}
}

func (w *window) hash(member, id string) idHash {
	var k idHash
	for i, seed := range w.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(member)
		h.WriteByte(0)
		h.WriteString(id)
		k[i] = h.Sum64()
	}
	return k
}

func (w *window) has(member, id string) bool {
	k := w.hash(member, id)
	if _, ok := w.cur[k]; ok {
		return true
	}
	_, ok := w.prev[k]
	return ok
}

func (w *window) add(member, id string) {
	if len(w.cur) >= w.size/2 {
		w.prev, w.cur = w.cur, make(map[idHash]struct{}, w.size/2)
	}
	w.cur[w.hash(member, id)] = struct{}{}
}
