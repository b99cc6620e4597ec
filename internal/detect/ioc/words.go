package ioc

import (
	"encoding/binary"
	"math/bits"
)

// Matching parses, lowercases or decodes nearly every value an event
// carries, and a byte loop costs a dozen instructions a byte, and a
// mispredicted branch wherever the bytes vary (the dots of an address fall
// at different places in different addresses). The functions here work on
// eight bytes at a time in a uint64 instead, and branch only on the
// outcome.

// Byte-wise constants: each repeats one byte in every byte of a word.
const (
	bytes01 = 0x0101010101010101
	high    = 0x80 * bytes01 // the high bit of every byte
	low7    = 0x7f * bytes01
)

// inRange returns the high bit of every byte of x from lo to hi (ASCII
// bytes, lo ≤ hi). Adding 0x80-b to a byte below 0x80 sets its high bit
// when the byte is at least b, and never carries into the next byte;
// bytes with the high bit set are never in range.
func inRange(x uint64, lo, hi byte) uint64 {
	y := x & low7
	return (y + uint64(0x80-lo)*bytes01) &^ (y + uint64(0x80-hi-1)*bytes01) & ^x & high
}

// equal returns the high bit of every byte of x equal to the ASCII byte c.
func equal(x uint64, c byte) uint64 {
	nonzero := (x&low7 ^ uint64(c)*bytes01) + low7 // high bit set unless the byte is c
	return ^nonzero & ^x & high
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
	// The address in buf after three bytes of padding: a field's last
	// three bytes may start before the address. It gets there as two
	// words, the first eight bytes and the last eight, which overlap.
	const pad = 3
	var buf [pad + 16]byte
	var lo, hi uint64
	shift := len(s) - 8
	if shift < 0 { // seven bytes: "1.2.3.4"
		copy(buf[pad:], s)
		lo = binary.LittleEndian.Uint64(buf[pad:])
		hi, shift = lo, 0
	} else {
		lo, hi = loadWord(s[:8]), loadWord(s[shift:])
		binary.LittleEndian.PutUint64(buf[pad:], lo)
		binary.LittleEndian.PutUint64(buf[pad+shift:], hi)
	}
	// Bit i of digits and dots stands for s[i], whichever word it is in.
	digits := packHigh(inRange(lo, '0', '9')) | packHigh(inRange(hi, '0', '9'))<<shift
	dots := packHigh(equal(lo, '.')) | packHigh(equal(hi, '.'))<<shift
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

// loadWord returns the eight bytes of w (at least eight long), the first
// in the low byte. The one bounds check lets the compiler combine the
// loads into one.
func loadWord(w string) uint64 {
	_ = w[7]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// b2i returns 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lowerWords lowercases the ASCII letters of b[:n] in place and returns
// the number of dots in it. It works on whole words: b must have room for
// n rounded up to a multiple of eight, and the bytes past n may change.
func lowerWords(b []byte, n int) int {
	dots := 0
	for w := 0; w < n; w += 8 {
		word := b[w : w+8 : w+8]
		x := binary.LittleEndian.Uint64(word)
		binary.LittleEndian.PutUint64(word, x+inRange(x, 'A', 'Z')>>2) // +0x20
		d := equal(x, '.')
		if rest := n - w; rest < 8 {
			d &= 1<<(8*rest) - 1
		}
		dots += bits.OnesCount64(d)
	}
	return dots
}

// decodeHex decodes the hex string s into h and returns its length in
// bytes. It reports false for odd lengths, non-hex digits and strings longer
// than 64 digits. Unlike encoding/hex it reads a string, so matching needs no
// []byte conversion.
func decodeHex(h *[32]byte, s string) (int, bool) {
	if len(s)%2 != 0 || len(s) > 2*len(h) || s == "" {
		return 0, false
	}
	bad := uint64(0)
	i := uint(0)
	for ; i+8 <= uint(len(s)); i += 8 {
		x := loadWord(s[i : i+8])
		bad |= ^(inRange(x, '0', '9') | inRange(x|0x20*bytes01, 'a', 'f')) & high
		binary.LittleEndian.PutUint32(h[i/2:i/2+4], hexPack(x))
	}
	for ; i < uint(len(s)); i += 2 {
		hi, lo := hexValue[s[i]], hexValue[s[i+1]]
		bad |= uint64(hi | lo)
		h[i/2] = hi<<4 | lo&0xf
	}
	return len(s) / 2, bad&high == 0
}

// hexPack converts eight hex digits (the first in the low byte of x) to
// four bytes, in order in the little-endian result. A digit's value is
// its low four bits, a letter's that plus 9: letters, either case, are the
// bytes with bit 0x40 set.
func hexPack(x uint64) uint32 {
	nib := x&(0x0f*bytes01) + (x&(0x40*bytes01))>>6*9
	// Byte 2i of w: nibble 2i high, nibble 2i+1 low; then the even bytes
	// are packed together.
	w := (nib<<4 | nib>>8) & 0x00ff00ff00ff00ff
	w = (w | w>>8) & 0x0000ffff0000ffff
	return uint32(w | w>>16)
}
