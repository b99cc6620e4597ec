package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// The browser tests drive Debian's Chromium, headless, through the
// console's real pages against a real store and the real API. They skip
// only when no chromium is installed (CI installs it).

// chrome starts a fresh headless Chromium and returns a browser context.
func chrome(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium): browser tests skipped")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A headless page counts as hidden: keep its timers running.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	// The first call starts the browser, which lives as long as that
	// call's context: it must carry no timeout.
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// shots is where the run writes each page's screenshot:
// $XSOC_SCREENSHOTS if set, else the test's temporary directory.
func shots(t *testing.T) string {
	dir := os.Getenv("XSOC_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the whole page as dir/name.png (quality 100 is PNG).
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// run runs the steps, failing the test with where the page stood.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		flash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("flash")||{}).textContent||""`))
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			path := filepath.Join(t.TempDir(), "failed.png")
			if dir := os.Getenv("XSOC_SCREENSHOTS"); dir != "" {
				path = filepath.Join(dir, "failed-"+t.Name()+".png")
			}
			os.WriteFile(path, png, 0o644)
			t.Logf("screenshot of the failure: %s", path)
		}
		t.Fatalf("%s: %v (page %s, message %q)", what, err, loc, flash)
	}
}

// value evaluates a JavaScript expression in the page.
func value[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func loginAs(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	run(t, ctx, "log in as "+name,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#user`), name),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#card-total`)))
}

// clickJS clicks an element from within the page.
func clickJS(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new MouseEvent("click", {bubbles: true}))`, sel))(ctx, tgt)
		return err
	})
}

// waitText polls until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		for {
			got, err := chromedp.Evaluate[string](expr)(ctx, tgt)
			if err != nil {
				return err
			}
			if strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never showed %q (last: %.200q)", sel, want, got)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// waitTrue polls until the JavaScript expression is true.
func waitTrue(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tgt)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never held", expr)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// TestBrowserAnalystWorksTheCrossBorderIncident logs in, sees the
// dashboard, opens the cross-border incident, changes its status, and
// watches a new alert arrive live.
func TestBrowserAnalystWorksTheCrossBorderIncident(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	f.campaign(t, "C2 beacon to 198.51.100.77", time.Now().Add(-10*time.Minute))
	loginAs(t, ctx, f.srv.URL, "ana@fr-soc")
	run(t, ctx, "dashboard", waitText(`#card-total`, "2"), chromedp.WaitVisible(chromedp.CSS(`#chart-severity`)))
	screenshot(t, ctx, dir, "dashboard")

	run(t, ctx, "the map shows the cross-border incident between FR and NL",
		chromedp.Navigate(f.srv.URL+"/#/map"),
		chromedp.WaitVisible(chromedp.CSS(`#map path.link`)),
		waitText(`#map path.link title`, "Cross-border campaign"),
		waitText(`#map`, "FR 1"))
	screenshot(t, ctx, dir, "map")
	run(t, ctx, "click France: its members' alerts",
		// France's shape spans Guiana, so its box's centre lies off the
		// map: click the shape itself.
		clickJS(`#map path[data-country=FR]`),
		waitText(`#country-alerts`, "C2 beacon"))
	screenshot(t, ctx, dir, "map-france")

	run(t, ctx, "incident list",
		chromedp.Navigate(f.srv.URL+"/#/incidents"),
		waitText(`#incidents-table`, "cross-border"))
	screenshot(t, ctx, dir, "incidents")
	run(t, ctx, "open the cross-border incident",
		chromedp.Click(chromedp.CSS(`#incidents-table .badge.cb + a`)),
		chromedp.WaitVisible(chromedp.CSS(`#incident-title`)),
		waitText(`#timeline`, "nl-bank"),
		waitText(`#incident-status`, "new"),
		waitText(`#nis2`, "Not marked significant"))
	screenshot(t, ctx, dir, "incident")
	run(t, ctx, "change its status",
		chromedp.SetValue(chromedp.CSS(`#f-new-status`), "triage"),
		chromedp.Click(chromedp.CSS(`#set-status`)),
		waitText(`#incident-status`, "triage"),
		waitText(`#audit`, "status"))
	run(t, ctx, "mark it significant",
		chromedp.Click(chromedp.CSS(`#mark-significant`)),
		waitText(`#clock-early-warning`, "left"),
		waitText(`#nis2-draft`, "NIS2"))
	screenshot(t, ctx, dir, "incident-triage")

	run(t, ctx, "live stream connects",
		chromedp.Navigate(f.srv.URL+"/#/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#live-dot.on`)))
	f.raise(t, alert.Alert{Member: "fr-soc", EventTime: time.Now(), Detector: "sigma", RuleID: "live-rule",
		RuleTitle: "Arrived while watching", Severity: alert.High, TLP: tlp.Clear, EventIDs: []string{"e-live"},
		Observables: []alert.Observable{{Type: "host", Value: "ws-fr-9", Role: "host"}}})
	run(t, ctx, "the new alert appears without reload", waitText(`#stream-body`, "Arrived while watching"))
	screenshot(t, ctx, dir, "dashboard-live")
}

// TestBrowserIsolationAndErrors: another member's viewer does not see
// AMBER+STRICT alerts; a call beyond one's rights shows the 403 message;
// a forged CSRF token is refused; an expired session leads to the login
// page.
func TestBrowserIsolationAndErrors(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	c := &clock{t: time.Now()}
	f := newFixture(t, sqlite(t), user.Options{Idle: 10 * time.Minute, Now: c.now})
	raised := f.campaign(t, "Shared beacon", time.Now().Add(-5*time.Minute))
	f.raise(t, alert.Alert{Member: "de-energie", EventTime: time.Now(), Detector: "sigma", RuleID: "de-only",
		RuleTitle: "Energie internal finding", Severity: alert.High, TLP: tlp.AmberStrict, EventIDs: []string{"e-de-2"},
		Observables: []alert.Observable{{Type: "host", Value: "scada-1", Role: "host"}}})
	de := raised[2].ID

	loginAs(t, ctx, f.srv.URL, "vic@fr-soc")
	run(t, ctx, "alert list", chromedp.Navigate(f.srv.URL+"/#/alerts"), waitText(`#alerts-table`, "nl-bank"))
	list := value[string](t, ctx, `document.getElementById("alerts-table").textContent`)
	if strings.Contains(list, "de-energie") || strings.Contains(list, "Energie internal finding") {
		t.Fatalf("fr-soc's viewer sees de-energie's AMBER+STRICT alerts:\n%s", list)
	}
	screenshot(t, ctx, dir, "alerts-viewer")
	run(t, ctx, "open de-energie's alert by its id",
		chromedp.Navigate(f.srv.URL+"/#/alerts/"+de),
		waitText(`#flash`, "404"))

	run(t, ctx, "a viewer opens the members page",
		chromedp.Navigate(f.srv.URL+"/#/members"),
		waitText(`#flash`, "403"), waitText(`#flash`, "operator"))
	screenshot(t, ctx, dir, "forbidden")

	status := value[int](t, ctx, `fetch("/api/v1/alerts/`+raised[0].ID+`/ack",
		{method: "POST", headers: {"X-CSRF-Token": "forged"}}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	if status != 403 {
		t.Fatalf("POST with a forged CSRF token: %d, want 403", status)
	}

	c.advance(11 * time.Minute)
	run(t, ctx, "expired session", chromedp.Navigate(f.srv.URL+"/#/incidents"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	loc := value[string](t, ctx, `location.href`)
	if !strings.Contains(loc, "/login") {
		t.Fatalf("expired session ended at %s", loc)
	}
	c.t = time.Now()
	loginAs(t, ctx, f.srv.URL, "vic@fr-soc")
	run(t, ctx, "open the list page", chromedp.Navigate(f.srv.URL+"/#/alerts"), waitText(`#alerts-table`, "nl-bank"))
	c.advance(11 * time.Minute)
	run(t, ctx, "expiry noticed by the next call",
		chromedp.Click(chromedp.CSS(`#alert-filters button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)), waitText(`#notice`, "session has ended"))
	screenshot(t, ctx, dir, "login-expired")
}

// TestBrowserRendersInjectionInert puts markup and script in an event
// field, a rule title, an observable and a member's name, and checks that
// the pages show them as text and run none of them.
func TestBrowserRendersInjectionInert(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	payload := `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
	raised := f.raise(t, alert.Alert{Member: "nl-bank", EventTime: time.Now(), Detector: "sigma", RuleID: "xss",
		RuleTitle: "Rule " + payload, Severity: alert.Critical, TLP: tlp.Clear, EventIDs: []string{"e-xss"},
		Observables: []alert.Observable{{Type: "domain-name", Value: `evil.example"><svg onload="window.__xss=3">`, Role: "query"}},
		Evidence:    []string{`{"event.id":"e-xss","user.name":` + jsonString(payload) + `,"url.original":"javascript:window.__xss=4"}`}})
	loginAs(t, ctx, f.srv.URL, "ana@fr-soc")
	run(t, ctx, "dashboard stream and list", chromedp.Navigate(f.srv.URL+"/#/alerts"), waitText(`#alerts-table`, "<img src=x"))
	run(t, ctx, "alert page", chromedp.Navigate(f.srv.URL+"/#/alerts/"+raised[0].ID),
		waitText(`#alert-title`, payload), waitText(`.fields`, payload), waitText(`#observables`, `<svg onload=`))
	screenshot(t, ctx, dir, "xss-alert")
	run(t, ctx, "let any injected handler run", chromedp.Sleep(500*time.Millisecond))
	fired := value[bool](t, ctx, `window.__xss !== undefined`)
	injected := value[int](t, ctx, `document.querySelectorAll("#view img, #view script, #view svg").length`)
	if fired || injected != 0 {
		t.Fatalf("injected markup ran or was parsed: fired=%v, elements=%d", fired, injected)
	}
}

// TestBrowserPlatformAdmin: a platform admin sees every member with its
// users and the federation's status.
func TestBrowserPlatformAdmin(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	loginAs(t, ctx, f.srv.URL, "ops")
	run(t, ctx, "members page", chromedp.Navigate(f.srv.URL+"/#/members"),
		waitText(`#members-table`, "de-energie"), waitText(`#members-table`, "ana@fr-soc (analyst)"),
		waitText(`#members-table`, "Bank <b>NL</b>"), chromedp.WaitVisible(chromedp.CSS(`#federation`)))
	screenshot(t, ctx, dir, "members")
}
