package ml

import (
	"math"
	"math/bits"
)

// Bounded sketches: their memory is fixed when they are made, however
// many items they see.

// hash64 is FNV-1a over s, finished with splitmix64's mixer so that every
// bit of the result depends on every input byte (HyperLogLog reads the
// top bits, Bloom filters and count-min the low ones).
func hash64(seed uint64, s string) uint64 {
	h := 14695981039346656037 ^ seed
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return mix64(h)
}

// hashFold is hash64 with ASCII letters folded to lower case, for names
// that Windows compares without case.
func hashFold(seed uint64, s string) uint64 {
	h := 14695981039346656037 ^ seed
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * 1099511628211
	}
	return mix64(h)
}

// mix64 is splitmix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hllP is the precision of the per-entity HyperLogLogs: 2^7 registers,
// a standard error of 1.04/√128 ≈ 9 %.
const hllP = 7

// hll is a HyperLogLog distinct counter (Flajolet, Fusy, Gandouet and
// Meunier 2007) with the small-range linear-counting correction.
type hll [1 << hllP]uint8

// add counts the item whose 64-bit hash is h.
func (s *hll) add(h uint64) {
	i := h >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1)) + 1)
	if rank > s[i] {
		s[i] = rank
	}
}

// estimate returns the estimated number of distinct items added.
func (s *hll) estimate() float64 {
	const m = float64(1 << hllP)
	var sum float64
	zeros := 0
	for _, r := range s {
		sum += 1 / float64(uint64(1)<<r)
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		return m * math.Log(m/float64(zeros))
	}
	return e
}

// countMin is a count-min sketch (Cormode and Muthukrishnan 2005) with
// conservative update: depth rows of width counters; an item's count is
// over-estimated, never under.
type countMin struct {
	width uint64 // a power of two
	rows  [cmDepth][]uint32
	total uint64
}

const cmDepth = 4

func newCountMin(width int) *countMin {
	w := uint64(1) << bits.Len(uint(width-1))
	c := &countMin{width: w}
	for i := range c.rows {
		c.rows[i] = make([]uint32, w)
	}
	return c
}

// cells returns the counter positions of hash h, one per row.
func (c *countMin) cells(h uint64) (pos [cmDepth]uint64) {
	h2 := mix64(h ^ 0x9e3779b97f4a7c15)
	for i := range pos {
		pos[i] = (h + uint64(i)*h2) & (c.width - 1)
	}
	return pos
}

// addEstimate returns the item's count before this sighting, then counts
// it.
func (c *countMin) addEstimate(h uint64) uint32 {
	pos := c.cells(h)
	est := uint32(math.MaxUint32)
	for i, p := range pos {
		est = min(est, c.rows[i][p])
	}
	if est < math.MaxUint32 {
		for i, p := range pos {
			if c.rows[i][p] == est {
				c.rows[i][p] = est + 1
			}
		}
	}
	c.total++
	return est
}
