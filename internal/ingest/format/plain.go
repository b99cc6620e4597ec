package format

import (
	"encoding/binary"
	"math/bits"
)

// Strings are most of a JSON record's bytes, and nearly all their bytes
// need nothing but copying. PlainJSONRun and plainASCIIRun find the end of
// such a run eight bytes at a time (SWAR: bit tricks on a uint64 word)
// instead of one at a time.

// Masks of every byte of a word: 0x01, 0x80, and the bytes a string run
// stops at.
const (
	ones      = 0x0101010101010101
	highs     = 0x8080808080808080
	quotes    = '"' * ones
	backslash = '\\' * ones
	controls  = 0x20 * ones
)

// specialBytes returns a word whose lowest set high bit marks the first
// byte of w (little-endian) that is a quote, a backslash or a control
// character, or, when high is highs, a byte of 0x80 or more. Bytes above
// the first one marked may be marked wrongly (a borrow carries into
// them), so only the lowest mark counts.
func specialBytes(w, high uint64) uint64 {
	q := w ^ quotes
	s := w ^ backslash
	return ((q-ones)&^q|(s-ones)&^s|(w-controls)&^w)&highs | w&high
}

// PlainJSONRun returns the index of the first byte at or after s[i] that
// ends a run of a JSON string's verbatim bytes: a quote, a backslash or a
// control character (bytes of 0x80 and up are verbatim here), or len(s).
func PlainJSONRun(s []byte, i int) int {
	return plainRun(s, i, 0)
}

// plainASCIIRun is PlainJSONRun that stops at bytes of 0x80 and up as
// well, which the decoder checks as UTF-8.
func plainASCIIRun(s []byte, i int) int {
	return plainRun(s, i, highs)
}

func plainRun(s []byte, i int, high uint64) int {
	for ; i+8 <= len(s); i += 8 {
		if m := specialBytes(binary.LittleEndian.Uint64(s[i:]), high); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 || (high != 0 && c >= 0x80) {
			return i
		}
	}
	return i
}
