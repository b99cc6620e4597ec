package sigma

import (
	"math/bits"
	"sort"
	"strings"
)

// This file holds the gram index, the prefilter for needles of gramLen
// bytes or more. Each such needle is indexed under one of its 4-byte
// substrings (its gram), chosen to be rare; scanning a value then costs,
// per byte, a rolling 32-bit window, a multiplication and one bit test in
// a filter small enough to stay in the processor's first-level cache.
// Only when the bit is set is the bucket of the gram looked up and its
// needles compared with the value at their offset, so a hit is exact: it
// says which needle occurs where, like an Aho–Corasick output, but the
// scan never walks a large automaton through memory.

// gramLen is the length of the indexed substrings; shorter needles go to
// a small automaton instead.
const gramLen = 4

// gramMul is the multiplier of the gram hash (Knuth's golden ratio).
const gramMul = 0x9E3779B1

// Bounds of a gram index's filter, in log2 of bits: about 32 filter bits
// per gram keep false positives near 3 % of positions.
const (
	minFilterBits = 10
	maxFilterBits = 18
)

// lowerASCII maps each byte to its ASCII lower case, the folding needles
// have (non-ASCII values are folded before they are scanned).
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

// gramIndex finds the needles of gramLen bytes or more in a value.
type gramIndex struct {
	// stride is the step between scanned windows: 1, or more when every
	// needle is long enough to span several windows (see gramStride).
	stride      int
	filter      []uint64 // bit h of the gram hash is set for indexed grams
	filterShift uint32   // 32 - log2(filter bits)
	bucketShift uint32   // from a filter position to its bucket
	// The entries of bucket b are ents[bstart[b]:bstart[b+1]].
	bstart []int32
	ents   []gramEntry
}

// gramEntry is a needle indexed under gram, which starts at byte off of
// the needle.
type gramEntry struct {
	gram uint32
	pat  int32
	off  int32
}

// gramOf packs 4 bytes into the window the scan computes.
func gramOf(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// gramCounts counts, for every gram, how many distinct needles contain it.
// Needles are drawn from the same text as the values (paths, command
// lines), so a gram many needles share is common in values too.
func gramCounts(needles []string) map[uint32]int {
	counts := map[uint32]int{}
	seen := map[uint32]bool{}
	for _, n := range needles {
		clear(seen)
		for i := 0; i+gramLen <= len(n); i++ {
			g := gramOf(n[i:])
			if !seen[g] {
				seen[g] = true
				counts[g]++
			}
		}
	}
	return counts
}

// commonGramPenalty is added to the score of a gram found in commonText.
const commonGramPenalty = 1000

// gramStride returns how many bytes a scan may step between windows when
// every needle is at least minLen bytes long. A needle occurring at s
// covers the windows starting in [s, s+minLen-gramLen]; with a step of at
// most minLen-gramLen+1 one of them is scanned. Half of that leaves each
// needle two grams or more to choose from per alignment (see pickGrams).
func gramStride(minLen int) int {
	return max(1, (minLen-gramLen+1)/2)
}

// gramScore estimates how often the gram at n[i:] occurs in values: the
// number of needles sharing it, and a penalty for text found in most
// events.
func gramScore(n string, i int, counts map[uint32]int) int {
	score := counts[gramOf(n[i:])]
	g := n[i : i+gramLen]
	for _, c := range commonText {
		if strings.Contains(c, g) {
			return score + commonGramPenalty
		}
	}
	return score
}

// pickGrams returns the offsets of the grams of needle n to index for a
// scan stepping stride bytes. A scan position p meets the needle's
// occurrence at s at offset p-s; those offsets cover every residue modulo
// stride, so indexing one offset per residue catches every occurrence.
// Per residue it takes the rarest gram, the last among equals, since
// needles tend to share their heads ("c:\windows\...") more than their
// tails.
func pickGrams(n string, stride int, counts map[uint32]int) []int {
	offs := make([]int, 0, stride)
	for r := 0; r < stride; r++ {
		best, bestScore := -1, 0
		for i := r; i+gramLen <= len(n); i += stride {
			if score := gramScore(n, i, counts); best < 0 || score <= bestScore {
				best, bestScore = i, score
			}
		}
		offs = append(offs, best)
	}
	return offs
}

// buildGramIndex builds the index of ents for a scan stepping stride
// bytes.
func buildGramIndex(ents []gramEntry, stride int) *gramIndex {
	grams := map[uint32]bool{}
	for _, e := range ents {
		grams[e.gram] = true
	}
	fbits := bits.Len(uint(len(grams))*32 - 1)
	fbits = min(max(fbits, minFilterBits), maxFilterBits)
	tbits := min(max(bits.Len(uint(len(grams))-1), 1), fbits)
	g := &gramIndex{
		stride:      stride,
		filter:      make([]uint64, 1<<fbits/64),
		filterShift: uint32(32 - fbits),
		bucketShift: uint32(fbits - tbits),
		bstart:      make([]int32, 1<<tbits+1),
		ents:        ents,
	}
	for _, e := range ents {
		h := e.gram * gramMul >> g.filterShift
		g.filter[h>>6] |= 1 << (h & 63)
	}
	bucket := func(e gramEntry) uint32 { return e.gram * gramMul >> g.filterShift >> g.bucketShift }
	sort.SliceStable(g.ents, func(i, j int) bool { return bucket(g.ents[i]) < bucket(g.ents[j]) })
	for _, e := range g.ents {
		g.bstart[bucket(e)+1]++
	}
	for b := 1; b < len(g.bstart); b++ {
		g.bstart[b] += g.bstart[b-1]
	}
	return g
}

// hasFoldedAt reports whether v, ASCII-lowered, holds needle at start.
func hasFoldedAt(v string, start int, needle string) bool {
	if start < 0 || start+len(needle) > len(v) {
		return false
	}
	v = v[start : start+len(needle)]
	for i := 0; i < len(needle); i++ {
		if lowerASCII[v[i]] != needle[i] {
			return false
		}
	}
	return true
}
