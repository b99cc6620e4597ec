package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
	"github.com/xsoc/xsoc/internal/user"
)

// guardClient calls a node as an API key or a console session.
type guardClient struct {
	t                    *testing.T
	n                    *Node
	key, session, csrfTk string
}

func (c guardClient) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodGet, path, "")
}

func (c guardClient) do(method, path, body string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.n.URL()+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", c.n.URL())
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.session != "" {
		req.AddCookie(&http.Cookie{Name: "xsoc_session", Value: c.session})
		req.Header.Set("X-CSRF-Token", c.csrfTk)
	}
	if strings.HasPrefix(path, "/taxii2/") {
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp, answer
}

// consoleUser adds a console user of m (a platform admin for an empty m)
// and logs it in.
func consoleUser(t *testing.T, n *Node, name, m string) guardClient {
	t.Helper()
	ctx := context.Background()
	u := user.User{Name: name, Member: m, Role: user.Admin}
	if m == "" {
		u.Role = user.PlatformAdmin
	}
	if _, err := n.Users.Add(ctx, u, matrixPassword); err != nil {
		t.Fatal(err)
	}
	token, s, err := n.Users.Login(ctx, name, matrixPassword)
	if err != nil {
		t.Fatal(err)
	}
	return guardClient{t: t, n: n, session: token, csrfTk: s.CSRF}
}

// TestRateLimitsCoverTAXIIAndTheConsole: a key's one token bucket is spent
// by its REST and TAXII calls alike, and a console user's by its pages and
// its REST calls; an empty bucket answers 429 with Retry-After on each way
// in (a TAXII error on TAXII).
func TestRateLimitsCoverTAXIIAndTheConsole(t *testing.T) {
	cfg := nodeConfig(t)
	// A bucket of three that refills once in about a day: the test never
	// waits for a token.
	cfg.Limits.APIRate, cfg.Limits.APIBurst = 1e-5, 3
	n := startNode(t, cfg)
	ctx := context.Background()
	_, key, err := n.Members.Add(ctx, member.Member{ID: "fr-cert", Name: "FR", Country: "FR", Sector: "public-administration"})
	if err != nil {
		t.Fatal(err)
	}
	k := guardClient{t: t, n: n, key: key}
	for i, path := range []string{"/api/v1/me", "/taxii2/", "/taxii2/api/collections/"} {
		if resp, body := k.get(path); resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d, %s: %s %s", i, path, resp.Status, body)
		}
	}
	for _, path := range []string{"/taxii2/api/", "/api/v1/me"} {
		resp, body := k.get(path)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate limit") {
			t.Errorf("%s with the key's bucket empty: %s (Retry-After %q) %s, want 429 with Retry-After",
				path, resp.Status, resp.Header.Get("Retry-After"), body)
		}
		if strings.HasPrefix(path, "/taxii2/") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/taxii+json") {
			t.Errorf("TAXII 429 is %q, want a TAXII error", resp.Header.Get("Content-Type"))
		}
	}

	web := consoleUser(t, n, "fr-analyst", "fr-cert")
	for i, path := range []string{"/web/session", "/api/v1/alerts", "/web/intel"} {
		if resp, body := web.get(path); resp.StatusCode != http.StatusOK {
			t.Fatalf("console call %d, %s: %s %s", i, path, resp.Status, body)
		}
	}
	for _, path := range []string{"/web/summary", "/api/v1/incidents"} {
		resp, body := web.get(path)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("console %s with the user's bucket empty: %s (Retry-After %q) %s, want 429 with Retry-After",
				path, resp.Status, resp.Header.Get("Retry-After"), body)
		}
	}
	// Another user has a bucket of its own.
	other := consoleUser(t, n, "fr-other", "fr-cert")
	if resp, body := other.get("/web/session"); resp.StatusCode != http.StatusOK {
		t.Errorf("another console user: %s %s", resp.Status, body)
	}
}

// TestCrossMemberReadsAreAudited: reads of another member's intelligence
// over TAXII and on the console's Intel page leave one audit entry per
// owner and request, naming what was read; reads of one's own leave none;
// an operator's TAXII requests are recorded.
func TestCrossMemberReadsAreAudited(t *testing.T) {
	n := startNode(t, nodeConfig(t))
	ctx := context.Background()
	keys := map[string]string{}
	for _, m := range []member.Member{{ID: "fr-own", Name: "FR", Country: "FR", Sector: "energy"},
		{ID: "nl-read", Name: "NL", Country: "NL", Sector: "banking"}} {
		_, key, err := n.Members.Add(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		keys[m.ID] = key
	}
	if err := n.GrantSharedWrite(ctx); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, in := range []struct {
		name, owner string
		level       tlp.Level
	}{{"fr-green", "fr-own", tlp.Green}, {"fr-amber", "fr-own", tlp.Amber}, {"nl-green", "nl-read", tlp.Green}} {
		ind, err := stix.NewIndicator(stix.IndicatorSpec{Name: in.name, Pattern: "[domain-name:value = '" + in.name + ".example']",
			ValidFrom: time.Now().Add(-time.Hour), TLP: in.level})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(ind)
		if st, err := n.Intel.AddObjects(ctx, intel.Viewer{Member: in.owner}, SharedCollection, []json.RawMessage{raw}); err != nil || len(st.Failures) > 0 {
			t.Fatalf("%s: %+v %v", in.name, st, err)
		}
		ids[in.name] = ind.ID()
	}
	opKey, err := n.Members.CreateOperatorKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries := func(f audit.Filter) []audit.Entry {
		t.Helper()
		es, err := n.Audit.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	reader := guardClient{t: t, n: n, key: keys["nl-read"]}
	for i, path := range []string{"/taxii2/api/collections/" + SharedCollection + "/objects/?match[type]=indicator",
		"/taxii2/api/collections/" + SharedCollection + "/manifest/"} {
		if resp, body := reader.get(path); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s %s", path, resp.Status, body)
		}
		es := entries(audit.Filter{Actor: "nl-read"})
		if len(es) != i+1 {
			t.Fatalf("after %d TAXII reads, nl-read has %d audit entries, want %d: %+v", i+1, len(es), i+1, es)
		}
		e := es[0]
		if e.Owner != "fr-own" || !strings.Contains(e.Target, ids["fr-green"]) || strings.Contains(e.Target, ids["fr-amber"]) ||
			strings.Contains(e.Target, ids["nl-green"]) || !strings.HasPrefix(e.Action, "GET taxii2/api/collections/") ||
			e.Remote == "" || e.KeyID == "" || e.At.IsZero() {
			t.Errorf("audit entry of a TAXII read: %+v", e)
		}
	}
	// Reading only one's own objects is no cross-member read.
	own := guardClient{t: t, n: n, key: keys["fr-own"]}
	if resp, _ := own.get("/taxii2/api/collections/" + SharedCollection + "/objects/" + ids["fr-amber"] + "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("owner reads its object: %s", resp.Status)
	}
	if es := entries(audit.Filter{Actor: "fr-own"}); len(es) != 0 {
		t.Errorf("reading its own object was audited: %+v", es)
	}
	// The operator's TAXII requests are administrative: recorded.
	op := guardClient{t: t, n: n, key: opKey}
	if resp, _ := op.get("/taxii2/api/collections/" + SharedCollection + "/objects/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("operator TAXII read: %s", resp.Status)
	}
	if es := entries(audit.Filter{Actor: "operator", Action: "taxii2"}); len(es) != 1 {
		t.Errorf("operator TAXII read: %d audit entries, want 1: %+v", len(es), es)
	}
	// The console's Intel page, as nl-read's analyst.
	web := consoleUser(t, n, "nl-analyst", "nl-read")
	if resp, body := web.get("/web/intel"); resp.StatusCode != http.StatusOK {
		t.Fatalf("console intel: %s %s", resp.Status, body)
	}
	es := entries(audit.Filter{Action: "web/intel"})
	if len(es) != 1 || es[0].Actor != "nl-read" || es[0].KeyID != "user:nl-analyst" || es[0].Owner != "fr-own" ||
		!strings.Contains(es[0].Target, ids["fr-green"]) || strings.Contains(es[0].Target, ids["fr-amber"]) {
		t.Errorf("audit entries of the console's Intel page: %+v", es)
	}
	// A change made on the console is recorded with who made it.
	if resp, body := web.do(http.MethodPost, "/web/users", `{"name":"nl-second","member":"nl-read","role":"viewer"}`); resp.StatusCode/100 != 2 {
		t.Fatalf("console adds a user: %s %s", resp.Status, body)
	}
	es = entries(audit.Filter{Action: "POST web/users"})
	if len(es) != 1 || es[0].Actor != "nl-read" || es[0].KeyID != "user:nl-analyst" || es[0].Via != "console" || es[0].Status/100 != 2 {
		t.Errorf("audit entries of a user added on the console: %+v", es)
	}
	// The operator finds them by owner.
	byOwner := entries(audit.Filter{Owner: "fr-own"})
	if !slices.ContainsFunc(byOwner, func(e audit.Entry) bool { return e.Action == "GET web/intel" }) || len(byOwner) != 3 {
		t.Errorf("reads of fr-own's data: %+v, want the two TAXII reads and the console page", byOwner)
	}
}
