package sigma

import "hash/maphash"

// Scanning a value finds the same needles every time the value comes
// back, and telemetry repeats itself: a fleet starts the same few hundred
// images, with the same hashes, parents, companies and descriptions, over
// and over. So each goroutine remembers, per prefilter, what the values it
// scanned lately hit, and replays that instead of scanning a value again.
//
// A memo is a direct-mapped table of memoSize entries of one cache line.
// An entry is keyed by the value's 64-bit hash (maphash, seeded at random
// per rule set, so that nobody can craft a value that collides with
// another on purpose) and its length, and holds what the value's hits
// mean: the leaves they make true (or, for globs, worth evaluating),
// whatever else the event holds. A value making more than memoHits leaves
// true is remembered as such and scanned every time. Marking the leaves
// in the order the scan first did leaves the per-event state exactly as a
// scan would.
//
// A prefilter whose values rarely come back (command lines carry
// process ids, temporary names, GUIDs) would pay for hashing and storing
// without profit, so each memo counts its lookups and hits, and after
// memoProbe lookups with fewer than one hit in memoMinHitRate it stops
// being consulted for memoRest lookups before trying again.
const (
	memoSize       = 1024 // entries per prefilter, a power of two
	memoHits       = 29   // hits an entry holds: 8+4+4+29×4 = 128 bytes, two cache lines
	memoProbe      = 1024
	memoMinHitRate = 4 // one in four
	memoRest       = 16384
	memoOverflow   = 0xffffffff // memoEnt.n of a value with too many hits
)

// memoEnt is one remembered value.
type memoEnt struct {
	key  uint64           // hash | 1; 0 marks an empty entry
	size uint32           // the value's length
	n    uint32           // hits, or memoOverflow
	hits [memoHits]uint32 // leafCode
}

// memo is one prefilter's table in one scratch area.
type memo struct {
	ents []memoEnt
	// lookups and found count this probing period; rest > 0 means the
	// memo is off for that many more lookups.
	lookups, found, rest int32
}

// leafCode packs a leaf a value makes true, or maybe true.
func leafCode(l int32, maybe bool) uint32 {
	c := uint32(l) << 1
	if maybe {
		c |= 1
	}
	return c
}

// memoOf returns the memo of scan sc, allocating it on first use: only the
// prefilters of groups events actually reach get one.
func (x *scratch) memoOf(sc *scan) *memo {
	m := x.memos[sc.id]
	if m == nil {
		m = &memo{ents: make([]memoEnt, memoSize)}
		x.memos[sc.id] = m
	}
	return m
}

// use reports whether the memo should be consulted for the next lookup,
// and keeps its probing period's count.
func (m *memo) use() bool {
	if m.rest > 0 {
		m.rest--
		if m.rest == 0 {
			m.lookups, m.found = 0, 0
		}
		return false
	}
	m.lookups++
	if m.lookups >= memoProbe {
		if m.found*memoMinHitRate < m.lookups {
			m.rest = memoRest
		}
		m.lookups, m.found = 0, 0
	}
	return true
}

// recorder collects the leaves one value makes true while it is
// scanned. Patterns and leaves already recorded for the value are stamped
// with the recording's number, so that a needle found many times in a
// value costs one look.
type recorder struct {
	on   bool
	full bool
	n    int
	hits [memoHits]uint32
	gen  uint32
	pat  []uint32 // per pattern of the rule set: gen when recorded
	leaf []uint32 // per leaf: gen when recorded
}

// start begins recording a value.
func (r *recorder) start() {
	r.on, r.full, r.n = true, false, 0
	r.gen++
	if r.gen == 0 { // wrapped: old stamps could look current
		clear(r.pat)
		clear(r.leaf)
		r.gen = 1
	}
}

// pattern records the leaves a hit of pattern p of scan sc makes true,
// whatever the event's state: on replay, they are marked directly.
func (r *recorder) pattern(sc *scan, p int32, atStart, atEnd bool) {
	if g := sc.base + p; r.pat[g] != r.gen {
		r.pat[g] = r.gen
		for _, po := range sc.free[p] {
			r.add(po.leaf, po.kind == matchGlob)
		}
	}
	if atStart || atEnd {
		for _, po := range sc.anchored[p] {
			if po.holds(atStart, atEnd) {
				r.add(po.leaf, po.kind == matchGlob)
			}
		}
	}
}

// add records leaf l unless it was recorded already (marking a leaf twice
// changes nothing).
func (r *recorder) add(l int32, maybe bool) {
	if r.leaf[l] == r.gen {
		return
	}
	r.leaf[l] = r.gen
	if r.n == memoHits {
		r.full = true
		return
	}
	r.hits[r.n] = leafCode(l, maybe)
	r.n++
}

// scanValue runs the prefilter of sc over one value, through the memo.
// The memo is keyed by the value as the event holds it, so a value seen
// before is neither folded nor scanned again.
func (rs *RuleSet) scanValue(x *scratch, sc *scan, v string) {
	m := x.memoOf(sc)
	if !m.use() {
		rs.scanRaw(x, sc, v)
		return
	}
	key := maphash.String(rs.seed, v) | 1
	e := &m.ents[key&(memoSize-1)]
	if e.key == key && e.size == uint32(len(v)) {
		if e.n != memoOverflow {
			m.found++
			for _, c := range e.hits[:e.n] {
				rs.mark(x, int32(c>>1), c&1 != 0)
			}
			return
		}
		rs.scanRaw(x, sc, v)
		return
	}
	x.rec.start()
	rs.scanRaw(x, sc, v)
	x.rec.on = false
	e.key, e.size = key, uint32(len(v))
	if x.rec.full {
		e.n = memoOverflow
		return
	}
	e.n = uint32(x.rec.n)
	copy(e.hits[:], x.rec.hits[:x.rec.n])
}

// scanRaw runs the prefilter of sc over one value. Values holding
// upper-case letters beyond ASCII are folded first; others are scanned as
// they are, the scans lowering ASCII letters on the fly.
func (rs *RuleSet) scanRaw(x *scratch, sc *scan, v string) {
	if !lowerOnlyASCII(v) {
		v = x.fold(v)
	}
	if sc.grams != nil {
		rs.scanGrams(x, sc, v)
	}
	if sc.short != nil {
		rs.scanShort(x, sc, v)
	}
}
