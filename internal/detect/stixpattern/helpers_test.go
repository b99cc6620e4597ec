package stixpattern

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// coll is the shared collection of the tests.
const coll = "6e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"

// The members of the tests: fr-soc and nl-bank share intelligence,
// be-client is a client of fr-soc.
const (
	frSOC    = "fr-soc"
	nlBank   = "nl-bank"
	beClient = "be-client"
)

// base is the tests' reference time: indicators become valid then.
var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// relations makes be-client a client of fr-soc.
func relations(member string) []string {
	if member == beClient {
		return []string{frSOC}
	}
	return nil
}

// newRepo returns an intel repository on a fresh SQLite database with one
// community-readable collection every test member may write.
func newRepo(t testing.TB) *intel.Repo {
	t.Helper()
	repo := intel.NewRepo(storetest.SQLite(t, intel.Schema()), intel.Options{})
	ctx := context.Background()
	if _, err := repo.CreateCollection(ctx, intel.Collection{ID: coll, Title: "shared", CommunityRead: true}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{frSOC, nlBank, beClient} {
		if err := repo.SetRights(ctx, coll, m, intel.Rights{Read: true, Write: true}); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// spec describes a test indicator; zero fields take defaults.
type spec struct {
	name        string // also seeds the id
	pattern     string
	patternType string
	level       tlp.Level
	named       []string
	from, until time.Time // from defaults to base
	modified    time.Time // defaults to from
	revoked     bool
	confidence  *int
	phases      []stix.KillChainPhase
	refs        []stix.ExternalReference
	set         map[string]any // raw properties set last, to break the object
}

// id is the indicator id a spec's name gives.
func id(name string) string { return stix.NameID("indicator", name) }

// indicator builds the JSON of a test indicator.
func indicator(t testing.TB, s spec) json.RawMessage {
	t.Helper()
	if s.from.IsZero() {
		s.from = base
	}
	if s.modified.IsZero() {
		s.modified = s.from
	}
	pat := s.pattern
	if s.set != nil {
		pat = "[process:name = 'placeholder.exe' AND process:pid = 1]"
	}
	o, err := stix.NewIndicator(stix.IndicatorSpec{
		ID: id(s.name), Name: s.name, Pattern: pat, PatternType: s.patternType,
		ValidFrom: s.from, ValidUntil: s.until, Confidence: s.confidence,
		KillChainPhases: s.phases, TLP: s.level, Created: base.Add(-48 * time.Hour), Modified: s.modified,
	})
	if err != nil {
		t.Fatalf("indicator %q: %v", s.name, err)
	}
	set := map[string]any{}
	if s.revoked {
		set["revoked"] = true
	}
	if len(s.named) > 0 {
		set[intel.RecipientsProperty] = s.named
	}
	if len(s.refs) > 0 {
		set["external_references"] = s.refs
	}
	for k, v := range s.set {
		set[k] = v
	}
	for k, v := range set {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// add stores indicators owned by owner and fails the test if any is
// refused.
func add(t testing.TB, repo *intel.Repo, owner string, raws ...json.RawMessage) {
	t.Helper()
	st, err := repo.AddObjects(context.Background(), intel.Viewer{Member: owner}, coll, raws)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failures) > 0 {
		t.Fatalf("indicators refused: %+v", st.Failures)
	}
}

// synced returns a detector loaded from repo.
func synced(t testing.TB, repo *intel.Repo, opts Options) *Detector {
	t.Helper()
	d := New(opts)
	load(t, d, repo)
	return d
}

func load(t testing.TB, d *Detector, repo *intel.Repo) {
	t.Helper()
	if _, err := d.Sync(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
}

// ev builds an event from field name/value pairs.
func ev(id, member string, at time.Time, fields ...string) *event.Event {
	e := &event.Event{ID: id, Member: member, Time: at, Ingested: at}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Set(fields[i], fields[i+1])
	}
	return e
}

// ruleIDs lists the rule ids of alerts.
func ruleIDs(as []alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.RuleID)
	}
	return out
}

// sharedDir returns a folder of the read-only test data beside the
// repository, skipping the test when it is absent.
func sharedDir(t testing.TB, parts ...string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(append([]string{filepath.Dir(dir), "shared"}, parts...)...)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("test data %s absent: %v", p, err)
			}
			return p
		}
		if dir == filepath.Dir(dir) {
			t.Skip("repository root (go.mod) not found above the working directory")
		}
	}
}

func intp(n int) *int { return &n }
