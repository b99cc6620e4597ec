package web

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

const sharedColl = "4f7e1b2c-9a3d-4c5e-8f60-1a2b3c4d5e6f"

// withIntel gives the fixture an intel repository with a community
// collection every member reads and writes.
func (f *fixture) withIntel(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	repo := intel.NewRepo(f.db, intel.Options{})
	green := tlp.Green
	if _, err := repo.CreateCollection(ctx, intel.Collection{ID: sharedColl, Title: "Shared indicators", DefaultTLP: &green, CommunityRead: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"fr-soc", "nl-bank", "de-energie"} {
		if err := repo.SetRights(ctx, sharedColl, m, intel.Rights{Read: true, Write: true}); err != nil {
			t.Fatal(err)
		}
	}
	f.console.cfg.Intel = repo
}

// bundle is a STIX bundle of two indicators: one GREEN, one AMBER+STRICT
// whose name carries markup.
func bundle(name string) string {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := func(id, n, value, marking string) map[string]any {
		return map[string]any{"type": "indicator", "spec_version": "2.1", "id": id, "created": now, "modified": now,
			"name": n, "pattern": "[ipv4-addr:value = '" + value + "']", "pattern_type": "stix", "valid_from": now,
			"object_marking_refs": []string{marking}}
	}
	b := map[string]any{"type": "bundle", "id": "bundle--6a9f2f1e-3c53-4d59-8d4f-1f2a3b4c5d6e", "objects": []any{
		ind("indicator--0b6e1c5e-1111-4a4a-8b8b-0c0c0c0c0c01", "C2 server", "198.51.100.7", stix.TLPGreenRef),
		ind("indicator--0b6e1c5e-2222-4a4a-8b8b-0c0c0c0c0c02", name, "203.0.113.66", stix.TLPAmberStrictRef),
	}}
	data, _ := json.Marshal(b)
	return string(data)
}

func TestIntelImportAndVisibility(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		f.withIntel(t)
		body := bundle("Internal <script>x</script>")
		for _, tc := range []struct {
			login string
			want  int
		}{{"ana@fr-soc", 403}, {"ops", 403}, {"adm@fr-soc", 200}} {
			b := newBrowser(t, f.srv.URL)
			b.login(tc.login, testPassword)
			code, out := b.call("POST", "/web/intel/import?collection="+sharedColl, body)
			if code != tc.want {
				t.Fatalf("%s imports: %d %s, want %d", tc.login, code, out, tc.want)
			}
			if code == 200 && !strings.Contains(out, `"stored": 2`) {
				t.Fatalf("import: %s", out)
			}
		}
		for _, tc := range []struct {
			login  string
			strict bool
		}{{"vic@fr-soc", true}, {"ana@nl-bank", false}, {"ops", true}} {
			b := newBrowser(t, f.srv.URL)
			b.login(tc.login, testPassword)
			code, out := b.call("GET", "/web/intel?q=198.51.100.7", "")
			if code != 200 || !strings.Contains(out, "C2 server") || strings.Contains(out, "203.0.113.66") {
				t.Fatalf("%s searches 198.51.100.7: %d %s", tc.login, code, out)
			}
			_, out = b.call("GET", "/web/intel", "")
			if got := strings.Contains(out, "203.0.113.66"); got != tc.strict {
				t.Errorf("%s sees fr-soc's AMBER+STRICT indicator: %v, want %v", tc.login, got, tc.strict)
			}
		}
		b := newBrowser(t, f.srv.URL)
		b.login("adm@fr-soc", testPassword)
		if code, out := b.call("POST", "/web/intel/import?collection="+sharedColl, `{"type":"bundle","objects":[]}`); code != 400 {
			t.Fatalf("empty bundle: %d %s", code, out)
		}
		if code, out := b.call("POST", "/web/intel/import?collection="+sharedColl, `not json`); code != 400 || !strings.Contains(out, "not JSON") {
			t.Fatalf("not JSON: %d %s", code, out)
		}
	})
}

// TestIntelSightingsPerCountry: the Intel page counts an indicator's
// sightings by the country of the member that saw it, from the sightings
// the viewer may read — a member's own (TLP:AMBER) stay its own.
func TestIntelSightingsPerCountry(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, user.Options{})
		f.withIntel(t)
		adm := newBrowser(t, f.srv.URL)
		adm.login("adm@fr-soc", testPassword)
		if code, out := adm.call("POST", "/web/intel/import?collection="+sharedColl, bundle("x")); code != 200 {
			t.Fatalf("import: %d %s", code, out)
		}
		const ind = "indicator--0b6e1c5e-1111-4a4a-8b8b-0c0c0c0c0c01"
		sg := iocfeed.Sightings{Repo: f.console.cfg.Intel, Collection: sharedColl, Log: f.console.cfg.Log}
		at := time.Now().Add(-time.Hour)
		for _, a := range []alert.Alert{
			{ID: alert.NewID(at), Member: "fr-soc", Detector: "ioc", RuleID: ind, Count: 3, EventTime: at, Detected: at},
			{ID: alert.NewID(at), Member: "nl-bank", Detector: "ioc", RuleID: ind, Count: 2, EventTime: at, Detected: at},
			{ID: alert.NewID(at), Member: "nl-bank", Detector: "ioc", RuleID: ind, EventTime: at, Detected: at},
		} {
			if err := sg.Record(t.Context(), a); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			login string
			want  map[string]int
		}{
			{"vic@fr-soc", map[string]int{"FR": 3}},
			{"ana@nl-bank", map[string]int{"NL": 3}},
			{"vic@de-energie", map[string]int{}},
			{"ops", map[string]int{"FR": 3, "NL": 3}},
		} {
			b := newBrowser(t, f.srv.URL)
			b.login(tc.login, testPassword)
			code, out := b.call("GET", "/web/intel?q=198.51.100.7", "")
			var res struct {
				Indicators []indicatorRow `json:"indicators"`
				Total      map[string]int `json:"sightings_by_country"`
			}
			if err := json.Unmarshal([]byte(out), &res); code != 200 || err != nil || len(res.Indicators) != 1 {
				t.Fatalf("%s: %d %v %s", tc.login, code, err, out)
			}
			got := res.Indicators[0].Sightings
			if got == nil {
				got = map[string]int{}
			}
			if !maps.Equal(got, tc.want) || !maps.Equal(res.Total, tc.want) {
				t.Errorf("%s: sightings %v, total %v, want %v", tc.login, got, res.Total, tc.want)
			}
		}
	})
}

// mispEvent is a MISP event marked TLP:AMBER whose URL attribute carries
// markup.
const mispEvent = `{"Event":{"uuid":"5758ebf5-c898-48e6-9fe9-5665c0a83866","info":"Phishing wave","distribution":"1",
"Tag":[{"name":"tlp:amber"}],
"Attribute":[{"uuid":"6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","type":"url","category":"Network activity","to_ids":true,
"value":"http://evil.example/x?<img src=x onerror=\"window.__xss=6\">"}]}}`

// TestBrowserIntel imports a STIX bundle and a MISP event from the page,
// searches by value with sightings per country, and checks that markup in
// an indicator's name and value is shown as text.
func TestBrowserIntel(t *testing.T) {
	ctx := chrome(t)
	dir := shots(t)
	f := newFixture(t, sqlite(t), user.Options{})
	f.withIntel(t)
	payload := `<img src=x onerror="window.__xss=5">`
	loginAs(t, ctx, f.srv.URL, "adm@fr-soc")
	run(t, ctx, "intel page", chromedp.Navigate(f.srv.URL+"/#/intel"), chromedp.WaitVisible(chromedp.CSS(`#import-go`)),
		chromedp.SetValue(chromedp.CSS(`#import-text`), bundle(payload)),
		chromedp.Click(chromedp.CSS(`#import-go`)),
		waitText(`#flash`, "2 objects stored"),
		waitText(`#indicators-table`, payload),
		waitText(`#collections-table`, "Shared indicators"))
	screenshot(t, ctx, dir, "intel")
	at := time.Now().Add(-time.Hour)
	sg := iocfeed.Sightings{Repo: f.console.cfg.Intel, Collection: sharedColl, Log: f.console.cfg.Log}
	if err := sg.Record(t.Context(), alert.Alert{ID: alert.NewID(at), Member: "fr-soc", Detector: "ioc",
		RuleID: "indicator--0b6e1c5e-1111-4a4a-8b8b-0c0c0c0c0c01", Count: 4, EventTime: at, Detected: at}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "search by value, with the sightings per country", chromedp.SetValue(chromedp.CSS(`#intel-search`), "198.51.100.7"),
		chromedp.Click(chromedp.CSS(`#intel-go`)), waitText(`#intel-results`, "1 indicators"),
		waitText(`#indicators-table`, "FR 4"), waitText(`#sightings-by-country`, "FR 4"))
	screenshot(t, ctx, dir, "intel-search")
	run(t, ctx, "search by another value", chromedp.SetValue(chromedp.CSS(`#intel-search`), "203.0.113.66"),
		chromedp.Click(chromedp.CSS(`#intel-go`)), waitText(`#intel-results`, "1 indicators"), waitText(`#sightings-by-country`, "none"))
	run(t, ctx, "import a MISP event whose attribute value carries markup",
		chromedp.SetValue(chromedp.CSS(`#f-import-kind`), "misp"),
		chromedp.SetValue(chromedp.CSS(`#import-text`), mispEvent),
		chromedp.Click(chromedp.CSS(`#import-go`)),
		waitText(`#flash`, "objects stored"),
		chromedp.SetValue(chromedp.CSS(`#intel-search`), "evil.example"),
		chromedp.Click(chromedp.CSS(`#intel-go`)),
		waitText(`#indicators-table`, `/x?<img src=x onerror="window.__xss=6">`),
		waitText(`#indicators-table`, "TLP:AMBER"))
	screenshot(t, ctx, dir, "intel-misp")
	if fired := value[bool](t, ctx, `window.__xss !== undefined`); fired || value[int](t, ctx, `document.querySelectorAll("#view img").length`) != 0 {
		t.Fatal("an indicator's name or value was parsed as markup")
	}
}
