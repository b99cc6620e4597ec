package archive

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
)

// A block's column statistics summarise each field column's values, so
// that filters a bloom filter cannot answer skip blocks without reading
// them: the least and greatest number among the values (range filters),
// the least and greatest IPv4 and IPv6 address (CIDR filters), and the
// set of the values' trigrams (contains and prefix filters). They are
// exact in what they exclude: a block is skipped only when none of the
// column's values can match.
//
// They are stored apart from the blocks, one row per (column, block), so
// that a query reads the statistics of the fields it filters on only;
// a marker row (the empty name) says that a block has them at all, so
// that a missing row means "no such column" and not "an older block".
//
// Encoding (statsVersion 1):
//
//	version flags
//	[min max]          float64 bits, little endian      flags&statsNum
//	[min max]          4 bytes each, big endian          flags&statsV4
//	[min max]          16 bytes each                     flags&statsV6
//	[k, k × delta]     the trigram buckets set, ascending flags&statsGramList
//	[bitset]           gramBuckets/8 bytes                flags&statsGramBits
//
// Without a trigram set (none of the two flags) the column's text may
// hold anything.
const statsVersion = 1

const (
	statsNum = 1 << iota
	statsV4
	statsV6
	statsGramList
	statsGramBits
)

// gramBuckets is the size of a trigram set: each trigram (ASCII folded to
// lower case) hashes to one of them. It must never change: sets are
// stored.
const gramBuckets = 1 << 16

// maxGramFill drops a trigram set with more buckets set than this: it
// would exclude little and cost its bytes on every block.
const maxGramFill = gramBuckets / 4

// colStats gathers one column's statistics while a block is written.
type colStats struct {
	flags          int
	numMin, numMax float64
	v4Min, v4Max   netip.Addr
	v6Min, v6Max   netip.Addr
	grams          *gramSet // nil until the column has text of 3 bytes or more
	// gramsUnknown: the trigram set was dropped (too full), so the
	// column's text may hold anything.
	gramsUnknown bool
}

type gramSet [gramBuckets / 64]uint64

func (s *colStats) reset() {
	s.flags = 0
	s.gramsUnknown = false
	if s.grams != nil {
		clear(s.grams[:])
	}
}

// add takes one value of the column into the statistics.
func (s *colStats) add(v string) {
	if len(v) == 0 {
		return
	}
	if n, ok := number(v); ok {
		s.addNumber(n)
	} else if isHex(v[0]) || v[0] == ':' {
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			s.addAddr(a.Unmap())
		}
	}
	if len(v) >= 3 {
		if s.grams == nil {
			s.grams = new(gramSet)
		}
		s.grams.add(v)
	}
}

func (s *colStats) addNumber(n float64) {
	if s.flags&statsNum == 0 {
		s.numMin, s.numMax = n, n
		s.flags |= statsNum
		return
	}
	s.numMin, s.numMax = min(s.numMin, n), max(s.numMax, n)
}

func (s *colStats) addAddr(a netip.Addr) {
	flag, lo, hi := statsV6, &s.v6Min, &s.v6Max
	if a.Is4() {
		flag, lo, hi = statsV4, &s.v4Min, &s.v4Max
	}
	if s.flags&flag == 0 {
		*lo, *hi = a, a
		s.flags |= flag
		return
	}
	if a.Less(*lo) {
		*lo = a
	}
	if hi.Less(a) {
		*hi = a
	}
}

// number parses v as a filter does (strconv.ParseFloat), skipping the
// parse for values that cannot be numbers and taking plain integers
// without it.
func number(v string) (float64, bool) {
	c := v[0]
	if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'i' || c == 'I' || c == 'n' || c == 'N') {
		return 0, false
	}
	if len(v) <= 15 { // below 2^53: exact as a float64
		var n int64
		neg := c == '-'
		digits := v
		if neg {
			digits = v[1:]
		}
		plain := len(digits) > 0
		for i := 0; i < len(digits) && plain; i++ {
			d := digits[i] - '0'
			plain = d <= 9
			n = n*10 + int64(d)
		}
		if plain {
			if neg {
				return -float64(n), true
			}
			return float64(n), true
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) { // NaN matches no range
		return 0, false
	}
	return n, true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }

// add sets the buckets of v's trigrams.
func (g *gramSet) add(v string) {
	x := uint32(foldByte(v[0]))<<8 | uint32(foldByte(v[1]))
	for i := 2; i < len(v); i++ {
		x = x<<8 | uint32(foldByte(v[i]))
		b := gramBucket(x)
		g[b/64] |= 1 << (b % 64)
	}
}

// has reports whether every trigram of v may be in the set.
func (g *gramSet) has(v string) bool {
	x := uint32(foldByte(v[0]))<<8 | uint32(foldByte(v[1]))
	for i := 2; i < len(v); i++ {
		x = x<<8 | uint32(foldByte(v[i]))
		b := gramBucket(x)
		if g[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// gramBucket hashes the trigram in x's low 24 bits (multiplicative
// hashing: the product's top 16 bits). It must never change.
func gramBucket(x uint32) uint32 { return (x & 0xffffff) * 0x9e3779b1 >> 16 }

// foldByte lower-cases an ASCII letter; other bytes stay as they are.
func foldByte(c byte) byte {
	if c-'A' < 26 {
		c += 'a' - 'A'
	}
	return c
}

func (g *gramSet) count() int {
	n := 0
	for _, w := range g {
		n += bits.OnesCount64(w)
	}
	return n
}

// encode appends the statistics to dst.
func (s *colStats) encode(dst []byte) []byte {
	flags := s.flags
	fill := 0
	if s.grams != nil {
		fill = s.grams.count()
	}
	switch {
	case s.gramsUnknown || fill > maxGramFill:
	case s.grams == nil:
		flags |= statsGramList // an empty set: no trigram at all
	case fill*2 < len(s.grams)*8: // a list of deltas, mostly a byte each, is smaller
		flags |= statsGramList
	default:
		flags |= statsGramBits
	}
	dst = append(dst, statsVersion)
	dst = binary.AppendUvarint(dst, uint64(flags))
	if flags&statsNum != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.numMin))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.numMax))
	}
	for _, a := range []struct {
		flag   int
		lo, hi netip.Addr
	}{{statsV4, s.v4Min, s.v4Max}, {statsV6, s.v6Min, s.v6Max}} {
		if flags&a.flag != 0 {
			dst = append(dst, a.lo.AsSlice()...)
			dst = append(dst, a.hi.AsSlice()...)
		}
	}
	switch {
	case flags&statsGramList != 0:
		dst = binary.AppendUvarint(dst, uint64(fill))
		prev := -1
		if s.grams != nil {
			for i, w := range s.grams {
				for ; w != 0; w &= w - 1 {
					b := i*64 + bits.TrailingZeros64(w)
					dst = binary.AppendUvarint(dst, uint64(b-prev))
					prev = b
				}
			}
		}
	case flags&statsGramBits != 0:
		for _, w := range s.grams {
			dst = binary.LittleEndian.AppendUint64(dst, w)
		}
	}
	return dst
}

var errBadStats = errors.New("archive: corrupt column statistics")

// decodeStats parses encoded statistics into s, reusing its trigram set.
func decodeStats(data []byte, s *colStats) error {
	r := reader{b: data}
	if len(r.b) == 0 || r.b[0] != statsVersion {
		return errBadStats
	}
	r.b = r.b[1:]
	flags := r.uvarint()
	if r.err != nil || flags >= statsGramBits<<1 || flags&statsGramList != 0 && flags&statsGramBits != 0 {
		return errBadStats
	}
	s.flags = int(flags) &^ (statsGramList | statsGramBits)
	if flags&statsNum != 0 {
		b := r.bytes(16)
		if r.err != nil {
			return errBadStats
		}
		s.numMin = math.Float64frombits(binary.LittleEndian.Uint64(b))
		s.numMax = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	}
	for _, a := range []struct {
		flag   int
		size   int
		lo, hi *netip.Addr
	}{{statsV4, 4, &s.v4Min, &s.v4Max}, {statsV6, 16, &s.v6Min, &s.v6Max}} {
		if flags&uint64(a.flag) != 0 {
			b := r.bytes(2 * a.size)
			if r.err != nil {
				return errBadStats
			}
			*a.lo, _ = netip.AddrFromSlice(b[:a.size])
			*a.hi, _ = netip.AddrFromSlice(b[a.size:])
		}
	}
	s.gramsUnknown = flags&(statsGramList|statsGramBits) == 0
	if s.gramsUnknown {
		return nil
	}
	if s.grams == nil {
		s.grams = new(gramSet)
	}
	clear(s.grams[:])
	if flags&statsGramBits != 0 {
		b := r.bytes(gramBuckets / 8)
		if r.err != nil {
			return errBadStats
		}
		for i := range s.grams {
			s.grams[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		return nil
	}
	k := r.uvarint()
	if r.err != nil || k > gramBuckets {
		return errBadStats
	}
	b := -1
	for range k {
		d := r.uvarint()
		if r.err != nil || d == 0 || d > gramBuckets {
			return errBadStats
		}
		b += int(d)
		if b >= gramBuckets {
			return errBadStats
		}
		s.grams[b/64] |= 1 << (b % 64)
	}
	return nil
}

// mayMatch reports whether some value summarised by s may satisfy f; it
// answers true when s cannot tell.
func (s *colStats) mayMatch(f *Filter) bool {
	switch f.Op {
	case Gte, Gt, Lte, Lt:
		if s.flags&statsNum == 0 {
			return false // no value is a number
		}
		switch f.Op {
		case Gte:
			return s.numMax >= f.number
		case Gt:
			return s.numMax > f.number
		case Lte:
			return s.numMin <= f.number
		default:
			return s.numMin < f.number
		}
	case CIDR:
		flag, lo, hi := statsV6, s.v6Min, s.v6Max
		if f.prefix.Addr().Is4() {
			flag, lo, hi = statsV4, s.v4Min, s.v4Max
		}
		if s.flags&flag == 0 {
			return false // no address of the network's family
		}
		first, last := prefixRange(f.prefix)
		return !(hi.Less(first) || last.Less(lo))
	case Contains, Prefix:
		switch {
		case s.gramsUnknown || !gramsApply(f.lower):
			return true
		case s.grams == nil: // no value of three bytes or more
			return false
		}
		return s.grams.has(f.lower)
	}
	return true
}

// gramsApply reports whether a trigram set can answer a search for
// lower: only for three bytes or more of ASCII, which matches ignoring
// case exactly what the set's ASCII folding matches (a non-ASCII letter
// may match another of a different encoding).
func gramsApply(lower string) bool {
	if len(lower) < 3 {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if lower[i] >= 0x80 {
			return false
		}
	}
	return true
}

// prefixRange returns the first and last address of the (masked) prefix.
func prefixRange(p netip.Prefix) (netip.Addr, netip.Addr) {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return p.Addr(), last
}

// usesStats reports whether f can be answered, in part, by column
// statistics.
func (f *Filter) usesStats() bool {
	switch f.Op {
	case Gte, Gt, Lte, Lt, CIDR:
		return true
	case Contains, Prefix:
		return gramsApply(f.lower)
	}
	return false
}
