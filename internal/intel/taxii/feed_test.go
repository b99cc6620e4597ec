package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestFeedResumesFromItsCursor pulls the server's collection into a local
// collection of the same repository, as a node pulling a partner's feed.
func TestFeedResumesFromItsCursor(t *testing.T) {
	storetest.Each(t, []store.Schema{intel.Schema(), Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 0, 2) // pages of two
		local, err := e.repo.CreateCollection(ctx, intel.Collection{Title: "pulled from partner"})
		if err != nil {
			t.Fatal(err)
		}
		e.repo.SetRights(ctx, local.ID, "cert-b", intel.Rights{Read: true, Write: true})
		post := func(n int) {
			var objs []json.RawMessage
			for i := 0; i < n; i++ {
				objs = append(objs, indicator("indicator--"+intel.NewUUID(), "2020-01-01T00:00:00.000Z"))
			}
			if _, err := e.repo.AddObjects(ctx, intel.Viewer{Member: "cert-a"}, e.coll, objs); err != nil {
				t.Fatal(err)
			}
		}
		failNext := false
		handled := 0
		cfg := FeedConfig{
			Name: "partner", Client: e.client(t, "cert-b"), Collection: e.coll, Types: []string{"indicator"},
			Handle: func(ctx context.Context, objs []json.RawMessage) error {
				if failNext {
					failNext = false
					return errors.New("local store unavailable")
				}
				handled += len(objs)
				_, err := e.repo.AddObjects(ctx, intel.Viewer{Member: "cert-b"}, local.ID, objs)
				return err
			},
		}
		feed, err := NewFeed(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		post(5)
		steps := []struct {
			post      int  // objects the partner adds before the poll
			fail      bool // the handler fails on the first page
			wantN     int  // objects PollOnce reports handed over
			wantTotal int  // objects handled so far
		}{
			{0, false, 5, 5},
			{0, false, 0, 5},
			{3, true, 0, 5},  // first page fails: nothing handled, cursor stays
			{0, false, 3, 8}, // the failed objects come again
			{1, false, 1, 9},
		}
		for i, s := range steps {
			post(s.post)
			failNext = s.fail
			n, err := feed.PollOnce(ctx)
			if n != s.wantN || (err != nil) != s.fail {
				t.Fatalf("step %d: PollOnce = %d, %v; want %d, failure %v", i, n, err, s.wantN, s.fail)
			}
			if handled != s.wantTotal {
				t.Fatalf("step %d: handled %d objects in all, want %d", i, handled, s.wantTotal)
			}
			st, _ := feed.State(ctx)
			if s.fail != strings.Contains(st.LastError, "local store unavailable") {
				t.Fatalf("step %d: last error %q", i, st.LastError)
			}
		}
		// A new Feed with the same name resumes from the stored cursor.
		again, _ := NewFeed(db, cfg)
		if n, err := again.PollOnce(ctx); n != 0 || err != nil {
			t.Fatalf("restarted feed pulled %d again (%v)", n, err)
		}
		st, err := again.State(ctx)
		if err != nil || st.Pulled != 9 || st.Cursor.IsZero() || st.LastPoll.IsZero() {
			t.Fatalf("state %+v, %v", st, err)
		}
		held := 0
		for next := ""; ; {
			page, err := e.repo.Objects(ctx, intel.Viewer{Member: "cert-b"}, local.ID, intel.Filter{Next: next})
			if err != nil {
				t.Fatal(err)
			}
			held += len(page.Objects)
			if next = page.Next; !page.More {
				break
			}
		}
		if held != 9 {
			t.Fatalf("local collection holds %d objects, want 9", held)
		}
	})
}

func TestFeedRun(t *testing.T) {
	db := storetest.SQLite(t, intel.Schema(), Schema())
	e := newEnv(t, db, 0, 100)
	e.repo.AddObjects(context.Background(), intel.Viewer{Member: "cert-a"}, e.coll,
		[]json.RawMessage{indicator("indicator--"+intel.NewUUID(), "2020-01-01T00:00:00.000Z")})
	got := make(chan int, 1)
	feed, _ := NewFeed(db, FeedConfig{
		Name: "run", Client: e.client(t, "cert-b"), Collection: e.coll, Interval: time.Hour,
		Handle: func(ctx context.Context, objs []json.RawMessage) error { got <- len(objs); return nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- feed.Run(ctx, func(err error) { t.Error(err) }) }()
	if n := <-got; n != 1 { // Run polls at once
		t.Fatalf("first poll handed %d objects", n)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestParseFilter(t *testing.T) {
	ts := time.Date(2016, 2, 1, 0, 0, 1, 123456000, time.UTC)
	tests := []struct {
		query   string
		allowed []string
		want    intel.Filter
		wantErr string
	}{
		{"", objectsParams, intel.Filter{}, ""},
		{"added_after=2016-02-01T00:00:01.123456Z&limit=10&next=77", objectsParams,
			intel.Filter{AddedAfter: ts, Limit: 10, Next: "77"}, ""},
		{"match[type]=indicator,sighting&match[type]=malware&match[version]=first,last", objectsParams,
			intel.Filter{Types: []string{"indicator", "sighting", "malware"}, Versions: []string{"first", "last"}}, ""},
		{"match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f&match[spec_version]=2.1", objectsParams,
			intel.Filter{IDs: []string{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, SpecVersions: []string{"2.1"}}, ""},
		{"utm_source=x", objectsParams, intel.Filter{}, ""}, // unknown non-filter parameters are ignored
		{"match[id]=x", versionsParams, intel.Filter{}, "not supported"},
		{"limit=10", deleteParams, intel.Filter{}, "not supported"},
		{"match[colour]=red", objectsParams, intel.Filter{}, "not supported"},
		{"limit=0", objectsParams, intel.Filter{}, "positive"},
		{"limit=ten", objectsParams, intel.Filter{}, "positive"},
		{"limit=1&limit=2", objectsParams, intel.Filter{}, "2 times"},
		{"added_after=2016-02-01", objectsParams, intel.Filter{}, "added_after"},
		{"match[type]=a,,b", objectsParams, intel.Filter{}, "empty value"},
		{"next=", objectsParams, intel.Filter{}, "empty"},
		{"match[spec_version]=2.0,2.1&match[spec_version]=3.0", objectsParams,
			intel.Filter{SpecVersions: []string{"2.0", "2.1", "3.0"}}, ""},
		{"match[spec_version]=2", objectsParams, intel.Filter{}, "not a STIX version"},
		{"match[spec_version]=2.1.0", objectsParams, intel.Filter{}, "not a STIX version"},
		{"match[spec_version]=v2.1", objectsParams, intel.Filter{}, "not a STIX version"},
		{"match[spec_version]=2.x", objectsParams, intel.Filter{}, "not a STIX version"},
		{"match[spec_version]=2.1,", objectsParams, intel.Filter{}, "empty value"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := ParseFilter(q, tt.allowed)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.query, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
	}
}

func TestAcceptAndContentType(t *testing.T) {
	accept := map[string]bool{
		"":                                        true,
		"application/taxii+json;version=2.1":      true,
		"application/taxii+json; version=2.1":     true,
		"application/taxii+json":                  true,
		"*/*":                                     true,
		"text/html, application/*;q=0.5":          true,
		"application/json":                        false,
		"application/taxii+json;version=2.0":      false,
		"application/taxii+json;q=0":              false,
		"application/taxii+json;q=0.000, */*;q=0": false,
		"garbage;;;":                              false,
	}
	for h, want := range accept {
		if got := acceptable(h); got != want {
			t.Errorf("acceptable(%q) = %v, want %v", h, got, want)
		}
	}
	post := map[string]bool{
		"application/taxii+json;version=2.1": true,
		"application/taxii+json":             true,
		"application/stix+json;version=2.1":  true,
		"application/stix+json;version=2.0":  true,
		"application/stix+json;version=3.0":  false,
		"application/json":                   false,
		"":                                   false,
	}
	for h, want := range post {
		if got := postable(h); got != want {
			t.Errorf("postable(%q) = %v, want %v", h, got, want)
		}
	}
}

// FuzzParseFilter checks that filter parsing never panics and that a
// parsed filter survives encoding and parsing again unchanged.
func FuzzParseFilter(f *testing.F) {
	f.Add("added_after=2016-02-01T00:00:01.123456Z&limit=10&next=77")
	f.Add("match[type]=indicator,sighting&match[version]=first,2016-02-01T00:00:01Z")
	f.Add("match[id]=%2C&limit=-1")
	f.Add("match[spec_version]=2.1&next=a%20b")
	f.Add("match[spec_version]=2.0,2.1&next=17~.abc")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		first, err := ParseFilter(q, objectsParams)
		if err != nil {
			return
		}
		second, err := ParseFilter(EncodeFilter(first), objectsParams)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", EncodeFilter(first).Encode(), err)
		}
		if !first.AddedAfter.Equal(second.AddedAfter) {
			t.Fatalf("added_after %v became %v", first.AddedAfter, second.AddedAfter)
		}
		first.AddedAfter, second.AddedAfter = time.Time{}, time.Time{}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("%+v became %+v", first, second)
		}
	})
}

// FuzzEnvelopeBody checks that POST body parsing never panics and accepts
// only JSON objects with a non-empty objects list.
func FuzzEnvelopeBody(f *testing.F) {
	f.Add(`{"objects":[{"type":"indicator"}]}`)
	f.Add(`{"type":"bundle","id":"bundle--1","objects":[]}`)
	f.Add(`{"objects":null}`)
	f.Add(`{"objects":[1,2]} {}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		objs, err := parseEnvelopeBody([]byte(body))
		if err == nil && len(objs) == 0 {
			t.Fatalf("accepted %q with no objects", body)
		}
	})
}
