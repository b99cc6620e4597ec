package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/user"
)

// xssRule is a rule whose title carries markup.
const xssRule = `title: Dropper <img src=x onerror="window.__xss=7">
id: 0d5c1a8e-7b3f-4c2d-9e1a-5f6b7c8d9e0f
logsource: {category: process_creation, product: windows}
detection:
  sel: {process.name: dropper.exe}
  condition: sel
level: medium
tags: [attack.t1204.002]
`

// TestBrowserRules: a platform admin searches the rules, disables and
// enables one, uploads a rule (whose markup title shows as text), and
// tests a pasted rule against pasted events; a viewer sees the states but
// no buttons.
func TestBrowserRules(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	eng := f.withRules(t, map[string]string{"enc.yml": testRule})
	const id = "6b1e7f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	enabled := func() bool {
		for _, r := range eng.Rules() {
			if r.ID == id {
				return r.Enabled
			}
		}
		t.Fatalf("rule %s not loaded", id)
		return false
	}

	loginAs(t, ctx, f.srv.URL, "ops")
	run(t, ctx, "rules page", chromedp.Navigate(f.srv.URL+"/#/rules"),
		waitText(`#rules-table`, "Encoded PowerShell"), waitText(`#state-`+id, "enabled"))
	run(t, ctx, "disable the rule", clickJS(`#toggle-`+id), waitText(`#state-`+id, "disabled"), waitText(`#flash`, "disabled"))
	if enabled() {
		t.Fatal("the page says disabled, the engine runs the rule")
	}
	run(t, ctx, "the state outlives a reload", chromedp.Reload(), waitText(`#state-`+id, "disabled"))
	run(t, ctx, "enable it again", clickJS(`#toggle-`+id), waitText(`#state-`+id, "enabled"))
	if !enabled() {
		t.Fatal("the page says enabled, the engine does not run the rule")
	}
	run(t, ctx, "upload a rule",
		chromedp.SetValue(chromedp.CSS(`#rule-upload`), xssRule),
		chromedp.SetValue(chromedp.CSS(`#rule-name`), "dropper.yml"),
		chromedp.Click(chromedp.CSS(`#rule-upload-go`)),
		waitText(`#flash`, "stored and loaded"),
		waitText(`#rules-table`, `Dropper <img src=x`),
		waitText(`#rules-count`, "2 of 2"))
	run(t, ctx, "search", chromedp.SendKeys(chromedp.CSS(`#rule-search`), "T1204"), waitText(`#rules-count`, "1 of 2"))
	screenshot(t, ctx, dir, "rules")
	run(t, ctx, "a broken upload is refused with the reason",
		chromedp.SetValue(chromedp.CSS(`#rule-upload`), "title: [unclosed"),
		chromedp.Click(chromedp.CSS(`#rule-upload-go`)),
		waitText(`#flash`, "400"))

	run(t, ctx, "test a rule against pasted events",
		chromedp.SetValue(chromedp.CSS(`#test-rule`), testRule),
		chromedp.SetValue(chromedp.CSS(`#test-events`), `{"@timestamp":"2026-12-01T10:00:00Z","event":{"category":"process","type":"start"},"host":{"os":{"type":"windows"}},"process":{"command_line":"powershell -enc SQBFAFgA"}}
{"@timestamp":"2026-12-01T10:00:01Z","event":{"category":"process","type":"start"},"host":{"os":{"type":"windows"}},"process":{"command_line":"notepad.exe"}}`),
		chromedp.Click(chromedp.CSS(`#test-go`)),
		waitText(`#test-results`, "2 verdicts, 1 matches"),
		waitText(`#test-results`, "line 1: MATCH"),
		waitText(`#test-results`, "line 2: no match"),
		waitText(`#test-results`, "process.command_line"))
	screenshot(t, ctx, dir, "rules-test")
	if fired := value[bool](t, ctx, `window.__xss !== undefined`); fired || value[int](t, ctx, `document.querySelectorAll("#view img").length`) != 0 {
		t.Fatal("a rule title was parsed as markup")
	}

	// A viewer sees the rules and their state, not the buttons; the API
	// refuses the change with a message.
	run(t, ctx, "log out", clickJS(`#logout`), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	loginAs(t, ctx, f.srv.URL, "vic@fr-soc")
	run(t, ctx, "rules as a viewer", chromedp.Navigate(f.srv.URL+"/#/rules"), waitText(`#rules-table`, "enabled"))
	if n := value[int](t, ctx, `document.querySelectorAll("#rules-table button, #rule-upload").length`); n != 0 {
		t.Fatalf("a viewer is offered %d rule buttons", n)
	}
}

// TestBrowserHunting searches a member's stored events by field filter
// and pivots from a value to the events, alerts and indicators holding it.
func TestBrowserHunting(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	f.withIntel(t)
	now := time.Now().UTC()
	ev := func(i int, host, ip, cmd string) string {
		b, _ := json.Marshal(map[string]any{"@timestamp": now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
			"event.id": "h-" + host + "-" + string(rune('a'+i)), "host.name": host, "destination.ip": ip, "process.command_line": cmd})
		return string(b)
	}
	f.withArchive(t, "fr-soc",
		ev(1, "ws-fr-1", "198.51.100.77", "curl http://198.51.100.77/a"),
		ev(2, "ws-fr-2", "198.51.100.77", "curl http://198.51.100.77/b"),
		ev(3, "ws-fr-3", "10.0.0.9", "backup.exe"),
		ev(4, "ws-fr-4", "10.0.0.10", `<img src=x onerror="window.__xss=8">`))
	f.campaign(t, "C2 beacon", now.Add(-5*time.Minute))
	adm := newBrowser(t, f.srv.URL)
	adm.login("adm@fr-soc", testPassword)
	if code, out := adm.call("POST", "/web/intel/import?collection="+sharedColl, bundle("Internal")); code != 200 {
		t.Fatalf("import: %d %s", code, out)
	}

	loginAs(t, ctx, f.srv.URL, "ana@fr-soc")
	run(t, ctx, "hunt by field filter",
		chromedp.Navigate(f.srv.URL+"/#/hunt"),
		chromedp.SetValue(chromedp.CSS(`#hunt-fields`), "host.name=ws-fr-3"),
		chromedp.Click(chromedp.CSS(`#hunt-run`)),
		waitText(`#hunt-results h2`, "1 events"), waitText(`#hunt-table`, "backup.exe"))
	screenshot(t, ctx, dir, "hunt")
	run(t, ctx, "pivot from a value in the results",
		chromedp.Navigate(f.srv.URL+"/#/hunt?value=198.51.100.77&field=destination.ip"),
		waitText(`#hunt-results h2`, "2 events"),
		waitText(`#pivot-alerts-table`, "C2 beacon"),
		waitText(`#pivot-alerts-table`, "nl-bank"),
		waitText(`#pivot-intel-table`, "nothing to show"))
	if strings.Contains(value[string](t, ctx, `document.getElementById("pivot-alerts-table").textContent`), "de-energie") {
		t.Fatal("the pivot shows de-energie's AMBER+STRICT alert to fr-soc")
	}
	run(t, ctx, "pivot to an indicator",
		chromedp.Navigate(f.srv.URL+"/#/hunt?value=198.51.100.7"),
		waitText(`#pivot-intel-table`, "C2 server"))
	run(t, ctx, "pivot from an alert's observable",
		chromedp.Navigate(f.srv.URL+"/#/alerts"), waitText(`#alerts-table`, "C2 beacon"),
		clickJS(`#alerts-table tbody tr`), waitText(`#observables`, "198.51.100.77"),
		clickJS(`#observables a`), waitText(`#pivot-alerts`, "198.51.100.77"), waitText(`#hunt-results h2`, "2 events"))
	screenshot(t, ctx, dir, "hunt-pivot")
	run(t, ctx, "markup in an event field", chromedp.Navigate(f.srv.URL+"/#/hunt?value=ws-fr-4&field=host.name"),
		waitText(`#hunt-table`, `<img src=x onerror="window.__xss=8">`))
	if fired := value[bool](t, ctx, `window.__xss !== undefined`); fired || value[int](t, ctx, `document.querySelectorAll("#view img").length`) != 0 {
		t.Fatal("an event field was parsed as markup")
	}

	run(t, ctx, "log out", clickJS(`#logout`), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	loginAs(t, ctx, f.srv.URL, "ops")
	run(t, ctx, "a platform admin pivots to alerts and indicators",
		chromedp.Navigate(f.srv.URL+"/#/hunt?value=198.51.100.77"),
		waitText(`#hunt-operator`, "kept per member"), waitText(`#pivot-alerts-table`, "de-energie"))
}
