package sigma

import (
	"math/bits"
	"sort"
)

// automaton is an Aho–Corasick automaton over bytes. One pass over a value
// finds every occurrence of every needle.
//
// Layout: states are numbered breadth first, so the shallow states come
// first. Those (up to maxDenseStates of them, depth <= maxDenseDepth) get
// dense rows over byte classes holding their complete transitions; text
// spends most of its time there, and the rows stay in cache. Deeper
// states keep only the transitions that differ from the root's (see
// sparseNext), so an automaton over thousands of needles stays small.
// Bytes that occur in no needle share class 0.
type automaton struct {
	class  [256]uint8
	nclass int
	// Transitions lead to a state's code, shifted left by one with the low
	// bit set when the state has outputs. The code of dense state s is
	// s*nclass, the offset of its row in dense, so the inner loop needs
	// no multiplication; sparse state s has code denseLen+s-ndense.
	dense    []uint32
	ndense   uint32
	denseLen uint32 // len(dense): codes below it are dense rows
	// recip turns a dense code back into its state without a division.
	recip uint64
	// A sparse (deep) state keeps every transition that differs from the
	// root's — its own trie edges and those it inherits through failure
	// links — as a bitmap over byte classes (words per state) and the
	// targets of the set bits in class order (edgeTo, encoded like dense;
	// wbase[i] is the index of the first target of bitmap word i). Any
	// other class goes where the root's row says, so a deep state costs
	// one bit test and a popcount, never a walk of failure links.
	words    uint32
	bm       []uint64
	wbase    []uint32
	edgeTo   []uint32
	outStart []uint32 // outputs of state s: outs[outStart[s]:outStart[s+1]]
	outs     []int32  // pattern ids, own and inherited through failure links
	lens     []int32  // pattern id -> needle length
}

// Limits of the automaton layout.
const (
	maxDenseStates = 1024
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
	// Dense rows for the shallow states.
	nc := a.nclass
	for a.ndense < uint32(n) && a.ndense < maxDenseStates && depth[order[a.ndense]] <= maxDenseDepth {
		a.ndense++
	}
	a.denseLen = a.ndense * uint32(nc)
	a.recip = (1<<32 + uint64(nc) - 1) / uint64(nc)
	enc := func(old uint32) uint32 {
		d := a.code(newID[old]) << 1
		if len(outputs[old]) > 0 {
			d |= 1
		}
		return d
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
	// Transitions that differ from the root's, in the new numbering, built
	// in breadth-first order so that a state's failure target is done.
	type tr struct {
		c  uint8
		to uint32 // encoded
	}
	diff := make([][]tr, n) // by new id
	for id := 1; id < n; id++ {
		s := order[id]
		var own [256]bool
		var list []tr
		for _, e := range edges[s] {
			own[e.c] = true
			list = append(list, tr{e.c, enc(e.to)})
		}
		if f := failOld[s]; f != 0 {
			for _, t := range diff[newID[f]] {
				if !own[t.c] {
					list = append(list, t)
				}
			}
		}
		diff[id] = list
	}
	a.words = uint32(nc+63) / 64
	nsparse := uint32(n) - a.ndense
	a.bm = make([]uint64, nsparse*a.words)
	a.wbase = make([]uint32, nsparse*a.words)
	a.outStart = make([]uint32, n+1)
	for id, s := range order {
		if uint32(id) >= a.ndense {
			list := diff[id]
			sort.Slice(list, func(i, j int) bool { return list[i].c < list[j].c })
			row := (uint32(id) - a.ndense) * a.words
			for w := uint32(0); w < a.words; w++ {
				a.wbase[row+w] = uint32(len(a.edgeTo))
				for _, t := range list {
					if uint32(t.c)/64 == w {
						a.bm[row+w] |= 1 << (t.c % 64)
						a.edgeTo = append(a.edgeTo, t.to)
					}
				}
			}
		}
		o := outputs[s]
		sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		a.outs = append(a.outs, o...)
		a.outStart[id+1] = uint32(len(a.outs))
	}
	return a
}

// code returns the code of state s.
func (a *automaton) code(s uint32) uint32 {
	if s < a.ndense {
		return s * uint32(a.nclass)
	}
	return a.denseLen + s - a.ndense
}

// stateOf returns the state of a code.
func (a *automaton) stateOf(code uint32) uint32 {
	if code < a.denseLen {
		return uint32(uint64(code) * a.recip >> 32)
	}
	return code - a.denseLen + a.ndense
}

// next returns the encoded transition from the state of code on byte
// class c. The scanning loop inlines the dense case.
func (a *automaton) next(code uint32, c uint8) uint32 {
	if code < a.denseLen {
		return a.dense[code+uint32(c)]
	}
	return a.sparseNext(code, c)
}

// sparseNext looks a deep state's transition up in its bitmap, falling
// back to the root's row.
func (a *automaton) sparseNext(code uint32, c uint8) uint32 {
	i := (code-a.denseLen)*a.words + uint32(c>>6)
	word := a.bm[i]
	bit := uint64(1) << (c & 63)
	if word&bit == 0 {
		return a.dense[c] // the root's row
	}
	return a.edgeTo[a.wbase[i]+uint32(bits.OnesCount64(word&(bit-1)))]
}
