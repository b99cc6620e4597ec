package ml

import (
	"math/rand/v2"
	"testing"
)

// TestKeyIndexMatchesMap runs random puts, deletes and lookups on a
// keyIndex and on a Go map side by side. Keys are drawn from a small
// set, with some sharing their low bits, so that runs of cells form,
// wrap around the table's end and are cut by deletions.
func TestKeyIndexMatchesMap(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		x := keyIndex{seed: r.Uint64()}
		want := map[uint64]int32{}
		keys := make([]uint64, 200)
		for i := range keys {
			keys[i] = r.Uint64()
			if i%3 == 0 {
				keys[i] &^= 0xffff // the same low bits
			}
		}
		for op := range 5000 {
			h := keys[r.IntN(len(keys))]
			switch r.IntN(3) {
			case 0:
				at := int32(r.IntN(1000))
				x.put(h, at)
				want[h] = at
			case 1:
				x.del(h)
				delete(want, h)
			}
			checkKey(t, &x, want, h)
			if x.len() != len(want) {
				t.Fatalf("seed %d op %d: %d keys, want %d", seed, op, x.len(), len(want))
			}
			if op%1000 == 999 {
				for _, k := range keys {
					checkKey(t, &x, want, k)
				}
			}
		}
		x.reset()
		if _, ok := x.get(keys[0]); ok || x.len() != 0 {
			t.Fatalf("seed %d: a key is left after reset", seed)
		}
	}
}

// checkKey fails the test unless x has key h at the position want has.
func checkKey(t *testing.T, x *keyIndex, want map[uint64]int32, h uint64) {
	t.Helper()
	got, ok := x.get(h)
	if w, has := want[h]; ok != has || ok && got != w {
		t.Fatalf("get(%x) = %d, %v; want %d, %v", h, got, ok, w, has)
	}
}
