package federation

import (
	"context"
	"testing"
)

// TestExporterYieldsToWarnings: the exporter waits while the warning
// sender works through a backlog, and no longer than the backlog goes
// down, or than yieldMax polls.
func TestExporterYieldsToWarnings(t *testing.T) {
	tests := []struct {
		name  string
		start uint64 // alert states waiting at the first poll
		step  uint64 // fewer at each later poll
		known bool
		want  int // polls
	}{
		{"no warning sender", 5000, 100, false, 1},
		{"no backlog", yieldAbove, 100, true, 1},
		{"backlog worked through", 3000, 100, true, 21}, // 3000-20*100 = 1000
		{"backlog stuck", 5000, 0, true, 1 + yieldStall},
		{"backlog without end", 1 << 40, 1, true, yieldMax + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.start
			asked := 0
			waiting := func() (uint64, bool) {
				asked++
				if asked > 1 {
					n -= tc.step
				}
				return n, tc.known
			}
			got := yieldWhile(context.Background(), waiting, 0)
			if got != tc.want || asked != tc.want {
				t.Errorf("asked %d times (returned %d), want %d", asked, got, tc.want)
			}
		})
	}
}

// TestExporterYieldEndsWithContext: a node stopping does not wait.
func TestExporterYieldEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	asked := 0
	got := yieldWhile(ctx, func() (uint64, bool) {
		asked++
		if asked == 3 {
			cancel()
		}
		return 1 << 20, true
	}, 0)
	if got != 3 {
		t.Errorf("asked %d times after the context ended at the third, want 3", got)
	}
}
