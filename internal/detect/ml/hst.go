package ml

import (
	"math/bits"
	"math/rand/v2"
)

// Half-Space Trees: Tan, Ting and Liu, "Fast Anomaly Detection for
// Streaming Data", IJCAI 2011. An ensemble of random, fully grown binary
// trees over a perturbed copy of the unit hypercube; each node halves its
// parent's range in one random dimension. Every node counts the points
// that passed through it in the reference window (the previous ψ points)
// and in the latest window (the points since). A point's score in one
// tree is the reference mass of the deepest node on its path whose mass
// is at least sizeLimit, times 2^depth; summed over the trees, a low
// score means the point fell where few points fell before: an anomaly.
// When ψ points have been seen, the latest masses become the reference
// and the latest are cleared, so the model follows drift.
//
// One deliberate change from the paper: a node's split dimension is drawn
// among those not yet split on along its path (all of them again once
// each has been used), where the paper draws from all. With a handful of
// features and depth above their number, every path then splits every
// feature, so that a window extreme in one feature alone (bytes out, and
// nothing else) is separated in nearly every tree rather than in the
// trees that happened to draw that feature.
//
// The structure (split dimensions and values) is drawn once from a seed
// and shared by every model; a model is only its masses, so that there
// can be one model per member and entity kind.

// hstForest is the structure of the trees: for each tree, each internal
// node's split dimension and value, in heap order (node i has children
// 2i+1 and 2i+2).
type hstForest struct {
	trees, depth, dims int
	internal, nodes    int
	dim                []uint8
	split              []float32
}

// newForest draws the trees from seed, as the paper's BuildSingleHSTree:
// per dimension a random s in [0, 1] and the workspace
// [s − 2·max(s, 1−s), s + 2·max(s, 1−s)], then splits at mid-ranges.
func newForest(seed uint64, trees, depth, dims int) *hstForest {
	f := &hstForest{trees: trees, depth: depth, dims: dims, internal: 1<<depth - 1, nodes: 1<<(depth+1) - 1}
	f.dim = make([]uint8, trees*f.internal)
	f.split = make([]float32, trees*f.internal)
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	lo, hi := make([]float64, dims), make([]float64, dims)
	for t := 0; t < trees; t++ {
		for q := 0; q < dims; q++ {
			s := r.Float64()
			w := 2 * max(s, 1-s)
			lo[q], hi[q] = s-w, s+w
		}
		f.build(r, t, 0, lo, hi, 0)
	}
	return f
}

// build draws node's split and its subtrees'; used is the set (a bit
// mask) of dimensions split on along the path.
func (f *hstForest) build(r *rand.Rand, t, node int, lo, hi []float64, used uint32) {
	if node >= f.internal {
		return
	}
	all := uint32(1)<<f.dims - 1
	if used == all {
		used = 0
	}
	q := r.IntN(f.dims - bits.OnesCount32(used))
	for d := 0; d < f.dims; d++ { // the q-th unused dimension
		if used&(1<<d) == 0 {
			if q == 0 {
				q = d
				break
			}
			q--
		}
	}
	used |= 1 << q
	p := (lo[q] + hi[q]) / 2
	f.dim[t*f.internal+node] = uint8(q)
	f.split[t*f.internal+node] = float32(p)
	old := hi[q]
	hi[q] = p
	f.build(r, t, 2*node+1, lo, hi, used)
	hi[q] = old
	old = lo[q]
	lo[q] = p
	f.build(r, t, 2*node+2, lo, hi, used)
	lo[q] = old
}

// hstModel is one model's masses over a forest.
type hstModel struct {
	ref, latest []uint16 // trees × nodes
	// seen counts the points in the latest window; windows counts
	// completed windows (the model scores once it has one).
	seen    int
	windows int
}

func newModel(f *hstForest) *hstModel {
	return &hstModel{ref: make([]uint16, f.trees*f.nodes), latest: make([]uint16, f.trees*f.nodes)}
}

// ready reports whether the model has a reference window to score
// against.
func (m *hstModel) ready() bool { return m.windows > 0 }

// score is the mass score of x: low is anomalous. sizeLimit is the
// least reference mass a node needs to be descended into.
func (f *hstForest) score(m *hstModel, x *[anomalyFeatures]float32, sizeLimit uint16) float64 {
	var total float64
	for t := 0; t < f.trees; t++ {
		base := t * f.nodes
		ib := t * f.internal
		node, k := 0, 0
		for k < f.depth && m.ref[base+node] >= sizeLimit {
			if x[f.dim[ib+node]] < f.split[ib+node] {
				node = 2*node + 1
			} else {
				node = 2*node + 2
			}
			k++
		}
		total += float64(m.ref[base+node]) * float64(uint64(1)<<k)
	}
	return total
}

// update adds x to the latest masses and, after psi points, makes them
// the reference.
func (f *hstForest) update(m *hstModel, x *[anomalyFeatures]float32, psi int) {
	for t := 0; t < f.trees; t++ {
		base := t * f.nodes
		ib := t * f.internal
		node := 0
		for k := 0; ; k++ {
			if m.latest[base+node] < 0xffff {
				m.latest[base+node]++
			}
			if k == f.depth {
				break
			}
			if x[f.dim[ib+node]] < f.split[ib+node] {
				node = 2*node + 1
			} else {
				node = 2*node + 2
			}
		}
	}
	m.seen++
	if m.seen >= psi {
		m.ref, m.latest = m.latest, m.ref
		clear(m.latest)
		m.seen = 0
		m.windows++
	}
}
