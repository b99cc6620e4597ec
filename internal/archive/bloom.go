package archive

import (
	"encoding/binary"
	"unsafe"

	"github.com/xsoc/xsoc/internal/event"
)

// A block's bloom filter answers "may this block hold an event with
// value V in some field (compared case-insensitively)?", so that an
// equality filter skips most blocks without decompressing them. It has a
// fixed size per event: values shared by many events (a host name) cost
// nothing extra, values unique to each event (a hash, the event id) load
// it; a fuller filter only prunes less, it never misses.
//
// Version 3 filters hash the value alone, so that a value the block
// writer stores once for several fields (process.executable and
// winlog.event_data.Image) or repeats from the previous event is hashed
// once; they end in a byte holding bloomVersion. Version 2 filters are
// laid out alike but lack a field's value the writer stored as a
// reference to the original line (a message that is the whole line), so
// they answer only for event ids, which are never such references; the
// byte marks each block, so a partition may hold both. Version 1 filters
// (no such byte) hashed field name and value (fieldHash).
const (
	bloomBitsPerEvent = 48
	bloomHashes       = 3
	bloomVersion      = 3
	// bloomVersionPartial marks the filters written before the values
	// stored as references to the original line went into them.
	bloomVersionPartial = 2
	// maxBloomValue skips long values (command lines): nobody looks for
	// them by equality, and hashing them costs time.
	maxBloomValue = 96
)

type bloomBuilder struct {
	hashes []uint64
}

func (b *bloomBuilder) reset() { b.hashes = b.hashes[:0] }

func (b *bloomBuilder) add(value string) {
	if len(value) <= maxBloomValue {
		b.hashes = append(b.hashes, valueHash(value))
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
	out := make([]byte, 8*words+1)
	for i, w := range bits {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	out[8*words] = bloomVersion
	return out
}

// bloomKey is what an equality filter looks for in a block's filter.
type bloomKey struct {
	v1, v2 uint64 // the hash for version 1 filters and for later ones
	id     bool   // an event id: version 1 filters lack it, version 2 filters hold it
}

func newBloomKey(field, value string) bloomKey {
	return bloomKey{v1: fieldHash(field, value), v2: valueHash(value), id: field == event.FieldID}
}

// mayHave reports whether filter may hold k. An empty or malformed filter
// may hold anything.
func (k bloomKey) mayHave(filter []byte) bool {
	versioned := len(filter)%8 == 1
	switch {
	case versioned && filter[len(filter)-1] == bloomVersion:
		return bloomMayHave(filter[:len(filter)-1], k.v2)
	case versioned && filter[len(filter)-1] == bloomVersionPartial:
		return !k.id || bloomMayHave(filter[:len(filter)-1], k.v2)
	case k.id:
		return true
	}
	return bloomMayHave(filter, k.v1)
}

// bloomMayHave reports whether the filter bits may hold hash h.
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

// valueHash hashes a value folded to ASCII lower case, as fieldHash does
// without the name. It must never change: filters are stored.
func valueHash(value string) uint64 {
	return mix(foldWords(14695981039346656037, value))
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// fieldHash hashes a field name and its value folded to ASCII lower case
// for version 1 filters (64-bit FNV-1a over 8-byte words, then a final mix so the bits spread
// for the double hashing). It must never change: filters are stored.
func fieldHash(name, value string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = foldWords(h, name)
	h = (h ^ 0xff) * prime
	return mix(foldWords(h, value))
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
