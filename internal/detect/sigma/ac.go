package sigma

import "sort"

// automaton is an Aho–Corasick automaton over bytes. One pass over a value
// finds every occurrence of every needle.
//
// Layout: states are numbered breadth first, so the shallow states come
// first. Those (up to maxDenseStates of them, depth <= 2) get dense rows
// over byte classes holding their complete transitions; text spends most
// of its time there, and the rows stay in cache. Deeper states keep only
// their trie edges and a failure link, a few bytes each, so an automaton
// over thousands of needles stays small. Bytes that occur in no needle
// share class 0, which always leads back to the root.
type automaton struct {
	class  [256]uint8
	nclass int
	// dense[s*nclass+c] is the transition of dense state s (s < ndense)
	// on class c, encoded next<<1 | hasOutputs.
	dense  []uint32
	ndense uint32
	// Sparse states: edges edgeC/edgeTo[edgeStart[s]:edgeStart[s+1]]
	// (encoded like dense), and the failure link (a plain state number).
	edgeStart []uint32
	edgeC     []uint8
	edgeTo    []uint32
	fail      []uint32
	outStart  []uint32 // outputs of state s: outs[outStart[s]:outStart[s+1]]
	outs      []int32  // pattern ids, own and inherited through failure links
	lens      []int32  // pattern id -> needle length
}

// Limits of the automaton layout.
const (
	maxACStates    = 1 << 22 // beyond this a slot is not prefiltered
	maxDenseStates = 2048
	maxDenseDepth  = 2
)

// buildAutomaton builds an automaton over needles; pattern i is needles[i].
// Empty needles are never reported.
func buildAutomaton(needles []string) *automaton {
	a := &automaton{}
	var used [256]bool
	for _, n := range needles {
		for i := 0; i < len(n); i++ {
			used[n[i]] = true
		}
	}
	a.nclass = 1
	for b := 0; b < 256; b++ {
		if used[b] && a.nclass < 256 {
			a.class[b] = uint8(a.nclass)
			a.nclass++
		}
	}
	if a.nclass == 256 && used[255] && a.class[255] == 0 {
		// All 256 byte values are used: no byte may share class 0.
		for b := 0; b < 256; b++ {
			a.class[b] = uint8(b)
		}
	}
	// Needles are case-folded, so ASCII capitals can share the class of
	// their lower-case letter: ASCII values are then scanned as they are,
	// without a folded copy.
	for b := 'A'; b <= 'Z'; b++ {
		if !used[b] {
			a.class[b] = a.class[b+'a'-'A']
		}
	}
	// The trie, with states in creation order.
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
	n := len(edges)
	// Breadth-first numbering, depths and failure links.
	order := make([]uint32, 0, n) // new id -> old id
	newID := make([]uint32, n)
	depth := make([]int, n)
	order = append(order, 0)
	for qi := 0; qi < len(order); qi++ {
		s := order[qi]
		sort.Slice(edges[s], func(i, j int) bool { return edges[s][i].c < edges[s][j].c })
		for _, e := range edges[s] {
			newID[e.to] = uint32(len(order))
			depth[e.to] = depth[s] + 1
			order = append(order, e.to)
		}
	}
	failOld := make([]uint32, n)
	outputs := make([][]int32, n)
	outputs[0] = own[0]
	// goto follows failure links until a state has an edge on c.
	gotoOld := func(s uint32, c uint8) uint32 {
		for {
			for _, e := range edges[s] {
				if e.c == c {
					return e.to
				}
			}
			if s == 0 {
				return 0
			}
			s = failOld[s]
		}
	}
	for _, s := range order {
		for _, e := range edges[s] {
			if s == 0 {
				failOld[e.to] = 0
			} else {
				failOld[e.to] = gotoOld(failOld[s], e.c)
			}
			outputs[e.to] = append(append([]int32(nil), own[e.to]...), outputs[failOld[e.to]]...)
		}
	}
	enc := func(old uint32) uint32 {
		d := newID[old] << 1
		if len(outputs[old]) > 0 {
			d |= 1
		}
		return d
	}
	// Dense rows for the shallow states.
	nc := a.nclass
	for a.ndense < uint32(n) && a.ndense < maxDenseStates && depth[order[a.ndense]] <= maxDenseDepth {
		a.ndense++
	}
	a.dense = make([]uint32, int(a.ndense)*nc)
	for id := uint32(0); id < a.ndense; id++ {
		s := order[id]
		row := a.dense[int(id)*nc : int(id)*nc+nc]
		for c := 1; c < nc; c++ {
			row[c] = enc(gotoOld(s, uint8(c)))
		}
		row[0] = enc(0)
	}
	// Sparse edges, failure links and outputs in the new numbering.
	a.edgeStart = make([]uint32, n+1)
	a.fail = make([]uint32, n)
	a.outStart = make([]uint32, n+1)
	for id, s := range order {
		for _, e := range edges[s] {
			a.edgeC = append(a.edgeC, e.c)
			a.edgeTo = append(a.edgeTo, enc(e.to))
		}
		a.edgeStart[id+1] = uint32(len(a.edgeC))
		a.fail[id] = newID[failOld[s]]
		o := outputs[s]
		sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		a.outs = append(a.outs, o...)
		a.outStart[id+1] = uint32(len(a.outs))
	}
	return a
}

// step returns the encoded transition of state st on byte class c.
func (a *automaton) step(st uint32, c uint8) uint32 {
	if c == 0 {
		return 0 // a byte in no needle: back to the root, which has no outputs
	}
	for st >= a.ndense {
		for e := a.edgeStart[st]; e < a.edgeStart[st+1]; e++ {
			if a.edgeC[e] == c {
				return a.edgeTo[e]
			}
		}
		st = a.fail[st]
	}
	return a.dense[st*uint32(a.nclass)+uint32(c)]
}

// states reports the automaton's number of states.
func (a *automaton) states() int { return len(a.fail) }

// acStatesFor bounds the trie size of needles, to stay within maxACStates
// before building.
func acStatesFor(needles []string) int {
	n := 0
	for _, s := range needles {
		n += len(s)
	}
	return n
}
