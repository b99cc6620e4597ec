package web

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// TestBrowserSortsAlertsOnTheServer clicks the alert list's column
// headers and walks the pages: the order holds across pages (the server
// sorts, not the page), no alert repeats or goes missing, and another
// member's AMBER+STRICT alerts stay out of every order.
func TestBrowserSortsAlertsOnTheServer(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	const mine = 120
	now := time.Now()
	var batch []alert.Alert
	for i := range mine {
		batch = append(batch, alert.Alert{Member: "fr-soc", EventTime: now.Add(-time.Duration(i) * time.Minute), Detector: "sigma",
			RuleID: fmt.Sprintf("r-%d", i), RuleTitle: fmt.Sprintf("Finding %d", i), Severity: alert.Severity(i % 5), TLP: tlp.Green,
			Key: fmt.Sprintf("h-%d", i), EventIDs: []string{fmt.Sprintf("e-%d", i)}})
	}
	for i := range 10 {
		batch = append(batch, alert.Alert{Member: "de-energie", EventTime: now, Detector: "sigma", RuleID: fmt.Sprintf("de-%d", i),
			RuleTitle: "Energie internal finding", Severity: alert.Critical, TLP: tlp.AmberStrict,
			Key: fmt.Sprintf("de-%d", i), EventIDs: []string{fmt.Sprintf("e-de-%d", i)}})
	}
	if _, err := f.alerts.Raise(t.Context(), batch); err != nil {
		t.Fatal(err)
	}

	loginAs(t, ctx, f.srv.URL, "vic@fr-soc")
	run(t, ctx, "alert list", chromedp.Navigate(f.srv.URL+"/#/alerts"), waitText(`#alerts-table`, "Finding"))
	walk := func(what string) (sev, titles []string) {
		t.Helper()
		for _, r := range walkTable(t, ctx, what, "#alerts-table", 1, 4) {
			sev, titles = append(sev, r[0]), append(titles, r[1])
		}
		return sev, titles
	}
	rank := func(s string) int {
		return slices.Index([]string{"informational", "low", "medium", "high", "critical"}, s)
	}
	check := func(what string, sev, titles []string, desc bool) {
		t.Helper()
		if len(titles) != mine {
			t.Fatalf("%s: walked %d alerts, want %d", what, len(titles), mine)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(titles)))) != mine {
			t.Fatalf("%s: an alert repeats across pages: %v", what, titles)
		}
		for i := 1; i < len(sev); i++ {
			if a, b := rank(sev[i-1]), rank(sev[i]); a < 0 || (desc && a < b) || (!desc && a > b) {
				t.Fatalf("%s: row %d (%s) after row %d (%s) breaks the order", what, i+1, sev[i], i, sev[i-1])
			}
		}
		if slices.Contains(titles, "Energie internal finding") {
			t.Fatalf("%s: fr-soc's viewer sees de-energie's AMBER+STRICT alerts", what)
		}
	}

	run(t, ctx, "sort by severity", clickJS(`#sort-severity`),
		waitTrue(`document.getElementById("sort-severity")?.getAttribute("aria-sort") === "descending"`),
		waitTrue(`location.hash.includes("sort=severity")`))
	screenshot(t, ctx, dir, "alerts-sorted-by-severity")
	sev, titles := walk("severity, highest first")
	check("severity, highest first", sev, titles, true)
	if sev[0] != "critical" || sev[mine-1] != "informational" {
		t.Fatalf("severity, highest first: starts %s, ends %s", sev[0], sev[mine-1])
	}

	run(t, ctx, "reverse the order", clickJS(`#sort-severity`),
		waitTrue(`document.getElementById("sort-severity")?.getAttribute("aria-sort") === "ascending"`),
		waitTrue(`location.hash.includes("order=asc")`))
	sev, titles = walk("severity, lowest first")
	check("severity, lowest first", sev, titles, false)
	if sev[0] != "informational" {
		t.Fatalf("severity, lowest first: starts with %s", sev[0])
	}

	// A cursor of one order used with another is refused with a reason
	// the page shows.
	run(t, ctx, "a cursor of another sort",
		chromedp.Navigate(f.srv.URL+"/#/alerts?sort=count"),
		waitTrue(`document.getElementById("sort-count")?.getAttribute("aria-sort") === "descending"`))
	status := value[string](t, ctx, `fetch("/api/v1/alerts?sort=severity&limit=2").then(r => r.json()).then(p =>
		fetch("/api/v1/alerts?sort=count&cursor=" + encodeURIComponent(p.next))).then(r => r.status + " " + r.statusText)`, chromedp.EvalAwaitPromise)
	if !strings.HasPrefix(status, "400") {
		t.Fatalf("cursor of sort severity used with sort count: %s, want 400", status)
	}
	run(t, ctx, "an unknown sort key", chromedp.Navigate(f.srv.URL+"/#/alerts?sort=rule"),
		waitText(`#flash`, "detected, last_seen, severity, count, status"))
}

// walkTable reads every page of a paged list in the order shown, from
// the first, and returns the text of the given cells of each row.
func walkTable(t *testing.T, ctx context.Context, what, table string, cells ...int) [][]string {
	t.Helper()
	var out [][]string
	for page := 1; ; page++ {
		run(t, ctx, fmt.Sprintf("%s: page %d", what, page), waitText(`.pager`, fmt.Sprintf("page %d", page)))
		rows := value[[][]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll("%s tbody tr")].map(tr => %s.map(i => tr.children[i].textContent))`,
			table, strings.ReplaceAll(fmt.Sprint(cells), " ", ", ")))
		out = append(out, rows...)
		if value[bool](t, ctx, `document.getElementById("next-page").disabled`) {
			return out
		}
		run(t, ctx, what+": next page", clickJS(`#next-page`))
	}
}

// TestBrowserSortsIncidentsOnTheServer clicks the incident list's alerts
// header and walks the pages: the whole list is in the order of the alert
// counts the viewer is shown, across pages, so the server sorted it (the
// request says so too) on what the viewer sees. de-energie's AMBER+STRICT
// alerts in the cross-border campaign would put it first if the order
// counted them; fr-soc sees two of its ten alerts and finds it among the
// incidents of two.
func TestBrowserSortsIncidentsOnTheServer(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	now := time.Now()
	var batch []alert.Alert
	for i := range 30 {
		for j := range i%5 + 1 {
			batch = append(batch, alert.Alert{Member: "fr-soc", EventTime: now.Add(-time.Duration(i*10+j) * time.Minute), Detector: "sigma",
				RuleID: fmt.Sprintf("r-%d-%d", i, j), RuleTitle: fmt.Sprintf("Finding %d", i), Severity: alert.Severity(i % 4),
				Observables: []alert.Observable{{Type: "host", Value: fmt.Sprintf("ws-%d", i), Role: "host"}},
				EventIDs:    []string{fmt.Sprintf("e-%d-%d", i, j)}})
		}
	}
	f.raise(t, batch...)
	f.campaign(t, "Beacon to C2", now.Add(-time.Hour))
	var hidden []alert.Alert
	for i := range 7 {
		hidden = append(hidden, alert.Alert{Member: "de-energie", EventTime: now.Add(-time.Duration(i) * time.Minute), Detector: "sigma",
			RuleID: fmt.Sprintf("de-%d", i), RuleTitle: "Energie beacon", Severity: alert.Critical,
			Observables: []alert.Observable{{Type: "ipv4-addr", Value: "198.51.100.77", Role: "destination"}, {Type: "host", Value: "ws-de-1", Role: "host"}},
			EventIDs:    []string{fmt.Sprintf("e-de-x%d", i)}})
	}
	f.raise(t, hidden...)
	fr := alert.Viewer{Member: "fr-soc"}
	all, err := f.correlator.Incidents(t.Context(), fr, correlate.Filter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	op, err := f.correlator.Incidents(t.Context(), alert.Viewer{Operator: true}, correlate.Filter{Kind: correlate.KindCampaign})
	if err != nil || len(op.Incidents) != 1 || len(op.Incidents[0].Timeline) != 10 {
		t.Fatalf("fixture: the campaign as operators see it: %+v %v", op.Incidents, err)
	}

	loginAs(t, ctx, f.srv.URL, "vic@fr-soc")
	run(t, ctx, "incident list, 25 a page", chromedp.Navigate(f.srv.URL+"/#/incidents?limit=25"), waitText(`#incidents-table`, "Finding"))
	check := func(what string, desc bool) {
		t.Helper()
		rows := walkTable(t, ctx, what, "#incidents-table", 8, 5)
		if len(rows) != len(all.Incidents) {
			t.Fatalf("%s: walked %d incidents, want the %d fr-soc sees", what, len(rows), len(all.Incidents))
		}
		titles := map[string]bool{}
		campaign := ""
		for i, r := range rows {
			titles[r[1]] = true
			if strings.Contains(r[1], "Cross-border campaign") {
				campaign = r[0]
			}
			if i == 0 {
				continue
			}
			a, b := atoi(t, rows[i-1][0]), atoi(t, r[0])
			if (desc && a < b) || (!desc && a > b) {
				t.Fatalf("%s: row %d (%d alerts) after row %d (%d alerts) breaks the order", what, i+1, b, i, a)
			}
		}
		if len(titles) != len(rows) || campaign != "2" {
			t.Fatalf("%s: %d distinct of %d rows; the campaign shows %q alerts, want 2", what, len(titles), len(rows), campaign)
		}
	}
	run(t, ctx, "sort by alerts", clickJS(`#sort-alerts`),
		waitTrue(`document.getElementById("sort-alerts")?.getAttribute("aria-sort") === "descending"`),
		waitTrue(`location.hash.includes("sort=alerts")`))
	screenshot(t, ctx, dir, "incidents-sorted-by-alerts")
	check("alerts, most first", true)
	run(t, ctx, "reverse the order", clickJS(`#sort-alerts`),
		waitTrue(`document.getElementById("sort-alerts")?.getAttribute("aria-sort") === "ascending"`),
		waitTrue(`location.hash.includes("order=asc")`))
	check("alerts, fewest first", false)
	// The pages came from the server in that order.
	asked := value[[]string](t, ctx, `performance.getEntriesByType("resource").map(e => e.name).filter(n => n.includes("/api/v1/incidents?"))`)
	if !slices.ContainsFunc(asked, func(u string) bool {
		return strings.Contains(u, "sort=alerts") && strings.Contains(u, "order=asc") && strings.Contains(u, "cursor=alerts.asc.")
	}) {
		t.Fatalf("no page of the ascending order was asked of the server: %v", asked)
	}
	run(t, ctx, "an unknown sort key", chromedp.Navigate(f.srv.URL+"/#/incidents?sort=title"),
		waitText(`#flash`, "created, updated, last_seen, first_seen, severity, alerts, status, nis2_due"))
}

// atoi reads a number shown in a cell.
func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("cell %q: %v", s, err)
	}
	return n
}
