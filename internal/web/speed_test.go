package web

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// TestBrowserSpeed measures, in Chromium, the dashboard's first paint with
// 100,000 alerts stored and how the page copes with a live stream of
// 1,000 alerts a second. It prints the numbers and asserts none of them.
// It takes a few minutes, so it runs only with XSOC_BENCH_CONSOLE=1:
//
//	XSOC_BENCH_CONSOLE=1 go test -run BrowserSpeed -v ./internal/web
func TestBrowserSpeed(t *testing.T) {
	if os.Getenv("XSOC_BENCH_CONSOLE") == "" {
		t.Skip("set XSOC_BENCH_CONSOLE=1 to measure the console's speed")
	}
	ctx := chrome(t)
	f := newFixture(t, sqlite(t), user.Options{})
	const stored = 100_000
	start := time.Now()
	members := []string{"fr-soc", "nl-bank", "de-energie"}
	for i := 0; i < stored; i += 1000 {
		batch := make([]alert.Alert, 1000)
		for j := range batch {
			n := i + j
			at := time.Now().Add(-time.Duration(n%86400) * time.Second)
			batch[j] = alert.Alert{Member: members[n%3], EventTime: at.Add(-2 * time.Second), Detector: []string{"sigma", "ioc"}[n%2],
				RuleID: fmt.Sprintf("rule-%d", n%300), RuleTitle: fmt.Sprintf("Rule %d", n%300), Severity: alert.Severity(n % 5),
				TLP: tlp.Green, Key: fmt.Sprintf("host-%d", n), EventIDs: []string{fmt.Sprintf("e-%d", n)},
				Observables: []alert.Observable{{Type: "host", Value: fmt.Sprintf("host-%d", n), Role: "host"}}}
		}
		if _, err := f.alerts.Raise(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("stored %d alerts in %v", stored, time.Since(start).Round(time.Millisecond))

	loginAs(t, ctx, f.srv.URL, "ana@fr-soc")
	for i := 0; i < 3; i++ { // the first load fills the caches; report each
		run(t, ctx, "reload the dashboard", chromedp.Navigate(f.srv.URL+"/#/dashboard"), chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`#card-total`)), waitText(`#card-total`, "0"))
		fcp := value[float64](t, ctx, `(performance.getEntriesByName("first-contentful-paint")[0]||{startTime:-1}).startTime`)
		data := value[float64](t, ctx, `new Promise(r => { const f = () => { const m = performance.getEntriesByName("dashboard-data")[0]; m ? r(m.startTime) : setTimeout(f, 20); }; f(); })`, chromedp.EvalAwaitPromise)
		total := value[string](t, ctx, `document.querySelector("#card-total .v").textContent`)
		sum := value[float64](t, ctx, `(() => { const e = performance.getEntriesByType("resource").find(e => e.name.includes("/web/summary")); return e ? e.responseEnd - e.requestStart : -1; })()`)
		t.Logf("dashboard load %d with %s alerts in view: first contentful paint %.0f ms, figures and charts on the page %.0f ms (of which /web/summary %.0f ms)", i+1, total, fcp, data, sum)
	}
	run(t, ctx, "live stream connects", chromedp.WaitVisible(chromedp.CSS(`#live-dot.on`)))
	// How late a 20 ms timer fires measures how long the page's main
	// thread is busy: a frozen page fires it late.
	value[bool](t, ctx, `(() => { window.__gaps = []; let last = performance.now();
		const f = () => { const now = performance.now(); window.__gaps.push(now - last - 20); last = now; if (!window.__stop) setTimeout(f, 20); };
		setTimeout(f, 20); return true; })()`)
	const rate, seconds = 1000, 10
	sent := 0
	tick := time.NewTicker(10 * time.Millisecond)
	burst := time.Now()
	for sent < rate*seconds {
		<-tick.C
		due := int(time.Since(burst).Seconds()*rate) + 1
		for ; sent < due && sent < rate*seconds; sent++ {
			f.console.live.publish(alert.Alert{ID: alert.NewID(time.Now()), Member: members[sent%2], Detected: time.Now(),
				Detector: "sigma", RuleTitle: fmt.Sprintf("Live %d", sent), Severity: alert.High, TLP: tlp.Green, Count: 1, Status: alert.StatusNew})
		}
	}
	tick.Stop()
	elapsed := time.Since(burst)
	time.Sleep(time.Second)
	frames := value[[]float64](t, ctx, `(() => { window.__stop = true; return window.__gaps; })()`)
	info := value[string](t, ctx, `document.getElementById("stream-info").textContent`)
	busy := value[string](t, ctx, `document.getElementById("stream-info").dataset.busyMs`)
	rows := value[int](t, ctx, `document.querySelectorAll("#stream-body tr").length`)
	worst, long := 0.0, 0
	for _, g := range frames {
		worst = max(worst, g)
		if g > 100 {
			long++
		}
	}
	t.Logf("live stream: %d alerts in %v (%.0f/s); page: %q, %d rows kept, %s ms spent handling the stream; main thread checked %d times, longest busy %.0f ms, %d times over 100 ms",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), info, rows, busy, len(frames), worst, long)
}
