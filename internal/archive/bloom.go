package archive

import (
	"encoding/binary"
	"unsafe"
)

// A block's bloom filter answers "may this block hold an event whose field
// F has value V (compared case-insensitively)?", so that an equality
// filter skips most blocks without decompressing them. It has a fixed
// size per event: values shared by many events (a host name) cost nothing
// extra, values unique to each event (a hash) load it; a fuller filter
// only prunes less, it never misses.
const (
	bloomBitsPerEvent = 48
	bloomHashes       = 3
	// maxBloomValue skips long values (command lines): nobody looks for
	// them by equality, and hashing them costs time.
	maxBloomValue = 96
)

type bloomBuilder struct {
	hashes []uint64
}

func (b *bloomBuilder) reset() { b.hashes = b.hashes[:0] }

func (b *bloomBuilder) add(name, value string) {
	if len(value) <= maxBloomValue {
		b.hashes = append(b.hashes, fieldHash(name, value))
	}
}

// build returns the filter for a block of n events.
func (b *bloomBuilder) build(n int) []byte {
	words := max(1, (n*bloomBitsPerEvent+63)/64)
	bits := make([]uint64, words)
	m := uint64(words * 64)
	for _, h := range b.hashes {
		h1, h2 := h, h>>32|h<<32
		for k := range uint64(bloomHashes) {
			bit := (h1 + k*h2) % m
			bits[bit/64] |= 1 << (bit % 64)
		}
	}
	out := make([]byte, 8*words)
	for i, w := range bits {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	return out
}

// bloomMayHave reports whether filter may hold hash h. An empty or
// malformed filter may hold anything.
func bloomMayHave(filter []byte, h uint64) bool {
	if len(filter) < 8 || len(filter)%8 != 0 {
		return true
	}
	m := uint64(len(filter) * 8)
	h1, h2 := h, h>>32|h<<32
	for k := range uint64(bloomHashes) {
		bit := (h1 + k*h2) % m
		if filter[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// fieldHash hashes a field name and its value folded to ASCII lower case
// (FNV-1a, then a final mix so the bits spread for the double hashing).
func fieldHash(name, value string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for i := 0; i < len(value); i++ {
		c := value[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// unsafeString views b as a string without copying; b must not change.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
