package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// object builds a STIX 2.1 object of the given type and version.
func object(typ, id, modified string, extra ...string) json.RawMessage {
	s := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00.000Z","modified":%q`, typ, id, modified)
	for _, e := range extra {
		s += "," + e
	}
	return json.RawMessage(s + "}")
}

func marked(refs ...string) string {
	b, _ := json.Marshal(refs)
	return `"object_marking_refs":` + string(b)
}

func newID(typ string) string { return typ + "--" + NewUUID() }

var (
	member  = Viewer{Member: "cert-a"}
	other   = Viewer{Member: "cert-b"}
	client  = Viewer{Member: "bank-c", ClientOf: []string{"cert-a"}}
	outside = Viewer{Member: "cert-z"}
	op      = Viewer{Operator: true}
)

// fixture is a repository with one collection that cert-a writes and
// cert-b, bank-c may read.
type fixture struct {
	repo *Repo
	coll string
}

func newFixture(t *testing.T, db *store.DB, opts Options) fixture {
	t.Helper()
	ctx := context.Background()
	r := NewRepo(db, opts)
	c, err := r.CreateCollection(ctx, Collection{Title: "Indicators", Description: "shared IOCs"})
	if err != nil {
		t.Fatal(err)
	}
	for m, rights := range map[string]Rights{"cert-a": {Read: true, Write: true}, "cert-b": {Read: true}, "bank-c": {Read: true}} {
		if err := r.SetRights(ctx, c.ID, m, rights); err != nil {
			t.Fatal(err)
		}
	}
	return fixture{repo: r, coll: c.ID}
}

func (f fixture) add(t *testing.T, v Viewer, objs ...json.RawMessage) Status {
	t.Helper()
	st, err := f.repo.AddObjects(context.Background(), v, f.coll, objs)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ids(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.ID)
	}
	return out
}

func TestCollectionsAndRights(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		green := tlp.Green
		open, err := f.repo.CreateCollection(ctx, Collection{Title: "Community", CommunityRead: true, DefaultTLP: &green})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			v         Viewer
			want      []string
			writeMain bool
		}{
			{member, []string{f.coll, open.ID}, true},
			{other, []string{f.coll, open.ID}, false},
			{outside, []string{open.ID}, false},
			{Viewer{}, nil, false}, // anonymous: nothing
			{op, []string{f.coll, open.ID}, true},
		}
		for _, tt := range tests {
			list, err := f.repo.Collections(ctx, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range list {
				got = append(got, a.ID)
				if a.ID == f.coll && a.CanWrite != tt.writeMain {
					t.Errorf("%+v: can_write on main = %v, want %v", tt.v, a.CanWrite, tt.writeMain)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%+v sees collections %v, want %v", tt.v, got, tt.want)
			}
		}
		a, err := f.repo.Collection(ctx, outside, open.ID)
		if err != nil || a.UnmarkedLevel() != tlp.Green || !a.CanRead || a.CanWrite {
			t.Errorf("open collection as outsider: %+v, %v", a, err)
		}
		if _, err := f.repo.Collection(ctx, outside, f.coll); !errors.Is(err, ErrForbidden) {
			t.Errorf("outsider on closed collection: %v, want ErrForbidden", err)
		}
		if _, err := f.repo.Collection(ctx, member, NewUUID()); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown collection: %v, want ErrNotFound", err)
		}
		if _, err := f.repo.CreateCollection(ctx, Collection{Title: "x", ID: "not-a-uuid"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad id: %v", err)
		}
		if _, err := f.repo.CreateCollection(ctx, Collection{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("no title: %v", err)
		}
		// Removing rights removes the collection from the member's list.
		if err := f.repo.SetRights(ctx, f.coll, "cert-b", Rights{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.repo.Collection(ctx, other, f.coll); !errors.Is(err, ErrForbidden) {
			t.Errorf("after revoking: %v", err)
		}
	})
}

func TestAddObjectsReportsEachObject(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rejectMalware := func(raw json.RawMessage) error {
			if strings.Contains(string(raw), `"type":"malware"`) {
				return errors.New("malware objects need a name")
			}
			return nil
		}
		f := newFixture(t, db, Options{Validate: rejectMalware})
		good := newID("indicator")
		owned := newID("indicator")
		// cert-a owns this object, which cert-b sees; cert-b's version of
		// it below is refused.
		f.add(t, member, object("indicator", owned, "2020-01-01T00:00:00.000Z", marked(tlpGreen2)))

		batch := []json.RawMessage{
			object("indicator", good, "2020-01-02T00:00:00.000Z"),
			json.RawMessage(`{"type":"indicator",`),                                          // broken JSON
			json.RawMessage(`{"type":"indicator","spec_version":"2.1"}`),                     // no id
			object("malware", newID("malware"), "2020-01-02T00:00:00.000Z"),                  // validator
			object("indicator", good, "2020-01-02T00:00:00.000Z"),                            // duplicate in request
			json.RawMessage(`{"type":"indicator","spec_version":"3.0","id":"` + good + `"}`), // wrong spec
		}
		st := f.add(t, member, batch...)
		if st.Total() != len(batch) || len(st.Successes) != 2 || len(st.Failures) != 4 {
			t.Fatalf("status %+v: want 2 successes, 4 failures", st)
		}
		if st.Successes[1].Message != msgDuplicate {
			t.Errorf("duplicate reported as %q", st.Successes[1].Message)
		}
		wantReasons := []string{"invalid JSON", "id missing", "need a name", "not supported"}
		for i, want := range wantReasons {
			if !strings.Contains(st.Failures[i].Message, want) {
				t.Errorf("failure %d = %q, want %q", i, st.Failures[i].Message, want)
			}
		}
		if st.Failures[3].ID != good {
			t.Errorf("failure names %q, want the object's id %q", st.Failures[3].ID, good)
		}
		// The status is stored and only its requester sees it.
		got, err := f.repo.Status(ctx, member, st.ID)
		if err != nil || got.Total() != st.Total() || got.Failures[0].Message != st.Failures[0].Message {
			t.Fatalf("stored status %+v, %v", got, err)
		}
		if _, err := f.repo.Status(ctx, other, st.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("other member reads status: %v", err)
		}
		// Only the good object (and the earlier one) are stored.
		page, err := f.repo.Objects(ctx, op, f.coll, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Objects); !slices.Equal(got, []string{owned, good}) {
			t.Fatalf("stored %v, want [%s %s]", got, owned, good)
		}

		// A member may not add versions of another member's object.
		f.repo.SetRights(ctx, f.coll, "cert-b", Rights{Read: true, Write: true})
		st = f.add(t, other, object("indicator", owned, "2021-01-01T00:00:00.000Z"))
		if len(st.Failures) != 1 || st.Failures[0].Message != msgOtherOwner {
			t.Fatalf("hijack attempt: %+v", st)
		}
	})
}

// TestSTIX20ObjectsAreStoredAs21: STIX 2.0 objects (no spec_version, as
// the STIX 2.0 specification's own examples, or spec_version 2.0) are
// stored in their 2.1 form with a note in the status, and their 2.0 form
// is kept as sent: match[spec_version] 2.1 (the default) finds the 2.1
// forms, 2.0 the forms as sent, both each in both.
func TestSTIX20ObjectsAreStoredAs21(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		indicator := `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48Z","labels":["malicious-activity"],"name":"Poison Ivy Malware","pattern":"[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]","valid_from":"2016-01-01T00:00:00Z"}`
		malware := `{"type":"malware","spec_version":"2.0","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"Poison Ivy","labels":["remote-access-trojan"]}`
		st := f.add(t, member, json.RawMessage(indicator), json.RawMessage(malware))
		if len(st.Successes) != 2 || st.Successes[0].Message != MsgConverted || st.Successes[1].Message != MsgConverted {
			t.Fatalf("status %+v", st)
		}
		sent := []string{indicator, malware}
		for _, tt := range []struct {
			spec []string
			want []string // spec version of each entry
		}{
			{nil, []string{"2.1", "2.1"}},
			{[]string{"2.1"}, []string{"2.1", "2.1"}},
			{[]string{"2.0"}, []string{"2.0", "2.0"}},
			{[]string{"2.0", "2.1"}, []string{"2.0", "2.1", "2.0", "2.1"}},
			{[]string{"1.0"}, nil},
		} {
			page, err := f.repo.Objects(ctx, member, f.coll, Filter{SpecVersions: tt.spec})
			if err != nil || len(page.Objects) != len(tt.want) {
				t.Fatalf("spec_version %v: %d objects, %v", tt.spec, len(page.Objects), err)
			}
			n := 0
			for i, o := range page.Objects {
				if o.SpecVersion != tt.want[i] {
					t.Errorf("spec_version %v: entry %d in %s", tt.spec, i, o.SpecVersion)
				}
				var body map[string]any
				json.Unmarshal(o.Raw, &body)
				if o.SpecVersion == "2.0" {
					var want map[string]any
					json.Unmarshal([]byte(sent[n]), &want)
					n++
					if !reflect.DeepEqual(body, want) {
						t.Errorf("2.0 form %s, sent %s", o.Raw, sent[n-1])
					}
					continue
				}
				if body["spec_version"] != "2.1" || body["labels"] != nil || (o.Type == "indicator") != (body["indicator_types"] != nil) {
					t.Errorf("stored %s", o.Raw)
				}
			}
		}
		if _, err := f.repo.Objects(ctx, member, f.coll, Filter{SpecVersions: []string{"2.0beta"}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("spec_version 2.0beta: %v", err)
		}
	})
}

// TestAddingRevealsNoHiddenObject posts, as cert-b, ids that cert-a holds
// in versions cert-b may not see, beside ids nobody holds: the answers must
// be the same (cert-b adds its own object), cert-a's versions must stay
// untouched and hidden, and only versions cert-b sees refuse its post.
// STIX cyber-observables have ids derived from their values, so a refusal
// would tell cert-b whether cert-a holds, say, an address.
func TestAddingRevealsNoHiddenObject(t *testing.T) {
	sco := func(id, value string, extra ...string) json.RawMessage {
		s := fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":%q,"value":%q`, id, value)
		for _, e := range extra {
			s += "," + e
		}
		return json.RawMessage(s + "}")
	}
	for _, tt := range []struct {
		name string
		// make builds cert-a's or cert-b's version of the object id.
		make func(id string, extra ...string) json.RawMessage
		// extra marks cert-a's version.
		extra   []string
		visible bool
	}{
		{"red indicator", sdo, []string{marked(tlpRed2)}, false},
		{"amber+strict indicator", sdo, []string{marked("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003")}, false},
		{"amber indicator (cert-b no client)", sdo, []string{marked(tlpAmber1)}, false},
		{"unmarked indicator (collection default amber)", sdo, nil, false},
		{"red address", func(id string, extra ...string) json.RawMessage { return sco(id, "198.51.100.7", extra...) }, []string{marked(tlpRed2)}, false},
		{"green indicator", sdo, []string{marked(tlpGreen2)}, true},
		{"red indicator named to cert-b", sdo, []string{marked(tlpRed2), `"x_xsoc_recipients":["cert-b"]`}, true},
		{"green address", func(id string, extra ...string) json.RawMessage { return sco(id, "198.51.100.8", extra...) }, []string{marked(tlpGreen2)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := newFixture(t, db, Options{})
				f.repo.SetRights(ctx, f.coll, "cert-b", Rights{Read: true, Write: true})
				typ := strings.SplitN(string(tt.make("x--x")), `"`, 5)[3]
				held, fresh := newID(typ), newID(typ)
				f.add(t, member, tt.make(held, tt.extra...))

				mine := tt.make(held, marked(tlpAmber1), `"x_note":"cert-b's"`)
				got := f.add(t, other, mine)
				want := f.add(t, other, tt.make(fresh, marked(tlpAmber1), `"x_note":"cert-b's"`))
				if tt.visible {
					if len(got.Failures) != 1 || got.Failures[0].Message != msgOtherOwner {
						t.Fatalf("version of an object cert-b sees: %+v, want refused", got)
					}
					return
				}
				strip := func(st Status) []StatusDetail {
					var out []StatusDetail
					for _, d := range append(st.Successes, st.Failures...) {
						out = append(out, StatusDetail{Version: d.Version, Message: d.Message})
					}
					return out
				}
				if !slices.Equal(strip(got), strip(want)) || len(got.Failures) != 0 {
					t.Fatalf("posting a hidden id answered %+v, an unknown id %+v", got, want)
				}
				// cert-b reads its own object under the id, and only it.
				page, err := f.repo.Object(ctx, other, f.coll, held, Filter{Versions: []string{"all"}})
				if err != nil || len(page.Objects) != 1 || page.Objects[0].Owner != "cert-b" || string(page.Objects[0].Raw) != string(mine) {
					t.Fatalf("cert-b reads %+v, %v: want its own version only", page.Objects, err)
				}
				// Posting it again is its own duplicate, as for the fresh id.
				again, againFresh := f.add(t, other, mine), f.add(t, other, tt.make(fresh, marked(tlpAmber1), `"x_note":"cert-b's"`))
				if !slices.Equal(strip(again), strip(againFresh)) || again.Successes[0].Message != msgDuplicate {
					t.Fatalf("repeated post: %+v, for an unknown id %+v", again, againFresh)
				}
				// cert-a's version is untouched and still its own.
				page, err = f.repo.Object(ctx, member, f.coll, held, Filter{Versions: []string{"all"}})
				if err != nil || len(page.Objects) != 1 || page.Objects[0].Owner != "cert-a" || strings.Contains(string(page.Objects[0].Raw), "cert-b's") {
					t.Fatalf("cert-a reads %+v, %v: want its own version only", page.Objects, err)
				}
				// The operator sees both members' objects.
				page, _ = f.repo.Object(ctx, op, f.coll, held, Filter{})
				if len(page.Objects) != 2 {
					t.Fatalf("operator reads %d versions, want both members' latest", len(page.Objects))
				}
				// cert-b deleting its object leaves cert-a's, and the feed says
				// whose version went.
				_, cursor, _ := f.repo.Since(ctx, 0, 0)
				if n, err := f.repo.DeleteObject(ctx, other, f.coll, held, Filter{}); err != nil || n != 1 {
					t.Fatalf("cert-b deletes its object: %d, %v", n, err)
				}
				changes, _, _ := f.repo.Since(ctx, cursor, 0)
				if len(changes) != 1 || !changes[0].Deleted || changes[0].Object.Owner != "cert-b" {
					t.Fatalf("feed after delete: %+v", changes)
				}
				if _, err := f.repo.Object(ctx, other, f.coll, held, Filter{}); !errors.Is(err, ErrNotFound) {
					t.Errorf("cert-b reads the id after deleting its object: %v, want not found", err)
				}
				if page, err := f.repo.Object(ctx, member, f.coll, held, Filter{}); err != nil || len(page.Objects) != 1 {
					t.Errorf("cert-a's version after cert-b's delete: %+v, %v", page.Objects, err)
				}
			})
		})
	}
}

// sdo is an indicator version of 2020-01-01 with id and extra properties.
func sdo(id string, extra ...string) json.RawMessage {
	return object("indicator", id, "2020-01-01T00:00:00.000Z", extra...)
}

func TestAddObjectsNeedsWriteRight(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		obj := object("indicator", newID("indicator"), "2020-01-01T00:00:00.000Z")
		for _, tt := range []struct {
			v    Viewer
			coll string
			want error
		}{
			{other, f.coll, ErrForbidden},
			{outside, f.coll, ErrForbidden},
			{op, f.coll, ErrForbidden}, // an operator must act for a member to own objects
			{member, NewUUID(), ErrNotFound},
		} {
			if _, err := f.repo.AddObjects(ctx, tt.v, tt.coll, []json.RawMessage{obj}); !errors.Is(err, tt.want) {
				t.Errorf("%+v: %v, want %v", tt.v, err, tt.want)
			}
		}
		page, _ := f.repo.Objects(ctx, op, f.coll, Filter{})
		if len(page.Objects) != 0 {
			t.Fatalf("refused requests stored %v", ids(page.Objects))
		}
	})
}

// TestVisibility checks who sees what, for every TLP level, with the
// expected outcome written out rather than derived from package tlp.
func TestVisibility(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		type obj struct {
			name  string
			extra []string
			// seen by: owner cert-a, community cert-b, client bank-c
			a, b, c bool
		}
		objs := []obj{
			{"clear", []string{marked(tlpWhite1)}, true, true, true},
			{"green", []string{marked(tlpGreen2)}, true, true, true},
			{"amber", []string{marked(tlpAmber1)}, true, false, true},
			{"amber+strict", []string{marked("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003")}, true, false, false},
			{"red", []string{marked(tlpRed2)}, true, false, false},
			{"red named b", []string{marked(tlpRed2), `"x_xsoc_recipients":["cert-b"]`}, true, true, false},
			{"unmarked (collection default AMBER)", nil, true, false, true},
		}
		byID := map[string]obj{}
		var raws []json.RawMessage
		for _, o := range objs {
			id := newID("indicator")
			byID[id] = o
			raws = append(raws, object("indicator", id, "2020-01-01T00:00:00.000Z", o.extra...))
		}
		f.add(t, member, raws...)
		for _, v := range []Viewer{member, other, client, op} {
			page, err := f.repo.Objects(ctx, v, f.coll, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, o := range page.Objects {
				seen[o.ID] = true
			}
			for id, o := range byID {
				want := v.Operator || map[string]bool{"cert-a": o.a, "cert-b": o.b, "bank-c": o.c}[v.Member]
				if seen[id] != want {
					t.Errorf("%s sees %s object: %v, want %v", v.Member, o.name, seen[id], want)
				}
				// Single-object reads agree with listings.
				_, err := f.repo.Object(ctx, v, f.coll, id, Filter{})
				if (err == nil) != want || (err != nil && !errors.Is(err, ErrNotFound)) {
					t.Errorf("%s reads %s object: err=%v, want visible=%v", v.Member, o.name, err, want)
				}
			}
		}
		if _, err := f.repo.Objects(ctx, outside, f.coll, Filter{}); !errors.Is(err, ErrForbidden) {
			t.Errorf("reader without rights: %v", err)
		}
	})
}

func TestPagingIsExact(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{MaxPageSize: 7})
		var want []string
		for i := 0; i < 30; i++ {
			id := newID("indicator")
			extra := []string{marked(tlpGreen2)}
			if i%3 == 0 {
				extra = []string{marked(tlpRed2)} // hidden from cert-b
			} else {
				want = append(want, id)
			}
			f.add(t, member, object("indicator", id, "2020-01-01T00:00:00.000Z", extra...))
		}
		for _, limit := range []int{1, 3, 7, 100} {
			var got []string
			var lastAdded time.Time
			next := ""
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("paging does not end")
				}
				page, err := f.repo.Objects(ctx, other, f.coll, Filter{Limit: limit, Next: next})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Objects) > min(limit, 7) {
					t.Fatalf("limit %d: page of %d", limit, len(page.Objects))
				}
				if page.More && len(page.Objects) != min(limit, 7) {
					t.Fatalf("limit %d: short page %d with more", limit, len(page.Objects))
				}
				for _, o := range page.Objects {
					if !o.DateAdded.After(lastAdded) {
						t.Fatalf("date_added not increasing: %v after %v", o.DateAdded, lastAdded)
					}
					lastAdded = o.DateAdded
				}
				got = append(got, ids(page.Objects)...)
				if !page.More {
					break
				}
				next = page.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: paged %d objects, want %d in order", limit, len(got), len(want))
			}
		}
		// added_after the fifth visible object's date_added returns the rest.
		all, _ := f.repo.Manifest(ctx, other, f.coll, Filter{Limit: 7})
		page, err := f.repo.Manifest(ctx, other, f.coll, Filter{AddedAfter: all.Objects[4].DateAdded, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Objects); !slices.Equal(got, want[5:12]) {
			t.Fatalf("added_after: %v, want %v", got, want[5:12])
		}
		if page.Objects[0].Raw != nil {
			t.Error("manifest carries object bodies")
		}
		if _, err := f.repo.Objects(ctx, other, f.coll, Filter{Next: "garbage"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad next: %v", err)
		}
		// A next token continues its own query only: with other filters,
		// or at another endpoint, it is refused rather than skipping or
		// repeating objects. A different page size is fine.
		first, err := f.repo.Objects(ctx, other, f.coll, Filter{Types: []string{"indicator"}, Limit: 2})
		if err != nil || !first.More {
			t.Fatalf("first page: %v, more %v", err, first.More)
		}
		if _, err := f.repo.Objects(ctx, other, f.coll, Filter{Types: []string{"indicator"}, Limit: 5, Next: first.Next}); err != nil {
			t.Errorf("same filters, other limit: %v", err)
		}
		for name, changed := range map[string]Filter{
			"other type":     {Types: []string{"malware"}, Next: first.Next},
			"no type":        {Next: first.Next},
			"added_after":    {Types: []string{"indicator"}, AddedAfter: time.Unix(1, 0), Next: first.Next},
			"spec_version":   {Types: []string{"indicator"}, SpecVersions: []string{"2.1"}, Next: first.Next},
			"forged print":   {Types: []string{"indicator"}, Next: strings.Split(first.Next, ".")[0] + ".0000000000000000"},
			"print left out": {Types: []string{"indicator"}, Next: strings.Split(first.Next, ".")[0]},
		} {
			if _, err := f.repo.Objects(ctx, other, f.coll, changed); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: next of another query accepted: %v", name, err)
			}
		}
		if _, err := f.repo.Manifest(ctx, other, f.coll, Filter{Types: []string{"indicator"}, Next: first.Next}); !errors.Is(err, ErrInvalid) {
			t.Errorf("objects' next accepted by the manifest: %v", err)
		}
	})
}

func TestVersionSelection(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		id, plain := newID("indicator"), newID("malware")
		v1, v2, v3 := "2020-01-01T00:00:00.000Z", "2020-02-01T00:00:00.000Z", "2020-03-01T00:00:00.123456Z"
		// v3 is RED: cert-b's "last" must be v2, not nothing.
		f.add(t, member, object("indicator", id, v2, marked(tlpGreen2)))
		f.add(t, member, object("indicator", id, v1, marked(tlpGreen2)), object("malware", plain, v1, marked(tlpGreen2)))
		f.add(t, member, object("indicator", id, v3, marked(tlpRed2)))
		tests := []struct {
			v        Viewer
			versions []string
			want     []string // versions of id, in date_added order
		}{
			{member, nil, []string{v3}},
			{member, []string{"last"}, []string{v3}},
			{member, []string{"first"}, []string{v1}},
			{member, []string{"all"}, []string{v2, v1, v3}},
			{member, []string{"first", "last"}, []string{v1, v3}},
			{member, []string{v2}, []string{v2}},
			{other, []string{"last"}, []string{v2}},
			{other, []string{"all"}, []string{v2, v1}},
			{other, []string{v3}, nil},
		}
		for _, tt := range tests {
			page, err := f.repo.Objects(ctx, tt.v, f.coll, Filter{IDs: []string{id}, Versions: tt.versions})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range page.Objects {
				got = append(got, o.VersionString())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s %v: versions %v, want %v", tt.v.Member, tt.versions, got, tt.want)
			}
		}
		vers, err := f.repo.Versions(ctx, other, f.coll, id, Filter{})
		if err != nil || len(vers.Objects) != 2 {
			t.Fatalf("Versions for cert-b: %d, %v", len(vers.Objects), err)
		}
		if _, err := f.repo.Versions(ctx, other, f.coll, newID("indicator"), Filter{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("versions of unknown object: %v", err)
		}
		// Type filter.
		page, _ := f.repo.Objects(ctx, member, f.coll, Filter{Types: []string{"malware"}})
		if got := ids(page.Objects); !slices.Equal(got, []string{plain}) {
			t.Errorf("type filter: %v", got)
		}
		if _, err := f.repo.Objects(ctx, member, f.coll, Filter{Versions: []string{"newest"}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad version filter: %v", err)
		}
	})
}

func TestDeleteAndChangeFeed(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		ind, mal := newID("indicator"), newID("malware")
		f.add(t, member,
			object("indicator", ind, "2020-01-01T00:00:00.000Z", marked(tlpGreen2)),
			object("indicator", ind, "2020-02-01T00:00:00.000Z", marked(tlpGreen2)),
			object("malware", mal, "2020-01-01T00:00:00.000Z"))
		changes, _, err := f.repo.Since(ctx, 0, 0, "indicator")
		if err != nil || len(changes) != 2 || changes[0].Object.ID != ind || changes[0].Deleted {
			t.Fatalf("Since: %+v %v", changes, err)
		}
		if changes[0].Object.Owner != "cert-a" || changes[0].Object.TLP != tlp.Green || len(changes[0].Object.Raw) == 0 {
			t.Errorf("change lacks sharing metadata: %+v", changes[0].Object)
		}
		changes, cursor, err := f.repo.Since(ctx, 0, 0)
		if err != nil || len(changes) != 3 || changes[2].Object.ID != mal || changes[2].Object.TLP != tlp.Amber {
			t.Errorf("change lacks sharing metadata: %+v", changes[0].Object)
		}
		wake := f.repo.Changed()

		// cert-b may not delete cert-a's object even with write rights.
		f.repo.SetRights(ctx, f.coll, "cert-b", Rights{Read: true, Write: true})
		if _, err := f.repo.DeleteObject(ctx, other, f.coll, ind, Filter{}); !errors.Is(err, ErrForbidden) {
			t.Errorf("delete by non-owner: %v", err)
		}
		if _, err := f.repo.DeleteObject(ctx, client, f.coll, ind, Filter{}); !errors.Is(err, ErrForbidden) {
			t.Errorf("delete without write right: %v", err)
		}
		n, err := f.repo.DeleteObject(ctx, member, f.coll, ind, Filter{Versions: []string{"first"}})
		if err != nil || n != 1 {
			t.Fatalf("delete first: %d, %v", n, err)
		}
		select {
		case <-wake:
		default:
			t.Error("Changed not signalled by delete")
		}
		changes, cursor2, err := f.repo.Since(ctx, cursor, 0)
		if err != nil || len(changes) != 1 || !changes[0].Deleted || changes[0].Object.ID != ind ||
			FormatTimestamp(changes[0].Object.Version) != "2020-01-01T00:00:00.000Z" || cursor2 <= cursor {
			t.Fatalf("Since after delete: %+v %v", changes, err)
		}
		vers, _ := f.repo.Versions(ctx, member, f.coll, ind, Filter{})
		if len(vers.Objects) != 1 || vers.Objects[0].VersionString() != "2020-02-01T00:00:00.000Z" {
			t.Fatalf("remaining versions: %+v", vers.Objects)
		}
		if _, err := f.repo.DeleteObject(ctx, member, f.coll, newID("indicator"), Filter{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete unknown: %v", err)
		}
		if changes, _, _ := f.repo.Since(ctx, cursor2, 0); len(changes) != 0 {
			t.Errorf("feed repeats itself: %+v", changes)
		}
	})
}

// TestConcurrentWritersNeverSkipAReader runs writers on two collections
// while a reader follows the change feed; the reader must end up with every
// object exactly once, in increasing order.
func TestConcurrentWritersNeverSkipAReader(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		second, err := f.repo.CreateCollection(ctx, Collection{Title: "second"})
		if err != nil {
			t.Fatal(err)
		}
		f.repo.SetRights(ctx, second.ID, "cert-a", Rights{Read: true, Write: true})
		const writers, perWriter = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				coll := []string{f.coll, second.ID}[w%2]
				for i := 0; i < perWriter; i++ {
					obj := object("indicator", newID("indicator"), "2020-01-01T00:00:00.000Z")
					if _, err := f.repo.AddObjects(ctx, member, coll, []json.RawMessage{obj}); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		seen := map[string]bool{}
		var cursor int64
		read := func() {
			changes, next, err := f.repo.Since(ctx, cursor, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if seen[c.Object.ID] || c.Seq <= cursor {
					t.Fatalf("change %s seen twice or out of order", c.Object.ID)
				}
				seen[c.Object.ID] = true
				cursor = c.Seq
			}
			if next != cursor {
				t.Fatalf("cursor %d, want %d", next, cursor)
			}
		}
		for running := true; running; {
			select {
			case <-done:
				running = false
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			read()
		}
		for i := 0; i < writers*perWriter; i++ { // drain what is left
			read()
		}
		if len(seen) != writers*perWriter {
			t.Fatalf("reader saw %d objects, want %d", len(seen), writers*perWriter)
		}
	})
}

func TestPruneStatuses(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		f := newFixture(t, db, Options{Now: func() time.Time { return now }})
		old := f.add(t, member, object("indicator", newID("indicator"), "2020-01-01T00:00:00.000Z"))
		now = now.Add(48 * time.Hour)
		recent := f.add(t, member, object("indicator", newID("indicator"), "2020-01-01T00:00:00.000Z"))
		n, err := f.repo.PruneStatuses(ctx, now.Add(-24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		if _, err := f.repo.Status(ctx, member, old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("old status survived: %v", err)
		}
		if _, err := f.repo.Status(ctx, member, recent.ID); err != nil {
			t.Errorf("recent status pruned: %v", err)
		}
	})
}

// TestSharedExamples imports the official STIX 2.1 example bundles.
func TestSharedExamples(t *testing.T) {
	dir := sharedDir(t, "stix", "examples")
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		files := readBundles(t, dir)
		total := 0
		for name, objs := range files {
			st, err := f.repo.AddObjects(ctx, member, f.coll, objs)
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range st.Failures {
				// The example files share some objects; a failure is a bug.
				t.Errorf("%s: %s refused: %s", name, fl.ID, fl.Message)
			}
			total += len(st.Successes)
		}
		var got int
		for next := ""; ; {
			page, err := f.repo.Objects(ctx, member, f.coll, Filter{Versions: []string{"all"}, Next: next})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Objects {
				var back map[string]any
				if err := json.Unmarshal(o.Raw, &back); err != nil || back["id"] != o.ID {
					t.Fatalf("stored %s does not round-trip: %v", o.ID, err)
				}
			}
			got += len(page.Objects)
			if !page.More {
				break
			}
			next = page.Next
		}
		if got == 0 || got > total {
			t.Fatalf("stored %d versions of %d accepted objects", got, total)
		}
	})
}

// TestOwnedObjectsMigration migrates a store made before objects were
// owned per member, with an object and a deletion in it: both survive, and
// the object's owner may add versions while another member holding no
// version of it and seeing none adds its own.
func TestOwnedObjectsMigration(t *testing.T) {
	before := Schema()
	before.Migrations = before.Migrations[:6]
	storetest.Each(t, []store.Schema{before}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id := newID("indicator")
		body := string(object("indicator", id, "2020-01-01T00:00:00.000Z", marked(tlpRed2)))
		if _, err := db.Exec(ctx, `INSERT INTO intel_collections (id, title, created) VALUES ('c', 'old', 0)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO intel_objects (collection_id, object_id, version, type, spec_version, date_added, owner, tlp, named, body)
			VALUES ('c', ?, ?, 'indicator', '2.1', 1000, 'cert-a', ?, '', ?)`, id, store.Nanos(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), int(tlp.Red), body); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO intel_deleted (seq, collection_id, object_id, version, type) VALUES (500, 'c', 'indicator--gone', 0, 'indicator')`); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, Schema()); err != nil {
			t.Fatal(err)
		}
		r := NewRepo(db, Options{})
		for _, m := range []string{"cert-a", "cert-b"} {
			r.SetRights(ctx, "c", m, Rights{Read: true, Write: true})
		}
		page, err := r.Object(ctx, member, "c", id, Filter{})
		if err != nil || len(page.Objects) != 1 || string(page.Objects[0].Raw) != body {
			t.Fatalf("migrated object: %+v, %v", page.Objects, err)
		}
		changes, _, err := r.Since(ctx, 0, 0)
		if err != nil || len(changes) != 2 || !changes[0].Deleted || changes[0].Object.ID != "indicator--gone" {
			t.Fatalf("migrated feed: %+v, %v", changes, err)
		}
		for _, v := range []Viewer{member, other} {
			st, err := r.AddObjects(ctx, v, "c", []json.RawMessage{object("indicator", id, "2021-01-01T00:00:00.000Z", marked(tlpRed2))})
			if err != nil || len(st.Failures) != 0 {
				t.Fatalf("%s adds a version after the migration: %+v, %v", v.Member, st, err)
			}
		}
		page, _ = r.Versions(ctx, member, "c", id, Filter{})
		if len(page.Objects) != 2 {
			t.Errorf("cert-a's versions after the migration: %d, want 2", len(page.Objects))
		}
	})
}

// TestMembersSpeakOnlyForThemselves: the identities xsoc makes for members
// can be neither versioned, nor taken, nor named by another member as the
// creator of its objects or as where something was sighted.
func TestMembersSpeakOnlyForThemselves(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		f.repo.SetRights(ctx, f.coll, "cert-b", Rights{Read: true, Write: true})
		// A collection cert-w may write but not read: it sees no identity.
		blind, err := f.repo.CreateCollection(ctx, Collection{Title: "drop box"})
		if err != nil {
			t.Fatal(err)
		}
		f.repo.SetRights(ctx, blind.ID, "cert-w", Rights{Write: true})
		identA, err := f.repo.MemberIdentity(ctx, f.coll, "cert-a")
		if err != nil {
			t.Fatal(err)
		}
		identB, err := f.repo.MemberIdentity(ctx, f.coll, "cert-b")
		if err != nil {
			t.Fatal(err)
		}
		ind := newID("indicator")
		sighting := func(createdBy string, where ...string) json.RawMessage {
			w, _ := json.Marshal(where)
			return object("sighting", newID("sighting"), "2026-01-01T00:00:00.000Z",
				`"created_by_ref":"`+createdBy+`"`, `"sighting_of_ref":"`+ind+`"`, `"where_sighted_refs":`+string(w))
		}
		for _, tt := range []struct {
			name string
			v    Viewer
			coll string
			obj  json.RawMessage
			want string // "" accepted
		}{
			{"a sighting in its own name", other, f.coll, sighting(identB, identB), ""},
			{"a sighting created by another member's identity", other, f.coll, sighting(identA, identB), msgImpostor},
			{"a sighting where another member sighted it", other, f.coll, sighting(identB, identB, identA), msgImpostor},
			{"an indicator created by another member's identity", other, f.coll,
				object("indicator", ind, "2026-01-01T00:00:00.000Z", `"created_by_ref":"`+identA+`"`), msgImpostor},
			{"a version of another member's identity", other, f.coll,
				object("identity", identA, "2026-01-01T00:00:00.000Z", `"name":"cert-b","identity_class":"organization"`), msgOtherOwner},
			{"a version of its own identity", other, f.coll,
				object("identity", identB, "2026-01-01T00:00:00.000Z", `"name":"cert-b","identity_class":"organization"`), msgOtherOwner},
			{"another member's identity id, unseen", Viewer{Member: "cert-w"}, blind.ID,
				object("identity", identA, "2026-01-01T00:00:00.000Z", `"name":"cert-a","identity_class":"organization"`), msgOtherOwner},
			{"an identity of its own named after another member", other, f.coll,
				object("identity", newID("identity"), "2026-01-01T00:00:00.000Z", `"name":"cert-a","identity_class":"organization"`), ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				st, err := f.repo.AddObjects(ctx, tt.v, tt.coll, []json.RawMessage{tt.obj})
				if err != nil {
					t.Fatal(err)
				}
				got := ""
				if len(st.Failures) > 0 {
					got = st.Failures[0].Message
				}
				if got != tt.want {
					t.Errorf("answer %q, want %q", got, tt.want)
				}
			})
		}
		// xsoc's identity of cert-a is unchanged: one version, its own.
		again, err := f.repo.MemberIdentity(ctx, f.coll, "cert-a")
		if err != nil || again != identA {
			t.Fatalf("cert-a's identity is now %q, %v; was %s", again, err, identA)
		}
		vers, err := f.repo.Versions(ctx, op, f.coll, identA, Filter{})
		if err != nil || len(vers.Objects) != 1 || vers.Objects[0].Owner != SystemOwner {
			t.Errorf("versions of cert-a's identity: %+v, %v", vers.Objects, err)
		}
	})
}
