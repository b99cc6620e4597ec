package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// TestBrowserAlertEvidenceAndCaseWork opens an alert's readable evidence
// (fields as a table, the raw event pretty-printed, ATT&CK links), then
// works the incident from its page: assigns it, comments on it, splits an
// alert off into a new incident and merges that back.
func TestBrowserAlertEvidenceAndCaseWork(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	at := time.Now().Add(-20 * time.Minute)
	mk := func(host, rule, title, tech string) alert.Alert {
		return alert.Alert{Member: "fr-soc", EventTime: at, Detector: "sigma", RuleID: rule, RuleTitle: title,
			Severity: alert.High, Techniques: []string{tech}, TLP: tlp.Clear, EventIDs: []string{"e-" + host},
			Observables: []alert.Observable{{Type: "host", Value: host, Role: "host"}},
			Evidence: []string{`{"@timestamp":"` + at.Format(time.RFC3339) + `","event.id":"e-` + host + `","host.name":"` + host +
				`","process.command_line":"powershell -enc SQBFAFgA","user.name":"marie"}`}}
	}
	raised := f.raise(t, mk("ws-fr-1", "r-enc", "Encoded PowerShell", "T1059.001"), mk("srv-fr-2", "r-svc", "Service installed", "T1543.003"))
	a, b := reread(t, f, raised[0]), reread(t, f, raised[1])
	if a.Incident == "" || b.Incident != a.Incident {
		t.Fatalf("fixture: want one incident of both alerts, got %q and %q", a.Incident, b.Incident)
	}

	loginAs(t, ctx, f.srv.URL, "ana@fr-soc")
	run(t, ctx, "alert list sorted by severity on the page", chromedp.Navigate(f.srv.URL+"/#/alerts"),
		waitText(`#alerts-table`, "Service installed"))
	screenshot(t, ctx, dir, "alerts")
	run(t, ctx, "the alert's evidence",
		chromedp.Navigate(f.srv.URL+"/#/alerts/"+a.ID),
		waitText(`#alert-title`, "Encoded PowerShell"),
		waitText(`.fields`, "process.command_line"),
		waitText(`.fields`, "powershell -enc SQBFAFgA"),
		waitText(`pre.raw`, `"host.name": "ws-fr-1"`))
	raw := value[string](t, ctx, `document.querySelector("pre.raw").textContent`)
	if !strings.Contains(raw, "{\n  \"") {
		t.Fatalf("raw event not pretty-printed:\n%s", raw)
	}
	if href := value[string](t, ctx, `document.querySelector("#view a.badge").href`); href != "https://attack.mitre.org/techniques/T1059/001/" {
		t.Fatalf("ATT&CK link %q", href)
	}
	if got := value[string](t, ctx, `document.querySelector(".fields a[href*='field=user.name']").textContent`); got != "marie" {
		t.Fatalf("field value pivot: %q", got)
	}
	screenshot(t, ctx, dir, "alert")

	run(t, ctx, "assign the incident and comment on it",
		chromedp.Navigate(f.srv.URL+"/#/incidents/"+a.Incident),
		waitText(`#timeline`, "Service installed"),
		chromedp.SetValue(chromedp.CSS(`#assignee`), "ana@fr-soc"),
		chromedp.Click(chromedp.CSS(`#assign`)),
		waitText(`#flash`, "assigned"),
		chromedp.SetValue(chromedp.CSS(`#comment`), "Isolated ws-fr-1 <b>now</b>"),
		chromedp.Click(chromedp.CSS(`#add-comment`)),
		waitText(`#flash`, "comment added"),
		waitText(`#comments`, "Isolated ws-fr-1 <b>now</b>"),
		waitText(`#view`, "ana@fr-soc"),
		waitText(`#audit`, "assign"))
	if n := value[int](t, ctx, `document.querySelectorAll("#comments b").length`); n != 0 {
		t.Fatal("a comment was parsed as markup")
	}
	screenshot(t, ctx, dir, "incident-assigned")
	run(t, ctx, "split the second alert off",
		chromedp.Navigate(f.srv.URL+"/#/incidents/"+a.Incident),
		waitText(`#timeline`, "Service installed"),
		clickJS(`#timeline tbody tr:nth-child(2) .split-pick`),
		chromedp.Click(chromedp.CSS(`#split`)),
		waitText(`#flash`, "split off"),
		waitTrue(`!location.hash.includes("`+a.Incident+`")`),
		waitText(`#timeline`, "Service installed"))
	if n := value[int](t, ctx, `document.querySelectorAll("#timeline tbody tr").length`); n != 1 {
		t.Fatalf("split-off incident has %d alerts, want 1", n)
	}
	split := strings.TrimPrefix(value[string](t, ctx, `location.hash`), "#/incidents/")
	screenshot(t, ctx, dir, "incident-split")

	run(t, ctx, "merge it back",
		chromedp.Navigate(f.srv.URL+"/#/incidents/"+a.Incident),
		waitText(`#timeline`, "Encoded PowerShell"),
		waitTrue(`!!document.querySelector("#merge-candidates option[value='`+split+`']")`),
		chromedp.SetValue(chromedp.CSS(`#merge-from`), split),
		chromedp.Click(chromedp.CSS(`#merge`)),
		waitText(`#flash`, "merged"),
		waitText(`#timeline`, "Service installed"),
		waitText(`#audit`, "merge"))
	if n := value[int](t, ctx, `document.querySelectorAll("#timeline tbody tr").length`); n != 2 {
		t.Fatalf("timeline after the merge has %d alerts, want 2", n)
	}
	if href := value[string](t, ctx, `document.querySelector("#timeline a[href*='attack.mitre.org']").href`); !strings.HasPrefix(href, "https://attack.mitre.org/techniques/T") {
		t.Fatalf("timeline ATT&CK link %q", href)
	}
	screenshot(t, ctx, dir, "incident-merged")
}

// reread returns the alert as stored now: with the incident the
// correlator put it in.
func reread(t *testing.T, f *fixture, a alert.Alert) alert.Alert {
	t.Helper()
	got, err := f.alerts.Get(t.Context(), alert.Viewer{Operator: true}, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
