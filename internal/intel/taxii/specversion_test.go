package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// STIX 2.0 objects from the STIX 2.0 specification's examples (no
// spec_version, second-precision times, labels), and STIX 2.1 objects,
// as a collection holding both receives them.
const (
	idA = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	idB = "indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"
	idC = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"
	idD = "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad"

	a20 = `{"type":"indicator","id":"` + idA + `","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48Z",` +
		`"labels":["malicious-activity"],"name":"Poison Ivy Malware","description":"This file is part of Poison Ivy",` +
		`"pattern":"[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]","valid_from":"2016-01-01T00:00:00Z"}`
	b21 = `{"type":"indicator","spec_version":"2.1","id":"` + idB + `","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z",` +
		`"name":"C2","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`
	c20 = `{"type":"malware","id":"` + idC + `","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z",` +
		`"name":"Poison Ivy","labels":["remote-access-trojan"]}`
	d20 = `{"type":"relationship","id":"` + idD + `","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z",` +
		`"relationship_type":"indicates","source_ref":"` + idA + `","target_ref":"` + idC + `"}`
	// c21 is a later version of C, given in STIX 2.1 only.
	c21 = `{"type":"malware","spec_version":"2.1","id":"` + idC + `","created":"2016-04-06T20:07:09.000Z","modified":"2021-05-01T10:00:00.000Z",` +
		`"name":"Poison Ivy","is_family":true,"malware_types":["remote-access-trojan"],"description":"RAT family"}`
)

// entry names one object of a page: id, version (modified) and the STIX
// version it is in.
type entry struct{ id, modified, spec string }

func (e entry) String() string {
	return e.id[:strings.Index(e.id, "--")] + "@" + e.modified[:4] + "/" + e.spec
}

var (
	eA20 = entry{idA, "2016-04-06T20:03:48Z", "2.0"}
	eA21 = entry{idA, "2016-04-06T20:03:48.000Z", "2.1"}
	eB21 = entry{idB, "2020-01-01T00:00:00.000Z", "2.1"}
	eC20 = entry{idC, "2016-04-06T20:07:09.000Z", "2.0"}
	eC21 = entry{idC, "2016-04-06T20:07:09.000Z", "2.1"}
	eD20 = entry{idD, "2016-04-06T20:06:37.000Z", "2.0"}
	eD21 = entry{idD, "2016-04-06T20:06:37.000Z", "2.1"}
	eC2  = entry{idC, "2021-05-01T10:00:00.000Z", "2.1"}
)

// entries reads a page's objects as entries; a STIX 2.0 object carries no
// spec_version, a 2.1 one says 2.1.
func entries(t *testing.T, objs []json.RawMessage) []entry {
	t.Helper()
	var out []entry
	for _, raw := range objs {
		var o struct {
			ID, Modified string
			SpecVersion  *string `json:"spec_version"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		e := entry{o.ID, o.Modified, "2.0"}
		if o.SpecVersion != nil {
			e.spec = *o.SpecVersion
		}
		out = append(out, e)
	}
	return out
}

// TestSpecVersionFilter checks match[spec_version] against TAXII 2.1
// (section 3.6): without it, each object comes in the latest STIX version
// the server can provide (2.1 for everything); with it, objects come in
// the versions asked for that the server holds — a version a member gave
// in STIX 2.0 is held in that form, as given, beside its 2.1 form — one
// entry per object version and STIX version; match[version] picks among
// the versions the spec_version filter keeps; a version that reads right
// but that nothing is held in selects nothing, and a value that is no
// version is a 400.
func TestSpecVersionFilter(t *testing.T) {
	storetest.Each(t, []store.Schema{intel.Schema(), Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 0, 100)
		a, b := e.client(t, "cert-a"), e.client(t, "cert-b")
		// One envelope, stored in order: A (2.0), B (2.1), C (2.0), D (2.0),
		// then C's later version (2.1).
		st, err := a.AddObjects(ctx, e.coll, []json.RawMessage{json.RawMessage(a20), json.RawMessage(b21),
			json.RawMessage(c20), json.RawMessage(d20), json.RawMessage(c21)})
		if err != nil || st.SuccessCount != 5 {
			t.Fatalf("add: %+v, %v", st, err)
		}
		for i, conv := range []bool{true, false, true, true, false} {
			if (st.Successes[i].Message == intel.MsgConverted) != conv {
				t.Errorf("status entry %d: %q", i, st.Successes[i].Message)
			}
		}

		tests := []struct {
			name     string
			spec     []string
			versions []string
			want     []entry
		}{
			{"no filter: latest STIX version of each", nil, nil, []entry{eA21, eB21, eD21, eC2}},
			{"2.1", []string{"2.1"}, nil, []entry{eA21, eB21, eD21, eC2}},
			// C's latest version held in 2.0 is its first.
			{"2.0", []string{"2.0"}, nil, []entry{eA20, eC20, eD20}},
			{"2.0 and 2.1", []string{"2.0", "2.1"}, nil, []entry{eA20, eA21, eB21, eD20, eD21, eC2}},
			{"2.1 and 2.0 in any order", []string{"2.1", "2.0"}, nil, []entry{eA20, eA21, eB21, eD20, eD21, eC2}},
			{"all versions in both", []string{"2.0", "2.1"}, []string{"all"}, []entry{eA20, eA21, eB21, eC20, eC21, eD20, eD21, eC2}},
			{"first versions in 2.1", []string{"2.1"}, []string{"first"}, []entry{eA21, eB21, eC21, eD21}},
			{"first version in 2.0", []string{"2.0"}, []string{"2016-04-06T20:07:09.000Z"}, []entry{eC20}},
			{"a version nothing is in", []string{"2.2"}, nil, nil},
			{"2.0 and an unknown", []string{"3.0", "2.0"}, nil, []entry{eA20, eC20, eD20}},
		}
		for _, tt := range tests {
			f := intel.Filter{SpecVersions: tt.spec, Versions: tt.versions}
			p, err := b.GetObjects(ctx, e.coll, f)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := entries(t, p.Objects); !slices.Equal(got, tt.want) {
				t.Errorf("%s: objects %v, want %v", tt.name, got, tt.want)
			}
			m, err := b.Manifest(ctx, e.coll, f)
			if err != nil {
				t.Fatalf("%s: manifest: %v", tt.name, err)
			}
			var got []string
			for _, r := range m.Records {
				got = append(got, r.ID+" "+r.MediaType)
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, w.id+" application/stix+json;version="+w.spec)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: manifest %v, want %v", tt.name, got, want)
			}
		}

		// The 2.0 form is what the member sent, not a rendering of the
		// 2.1 one: same properties, same values.
		p, err := b.GetObject(ctx, e.coll, idA, intel.Filter{SpecVersions: []string{"2.0"}})
		if err != nil || len(p.Objects) != 1 {
			t.Fatalf("object A in 2.0: %v, %v", p.Objects, err)
		}
		var sent, served map[string]any
		json.Unmarshal([]byte(a20), &sent)
		json.Unmarshal(p.Objects[0], &served)
		if !reflect.DeepEqual(sent, served) {
			t.Errorf("A in 2.0 is\n%s\nsent\n%s", p.Objects[0], a20)
		}
		// An object held in 2.1 only, asked for in 2.0: found, no entry.
		if p, err := b.GetObject(ctx, e.coll, idB, intel.Filter{SpecVersions: []string{"2.0"}}); err != nil || len(p.Objects) != 0 {
			t.Errorf("B in 2.0: %d objects, %v", len(p.Objects), err)
		}
		// The versions resource lists each version once.
		for _, tt := range []struct {
			spec []string
			want []string
		}{
			{nil, []string{"2016-04-06T20:07:09.000Z", "2021-05-01T10:00:00.000Z"}},
			{[]string{"2.0"}, []string{"2016-04-06T20:07:09.000Z"}},
			{[]string{"2.0", "2.1"}, []string{"2016-04-06T20:07:09.000Z", "2021-05-01T10:00:00.000Z"}},
		} {
			p, err := b.Versions(ctx, e.coll, idC, intel.Filter{SpecVersions: tt.spec})
			if err != nil || !slices.Equal(p.Versions, tt.want) {
				t.Errorf("versions of C in %v: %v, %v; want %v", tt.spec, p.Versions, err, tt.want)
			}
		}
		// The collection lists the media types its manifest names.
		col, err := b.Collection(ctx, e.coll)
		if err != nil || !slices.Contains(col.MediaTypes, MediaSTIX20) || !slices.Contains(col.MediaTypes, MediaSTIX) {
			t.Errorf("collection media types %v, %v", col.MediaTypes, err)
		}

		// Malformed versions are 400; the error says which.
		for _, bad := range []string{"2", "two", "2.1.0", "v2.1", "2.1,"} {
			_, err := b.GetObjects(ctx, e.coll, intel.Filter{SpecVersions: []string{bad}})
			var te *Error
			if !errors.As(err, &te) || te.HTTPStatus != "400" || !strings.Contains(te.Description, "spec_version") {
				t.Errorf("spec_version %q: %v", bad, err)
			}
		}

		// Deleting the 2.0 form of A leaves its version in 2.1.
		if err := a.DeleteObject(ctx, e.coll, idA, intel.Filter{SpecVersions: []string{"2.0"}}); err != nil {
			t.Fatal(err)
		}
		if p, _ := b.GetObjects(ctx, e.coll, intel.Filter{SpecVersions: []string{"2.0"}}); !slices.Equal(entries(t, p.Objects), []entry{eC20, eD20}) {
			t.Errorf("after deleting A's 2.0 form, 2.0: %v", entries(t, p.Objects))
		}
		if p, _ := b.GetObjects(ctx, e.coll, intel.Filter{}); !slices.Equal(entries(t, p.Objects), []entry{eA21, eB21, eD21, eC2}) {
			t.Errorf("after deleting A's 2.0 form, default: %v", entries(t, p.Objects))
		}
	})
}

// TestSpecVersionPaging pages through entries of several STIX versions:
// with next, every page size yields every entry once, in order; a page
// ends between the forms of one version only when the limit is 1 (so
// that a client resuming with added_after from X-TAXII-Date-Added-Last
// misses nothing otherwise); a next token is refused with other filters.
func TestSpecVersionPaging(t *testing.T) {
	storetest.Each(t, []store.Schema{intel.Schema(), Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, 0, 100)
		a, b := e.client(t, "cert-a"), e.client(t, "cert-b")
		if _, err := a.AddObjects(ctx, e.coll, []json.RawMessage{json.RawMessage(a20), json.RawMessage(b21),
			json.RawMessage(c20), json.RawMessage(d20), json.RawMessage(c21)}); err != nil {
			t.Fatal(err)
		}
		all := []entry{eA20, eA21, eB21, eC20, eC21, eD20, eD21, eC2}
		both := []string{"2.0", "2.1"}
		for limit := 1; limit <= len(all)+1; limit++ {
			f := intel.Filter{SpecVersions: both, Versions: []string{"all"}, Limit: limit}
			var got []entry
			var pages [][]entry
			for n := 0; ; n++ {
				if n > len(all) {
					t.Fatalf("limit %d: more pages than entries", limit)
				}
				p, err := b.GetObjects(ctx, e.coll, f)
				if err != nil {
					t.Fatalf("limit %d page %d: %v", limit, n, err)
				}
				page := entries(t, p.Objects)
				if len(page) == 0 || len(page) > limit {
					t.Fatalf("limit %d page %d: %v", limit, n, page)
				}
				got, pages = append(got, page...), append(pages, page)
				if !p.More {
					break
				}
				f.Next = p.Next
			}
			if !slices.Equal(got, all) {
				t.Errorf("limit %d: %v, want %v", limit, got, all)
			}
			if limit == 1 {
				continue
			}
			for i := 1; i < len(pages); i++ {
				prev, cur := pages[i-1][len(pages[i-1])-1], pages[i][0]
				if prev.id == cur.id && prev.spec == "2.0" && cur.spec == "2.1" && sameVersion(prev, cur) {
					t.Errorf("limit %d: pages %d and %d split %v", limit, i-1, i, cur)
				}
			}
			// Resuming with added_after from the last date_added header
			// finds the same entries.
			f = intel.Filter{SpecVersions: both, Versions: []string{"all"}, Limit: limit}
			got = nil
			for n := 0; n <= len(all); n++ {
				p, err := b.GetObjects(ctx, e.coll, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, entries(t, p.Objects)...)
				if !p.More {
					break
				}
				f.AddedAfter = p.LastAdded
			}
			if !slices.Equal(got, all) {
				t.Errorf("limit %d with added_after: %v", limit, got)
			}
		}

		// A token that stopped between two forms of one version is bound
		// to its filters like any other.
		p, err := b.GetObjects(ctx, e.coll, intel.Filter{SpecVersions: both, Limit: 1})
		if err != nil || !p.More || !strings.Contains(p.Next, "~") {
			t.Fatalf("first page of one: %+v, %v", p, err)
		}
		for _, changed := range []intel.Filter{
			{SpecVersions: []string{"2.1"}, Limit: 1, Next: p.Next},
			{SpecVersions: []string{"2.0"}, Limit: 1, Next: p.Next},
			{Limit: 1, Next: p.Next},
			{SpecVersions: both, Types: []string{"indicator"}, Limit: 1, Next: p.Next},
		} {
			_, err := b.GetObjects(ctx, e.coll, changed)
			var te *Error
			if !errors.As(err, &te) || te.HTTPStatus != "400" || !strings.Contains(te.Description, "other filters") {
				t.Errorf("next with %v: %v", changed.SpecVersions, err)
			}
		}
		if _, err := b.GetObjects(ctx, e.coll, intel.Filter{SpecVersions: []string{"2.1", "2.0"}, Limit: 1, Next: p.Next}); err != nil {
			t.Errorf("next with the same versions in another order: %v", err)
		}
	})
}

func sameVersion(x, y entry) bool {
	tx, err1 := intel.ParseTimestamp(x.modified)
	ty, err2 := intel.ParseTimestamp(y.modified)
	return err1 == nil && err2 == nil && tx.Equal(ty)
}

// TestPostSTIX20Bundle: a STIX 2.0 bundle posted as what it is
// (application/stix+json;version=2.0) is accepted and converted; other
// STIX versions are refused with 415.
func TestPostSTIX20Bundle(t *testing.T) {
	db := storetest.SQLite(t, intel.Schema(), Schema())
	e := newEnv(t, db, 0, 100)
	bundle := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[` + a20 + `]}`
	for _, tt := range []struct {
		contentType string
		want        int
	}{
		{"application/stix+json;version=2.0", http.StatusAccepted},
		{"application/stix+json; version=2.1", http.StatusAccepted},
		{"application/stix+json;version=3.0", http.StatusUnsupportedMediaType},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/taxii2/api/collections/"+e.coll+"/objects/", bytes.NewReader([]byte(bundle)))
		req.Header.Set("Accept", MediaTAXII)
		req.Header.Set("Content-Type", tt.contentType)
		req.SetBasicAuth("cert-a", testMembers["cert-a"].key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st Status
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.contentType, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusAccepted && (st.SuccessCount != 1 || st.Successes[0].ID != idA) {
			t.Errorf("%s: status %+v", tt.contentType, st)
		}
	}
}
