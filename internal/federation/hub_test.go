package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// testHub is a hub over a store of its own, with the services it uses
// and a correlator that fails when told to.
type testHub struct {
	*Hub
	alerts  *alert.Service
	members *member.Registry
	corr    *flakyCorrelator
}

func hubSchemas() []store.Schema {
	return []store.Schema{member.Schema(), alert.Schema(), correlate.Schema(), Schema(), HierarchySchema()}
}

// newTestHub builds a hub on b over db (migrated with hubSchemas); it is
// not running.
func newTestHub(t *testing.T, b *bus.Bus, id *Identity, db *store.DB) *testHub {
	t.Helper()
	alerts, err := alert.NewService(db, b, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The members' countries, as the node's directory keeps them.
	var countries sync.Map
	corr, err := correlate.NewCorrelator(db, alerts, correlate.Options{MemberCountry: func(m string) string {
		c, _ := countries.Load(m)
		s, _ := c.(string)
		return s
	}})
	if err != nil {
		t.Fatal(err)
	}
	th := &testHub{alerts: alerts, members: member.NewRegistry(db), corr: &flakyCorrelator{Correlator: corr}}
	th.Hub, err = NewHub(context.Background(), HubConfig{Bus: b, Identity: id, DB: db, Correlator: th.corr, Members: th.members,
		OnMember: func(m member.Member) { countries.Store(m.ID, m.Country) }})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// flakyCorrelator correlates, except that Process fails the next fail
// times.
type flakyCorrelator struct {
	*correlate.Correlator
	fail int
}

func (c *flakyCorrelator) Process(ctx context.Context, alerts []alert.Alert) error {
	if c.fail > 0 {
		c.fail--
		return errors.New("correlation failed (as the test asked)")
	}
	return c.Correlator.Process(ctx, alerts)
}

// TestHubRefusesWhatItCannotTake: an alert of a member the hub cannot
// register (a country outside the EU) is refused, and does not hold up
// the alerts after it.
func TestHubRefusesWhatItCannotTake(t *testing.T) {
	p := newTestPKI(t)
	hubID, de := p.identity(t, "hub"), p.identity(t, "de-node")
	hubBus, _ := openHubBus(t, hubID)
	h := newTestHub(t, hubBus, hubID, storetest.SQLite(t, hubSchemas()...))
	alerts, members := h.alerts, h.members
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	js, _ := jetstream.New(hubBus.Federation())
	for _, country := range []string{"US", "DE"} {
		msg := sealedAlert(t, de, func(a *Alert) {
			a.Country = country
			a.Member = "m-" + strings.ToLower(country)
			a.ID = alert.NewID(time.Now())
		})
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page, err := alerts.List(ctx, alert.Viewer{Operator: true}, alert.Filter{})
		if err == nil && len(page.Alerts) > 0 {
			if len(page.Alerts) != 1 || page.Alerts[0].Member != "de-node--m-de" {
				t.Errorf("hub alerts %+v", page.Alerts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the valid alert never reached the hub")
		}
	}
	if _, err := members.Get(ctx, "de-node--m-us"); err == nil {
		t.Error("a member outside the EU was registered")
	}
}

// TestHubCountsStatesOnceAfterFailures: when correlating a batch fails
// after its alerts were raised, the batch comes again — possibly with a
// later state of an alert in place of the one raised — and the hub alert
// ends with the remote alert's count (neither state counted twice), and
// correlated.
func TestHubCountsStatesOnceAfterFailures(t *testing.T) {
	p := newTestPKI(t)
	hubID := p.identity(t, "hub")
	hubBus, _ := openHubBus(t, hubID)
	type step struct {
		count int
		fail  bool // correlating this batch fails
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a later state comes again", []step{{3, true}, {5, false}}},
		{"the same state comes again", []step{{3, true}, {3, false}}},
		{"an older state comes first", []step{{5, true}, {3, false}, {5, false}}},
		{"an update fails", []step{{3, false}, {5, true}, {7, false}}},
	}
	engines := map[string]func(testing.TB, ...store.Schema) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres}
	for engine, open := range engines {
		for _, tt := range tests {
			t.Run(engine+"/"+tt.name, func(t *testing.T) {
				h := newTestHub(t, hubBus, hubID, open(t, hubSchemas()...))
				ctx := context.Background()
				at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
				remote := Alert{Node: "de-node", ID: alert.NewID(at), Member: "de-energie", Country: "DE", Sector: "energy",
					EventTime: at, Detector: "sigma", RuleID: "r1", RuleTitle: "rule r1", Severity: alert.High, TLP: tlp.Green,
					Observables: []Observable{{Type: "domain-name", Role: "query", Pseudonym: "p1", Global: true}}}
				for _, s := range tt.steps {
					a := remote
					a.Count, a.LastSeen = s.count, at.Add(time.Duration(s.count)*time.Minute)
					if s.fail {
						h.corr.fail = 1
					}
					k := a.Node + "/" + a.ID
					if err := h.take(ctx, map[string]Alert{k: a}, []string{k}); (err != nil) != s.fail {
						t.Fatalf("state %d: err = %v", s.count, err)
					}
				}
				want := tt.steps[len(tt.steps)-1].count
				page, err := h.alerts.List(ctx, alert.Viewer{Operator: true}, alert.Filter{})
				if err != nil || len(page.Alerts) != 1 {
					t.Fatalf("hub alerts %+v, %v", page.Alerts, err)
				}
				if got := page.Alerts[0]; got.Count != want || got.Incident == "" {
					t.Errorf("hub alert count %d, incident %q; want count %d in an incident", got.Count, got.Incident, want)
				}
				known, err := h.knownStates(ctx, map[string]Alert{"k": remote}, []string{"k"})
				if st := known["de-node/"+remote.ID]; err != nil || st != (takenState{raised: want, correlated: want}) {
					t.Errorf("recorded %+v, %v; want %d raised and correlated", st, err, want)
				}
			})
		}
	}
}

// TestHubLinksByPublicAddress: alerts of members of two nodes in two
// countries that share nothing but a public address (different rules,
// techniques and hosts) form a cross-border incident at the hub, though
// it sees only the address's pseudonym; sharing a private address's
// pseudonym does not.
func TestHubLinksByPublicAddress(t *testing.T) {
	p := newTestPKI(t)
	hubID := p.identity(t, "hub")
	hubBus, _ := openHubBus(t, hubID)
	for _, public := range []bool{true, false} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			h := newTestHub(t, hubBus, hubID, storetest.SQLite(t, hubSchemas()...))
			ctx := context.Background()
			at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
			addr := Observable{Type: "ipv4-addr", Role: "destination", Pseudonym: "5e1f0c2a9b7d4e3f8a6b1c0d2e4f6a8b", Global: public}
			latest := map[string]Alert{}
			var order []string
			for i, m := range []struct{ node, member, country, technique string }{
				{"de-node", "de-energie", "DE", "T1071.001"},
				{"fr-node", "fr-soc", "FR", "T1566.001"},
			} {
				a := Alert{Node: m.node, ID: alert.NewID(at), Count: 1, Member: m.member, Country: m.country, Sector: "energy",
					EventTime: at, LastSeen: at, Detector: "sigma", RuleID: fmt.Sprintf("rule-%d", i), RuleTitle: "a rule",
					Severity: alert.High, Techniques: []string{m.technique}, TLP: tlp.Green,
					Observables: []Observable{addr, {Type: "host", Role: "host", Pseudonym: fmt.Sprintf("%032x", i)}}}
				k := a.Node + "/" + a.ID
				latest[k] = a
				order = append(order, k)
			}
			if err := h.take(ctx, latest, order); err != nil {
				t.Fatal(err)
			}
			page, err := h.corr.Incidents(ctx, alert.Viewer{Operator: true}, correlate.Filter{CrossBorder: true})
			if err != nil {
				t.Fatal(err)
			}
			if !public {
				if len(page.Incidents) != 0 {
					t.Errorf("a private address linked members: %+v", page.Incidents)
				}
				return
			}
			if len(page.Incidents) != 1 || strings.Join(page.Incidents[0].Countries, ",") != "DE,FR" {
				t.Fatalf("cross-border incidents %+v", page.Incidents)
			}
		})
	}
}

// noticeHub starts a test hub with the member nodes' notice streams, all
// in one, and a tap that sees every notice the hub publishes (the streams
// absorb repeats).
func noticeHub(t *testing.T) (*testHub, *nats.Subscription) {
	t.Helper()
	p := newTestPKI(t)
	hubID := p.identity(t, "hub")
	hubBus, _ := openHubBus(t, hubID)
	h := newTestHub(t, hubBus, hubID, storetest.SQLite(t, hubSchemas()...))
	js, _ := jetstream.New(hubBus.Federation())
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "TEST_NOTICES", Subjects: []string{NoticeSubject + ".>"}}); err != nil {
		t.Fatal(err)
	}
	tap, err := hubBus.Federation().SubscribeSync(NoticeSubject + ".>")
	if err != nil {
		t.Fatal(err)
	}
	return h, tap
}

// TestNoticesOnlyNews: a notice goes out for each remote alert that
// joins a cross-border incident, once; when the incident reaches another
// country, for each of its alerts again (the notice names the countries).
func TestNoticesOnlyNews(t *testing.T) {
	h, tap := noticeHub(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	addr := Observable{Type: "ipv4-addr", Role: "destination", Pseudonym: "5e1f0c2a9b7d4e3f8a6b1c0d2e4f6a8b", Global: true}
	raise := func(node, memberID, country string) {
		t.Helper()
		a := Alert{Node: node, ID: alert.NewID(time.Now()), Count: 1, Member: memberID, Country: country, Sector: "energy",
			EventTime: at, LastSeen: at, Detector: "sigma", RuleID: "r1", RuleTitle: "a rule",
			Severity: alert.High, TLP: tlp.Green, Observables: []Observable{addr}}
		k := a.Node + "/" + a.ID
		if err := h.take(ctx, map[string]Alert{k: a}, []string{k}); err != nil {
			t.Fatal(err)
		}
	}
	// notices makes a pass and returns the alerts it sent notices of.
	notices := func() []string {
		t.Helper()
		if err := h.notices.pass(ctx); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			m, err := tap.NextMsg(200 * time.Millisecond)
			if err != nil {
				return got
			}
			var n Notice
			json.Unmarshal(m.Data, &n)
			got = append(got, n.Node+":"+strings.Join(n.Countries, ","))
		}
	}
	raise("de-node", "de-energie", "DE")
	raise("fr-node", "fr-soc", "FR")
	if got := notices(); len(got) != 2 {
		t.Errorf("a new incident: notices %q, want one for each of 2 alerts", got)
	}
	raise("de-node", "de-netz", "DE")
	if got := notices(); !slices.Equal(got, []string{"de-node:DE,FR"}) {
		t.Errorf("another alert joined: notices %q, want one for it", got)
	}
	if got := notices(); len(got) != 0 {
		t.Errorf("nothing changed: notices %q", got)
	}
	raise("pl-node", "pl-energa", "PL")
	if got := notices(); len(got) != 4 {
		t.Errorf("another country: notices %q, want one for each of 4 alerts", got)
	}
}

// TestNoticesTellOnlyWhatEachMemberMaySee: a cross-border incident holds
// alerts of members sharing at GREEN (DE, FR), AMBER+STRICT (SE) and RED
// (PL). Each member's notice names the countries and counts the members
// it may see at the hub: its own and the GREEN ones, never SE's or PL's
// (unless it is SE or PL, which sees itself).
func TestNoticesTellOnlyWhatEachMemberMaySee(t *testing.T) {
	h, tap := noticeHub(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	addr := Observable{Type: "ipv4-addr", Role: "destination", Pseudonym: "5e1f0c2a9b7d4e3f8a6b1c0d2e4f6a8b", Global: true}
	latest := map[string]Alert{}
	var order []string
	for _, m := range []struct {
		node, member, country, technique string
		level                            tlp.Level
	}{
		{"de-node", "de-energie", "DE", "T1071.001", tlp.Green},
		{"fr-node", "fr-soc", "FR", "T1566.001", tlp.Green},
		{"se-node", "se-kraft", "SE", "T1190", tlp.AmberStrict},
		{"pl-node", "pl-energa", "PL", "T1486", tlp.Red},
	} {
		a := Alert{Node: m.node, ID: alert.NewID(time.Now()), Count: 1, Member: m.member, Country: m.country, Sector: "energy",
			EventTime: at, LastSeen: at, Detector: "sigma", RuleID: "r-" + m.country, RuleTitle: "secret rule of " + m.country,
			Severity: alert.High, Techniques: []string{m.technique}, TLP: m.level, Observables: []Observable{addr}}
		k := a.Node + "/" + a.ID
		latest[k] = a
		order = append(order, k)
	}
	if err := h.take(ctx, latest, order); err != nil {
		t.Fatal(err)
	}
	if err := h.notices.pass(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]Notice{}
	for {
		m, err := tap.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		var n Notice
		json.Unmarshal(m.Data, &n)
		got[n.Node] = n
	}
	want := map[string]struct {
		countries string
		members   int
	}{
		"de-node": {"DE,FR", 2}, "fr-node": {"DE,FR", 2}, "se-node": {"DE,FR,SE", 3}, "pl-node": {"DE,FR,PL", 3},
	}
	if len(got) != len(want) {
		t.Errorf("notices to %d nodes, want %d", len(got), len(want))
	}
	for node, w := range want {
		n, ok := got[node]
		if !ok {
			t.Errorf("no notice to %s", node)
			continue
		}
		if c := strings.Join(n.Countries, ","); c != w.countries || n.Members != w.members {
			t.Errorf("notice to %s names %s, %d members; want %s, %d", node, c, n.Members, w.countries, w.members)
		}
		text, _ := json.Marshal(n)
		for hidden, technique := range map[string]string{"SE": "T1190", "PL": "T1486"} {
			if !strings.Contains(w.countries, hidden) && (strings.Contains(string(text), technique) || strings.Contains(string(text), "of "+hidden)) {
				t.Errorf("notice to %s tells of %s: %s", node, hidden, text)
			}
		}
	}
}
