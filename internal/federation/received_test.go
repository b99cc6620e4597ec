package federation_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestReceivedPagesWithCursor: the received indicators page by cursor,
// each exactly once, although a whole batch shares one applied time; a
// member's pages skip what it may not receive; the cursor of the last
// page continues with what arrives later; a made-up cursor is refused.
func TestReceivedPagesWithCursor(t *testing.T) {
	storetest.Each(t, []store.Schema{federation.Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(from, n int, applied int64) {
			t.Helper()
			for i := from; i < from+n; i++ {
				level, named := tlp.Green, ""
				if i%5 == 0 {
					level, named = tlp.Amber, "m2"
				}
				if _, err := db.Exec(ctx, `INSERT INTO federation_warnings (indicator_id, origin_node, sender, country, sector, tlp, named,
					kind, value, confidence, detected, valid_until, sightings, warning, applied) VALUES (?, 'a-node', 's', 'DE', 'energy', ?, ?, 1, ?, 60, 1, 2, 1, 'w', ?)`,
					fmt.Sprintf("indicator--%04d", i), int64(level), named, fmt.Sprintf("45.0.0.%d", i%250), applied); err != nil {
					t.Fatal(err)
				}
			}
		}
		insert(0, 250, 1000) // one batch, one instant
		insert(250, 50, 2000)
		var last string // the operator's last cursor
		for _, tc := range []struct {
			member string
			want   int
		}{{"", 300}, {"m1", 240}, {"m2", 300}} {
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("member %q: paging does not end", tc.member)
				}
				out, next, err := federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Member: tc.member, Limit: 70, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range out {
					if seen[r.ID] {
						t.Fatalf("member %q: %s listed twice", tc.member, r.ID)
					}
					seen[r.ID] = true
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != tc.want {
				t.Errorf("member %q listed %d, want %d", tc.member, len(seen), tc.want)
			}
			if tc.member == "" {
				last = cursor
			}
		}
		// What arrives later continues from the last cursor.
		insert(300, 3, 3000)
		out, _, err := federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Limit: 70, Cursor: last})
		if err != nil || len(out) != 3 || out[0].ID != "indicator--0300" {
			t.Fatalf("after the last page: %d, %v", len(out), err)
		}
		if _, _, err := federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Cursor: "nonsense"}); !errors.Is(err, federation.ErrBadCursor) {
			t.Errorf("made-up cursor: %v, want ErrBadCursor", err)
		}
	})
}
