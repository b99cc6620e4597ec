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
// another on purpose) and its length, and holds the value's hits: each a
// pattern with where it was found (at the start and/or the end of the
// value). A value hitting more than memoHits distinct ways is remembered
// as such and scanned every time. Replaying the hits in the order the scan
// first made them leaves the per-event state exactly as a scan would.
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
	key  uint64 // hash | 1; 0 marks an empty entry
	size uint32 // the value's length
	n    uint32 // hits, or memoOverflow
	hits [memoHits]uint32
}

// memo is one prefilter's table in one scratch area.
type memo struct {
	ents []memoEnt
	// lookups and found count this probing period; rest > 0 means the
	// memo is off for that many more lookups.
	lookups, found, rest int32
}

// hitCode packs a pattern and the position of its hit.
func hitCode(p int32, atStart, atEnd bool) uint32 {
	c := uint32(p) << 2
	if atStart {
		c |= 2
	}
	if atEnd {
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

// recorder collects the hits of one value while it is scanned.
type recorder struct {
	on   bool
	full bool
	n    int
	hits [memoHits]uint32
}

// add records a hit unless the same hit was recorded already (repeats
// change nothing in the event's state).
func (r *recorder) add(code uint32) {
	for _, h := range r.hits[:r.n] {
		if h == code {
			return
		}
	}
	if r.n == memoHits {
		r.full = true
		return
	}
	r.hits[r.n] = code
	r.n++
}

// scanValue runs the prefilter of sc over one value, through the memo.
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
				rs.report(x, sc, int32(c>>2), c&2 != 0, c&1 != 0)
			}
			return
		}
		rs.scanRaw(x, sc, v)
		return
	}
	x.rec.on, x.rec.full, x.rec.n = true, false, 0
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

// scanRaw runs the prefilter of sc over one value.
func (rs *RuleSet) scanRaw(x *scratch, sc *scan, v string) {
	if sc.grams != nil {
		rs.scanGrams(x, sc, v)
	}
	if sc.short != nil {
		rs.scanShort(x, sc, v)
	}
}
