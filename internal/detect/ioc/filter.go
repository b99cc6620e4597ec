package ioc

import "math/bits"

// filterBitsPerKey is the size of the base layer's Bloom filter: one byte
// per key, for about 3% false positives with filterProbes bits per key.
const (
	filterBitsPerKey = 8
	filterProbes     = 4
)

// filter is a blocked Bloom filter over every key of the base layer. Most
// looked-up values are not indicators; in a large index, their lookup
// would be a cache miss in a table of hundreds of megabytes. The filter is
// a few bytes per key, small enough to stay in the processor's cache, and
// answers "not indexed" for most of them. Each key sets filterProbes bits
// within one 64-byte block, so a check reads one cache line.
type filter struct {
	blocks [][8]uint64
}

// newFilter returns a filter sized for n keys.
func newFilter(n int) filter {
	if n == 0 {
		return filter{}
	}
	return filter{blocks: make([][8]uint64, (n*filterBitsPerKey+511)/512)}
}

// block returns the block of hash h, chosen by its high bits as slotIndex
// chooses a slot; the bit positions in the block come from its low 36 bits.
func (f *filter) block(h uint64) *[8]uint64 {
	i, _ := bits.Mul64(h, uint64(len(f.blocks)))
	return &f.blocks[i]
}

// add records hash h, setting the filterProbes bits mayContain tests.
func (f *filter) add(h uint64) {
	b := f.block(h)
	for j := 0; j < filterProbes; j++ {
		x := (h >> (9 * j)) & 511
		b[x>>6] |= 1 << (x & 63)
	}
}

// mayContain reports whether a key of hash h may have been added. An empty
// filter has no keys. It has no branch on the bits it reads: a branch
// would wait for the cache miss, and a mispredicted one would discard the
// lookups the processor started after it (see matcher.flush).
func (f *filter) mayContain(h uint64) bool {
	if len(f.blocks) == 0 {
		return false
	}
	b := f.block(h)
	x0, x1, x2, x3 := h&511, (h>>9)&511, (h>>18)&511, (h>>27)&511
	v := b[x0>>6] >> (x0 & 63) & (b[x1>>6] >> (x1 & 63)) & (b[x2>>6] >> (x2 & 63)) & (b[x3>>6] >> (x3 & 63))
	return v&1 != 0
}
