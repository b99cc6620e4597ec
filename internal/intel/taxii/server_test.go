package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Test members and their API keys. cert-a writes the main collection,
// cert-b reads it, cert-z has no rights on it.
var testMembers = map[string]struct {
	key    string
	viewer intel.Viewer
}{
	"cert-a": {"key-a", intel.Viewer{Member: "cert-a"}},
	"cert-b": {"key-b", intel.Viewer{Member: "cert-b"}},
	"cert-z": {"key-z", intel.Viewer{Member: "cert-z"}},
}

// testAuth accepts HTTP Basic member:key and Bearer key, as the node does.
func testAuth(r *http.Request) (intel.Viewer, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		if m, ok := testMembers[user]; ok && m.key == pass {
			return m.viewer, nil
		}
		return intel.Viewer{}, ErrUnauthenticated
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		for _, m := range testMembers {
			if m.key == tok {
				return m.viewer, nil
			}
		}
	}
	return intel.Viewer{}, ErrUnauthenticated
}

// env is a running server over a fresh repository with one collection.
type env struct {
	repo *intel.Repo
	db   *store.DB
	srv  *httptest.Server
	coll string
}

func newEnv(t *testing.T, db *store.DB, maxBody int64, pageSize int) env {
	t.Helper()
	ctx := context.Background()
	repo := intel.NewRepo(db, intel.Options{MaxPageSize: pageSize})
	green := tlp.Green
	c, err := repo.CreateCollection(ctx, intel.Collection{
		ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "High Value Indicator Collection",
		Description: "This data collection contains high value IOCs", DefaultTLP: &green,
	})
	if err != nil {
		t.Fatal(err)
	}
	repo.SetRights(ctx, c.ID, "cert-a", intel.Rights{Read: true, Write: true})
	repo.SetRights(ctx, c.ID, "cert-b", intel.Rights{Read: true})
	srv, err := NewServer(Config{
		Repo: repo, Authenticate: testAuth, Title: "xsoc test server",
		Description: "TAXII 2.1 server of the test SOC", MaxContentLength: maxBody,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/taxii2/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return env{repo: repo, db: db, srv: hs, coll: c.ID}
}

func (e env) client(t *testing.T, member string) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{APIRoot: e.srv.URL + "/taxii2/api/", Username: member, Password: testMembers[member].key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func indicator(id, modified string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00.000Z",`+
		`"modified":%q,"name":"C2","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",`+
		`"valid_from":"2020-01-01T00:00:00Z","indicator_types":["malicious-activity"]}`, id, modified))
}

// TestClientServerRoundTrip drives the server with the client: post a
// bundle, read its status, page through objects with added_after, then
// manifest, versions and delete.
func TestClientServerRoundTrip(t *testing.T) {
	storetest.Each(t, []store.Schema{intel.Schema(), Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 0, 4)
		a, b := e.client(t, "cert-a"), e.client(t, "cert-b")

		d, err := a.Discover(ctx, e.srv.URL+"/taxii2/")
		if err != nil || d.Default != e.srv.URL+"/taxii2/api/" || len(d.APIRoots) != 1 {
			t.Fatalf("discovery %+v, %v", d, err)
		}
		root, err := a.APIRoot(ctx)
		if err != nil || !slices.Equal(root.Versions, []string{MediaTAXII}) || root.MaxContentLength != 10<<20 {
			t.Fatalf("api root %+v, %v", root, err)
		}
		cols, err := b.Collections(ctx)
		if err != nil || len(cols) != 1 || cols[0].ID != e.coll || !cols[0].CanRead || cols[0].CanWrite {
			t.Fatalf("collections for cert-b: %+v, %v", cols, err)
		}

		var objs []json.RawMessage
		var want []string
		for i := 0; i < 10; i++ {
			id := "indicator--" + intel.NewUUID()
			want = append(want, id)
			objs = append(objs, indicator(id, "2020-01-01T00:00:00.000Z"))
		}
		st, err := a.AddObjects(ctx, e.coll, objs)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != StatusComplete || st.TotalCount != 10 || st.SuccessCount != 10 || st.FailureCount != 0 {
			t.Fatalf("status %+v", st)
		}
		again, err := a.WaitStatus(ctx, st.ID, time.Millisecond)
		if err != nil || again.ID != st.ID || again.SuccessCount != 10 {
			t.Fatalf("status poll %+v, %v", again, err)
		}

		// cert-b pulls in pages of 3 (server maximum 4).
		var pulled []string
		var pages int
		cursor, err := b.PullPages(ctx, e.coll, time.Time{}, intel.Filter{Limit: 3}, func(objs []json.RawMessage, _ time.Time) error {
			pages++
			for _, o := range objs {
				var h struct{ ID string }
				json.Unmarshal(o, &h)
				pulled = append(pulled, h.ID)
			}
			return nil
		})
		if err != nil || !slices.Equal(pulled, want) || pages != 4 {
			t.Fatalf("pulled %d objects in %d pages (%v), want 10 in 4", len(pulled), pages, err)
		}
		// Nothing new after the cursor; one new version shows up.
		objs2, cursor2, err := b.Pull(ctx, e.coll, cursor)
		if err != nil || len(objs2) != 0 || !cursor2.Equal(cursor) {
			t.Fatalf("pull after cursor: %d objects, %v", len(objs2), err)
		}
		if _, err := a.AddObjects(ctx, e.coll, []json.RawMessage{indicator(want[0], "2020-06-01T00:00:00.000Z")}); err != nil {
			t.Fatal(err)
		}
		objs2, cursor3, err := b.Pull(ctx, e.coll, cursor)
		if err != nil || len(objs2) != 1 || !cursor3.After(cursor) {
			t.Fatalf("pull of the new version: %d objects, %v", len(objs2), err)
		}

		m, err := b.Manifest(ctx, e.coll, intel.Filter{Limit: 2})
		if err != nil || len(m.Records) != 2 || !m.More || m.Records[0].ID != want[1] || m.Records[0].MediaType != MediaSTIX {
			// want[0]'s last version is now the newest entry.
			t.Fatalf("manifest %+v, %v", m, err)
		}
		if m.FirstAdded.IsZero() || m.LastAdded.Before(m.FirstAdded) {
			t.Errorf("manifest date headers %v %v", m.FirstAdded, m.LastAdded)
		}
		v, err := b.Versions(ctx, e.coll, want[0], intel.Filter{})
		if err != nil || !slices.Equal(v.Versions, []string{"2020-01-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z"}) {
			t.Fatalf("versions %+v, %v", v, err)
		}
		one, err := b.GetObject(ctx, e.coll, want[0], intel.Filter{Versions: []string{"first"}})
		if err != nil || len(one.Objects) != 1 || !strings.Contains(string(one.Objects[0]), `"modified":"2020-01-01T00:00:00.000Z"`) {
			t.Fatalf("first version: %+v, %v", one, err)
		}

		// cert-b may not write or delete; cert-a deletes one version.
		var te *Error
		if _, err := b.AddObjects(ctx, e.coll, objs[:1]); !errors.As(err, &te) || te.HTTPStatus != "403" {
			t.Errorf("cert-b posting: %v", err)
		}
		if err := a.DeleteObject(ctx, e.coll, want[0], intel.Filter{Versions: []string{"2020-01-01T00:00:00.000Z"}}); err != nil {
			t.Fatal(err)
		}
		v, err = b.Versions(ctx, e.coll, want[0], intel.Filter{})
		if err != nil || !slices.Equal(v.Versions, []string{"2020-06-01T00:00:00.000Z"}) {
			t.Fatalf("versions after delete %+v, %v", v, err)
		}
		if _, err := b.GetObject(ctx, e.coll, "indicator--"+intel.NewUUID(), intel.Filter{}); !errors.As(err, &te) || te.HTTPStatus != "404" {
			t.Errorf("unknown object: %v", err)
		}

		// Bearer authentication reaches the same data.
		bearer, _ := NewClient(ClientConfig{APIRoot: e.srv.URL + "/taxii2/api", Token: "key-b"})
		if c, err := bearer.Collection(ctx, e.coll); err != nil || c.Title != "High Value Indicator Collection" {
			t.Errorf("bearer: %+v, %v", c, err)
		}
	})
}

// TestErrors checks status codes and TAXII error bodies for bad requests.
func TestErrors(t *testing.T) {
	db := storetest.SQLite(t, intel.Schema(), Schema())
	e := newEnv(t, db, 2048, 100)
	objects := "/taxii2/api/collections/" + e.coll + "/objects/"
	good := `{"objects":[` + string(indicator("indicator--"+intel.NewUUID(), "2020-01-01T00:00:00.000Z")) + `]}`
	big := `{"objects":[` + strings.Repeat(string(indicator("indicator--"+intel.NewUUID(), "2020-01-01T00:00:00.000Z"))+",", 10) + `{}]}`
	tests := []struct {
		name        string
		method      string
		path        string
		member      string // "" for no credentials
		accept      string
		contentType string
		body        string
		want        int
		wantInDesc  string
	}{
		{"no credentials", "GET", "/taxii2/", "", MediaTAXII, "", "", 401, "Basic"},
		{"wrong key", "GET", "/taxii2/api/", "cert-q", MediaTAXII, "", "", 401, ""},
		{"unknown path", "GET", "/taxii2/other/", "cert-a", MediaTAXII, "", "", 404, ""},
		{"unknown collection", "GET", "/taxii2/api/collections/" + intel.NewUUID() + "/", "cert-a", MediaTAXII, "", "", 404, ""},
		{"collection without rights", "GET", objects, "cert-z", MediaTAXII, "", "", 403, ""},
		{"post without write right", "POST", objects, "cert-b", MediaTAXII, MediaTAXII, good, 403, "not writable"},
		{"wrong method", "PUT", objects, "cert-a", MediaTAXII, "", "", 405, "PUT"},
		{"json accept", "GET", "/taxii2/api/", "cert-a", "application/json", "", "", 406, MediaTAXII},
		{"taxii 2.0 accept", "GET", "/taxii2/api/", "cert-a", "application/vnd.oasis.taxii+json; version=2.0", "", "", 406, ""},
		{"refused by q=0", "GET", "/taxii2/api/", "cert-a", "application/taxii+json;q=0", "", "", 406, ""},
		{"wildcard accept", "GET", "/taxii2/api/", "cert-a", "text/html, */*;q=0.1", "", "", 200, ""},
		{"wrong content type", "POST", objects, "cert-a", MediaTAXII, "application/json", good, 415, "Content-Type"},
		{"too large", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, big, 413, "2048"},
		{"invalid JSON", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, `{"objects":[`, 400, "invalid JSON"},
		{"not an envelope", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, `[1]`, 400, "JSON object"},
		{"no objects", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, `{"id":"x"}`, 400, "no objects"},
		{"bundle without objects", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, `{"type":"bundle"}`, 400, "no objects"},
		{"bare object", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1"}`, 422, "bare STIX indicator object"},
		{"trailing data", "POST", objects, "cert-a", MediaTAXII, MediaTAXII, good + `{}`, 400, "after the envelope"},
		{"bad limit", "GET", objects + "?limit=-1", "cert-a", MediaTAXII, "", "", 400, "limit"},
		{"bad added_after", "GET", objects + "?added_after=yesterday", "cert-a", MediaTAXII, "", "", 400, "added_after"},
		{"bad version filter", "GET", objects + "?match[version]=newest", "cert-a", MediaTAXII, "", "", 400, "newest"},
		{"unknown filter", "GET", objects + "?match[color]=red", "cert-a", MediaTAXII, "", "", 400, "match[color]"},
		{"type filter on versions", "GET", objects + "indicator--" + intel.NewUUID() + "/versions/?match[type]=x", "cert-a", MediaTAXII, "", "", 400, "match[type]"},
		{"bad next", "GET", objects + "?next=zz", "cert-a", MediaTAXII, "", "", 400, "next"},
		{"unknown status", "GET", "/taxii2/api/status/" + intel.NewUUID() + "/", "cert-a", MediaTAXII, "", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Accept", tt.accept)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.member != "" {
				req.SetBasicAuth(tt.member, testMembers[tt.member].key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != MediaTAXII {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.want < 300 {
				return
			}
			var msg Error
			if err := json.Unmarshal(body, &msg); err != nil || msg.Title == "" || msg.HTTPStatus != fmt.Sprint(tt.want) {
				t.Fatalf("error body %s (%v)", body, err)
			}
			all := resp.Header.Values("WWW-Authenticate")
			if (tt.want == 401) != (len(all) == 2) {
				t.Errorf("WWW-Authenticate %v on %d", all, tt.want)
			}
			if !strings.Contains(msg.Description+strings.Join(all, " "), tt.wantInDesc) {
				t.Errorf("description %q lacks %q", msg.Description, tt.wantInDesc)
			}
		})
	}
	// None of the refused posts stored anything.
	page, err := e.repo.Objects(context.Background(), intel.Viewer{Operator: true}, e.coll, intel.Filter{})
	if err != nil || len(page.Objects) != 0 {
		t.Fatalf("refused requests stored %d objects (%v)", len(page.Objects), err)
	}
}

// TestPartialFailureIsReported posts a bundle with good and bad objects:
// the good ones are stored, the bad ones listed with reasons.
func TestPartialFailureIsReported(t *testing.T) {
	db := storetest.SQLite(t, intel.Schema(), Schema())
	e := newEnv(t, db, 0, 100)
	ctx := context.Background()
	good := "indicator--" + intel.NewUUID()
	st, err := e.client(t, "cert-a").AddObjects(ctx, e.coll, []json.RawMessage{
		indicator(good, "2020-01-01T00:00:00.000Z"),
		json.RawMessage(`{"type":"indicator","id":"indicator--` + intel.NewUUID() + `","spec_version":"3.0"}`),
		json.RawMessage(`{"spec_version":"2.1"}`),
		json.RawMessage(`{"type":"indicator","id":"indicator--` + intel.NewUUID() + `","spec_version":"3.0","created":"2020-01-01T00:00:00.000Z","modified":"2020-02-01T00:00:00.000Z"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.SuccessCount != 1 || st.FailureCount != 3 || st.Successes[0].ID != good ||
		!strings.Contains(st.Failures[0].Message, "spec_version") || !strings.Contains(st.Failures[1].Message, "type missing") {
		t.Fatalf("status %+v", st)
	}
	// A refused object's entry carries its version when it has one.
	if v := st.Failures[2].Version; v != "2020-02-01T00:00:00.000Z" {
		t.Errorf("refused object's version %q", v)
	}
	// The status resource always carries its three lists, empty or not.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/taxii2/api/status/"+st.ID+"/", nil)
	req.Header.Set("Accept", MediaTAXII)
	req.SetBasicAuth("cert-a", testMembers["cert-a"].key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var lists map[string]json.RawMessage
	json.NewDecoder(resp.Body).Decode(&lists)
	resp.Body.Close()
	for _, name := range []string{"successes", "failures", "pendings"} {
		if l, ok := lists[name]; !ok || l[0] != '[' {
			t.Errorf("status %s: %s", name, l)
		}
	}
	if string(lists["pendings"]) != "[]" {
		t.Errorf("pendings %s, want []", lists["pendings"])
	}
	if st.Successes[0].Version != "2020-01-01T00:00:00.000Z" {
		t.Errorf("success version %q", st.Successes[0].Version)
	}
}

func TestNewServerAndClientRefuseBadConfig(t *testing.T) {
	repo := intel.NewRepo(nil, intel.Options{})
	for _, cfg := range []Config{
		{},
		{Repo: repo},
		{Repo: repo, Authenticate: testAuth, Prefix: "taxii2"},
		{Repo: repo, Authenticate: testAuth, APIRoot: "a/b"},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%+v) accepted", cfg)
		}
	}
	for _, cfg := range []ClientConfig{
		{APIRoot: "ftp://x/"},
		{APIRoot: "/relative/"},
		{APIRoot: "https://x/", Username: "a", Token: "b"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) accepted", cfg)
		}
	}
}
