package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/user"
)

// TestIncidentSortOverREST asks the incident list for orders, pages and
// mistakes through the console's session, on both engines: a known order
// gives its first page and a cursor naming it, the cursor leads to the
// next page in the same order only, and an unknown key, direction or
// cursor is 400 with a message naming what is accepted.
func TestIncidentSortOverREST(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		now := time.Now()
		for i := range 4 {
			var batch []alert.Alert
			for j := range i + 1 {
				batch = append(batch, alert.Alert{Member: "fr-soc", EventTime: now.Add(-time.Duration(i) * time.Hour), Detector: "sigma",
					RuleID: fmt.Sprintf("r-%d-%d", i, j), RuleTitle: fmt.Sprintf("Finding %d", i), Severity: alert.Low,
					Observables: []alert.Observable{{Type: "host", Value: fmt.Sprintf("ws-%d", i), Role: "host"}},
					EventIDs:    []string{fmt.Sprintf("e-%d-%d", i, j)}})
			}
			f.raise(t, batch...)
		}
		b := newBrowser(t, f.srv.URL)
		b.login("ana@fr-soc", testPassword)
		page := func(query string) (int, correlate.Page, string) {
			code, body := b.call("GET", "/api/v1/incidents?"+query, "")
			var p correlate.Page
			if code == 200 {
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			return code, p, body
		}
		_, first, _ := page("sort=alerts&order=asc&limit=2")
		if len(first.Incidents) != 2 || !strings.HasPrefix(first.Next, "alerts.asc.2.") ||
			len(first.Incidents[0].Timeline) != 1 || len(first.Incidents[1].Timeline) != 2 {
			t.Fatalf("first page, fewest alerts first: %d incidents, next %q", len(first.Incidents), first.Next)
		}
		_, second, _ := page("sort=alerts&order=asc&limit=2&cursor=" + url.QueryEscape(first.Next))
		if len(second.Incidents) != 2 || second.Next != "" || len(second.Incidents[0].Timeline) != 3 || len(second.Incidents[1].Timeline) != 4 {
			t.Fatalf("second page: %d incidents, next %q", len(second.Incidents), second.Next)
		}
		for _, tc := range []struct {
			query string
			code  int
			says  string
		}{
			{"sort=severity&order=desc", 200, `"incidents"`},
			{"sort=nis2_due&order=asc", 200, `"incidents"`},
			{"sort=title", 400, "created, updated, last_seen, first_seen, severity, alerts, status, nis2_due"},
			{"sort=alerts&order=up", 400, "asc or desc"},
			{"sort=severity&cursor=" + url.QueryEscape(first.Next), 400, "cursor belongs to sort alerts asc, not severity desc"},
			{"sort=alerts&cursor=" + url.QueryEscape(first.Next), 400, "cursor belongs to sort alerts asc, not alerts desc"},
			{"cursor=" + url.QueryEscape(first.Next), 400, "not created desc"},
			{"sort=alerts&order=asc&cursor=alerts.asc.x." + first.Incidents[0].ID, 400, "holds no sort value"},
			{"cursor=zz", 400, "not a page cursor"},
		} {
			code, _, body := page(tc.query)
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("GET /api/v1/incidents?%s = %d %s, want %d saying %q", tc.query, code, body, tc.code, tc.says)
			}
		}
	})
}
