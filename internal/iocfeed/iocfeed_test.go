package iocfeed

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/warninglist"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const coll = "6e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"

func setup(t *testing.T) *intel.Repo {
	t.Helper()
	db := storetest.SQLite(t, intel.Schema())
	repo := intel.NewRepo(db, intel.Options{Validate: Validator(warninglist.Default())})
	ctx := context.Background()
	if _, err := repo.CreateCollection(ctx, intel.Collection{ID: coll, Title: "shared", CommunityRead: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"fr-soc", "nl-bank"} {
		if err := repo.SetRights(ctx, coll, m, intel.Rights{Read: true, Write: true}); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

func indicator(t *testing.T, pattern string, level tlp.Level, revoked bool) json.RawMessage {
	t.Helper()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, err := stix.NewIndicator(stix.IndicatorSpec{ID: stix.NameID("indicator", pattern), Pattern: pattern, ValidFrom: from, TLP: level,
		Created: from, Modified: from.Add(time.Duration(boolInt(revoked)) * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if revoked {
		o.Set("revoked", true)
	}
	b, _ := json.Marshal(o)
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFeederFollowsTheRepository(t *testing.T) {
	repo := setup(t)
	ctx := context.Background()
	st, err := repo.AddObjects(ctx, intel.Viewer{Member: "fr-soc"}, coll, []json.RawMessage{
		indicator(t, "[domain-name:value = 'evil.example']", tlp.Green, false),
		indicator(t, "[ipv4-addr:value = '198.51.100.0/24' OR ipv4-addr:value = '192.0.2.1']", tlp.Green, false), // on the documentation-range list
		indicator(t, "[ipv4-addr:value = '45.77.1.2'] FOLLOWEDBY [domain-name:value = 'x.example']", tlp.Green, false),
		indicator(t, "[domain-name:value = 'amber.example']", tlp.Amber, false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failures) != 1 {
		t.Fatalf("want the warning-listed indicator refused, got %+v", st.Failures)
	}
	index := ioc.New(ioc.Options{})
	f := New(repo, index, quiet)
	if _, err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Indexed != 2 || s.Complex != 1 {
		t.Fatalf("stats %+v, want 2 indexed, 1 complex", s)
	}
	detect := func(member, domain string) int {
		ev := &event.Event{ID: "e", Member: member, Time: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
		ev.Set("dns.question.name", domain)
		return len(index.Detect(ev, nil))
	}
	tests := []struct {
		member, domain string
		want           int
	}{
		{"nl-bank", "a.b.evil.example", 1}, // GREEN: community, parent-domain match
		{"nl-bank", "amber.example", 0},    // AMBER of another member
		{"fr-soc", "amber.example", 1},     // its own
		{"nl-bank", "not-evil.example", 0},
	}
	for _, tt := range tests {
		if got := detect(tt.member, tt.domain); got != tt.want {
			t.Errorf("%s looking up %s: %d alerts, want %d", tt.member, tt.domain, got, tt.want)
		}
	}
	// Revoking removes it from the index.
	if _, err := repo.AddObjects(ctx, intel.Viewer{Member: "fr-soc"}, coll,
		[]json.RawMessage{indicator(t, "[domain-name:value = 'evil.example']", tlp.Green, true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := detect("nl-bank", "evil.example"); got != 0 {
		t.Errorf("revoked indicator still matches")
	}
}

// TestMembersHoldingOneIDEachMatch has two members hold the same
// indicator id (ids derive from the pattern here, as in many feeds), each
// at TLP:AMBER, hidden from the other: each one's events match its own
// indicator, and one's deletion leaves the other's in the index.
func TestMembersHoldingOneIDEachMatch(t *testing.T) {
	repo := setup(t)
	ctx := context.Background()
	ind := indicator(t, "[domain-name:value = 'both.example']", tlp.Amber, false)
	for _, m := range []string{"fr-soc", "nl-bank"} {
		st, err := repo.AddObjects(ctx, intel.Viewer{Member: m}, coll, []json.RawMessage{ind})
		if err != nil || len(st.Failures) != 0 {
			t.Fatalf("%s adds the indicator: %+v, %v", m, st.Failures, err)
		}
	}
	index := ioc.New(ioc.Options{})
	f := New(repo, index, quiet)
	if _, err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	detect := func(member string) int {
		ev := &event.Event{ID: "e", Member: member, Time: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
		ev.Set("dns.question.name", "both.example")
		return len(index.Detect(ev, nil))
	}
	for _, m := range []string{"fr-soc", "nl-bank"} {
		if got := detect(m); got != 1 {
			t.Errorf("%s's event: %d alerts, want 1 (its own indicator)", m, got)
		}
	}
	var id struct{ ID string }
	json.Unmarshal(ind, &id)
	if _, err := repo.DeleteObject(ctx, intel.Viewer{Member: "nl-bank"}, coll, id.ID, intel.Filter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := [2]int{detect("fr-soc"), detect("nl-bank")}, [2]int{1, 0}; got != want {
		t.Errorf("after nl-bank deletes its indicator: fr-soc, nl-bank alerts %v, want %v", got, want)
	}
}

func TestSightingStoredForIOCAlerts(t *testing.T) {
	repo := setup(t)
	ctx := context.Background()
	s := Sightings{Repo: repo, Collection: coll, Log: quiet}
	a := alert.Alert{ID: "01a2", Member: "nl-bank", Detector: "ioc", RuleID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		Count: 3, EventTime: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Detected: time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC)}
	for range 2 { // a second record of the same alert is a new version, not an error
		if err := s.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Count++
	}
	if err := s.Record(ctx, alert.Alert{ID: "x", Member: "nl-bank", Detector: "sigma", RuleID: "r"}); err != nil {
		t.Fatal(err)
	}
	page, err := repo.Objects(ctx, intel.Viewer{Member: "nl-bank"}, coll, intel.Filter{Types: []string{"sighting"}, Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 2 || page.Objects[0].TLP != tlp.Amber {
		t.Fatalf("sightings: %+v", page.Objects)
	}
	other, _ := repo.Objects(ctx, intel.Viewer{Member: "fr-soc"}, coll, intel.Filter{Types: []string{"sighting"}})
	if len(other.Objects) != 0 {
		t.Errorf("another member sees an AMBER sighting")
	}
}

// TestSightingsOfABatch: a batch's IOC alerts become one sighting each,
// stored in each alert's member's name (one write per member); other
// detectors' alerts are skipped.
func TestSightingsOfABatch(t *testing.T) {
	repo := setup(t)
	ctx := context.Background()
	s := Sightings{Repo: repo, Collection: coll, Log: quiet}
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ind := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	batch := []alert.Alert{
		{ID: "01b1", Member: "nl-bank", Detector: "ioc", RuleID: ind, Count: 1, EventTime: at, Detected: at},
		{ID: "01b2", Member: "fr-soc", Detector: "ioc", RuleID: ind, Count: 2, EventTime: at, Detected: at},
		{ID: "01b3", Member: "nl-bank", Detector: "ioc", RuleID: ind, Count: 1, EventTime: at, Detected: at},
		{ID: "01b4", Member: "nl-bank", Detector: "sigma", RuleID: "r", EventTime: at},
	}
	if err := s.RecordAll(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for member, want := range map[string]int{"nl-bank": 2, "fr-soc": 1} {
		page, err := repo.Objects(ctx, intel.Viewer{Member: member}, coll, intel.Filter{Types: []string{"sighting"}})
		if err != nil || len(page.Objects) != want {
			t.Errorf("%s sees %d sightings (%v), want %d", member, len(page.Objects), err, want)
		}
	}
}

// TestSightingIdentityLeaksNothing: the identity a member's sightings
// name is made by xsoc once, marked, never versioned by activity, with an
// id no member can predict, take or add versions to.
func TestSightingIdentityLeaksNothing(t *testing.T) {
	repo := setup(t)
	ctx := context.Background()
	s := Sightings{Repo: repo, Collection: coll, Log: quiet}
	// fr-soc tries to take nl-bank's identity before nl-bank's first
	// sighting, under the id a name-based scheme would give it.
	guessed := stix.NameID("identity", "xsoc-member/nl-bank")
	squat := json.RawMessage(`{"type":"identity","spec_version":"2.1","id":"` + guessed + `","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"nl-bank"}`)
	if _, err := repo.AddObjects(ctx, intel.Viewer{Member: "fr-soc"}, coll, []json.RawMessage{squat}); err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{ID: "01a3", Member: "nl-bank", Detector: "ioc", RuleID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		Count: 1, EventTime: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Detected: time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC)}
	for range 3 {
		if err := s.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Count++
	}
	sightings, err := repo.Objects(ctx, intel.Viewer{Member: "nl-bank"}, coll, intel.Filter{Types: []string{"sighting"}})
	if err != nil || len(sightings.Objects) != 1 {
		t.Fatalf("sightings: %v %+v", err, sightings.Objects)
	}
	sg, err := stix.Decode(sightings.Objects[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	identID := sg.String("created_by_ref")
	if identID == guessed || !strings.HasPrefix(identID, "identity--") {
		t.Fatalf("sighting names identity %q (the guessable id is %s)", identID, guessed)
	}
	if refs := sg.Strings("where_sighted_refs"); len(refs) != 1 || refs[0] != identID {
		t.Errorf("where_sighted_refs %v, want [%s]", refs, identID)
	}
	// Another member reads the identity: one version, whatever the
	// activity, and a TLP marking of its own.
	versions, err := repo.Versions(ctx, intel.Viewer{Member: "fr-soc"}, coll, identID, intel.Filter{})
	if err != nil || len(versions.Objects) != 1 {
		t.Fatalf("versions of the identity seen by another member: %v %+v", err, versions.Objects)
	}
	if versions.Objects[0].TLP != tlp.Green {
		t.Errorf("identity TLP %v, want GREEN", versions.Objects[0].TLP)
	}
	body, err := repo.Objects(ctx, intel.Viewer{Member: "fr-soc"}, coll, intel.Filter{IDs: []string{identID}})
	if err != nil || len(body.Objects) != 1 {
		t.Fatalf("identity: %v %+v", err, body.Objects)
	}
	if ident, _ := stix.Decode(body.Objects[0].Raw); len(ident.Strings("object_marking_refs")) != 1 {
		t.Errorf("identity unmarked: %s", body.Objects[0].Raw)
	}
	// Neither the member nor anyone else may add versions of it.
	for _, m := range []string{"nl-bank", "fr-soc"} {
		forged := json.RawMessage(`{"type":"identity","spec_version":"2.1","id":"` + identID + `","created":"2020-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"someone else"}`)
		st, err := repo.AddObjects(ctx, intel.Viewer{Member: m}, coll, []json.RawMessage{forged})
		if err != nil || len(st.Failures) != 1 {
			t.Errorf("%s added a version of xsoc's identity: %v %+v", m, err, st)
		}
	}
}
