package ml

import "math/rand/v2"

// slots is a table of at most limit entries keyed by a 64-bit hash: a slab
// that grows to limit as keys appear and is then reused, and an index from
// key to slot. When it is full, an expired entry or the least recently
// seen of eight sampled ones makes room. Its user locks it.
type slots[T any, P slotted[T]] struct {
	index keyIndex
	slab  []T
	// seen, for a user that sets an entry's lastSeen to the time of
	// every lookup of it (see trackSeen), holds those times beside the
	// slab, so that eviction reads eight samples' times from one cache
	// line instead of from eight entries hundreds of bytes apart: that
	// sampling was a fifth of the anomaly detector with more entities
	// than its table holds.
	seen  []int64
	keys  []uint64 // beside seen: an eviction need not read its victim
	track bool
	limit int
	hand  int // where eviction sampling resumes
}

// init readies an empty table of at most limit entries.
func (s *slots[T, P]) init(limit int) {
	s.limit = limit
	s.index = keyIndex{seed: rand.Uint64()}
}

// trackSeen promises that the user sets an entry's lastSeen to now after
// every lookup(h, now, ...) and never empties an entry, so that slots can
// keep the times itself (seen). It must come before the first entry.
func (s *slots[T, P]) trackSeen() { s.track = true }

// clear empties the table, keeping its memory.
func (s *slots[T, P]) clear() {
	s.slab, s.seen, s.keys, s.hand = s.slab[:0], s.seen[:0], s.keys[:0], 0
	s.index.reset()
}

// restore adds entry e of key h as it was saved, unless h is already
// held or the table is full; it reports whether it did.
func (s *slots[T, P]) restore(h uint64, e T) bool {
	if _, dup := s.index.get(h); dup || len(s.slab) >= s.limit {
		return false
	}
	s.slab = append(s.slab, e)
	if s.track {
		s.seen = append(s.seen, P(&s.slab[len(s.slab)-1]).lastSeen())
		s.keys = append(s.keys, h)
	}
	s.index.put(h, int32(len(s.slab)-1))
	return true
}

// slotted is what an entry of slots offers.
type slotted[T any] interface {
	*T
	inUse() bool
	slotKey() uint64
	lastSeen() int64
	// reset makes the entry a fresh one of key.
	reset(key uint64)
}

// lookup returns the entry of key h, a fresh one when h is new or its
// entry has been idle for longer than expire.
func (s *slots[T, P]) lookup(h uint64, now, expire int64) P {
	if i, ok := s.index.get(h); ok {
		e := P(&s.slab[i])
		if now-e.lastSeen() > expire {
			e.reset(h) // idle too long: start over
		}
		if s.track {
			s.seen[i] = now
		}
		return e
	}
	if len(s.slab) < s.limit {
		var zero T
		s.slab = append(s.slab, zero)
		if s.track {
			s.seen = append(s.seen, now)
			s.keys = append(s.keys, h)
		}
		e := P(&s.slab[len(s.slab)-1])
		e.reset(h)
		s.index.put(h, int32(len(s.slab)-1))
		return e
	}
	if s.track {
		return s.evictTracked(h, now, expire)
	}
	victim := -1
	for probe := 0; probe < 8; probe++ {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.slab)
		e := P(&s.slab[i])
		if !e.inUse() || now-e.lastSeen() > expire {
			victim = i
			break
		}
		if victim < 0 || e.lastSeen() < P(&s.slab[victim]).lastSeen() {
			victim = i
		}
	}
	e := P(&s.slab[victim])
	if e.inUse() {
		s.index.del(e.slotKey())
	}
	e.reset(h)
	s.index.put(h, int32(victim))
	return e
}

// evictTracked is lookup's eviction when the times are in seen: the same
// choice (the first expired sample, else the least recently seen), with
// every entry in use. It only writes the victim entry: a read would wait
// for its cache line, a write waits in the store buffer.
func (s *slots[T, P]) evictTracked(h uint64, now, expire int64) P {
	victim := -1
	for probe := 0; probe < 8; probe++ {
		i := s.hand
		if s.hand++; s.hand == len(s.slab) { // not %: a division per probe
			s.hand = 0
		}
		if now-s.seen[i] > expire {
			victim = i
			break
		}
		if victim < 0 || s.seen[i] < s.seen[victim] {
			victim = i
		}
	}
	e := P(&s.slab[victim])
	s.index.del(s.keys[victim])
	e.reset(h)
	s.seen[victim], s.keys[victim] = now, h
	s.index.put(h, int32(victim))
	return e
}

// keyIndex maps the keys of a slots table to slab positions. It is an
// open-addressing table with linear probing whose cells hold the key and
// the position side by side, so that a lookup costs one cache line where
// a Go map's group took its control word and then its slot — the map was
// a fifth of the anomaly detector. Positions are found by the key mixed
// with a random seed: keys come from names an event sender chooses, and
// without the seed a sender could pile them onto one run of cells.
type keyIndex struct {
	cells []keyCell // a power of two long, nil until the first put
	n     int       // keys held
	seed  uint64
}

// keyCell is one cell of a keyIndex: at is one plus the slab position,
// 0 for an empty cell.
type keyCell struct {
	key uint64
	at  int32
}

// home is the cell where the probe for key h starts.
func (x *keyIndex) home(h uint64) int {
	return int(mix64(h^x.seed) & uint64(len(x.cells)-1))
}

// find returns the cell holding h, or the empty cell ending its probe.
// The table is never full (put grows it first), so a probe ends.
func (x *keyIndex) find(h uint64) int {
	mask := len(x.cells) - 1
	i := x.home(h)
	for x.cells[i].at != 0 && x.cells[i].key != h {
		i = (i + 1) & mask
	}
	return i
}

// get returns the slab position of key h.
func (x *keyIndex) get(h uint64) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	c := x.cells[x.find(h)]
	return c.at - 1, c.at != 0
}

// put files key h at slab position at, replacing its position if it has
// one.
func (x *keyIndex) put(h uint64, at int32) {
	if 4*(x.n+1) > 3*len(x.cells) {
		x.grow()
	}
	i := x.find(h)
	if x.cells[i].at == 0 {
		x.n++
	}
	x.cells[i] = keyCell{key: h, at: at + 1}
}

// grow doubles the table (to 16 cells at first) and files the keys anew.
func (x *keyIndex) grow() {
	old := x.cells
	x.cells = make([]keyCell, max(16, 2*len(old)))
	for _, c := range old {
		if c.at != 0 {
			x.cells[x.find(c.key)] = c
		}
	}
}

// del removes key h. The cells after it in its run move back where
// their probe would otherwise stop at the hole (backward-shift
// deletion), so that no tombstones are needed.
func (x *keyIndex) del(h uint64) {
	if x.n == 0 {
		return
	}
	mask := len(x.cells) - 1
	i := x.find(h)
	if x.cells[i].at == 0 {
		return
	}
	for j := (i + 1) & mask; x.cells[j].at != 0; j = (j + 1) & mask {
		// The cell at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if k := x.home(x.cells[j].key); (j-k)&mask >= (j-i)&mask {
			x.cells[i] = x.cells[j]
			i = j
		}
	}
	x.cells[i] = keyCell{}
	x.n--
}

// len returns the number of keys held.
func (x *keyIndex) len() int { return x.n }

// reset empties the table, keeping its cells.
func (x *keyIndex) reset() {
	clear(x.cells)
	x.n = 0
}
