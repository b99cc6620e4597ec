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
// (64-bit FNV-1a over 8-byte words, then a final mix so the bits spread
// for the double hashing). It must never change: filters are stored.
func fieldHash(name, value string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = foldWords(h, name)
	h = (h ^ 0xff) * prime
	h = foldWords(h, value)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// foldWords mixes s into h eight bytes at a time, ASCII upper case folded
// to lower case with word-wide bit tricks.
func foldWords(h uint64, s string) uint64 {
	const prime = 1099511628211
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64([]byte(s[:8]))
		h = (h ^ lowerWord(w)) * prime
		s = s[8:]
	}
	var tail [8]byte
	copy(tail[:], s)
	return (h ^ lowerWord(binary.LittleEndian.Uint64(tail[:])) ^ uint64(len(s))<<56) * prime
}

// lowerWord lower-cases the ASCII letters A-Z among the eight bytes of w.
func lowerWord(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	ascii := ^w & high                           // bytes below 0x80
	ge := (w | high) - ones*'A'                  // high bit set where byte >= 'A'
	le := (ones*('Z'|0x80) - (w &^ high)) & high // high bit set where byte <= 'Z'
	upper := ge & le & ascii & high
	return w | upper>>2 // 0x80 >> 2 = 0x20
}

// unsafeString views b as a string without copying; b must not change.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
