package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
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
	// walk reads every page of the list in the order shown, returning the
	// severity and rule title of each row.
	walk := func(what string) (sev, titles []string) {
		t.Helper()
		for page := 1; ; page++ {
			run(t, ctx, fmt.Sprintf("%s: page %d", what, page), waitText(`.pager`, fmt.Sprintf("page %d", page)))
			rows := value[[]string](t, ctx, `[...document.querySelectorAll("#alerts-table tbody tr")].map(tr => tr.children[1].textContent + "|" + tr.children[4].textContent)`)
			for _, r := range rows {
				s, title, _ := strings.Cut(r, "|")
				sev, titles = append(sev, s), append(titles, title)
			}
			if value[bool](t, ctx, `document.getElementById("next-page").disabled`) {
				return sev, titles
			}
			run(t, ctx, what+": next page", clickJS(`#next-page`))
		}
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
