package ml

import (
	"math/rand/v2"
	"slices"
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

// testEntry is a slots entry whose user sets last on every lookup, as
// trackSeen asks.
type testEntry struct {
	key  uint64
	last int64
	used bool
}

func (e *testEntry) inUse() bool      { return e.used }
func (e *testEntry) slotKey() uint64  { return e.key }
func (e *testEntry) lastSeen() int64  { return e.last }
func (e *testEntry) reset(key uint64) { *e = testEntry{key: key, used: true} }

// TestSlotsTrackedEvictsAlike looks up the same keys at the same times
// in a table that keeps the times itself (trackSeen) and in one that reads
// them from the entries: every lookup must land on the same slab position
// with the same entry, through expiry and eviction, and after a restore.
func TestSlotsTrackedEvictsAlike(t *testing.T) {
	for _, tc := range []struct {
		name          string
		limit, keys   int
		expire, maxDt int64
	}{
		{"evicting", 16, 100, 1 << 40, 10},
		{"expiring", 16, 100, 50, 10},
		{"roomy", 256, 100, 1 << 40, 10},
		{"one slot", 1, 5, 20, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.limit), uint64(tc.keys)))
			var plain, tracked slots[testEntry, *testEntry]
			plain.init(tc.limit)
			tracked.init(tc.limit)
			tracked.trackSeen()
			now := int64(1)
			for op := range 3000 {
				if op == 1500 { // a state saved and restored
					saved := append([]testEntry(nil), tracked.slab...)
					r.Shuffle(len(saved), func(i, j int) { saved[i], saved[j] = saved[j], saved[i] })
					plain.clear()
					tracked.clear()
					for _, e := range saved {
						plain.restore(e.key, e)
						tracked.restore(e.key, e)
					}
				}
				now += r.Int64N(tc.maxDt)
				h := uint64(r.IntN(tc.keys)) + 1
				a, b := plain.lookup(h, now, tc.expire), tracked.lookup(h, now, tc.expire)
				a.last, b.last = now, now
				if *a != *b || !slices.Equal(plain.slab, tracked.slab) {
					t.Fatalf("op %d: key %d: %+v untracked, %+v tracked", op, h, *a, *b)
				}
			}
		})
	}
}
