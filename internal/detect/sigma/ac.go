package sigma

import "sort"

// automaton is an Aho–Corasick automaton over bytes, laid out as a dense
// DFA over byte classes: bytes that occur in no needle share class 0, so a
// set of lower-case needles needs some 60 columns rather than 256. One pass
// over a value finds every occurrence of every needle.
type automaton struct {
	class  [256]uint8
	nclass int
	// The transition table, state*nclass+class -> next<<1 | hasOutputs,
	// in 16 bits when the states fit (half the cache footprint) or 32.
	// The low bit saves a lookup of outStart for the common state
	// without outputs.
	delta16  []uint16
	delta32  []uint32
	outStart []uint32 // outputs of state s: outs[outStart[s]:outStart[s+1]]
	outs     []int32  // pattern ids, own and inherited through failure links
	lens     []int32  // pattern id -> needle length
}

// maxACStates bounds one automaton's size; needles past it are left to
// direct evaluation (the rule still works, without the prefilter).
const maxACStates = 1 << 20

// buildAutomaton builds an automaton over needles; pattern i is needles[i].
// Empty needles are never reported.
func buildAutomaton(needles []string) *automaton {
	a := &automaton{}
	// Byte classes.
	var used [256]bool
	for _, n := range needles {
		for i := 0; i < len(n); i++ {
			used[n[i]] = true
		}
	}
	a.nclass = 1
	for b := 0; b < 256; b++ {
		if used[b] {
			a.class[b] = uint8(a.nclass)
			a.nclass++
			if a.nclass == 256 {
				// Every byte value used: class 0 is then a real byte too.
				break
			}
		}
	}
	if a.nclass == 256 {
		for b := 0; b < 256; b++ {
			a.class[b] = uint8(b)
		}
	}
	// Trie with sparse edges.
	type edge struct {
		c  uint8
		to uint32
	}
	edges := [][]edge{nil}
	own := [][]int32{nil}
	a.lens = make([]int32, len(needles))
	for id, n := range needles {
		a.lens[id] = int32(len(n))
		if n == "" {
			continue
		}
		s := uint32(0)
		for i := 0; i < len(n); i++ {
			c := a.class[n[i]]
			next := uint32(0)
			for _, e := range edges[s] {
				if e.c == c {
					next = e.to
					break
				}
			}
			if next == 0 {
				next = uint32(len(edges))
				edges = append(edges, nil)
				own = append(own, nil)
				edges[s] = append(edges[s], edge{c, next})
			}
			s = next
		}
		own[s] = append(own[s], int32(id))
	}
	nstates := len(edges)
	nc := a.nclass
	delta := make([]uint32, nstates*nc)
	fail := make([]uint32, nstates)
	outputs := make([][]int32, nstates)
	// BFS: a state's failure target is shallower, so it is complete first.
	queue := make([]uint32, 0, nstates)
	for _, e := range edges[0] {
		delta[e.c] = e.to
		queue = append(queue, e.to)
	}
	outputs[0] = own[0]
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		f := fail[s]
		outputs[s] = append(append([]int32(nil), own[s]...), outputs[f]...)
		row := delta[int(s)*nc : int(s)*nc+nc]
		copy(row, delta[int(f)*nc:int(f)*nc+nc])
		for _, e := range edges[s] {
			fail[e.to] = delta[int(f)*nc+int(e.c)]
			row[e.c] = e.to
			queue = append(queue, e.to)
		}
	}
	// Tag each transition with whether its target has outputs.
	for i, to := range delta {
		d := to << 1
		if len(outputs[to]) > 0 {
			d |= 1
		}
		delta[i] = d
	}
	if nstates < 1<<15 {
		a.delta16 = make([]uint16, len(delta))
		for i, d := range delta {
			a.delta16[i] = uint16(d)
		}
	} else {
		a.delta32 = delta
	}
	a.outStart = make([]uint32, nstates+1)
	for s := 0; s < nstates; s++ {
		o := outputs[s]
		sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		a.outs = append(a.outs, o...)
		a.outStart[s+1] = uint32(len(a.outs))
	}
	return a
}

// states reports the automaton's number of states.
func (a *automaton) states() int { return len(a.outStart) - 1 }

// acStatesFor estimates the trie size of needles, to keep within
// maxACStates before building.
func acStatesFor(needles []string) int {
	n := 0
	for _, s := range needles {
		n += len(s)
	}
	return n
}
