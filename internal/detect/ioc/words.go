package ioc

import (
	"encoding/binary"
	"math/bits"
)

// Matching parses an address out of nearly every event. A byte loop
// branches on every byte; where the dots of an address fall changes from
// one address to the next, so those branches are mispredicted several
// times per address, which costs about as much as the parsing itself.
// parseIPv4 classifies eight bytes at a time in a uint64 instead, and
// branches only on the outcome.

// Byte-wise constants: each repeats one byte in every byte of a word.
const (
	bytes01 = 0x0101010101010101
	high    = 0x80 * bytes01 // the high bit of every byte
	low7    = 0x7f * bytes01
)

// classify returns, for the eight bytes of x, the high bit of each byte
// that is an ASCII digit, and of each that equals c (an ASCII byte).
// Bytes with the high bit set are neither. Adding 0x80-b to a byte below
// 0x80 sets its high bit when it is at least b, and never carries into the
// next byte.
func classify(x uint64, c byte) (digits, eq uint64) {
	y := x & low7
	valid := ^x & high
	digits = (y + (0x80-'0')*bytes01) &^ (y + (0x80-'9'-1)*bytes01) & valid
	nonzero := (y ^ uint64(c)*bytes01) + low7 // high bit set unless the byte is c
	eq = ^nonzero & valid
	return digits, eq
}

// packHigh gathers the high bits of the eight bytes of m into one byte:
// bit i for byte i. The multiplier moves bit 8i to bit 56+i; the partial
// products all fall on distinct bits, so nothing carries.
func packHigh(m uint64) uint32 {
	return uint32((m >> 7) * 0x0102040810204080 >> 56)
}

// parseIPv4 reads a dotted-quad IPv4 address exactly as netip.ParseAddr
// reads one: four decimal fields of one to three digits, each at most 255
// and without a leading zero. It reports false for anything else, which
// may still be an address of another form (IPv6, a zone) for netip to
// read.
func parseIPv4(s string) ([4]byte, bool) {
	var a [4]byte
	if len(s) < len("0.0.0.0") || len(s) > len("255.255.255.255") {
		return a, false
	}
	// Three bytes of padding in front: a field's last three bytes may
	// start before the address.
	const pad = 3
	var buf [pad + 16]byte
	copy(buf[pad:], s)
	dlo, plo := classify(binary.LittleEndian.Uint64(buf[pad:pad+8]), '.')
	dhi, phi := classify(binary.LittleEndian.Uint64(buf[pad+8:pad+16]), '.')
	digits := packHigh(dlo) | packHigh(dhi)<<8
	dots := packHigh(plo) | packHigh(phi)<<8
	if digits|dots != 1<<len(s)-1 || bits.OnesCount32(dots) != 3 {
		return a, false
	}
	bad := 0
	start := 0
	for i := range a {
		end := len(s)
		if i < 3 {
			end = bits.TrailingZeros32(dots)
			dots &= dots - 1
		}
		n := end - start // 0 between two dots
		// The field's last three bytes, as digit values; those in front
		// of a short field are dots or padding, and count for nothing.
		d0 := int(buf[pad+end-1]) - '0'
		d1 := int(buf[pad+end-2]) - '0'
		d2 := int(buf[pad+end-3]) - '0'
		v := d0 + 10*d1*b2i(n >= 2) + 100*d2*b2i(n >= 3)
		bad |= b2i(uint(n-1) >= 3) | b2i(v > 255) | b2i(n >= 2)&b2i(buf[pad+start] == '0')
		a[i] = byte(v)
		start = end + 1
	}
	return a, bad == 0
}

// b2i returns 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
