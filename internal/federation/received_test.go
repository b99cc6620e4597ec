package federation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestReceivedPagesWithCursor: the received indicators page by cursor,
// each origin of each exactly once, although a whole batch shares one
// applied time and two origins of one node share an indicator id; a
// member's pages skip what it may not receive; the cursor of the last
// page continues with what arrives later; a cursor of the earlier form
// continues after every origin of its id; a made-up cursor is refused.
func TestReceivedPagesWithCursor(t *testing.T) {
	storetest.Each(t, []store.Schema{federation.Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(from, n int, applied int64, sender string) {
			t.Helper()
			for i := from; i < from+n; i++ {
				level, named := tlp.Green, ""
				if i%5 == 0 {
					level, named = tlp.Amber, "m2"
				}
				if _, err := db.Exec(ctx, `INSERT INTO federation_warnings (indicator_id, origin_node, sender, country, sector, tlp, named,
					kind, value, confidence, detected, valid_until, sightings, warning, applied) VALUES (?, 'a-node', ?, 'DE', 'energy', ?, ?, 1, ?, 60, 1, 2, 1, 'w', ?)`,
					fmt.Sprintf("indicator--%04d", i), sender, int64(level), named, fmt.Sprintf("45.0.0.%d", i%250), applied); err != nil {
					t.Fatal(err)
				}
			}
		}
		insert(0, 250, 1000, "s")  // one batch, one instant
		insert(0, 100, 1000, "s2") // another member of a-node pushed these too
		insert(250, 50, 2000, "s")
		var last string // the operator's last cursor
		for _, tc := range []struct {
			member string
			want   int
		}{{"", 400}, {"m1", 320}, {"m2", 400}} {
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
					if seen[r.ID+" "+r.Sender] {
						t.Fatalf("member %q: %s of %s listed twice", tc.member, r.ID, r.Sender)
					}
					seen[r.ID+" "+r.Sender] = true
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
		// A cursor of the earlier form continues after the origins of its id.
		out, _, err := federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Limit: 2, Cursor: "1000~indicator--0005"})
		if err != nil || len(out) != 2 || out[0].ID != "indicator--0006" || out[0].Sender != "s" || out[1].ID != "indicator--0006" || out[1].Sender != "s2" {
			t.Fatalf("after an earlier cursor: %+v, %v", out, err)
		}
		// What arrives later continues from the last cursor.
		insert(300, 3, 3000, "s")
		out, _, err = federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Limit: 70, Cursor: last})
		if err != nil || len(out) != 3 || out[0].ID != "indicator--0300" {
			t.Fatalf("after the last page: %d, %v", len(out), err)
		}
		if _, _, err := federation.ListReceivedPage(ctx, db, federation.ReceivedFilter{Cursor: "nonsense"}); !errors.Is(err, federation.ErrBadCursor) {
			t.Errorf("made-up cursor: %v, want ErrBadCursor", err)
		}
	})
}

// TestReceivedPerOriginUpgrade: a store of the release that kept one row
// per received indicator id keeps every row through the migration to one
// row per origin, which then holds two origins of one id.
func TestReceivedPerOriginUpgrade(t *testing.T) {
	all := federation.Schema()
	at := slices.IndexFunc(all.Migrations, func(m string) bool { return strings.HasPrefix(m, "CREATE TABLE federation_received") })
	if at < 0 {
		t.Fatal("no migration makes received indicators per origin")
	}
	before := store.Schema{Owner: all.Owner, Migrations: all.Migrations[:at]}
	storetest.Each(t, []store.Schema{before}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(sender string) error {
			_, err := db.Exec(ctx, `INSERT INTO federation_warnings (indicator_id, origin_node, sender, country, sector, tlp, named,
				kind, value, confidence, detected, valid_until, sightings, warning, applied) VALUES ('indicator--1', 'a-node', ?, 'DE', 'energy',
				2, 'm2', 1, '45.0.0.1', 60, 1, 2, 3, 'w', 5)`, sender)
			return err
		}
		if err := insert("s1"); err != nil {
			t.Fatal(err)
		}
		if err := insert("s2"); err == nil {
			t.Fatal("the store before the migration took a second origin of one id: the test does not test the upgrade")
		}
		if err := db.Migrate(ctx, all); err != nil {
			t.Fatal(err)
		}
		if err := insert("s2"); err != nil {
			t.Fatalf("a second origin of one id after the upgrade: %v", err)
		}
		got, err := federation.ListReceived(ctx, db, federation.ReceivedFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "indicator--1" || got[0].TLP != tlp.Amber || len(got[0].Named) != 1 || got[0].Sightings != 3 ||
			got[0].Indicator != got[1].Indicator || got[0].Indicator != federation.ReceivedID(ioc.KindIP, "45.0.0.1") {
			t.Errorf("after the upgrade: %+v", got)
		}
	})
}
