package sigma

// This file resolves the non-slotted ("extra") event fields the rules
// read. An event keeps such fields in a list, so looking one up is a walk
// of the list comparing names; with several of them per event (Hashes,
// User, FileVersion, ... of Sysmon) the walks add up. Instead, the first
// read of any extra field walks the event once and files the values of
// every field the rule set knows, through extraIndex, a small hash table
// in front of which a bitmap of name lengths rejects most names without
// reading them.

// extraIndex maps the names of the extra fields the rules read to small
// ids.
type extraIndex struct {
	names []string
	// table holds id+1 per position (0: empty), open addressing.
	table []int32
	mask  uint32
	// lens has bit n set when a name is n bytes long (names of 255 bytes
	// or more set bit 255).
	lens [4]uint64
}

// extraHash mixes a name's length and two of its bytes: names of one
// source share long prefixes (winlog.event_data.) but rarely their ends.
func extraHash(name string) uint32 {
	n := len(name)
	return uint32(n)*0x9E3779B1 ^ uint32(name[n-1])*0x85EBCA6B ^ uint32(name[n-2])*0xC2B2AE35
}

// id returns the id of name, adding it if needed.
func (x *extraIndex) id(name string) int32 {
	for i, n := range x.names {
		if n == name {
			return int32(i)
		}
	}
	x.names = append(x.names, name)
	return int32(len(x.names) - 1)
}

// build lays the table out once every name is known.
func (x *extraIndex) build() {
	size := 8
	for size < 4*len(x.names) {
		size *= 2
	}
	x.table = make([]int32, size)
	x.mask = uint32(size - 1)
	for id, name := range x.names {
		n := min(len(name), 255)
		x.lens[n/64] |= 1 << (n % 64)
		h := x.hashOf(name) & x.mask
		for x.table[h] != 0 {
			h = (h + 1) & x.mask
		}
		x.table[h] = int32(id) + 1
	}
}

func (x *extraIndex) hashOf(name string) uint32 {
	if len(name) < 2 {
		return uint32(len(name))
	}
	return extraHash(name)
}

// lookup returns the id of name, or -1.
func (x *extraIndex) lookup(name string) int32 {
	n := min(len(name), 255)
	if x.lens[n/64]&(1<<(n%64)) == 0 || name == "" {
		return -1
	}
	for h := x.hashOf(name) & x.mask; ; h = (h + 1) & x.mask {
		e := x.table[h]
		if e == 0 {
			return -1
		}
		if x.names[e-1] == name {
			return e - 1
		}
	}
}

// extraValue is one value of a known extra field in the current event.
type extraValue struct {
	id    int32
	value string
}

// loadExtras files the current event's values of known extra fields in
// x.extras, once per event.
func (rs *RuleSet) loadExtras(x *scratch) {
	if x.extrasGen == x.gen {
		return
	}
	x.extrasGen = x.gen
	x.extras = x.extras[:0]
	x.ev.Fields(func(k, v string) bool {
		if id := rs.extra.lookup(k); id >= 0 {
			x.extras = append(x.extras, extraValue{id, v})
		}
		return true
	})
}

// appendExtra appends the current event's values of extra field id to
// x.vals, in order.
func (rs *RuleSet) appendExtra(x *scratch, id int32) {
	rs.loadExtras(x)
	for _, e := range x.extras {
		if e.id == id {
			x.vals = append(x.vals, e.value)
		}
	}
}
