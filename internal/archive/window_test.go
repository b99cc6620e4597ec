package archive

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

// mapWindow is the window as it was, two Go maps: the reference the
// table must agree with exactly, and the baseline of BenchmarkWindow.
type mapWindow struct {
	size      int
	cur, prev map[idHash]struct{}
}

func newMapWindow(size int) *mapWindow {
	return &mapWindow{size: size, cur: make(map[idHash]struct{}, size/2), prev: map[idHash]struct{}{}}
}

func (w *mapWindow) has(k idHash) bool {
	if _, ok := w.cur[k]; ok {
		return true
	}
	_, ok := w.prev[k]
	return ok
}

func (w *mapWindow) insert(k idHash) bool {
	if w.has(k) {
		return false
	}
	if len(w.cur) >= max(w.size/2, 1) {
		w.prev, w.cur = w.cur, make(map[idHash]struct{}, w.size/2)
	}
	w.cur[k] = struct{}{}
	return true
}

func (w *mapWindow) remove(k idHash) {
	if _, ok := w.cur[k]; ok {
		delete(w.cur, k)
		return
	}
	delete(w.prev, k)
}

func TestWindowGenerations(t *testing.T) {
	key := func(i uint64) idHash { return idHash{i, i * 7} }
	type step struct {
		insert, remove uint64 // the key to insert or remove (0: none)
		fresh          bool   // insert's answer
	}
	for _, tc := range []struct {
		name       string
		size       int
		steps      []step
		has, hasNo []uint64
	}{
		{name: "repeat is seen", size: 8,
			steps: []step{{insert: 1, fresh: true}, {insert: 1}, {insert: 2, fresh: true}, {insert: 1}},
			has:   []uint64{1, 2}, hasNo: []uint64{3}},
		{name: "previous generation is still seen", size: 4,
			steps: []step{{insert: 1, fresh: true}, {insert: 2, fresh: true}, {insert: 3, fresh: true}, {insert: 1}, {insert: 2}},
			has:   []uint64{1, 2, 3}},
		{name: "second turnover forgets the oldest", size: 4,
			steps: []step{{insert: 1, fresh: true}, {insert: 2, fresh: true}, {insert: 3, fresh: true}, {insert: 4, fresh: true},
				{insert: 5, fresh: true}},
			has: []uint64{3, 4, 5}, hasNo: []uint64{1, 2}},
		{name: "forgotten id is fresh again", size: 2,
			steps: []step{{insert: 1, fresh: true}, {insert: 2, fresh: true}, {insert: 3, fresh: true}, {insert: 1, fresh: true}},
			has:   []uint64{1, 3}, hasNo: []uint64{2}},
		{name: "removed id is fresh again", size: 8,
			steps: []step{{insert: 1, fresh: true}, {insert: 2, fresh: true}, {remove: 1}, {insert: 1, fresh: true}},
			has:   []uint64{1, 2}},
		{name: "remove reaches the previous generation", size: 2,
			steps: []step{{insert: 1, fresh: true}, {insert: 2, fresh: true}, {remove: 1}},
			has:   []uint64{2}, hasNo: []uint64{1}},
		{name: "remove of an absent id changes nothing", size: 8,
			steps: []step{{insert: 1, fresh: true}, {remove: 9}},
			has:   []uint64{1}, hasNo: []uint64{9}},
		{name: "zero key is a key", size: 8,
			steps: []step{{insert: 1 << 63, fresh: true}, {insert: 0, fresh: true}, {insert: 0}},
			has:   []uint64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(tc.size)
			k := key
			if tc.name == "zero key is a key" {
				k = func(i uint64) idHash { return idHash{i, 0} }
			}
			for i, s := range tc.steps {
				if s.remove != 0 {
					w.remove(k(s.remove))
					continue
				}
				if got := w.insert(k(s.insert)); got != s.fresh {
					t.Errorf("step %d: insert(%d) = %v, want %v", i, s.insert, got, s.fresh)
				}
			}
			for _, i := range tc.has {
				if !w.has(k(i)) {
					t.Errorf("has(%d) = false, want true", i)
				}
			}
			for _, i := range tc.hasNo {
				if w.has(k(i)) {
					t.Errorf("has(%d) = true, want false", i)
				}
			}
		})
	}
}

// TestWindowMatchesMaps runs random inserts and removes, over keys whose
// home slots crowd into a few so that probe runs are long and wrap
// around the table's end, through the table and the two-map reference,
// which must answer alike at every step.
func TestWindowMatchesMaps(t *testing.T) {
	for _, size := range []int{2, 16, 100, 1000} {
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		w, ref := newWindow(size), newMapWindow(size)
		slots := uint64(w.slotCount())
		var recent []idHash
		for step := range 200_000 {
			// The first word picks the home slot: a quarter of them,
			// the last ones, so that runs wrap.
			k := idHash{slots - 1 - rng.Uint64N(max(slots/4, 2)) + slots*rng.Uint64N(3), 1 + rng.Uint64N(uint64(size)+2)} // never {0, 0}, which is {0, 1}
			switch r := rng.IntN(10); {
			case r < 6:
				if got, want := w.insert(k), ref.insert(k); got != want {
					t.Fatalf("size %d step %d: insert(%v) = %v, want %v", size, step, k, got, want)
				}
				recent = append(recent, k)
			case r < 8 && len(recent) > 0:
				k = recent[rng.IntN(len(recent))]
				w.remove(k)
				ref.remove(k)
			default:
				if got, want := w.has(k), ref.has(k); got != want {
					t.Fatalf("size %d step %d: has(%v) = %v, want %v", size, step, k, got, want)
				}
			}
			if len(recent) > 4*size {
				recent = recent[2*size:]
			}
		}
		if w.cur.n != len(ref.cur) || w.prev.n != len(ref.prev) {
			t.Errorf("size %d: generations hold %d, %d; want %d, %d", size, w.cur.n, w.prev.n, len(ref.cur), len(ref.prev))
		}
	}
}

// failingEngine fails every Write, storing nothing.
type failingEngine struct{ Engine }

var errWrite = errors.New("disk full")

func (failingEngine) Write(context.Context, []Batch) error { return errWrite }

// TestWriteFailureForgetsIDs checks that the ids of a write that failed
// are not taken for duplicates when the batch is retried.
func TestWriteFailureForgetsIDs(t *testing.T) {
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, filepath.Join(t.TempDir(), "archive"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err := New(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 100)}}); err != nil {
		t.Fatal(err)
	}
	a.engine = failingEngine{e}
	retry := []Batch{{Stream: 1, Seq: 2, Member: "m1", Events: testEvents("m1", 50, 100)}}
	if err := a.Write(ctx, retry); !errors.Is(err, errWrite) {
		t.Fatalf("Write = %v, want %v", err, errWrite)
	}
	a.engine = e
	if err := a.Write(ctx, retry); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Total(ctx, "m1"); err != nil || n != 150 {
		t.Errorf("Total = %d, %v; want 150", n, err)
	}
}

// BenchmarkWindow checks and records one new id (what Write does per
// event) in a window of a million ids, both generations full, with the
// table and with the two maps it replaced.
func BenchmarkWindow(b *testing.B) {
	const size = recentIDs
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]idHash, 1<<22) // fresh keys, beyond the caches
	for i := range keys {
		keys[i] = idHash{rng.Uint64(), rng.Uint64()}
	}
	for _, impl := range []struct {
		name   string
		insert func(idHash) bool
	}{
		{"table", newWindow(size).insert},
		{"maps", newMapWindow(size).insert},
	} {
		b.Run(impl.name, func(b *testing.B) {
			for i := range size {
				impl.insert(idHash{rng.Uint64(), uint64(i)})
			}
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if !impl.insert(keys[i&(len(keys)-1)]) && i < len(keys) {
					b.Fatal("a fresh key was seen")
				}
				i++
			}
		})
	}
}

// nopEngine stores nothing and fails nothing: what is left of a Write is
// the Archive's own work.
type nopEngine struct{ Engine }

func (nopEngine) Write(context.Context, []Batch) error { return nil }

func (nopEngine) Recent(context.Context, int) (map[string][]string, error) { return nil, nil }

// BenchmarkArchiveDedup measures Archive.Write's own cost per event in
// front of the engine (hashing ids, the recent-id window, the batch
// copy), 16,384 new events per call as the archiver groups them, with
// the window full. Ids come round again after 1.25 million events, once
// the window has forgotten them.
func BenchmarkArchiveDedup(b *testing.B) {
	a, err := New(context.Background(), nopEngine{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, recentIDs+recentIDs/4)
	for i := range ids {
		ids[i] = fmt.Sprintf("{%08x-5cd2-6a1e-0f00-%012x}", i*2654435761, i)
	}
	evs := make([]*event.Event, 16384)
	for i := range evs {
		evs[i] = &event.Event{Member: "m1"}
	}
	next := 0
	write := func() {
		for _, ev := range evs {
			ev.ID = ids[next]
			next = (next + 1) % len(ids)
		}
		if err := a.Write(context.Background(), []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: evs}}); err != nil {
			b.Fatal(err)
		}
	}
	for range recentIDs / len(evs) { // fill the window
		write()
	}
	b.ReportAllocs()
	start, n := cpuTime(), 0
	for b.Loop() {
		write()
		n += len(evs)
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(n), "cpu-ns/event")
}
