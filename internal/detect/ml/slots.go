package ml

// slots is a table of at most limit entries keyed by a 64-bit hash: a slab
// that grows to limit as keys appear and is then reused, and an index from
// key to slot. When it is full, an expired entry or the least recently
// seen of eight sampled ones makes room. Its user locks it.
type slots[T any, P slotted[T]] struct {
	index map[uint64]int32
	slab  []T
	limit int
	hand  int // where eviction sampling resumes
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
	if i, ok := s.index[h]; ok {
		e := P(&s.slab[i])
		if now-e.lastSeen() > expire {
			e.reset(h) // idle too long: start over
		}
		return e
	}
	if len(s.slab) < s.limit {
		var zero T
		s.slab = append(s.slab, zero)
		e := P(&s.slab[len(s.slab)-1])
		e.reset(h)
		s.index[h] = int32(len(s.slab) - 1)
		return e
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
		delete(s.index, e.slotKey())
	}
	e.reset(h)
	s.index[h] = int32(victim)
	return e
}
