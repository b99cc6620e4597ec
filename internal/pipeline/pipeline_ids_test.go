package pipeline

import (
	"testing"

	"github.com/xsoc/xsoc/internal/ingest"
)

// TestBatchIDsMatchBatchEventID checks that the ids cut from a batch's one
// string read as BatchEventID's, also across the base-36 digit boundaries
// and when some lines bring ids of their own (skipped) or come out of order.
func TestBatchIDsMatchBatchEventID(t *testing.T) {
	for _, c := range []struct {
		seq   uint64
		lines int
		ask   []int
	}{
		{0, 1, []int{0}},
		{35, 40, []int{0, 1, 2, 34, 35, 36, 39}},
		{36, 1300, []int{5, 35, 36, 1295, 1296, 1299}},
		{1 << 40, 500, []int{499}},
		{7, 10, []int{3, 1, 9, 10}}, // back, and past the end: ids of their own
	} {
		b := ingest.Batch{Seq: c.seq, Lines: make([][]byte, c.lines)}
		var ids batchIDs
		for _, i := range c.ask {
			if got, want := ids.id(b, i), BatchEventID(c.seq, i); got != want {
				t.Errorf("seq %d, line %d of %d: id %q, want %q", c.seq, i, c.lines, got, want)
			}
		}
		var all batchIDs
		for i := range c.lines {
			if got, want := all.id(b, i), BatchEventID(c.seq, i); got != want {
				t.Fatalf("seq %d, every line: line %d id %q, want %q", c.seq, i, got, want)
			}
		}
	}
}

// TestBatchIDsOneAllocation checks that a batch's ids cost one allocation
// however many lines it has.
func TestBatchIDsOneAllocation(t *testing.T) {
	b := ingest.Batch{Seq: 123456, Lines: make([][]byte, 500)}
	allocs := testing.AllocsPerRun(20, func() {
		var ids batchIDs
		for i := range b.Lines {
			ids.id(b, i)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations per batch of %d ids, want 1", allocs, len(b.Lines))
	}
}
