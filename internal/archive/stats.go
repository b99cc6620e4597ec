package archive

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
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
// Encoding (statsVersion 2; version 1, written for an hour of
// development, had other trigram buckets: its sets are not read):
//
//	version flags
//	[min max]          float64 bits, little endian      flags&statsNum
//	[min max]          4 bytes each, big endian          flags&statsV4
//	[min max]          16 bytes each                     flags&statsV6
//	[k, k × delta]     the trigram buckets set, ascending flags&statsGramList
//	[bitset]           gramBuckets/8 bytes                flags&statsGramBits
//
// Trigrams of hexadecimal digits only (hashes, numbers, many ids) are
// left out of the set, which they would fill at a high cost in hashing;
// flags&statsHexText says the column has some.
//
// Without a trigram set (none of the two flags) the column's text may
// hold anything.
const statsVersion = 2

const (
	statsNum = 1 << iota
	statsV4
	statsV6
	statsGramList
	statsGramBits
	// statsHexText: some values of three bytes or more are hexadecimal
	// digits only, and left out of the trigram set.
	statsHexText
)

// gramBuckets is the size of a trigram set: each trigram (ASCII folded to
// lower case) hashes to one of them. It must never change: sets are
// stored.
const gramBuckets = 1 << 14

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
	// gramAdds counts the values added to grams, to check now and then
	// whether the set is too full to keep (see add).
	gramAdds int

	// The writer's shortcuts, none of them stored:
	//
	// seen holds values of the block already taken into the statistics,
	// by a cheap hash (seenSlot): telemetry repeats a few values (an
	// executable, a user's directory) in no order, and comparing a
	// value with the one remembered costs far less than its trigrams.
	// Its strings alias the block's events, like the writer's columns.
	seen [seenSlots]string
	// near holds, by the first bytes of each (nearSlot), the value whose
	// trigrams went into grams last: a new value shares a prefix and a
	// suffix with one of them, often (a command line that differs from
	// the last of its executable's only in an argument), and the
	// trigrams inside those are in the set already (addGrams).
	near [nearSlots]string
	// from holds the statistics of other columns of the block that hold
	// some of this column's values: a value the block writer stores as
	// a reference to another column (process.executable for
	// winlog.event_data.Image) is in that column's statistics already,
	// and merge adds them to these before they are encoded. The union
	// may summarise values this column lacks: it excludes less, never
	// a match.
	from [maxStatsFrom]*colStats
}

// seenSlots is the size of colStats.seen, a power of two.
const seenSlots = 64

// nearSlots is the size of colStats.near, a power of two.
const (
	nearBits  = 4
	nearSlots = 1 << nearBits
)

// maxStatsFrom bounds the columns whose statistics one column's take in.
const maxStatsFrom = 2

type gramSet [gramBuckets / 64]uint64

func (s *colStats) reset() {
	s.flags = 0
	s.gramsUnknown = false
	s.gramAdds = 0
	if s.grams != nil {
		clear(s.grams[:])
	}
	clear(s.seen[:])
	clear(s.near[:])
	clear(s.from[:])
}

// seenSlot returns a slot of colStats.seen for v, hashing its length and
// its first and last eight bytes only.
func seenSlot(v string) int {
	var h uint64
	if n := len(v); n >= 8 {
		h = binary.LittleEndian.Uint64([]byte(v[:8])) ^ bits.RotateLeft64(binary.LittleEndian.Uint64([]byte(v[n-8:])), 29)
	} else {
		for i := 0; i < n; i++ {
			h = h<<8 | uint64(v[i])
		}
	}
	h ^= uint64(len(v))
	return int((h * 0x9e3779b97f4a7c15) >> (64 - 6))
}

// addFrom takes value v of the column into the statistics, knowing that
// it is a value of the column whose statistics are o.
func (s *colStats) addFrom(o *colStats, v string) {
	for i, f := range s.from {
		if f == o {
			return
		}
		if f == nil {
			s.from[i] = o
			return
		}
	}
	s.add(v)
}

// merge takes into s the statistics its values share with other columns
// (addFrom). Those must be merged already: the block writer merges its
// columns in order, and a column only refers to columns before it.
func (s *colStats) merge() {
	for _, o := range s.from {
		if o == nil {
			break
		}
		if o.flags&statsNum != 0 {
			s.addNumber(o.numMin)
			s.addNumber(o.numMax)
		}
		if o.flags&statsV4 != 0 {
			s.addAddr(o.v4Min)
			s.addAddr(o.v4Max)
		}
		if o.flags&statsV6 != 0 {
			s.addAddr(o.v6Min)
			s.addAddr(o.v6Max)
		}
		s.flags |= o.flags & statsHexText
		s.gramsUnknown = s.gramsUnknown || o.gramsUnknown
		if o.grams != nil && !s.gramsUnknown {
			if s.grams == nil {
				s.grams = new(gramSet)
			}
			for i, w := range o.grams {
				s.grams[i] |= w
			}
		}
	}
	clear(s.from[:])
}

// gramCheckEvery is how many values add takes into a trigram set between
// two counts of its fill: a set fuller than maxGramFill is dropped when
// encoded, so that add stops filling it.
const gramCheckEvery = 256

// add takes one value of the column into the statistics. It reports
// false if it knows it took v already in this block.
func (s *colStats) add(v string) (fresh bool) {
	if len(v) == 0 {
		return true
	}
	k := seenSlot(v) &^ 1 // two ways: slots k and k+1, the newer in k
	if s.seen[k] == v || s.seen[k+1] == v {
		return false // the statistics would not change
	}
	s.seen[k+1], s.seen[k] = s.seen[k], v
	class := classify(v)
	if class&maybeNumber != 0 {
		if n, ok := number(v); ok {
			s.addNumber(n)
		}
	}
	if class&maybeAddr != 0 {
		if a, err := netip.ParseAddr(v); err == nil {
			s.addAddr(a.Unmap())
		}
	}
	if len(v) >= 3 && !s.gramsUnknown {
		if s.grams == nil {
			s.grams = new(gramSet)
		}
		if s.addGrams(v) {
			s.flags |= statsHexText
		}
		if s.gramAdds++; s.gramAdds%gramCheckEvery == 0 && s.grams.count() > maxGramFill {
			s.gramsUnknown = true // the text may hold anything
		}
	}
	return true
}

// addGrams adds v's trigrams to s.grams as gramSet.add does, and reports
// what it does, but for the trigrams of a prefix and a suffix v shares
// with a value it took earlier in the block (colStats.near): those set
// their buckets already, and if any is made of hexadecimal digits only,
// its flag as well. The set comes out the same; comparing bytes eight at
// a time costs a fraction of hashing them one by one.
func (s *colStats) addGrams(v string) (skipped bool) {
	k := nearSlot(v)
	u := s.near[k]
	s.near[k] = v
	if u == "" {
		return s.grams.add(v)
	}
	p := commonPrefix(u, v)
	q := commonSuffix(u[p:], v[p:]) // apart from the prefix: u may be a prefix of v
	// New trigrams start after p-3 and before len(v)-q.
	lo, hi := max(p-2, 0), min(len(v)-q+2, len(v))
	if hi-lo < 3 {
		return false
	}
	return s.grams.add(v[lo:hi])
}

// nearSlot returns a slot of colStats.near for v, hashing up to its
// first 24 bytes: values with another beginning (a command line of
// another executable) share little.
func nearSlot(v string) int {
	var h uint64
	switch {
	case len(v) >= 24:
		h = binary.LittleEndian.Uint64([]byte(v[:8])) ^ bits.RotateLeft64(binary.LittleEndian.Uint64([]byte(v[8:16])), 21) ^
			bits.RotateLeft64(binary.LittleEndian.Uint64([]byte(v[16:24])), 42)
	case len(v) >= 8:
		h = binary.LittleEndian.Uint64([]byte(v[:8])) ^ bits.RotateLeft64(binary.LittleEndian.Uint64([]byte(v[len(v)-8:])), 29)
	default:
		for i := 0; i < len(v); i++ {
			h = h<<8 | uint64(v[i])
		}
	}
	return int((h * 0x9e3779b97f4a7c15) >> (64 - nearBits))
}

// commonPrefix returns the length of the longest common prefix of a and
// b, comparing eight bytes at a time.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64([]byte(a[i:i+8])) ^ binary.LittleEndian.Uint64([]byte(b[i:i+8])); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// commonSuffix returns the length of the longest common suffix of a and
// b, comparing eight bytes at a time.
func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64([]byte(a[len(a)-i-8:len(a)-i])) ^ binary.LittleEndian.Uint64([]byte(b[len(b)-i-8:len(b)-i]))
		if x != 0 {
			return i + bits.LeadingZeros64(x)/8
		}
	}
	for ; i < n && a[len(a)-1-i] == b[len(b)-1-i]; i++ {
	}
	return i
}

// What a value may be, judged from the bytes it is made of.
const (
	maybeNumber = 1 << iota // only bytes strconv.ParseFloat may accept
	maybeAddr               // only bytes of an IP address without a zone
)

// classify tells, in one pass over v, which of the costlier parses may
// succeed: both fail on any value they skip (and would allocate their
// error).
func classify(v string) int {
	digits, dots, colons, hex, exps, signs := 0, 0, 0, 0, 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case c == ':':
			colons++
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			hex++
			if c|0x20 == 'e' {
				exps++
			} else if len(v) > maxAddrLen { // a hash: neither a number nor an address
				return 0
			}
		case c == '+' || c == '-' || c == '_':
			signs++
		default:
			return maybeSpecialNumber(v)
		}
	}
	class := 0
	// A decimal number holds digits, one dot, signs, e or E, underscores.
	if dots <= 1 && colons == 0 && hex == exps {
		class |= maybeNumber
	}
	if signs == 0 && len(v) <= maxAddrLen && (colons > 0 || dots == 3 && hex == 0) {
		class |= maybeAddr
	}
	return class
}

// maxAddrLen is the longest IP address without a zone:
// ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.
const maxAddrLen = 45

// maybeSpecialNumber classifies a value with a byte no decimal number or
// address has: it may still name infinity or NaN, or be a hexadecimal
// float.
func maybeSpecialNumber(v string) int {
	if len(v) > 0 && (v[0] == '+' || v[0] == '-') { // one sign, as ParseFloat takes
		v = v[1:]
	}
	switch {
	case len(v) > 2 && v[0] == '0' && v[1]|0x20 == 'x':
		return maybeNumber
	case len(v) < len("inf") || len(v) > len("infinity"):
		return 0
	case strings.EqualFold(v, "inf"), strings.EqualFold(v, "infinity"), strings.EqualFold(v, "nan"):
		// EqualFold, not ToLower: that allocates for a value with a
		// capital (SYSTEM, True), and most such values reach here.
		return maybeNumber
	}
	return 0
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

// number parses v as a filter does (strconv.ParseFloat), taking plain
// integers without it.
func number(v string) (float64, bool) {
	if len(v) <= 15 { // below 2^53: exact as a float64
		var n int64
		neg := v[0] == '-'
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

// add sets the buckets of v's trigrams, but for those of hexadecimal
// digits only: hashes and numbers would take most of the hashing and
// fill the set. It reports whether it left any out.
//
// It sets a bucket's bit or not without a branch: in text mixing letters
// a to f with others, whether a trigram is all hexadecimal is a coin
// toss the processor mispredicts.
//
// A run of hexadecimal digits ending v (a hash, a hash after its
// algorithm's name) is not walked at all: its trigrams but the two
// reaching into the bytes before it are left out.
func (g *gramSet) add(v string) (skipped bool) {
	tail := len(v)
	for tail > 0 && hexTable[v[tail-1]] != 0 {
		tail--
	}
	if len(v)-tail >= 3 {
		skipped = true
		if v = v[:tail+2]; len(v) < 3 {
			return true
		}
	}
	x := uint32(foldByte(v[0]))<<8 | uint32(foldByte(v[1]))
	hex := hexBit(v[0])<<1 | hexBit(v[1])
	var all uint32
	for i := 2; i < len(v); i++ {
		c := v[i]
		x = x<<8 | uint32(foldByte(c))
		hex = (hex<<1 | hexBit(c)) & 7
		h := (hex + 1) >> 3 // 1 for three hexadecimal digits
		all |= h
		b := gramBucket(x)
		g[b/64&(gramBuckets/64-1)] |= uint64(h^1) << (b % 64)
	}
	return skipped || all != 0
}

// has reports whether every trigram of v that add keeps may be in the
// set, and how many it checked.
func (g *gramSet) has(v string) (bool, int) {
	x := uint32(foldByte(v[0]))<<8 | uint32(foldByte(v[1]))
	hex := hexBit(v[0])<<1 | hexBit(v[1])
	checked := 0
	for i := 2; i < len(v); i++ {
		x = x<<8 | uint32(foldByte(v[i]))
		hex = (hex<<1 | hexBit(v[i])) & 7
		if hex == 7 {
			continue
		}
		checked++
		b := gramBucket(x)
		if g == nil || g[b/64]&(1<<(b%64)) == 0 {
			return false, checked
		}
	}
	return true, checked
}

// foldTable maps a byte to itself, an ASCII capital to its small letter:
// a look-up instead of a branch the processor would often mispredict.
const foldTable = "" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f" +
	"\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f" +
	"\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f" +
	"\x40\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" +
	"\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x5b\x5c\x5d\x5e\x5f" +
	"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" +
	"\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f" +
	"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
	"\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
	"\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf" +
	"\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf" +
	"\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf" +
	"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf" +
	"\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef" +
	"\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"

// hexTable is 1 for a hexadecimal digit, 0 for any other byte.
const hexTable = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00" +
	"\x00\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

func hexBit(c byte) uint32 { return uint32(hexTable[c]) }

// gramBucket hashes the trigram in x's low 24 bits (multiplicative
// hashing: the product's top 14 bits). It must never change.
func gramBucket(x uint32) uint32 { return (x & 0xffffff) * 0x9e3779b1 >> 18 }

// foldByte lower-cases an ASCII letter; other bytes stay as they are.
func foldByte(c byte) byte { return foldTable[c] }

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
	if len(r.b) == 0 || r.b[0] != 1 && r.b[0] != statsVersion {
		return errBadStats
	}
	version := r.b[0]
	r.b = r.b[1:]
	flags := r.uvarint()
	if r.err != nil || flags >= statsHexText<<1 || flags&statsGramList != 0 && flags&statsGramBits != 0 {
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
	s.gramsUnknown = flags&(statsGramList|statsGramBits) == 0 || version == 1
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
		if s.gramsUnknown || !gramsApply(f.lower) {
			return true
		}
		may, checked := s.grams.has(f.lower)
		if checked == 0 { // hexadecimal digits only: in trigrams left out, if any
			return s.flags&statsHexText != 0
		}
		return may
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
