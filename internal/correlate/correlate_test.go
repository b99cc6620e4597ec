package correlate_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

func TestLocalGrouping(t *testing.T) {
	domain := alert.Observable{Type: "domain-name", Value: "c2.example", Role: "query"}
	tests := []struct {
		name   string
		specs  []spec
		groups [][]int // indexes of specs grouped together
	}{
		{"same host, two rules", []spec{
			{member: "fr1", rule: "a", host: "web01"},
			{member: "fr1", rule: "b", host: "WEB01", at: 3 * time.Hour},
		}, [][]int{{0, 1}}},
		{"same user on two hosts", []spec{
			{member: "fr1", rule: "a", host: "h1", user: "alice"},
			{member: "fr1", rule: "b", host: "h2", user: "alice", at: time.Hour},
		}, [][]int{{0, 1}}},
		{"shared observable", []spec{
			{member: "fr1", rule: "a", host: "h1", obs: []alert.Observable{domain}},
			{member: "fr1", rule: "b", host: "h2", obs: []alert.Observable{domain}, at: time.Hour},
		}, [][]int{{0, 1}}},
		{"transitive through a host", []spec{
			{member: "fr1", rule: "a", host: "h1", user: "alice"},
			{member: "fr1", rule: "b", host: "h2", user: "alice", at: time.Hour},
			{member: "fr1", rule: "c", host: "h2", user: "bob", at: 2 * time.Hour},
		}, [][]int{{0, 1, 2}}},
		{"same host beyond the window", []spec{
			{member: "fr1", rule: "a", host: "h1"},
			{member: "fr1", rule: "b", host: "h1", at: 25 * time.Hour},
		}, [][]int{{0}, {1}}},
		{"same host name at two members", []spec{
			{member: "fr1", rule: "a", host: "web01"},
			{member: "fr2", rule: "b", host: "web01", at: time.Hour},
		}, [][]int{{0}, {1}}},
		{"nothing shared", []spec{
			{member: "fr1", rule: "a", host: "h1"},
			{member: "fr1", rule: "b", host: "h2"},
		}, [][]int{{0}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				raised := e.raise(tt.specs...)
				index := map[string]int{}
				for i, a := range raised {
					index[a.ID] = i
				}
				var got [][]int
				for _, in := range e.incidents(correlate.KindLocal) {
					var g []int
					for _, id := range in.AlertIDs() {
						g = append(g, index[id])
					}
					sort.Ints(g)
					got = append(got, g)
				}
				slices.SortFunc(got, slices.Compare)
				if fmt.Sprint(got) != fmt.Sprint(tt.groups) {
					t.Fatalf("groups = %v, want %v", got, tt.groups)
				}
				// Each alert names its home incident.
				for _, a := range raised {
					got, err := e.alerts.Get(e.ctx, operator, a.ID)
					if err != nil || got.Incident == "" {
						t.Fatalf("alert %s has no incident (%v)", a.ID, err)
					}
				}
			})
		})
	}
}

func TestTimelineInKillChainOrder(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.raise(
			spec{member: "fr1", rule: "ransom", host: "h1", at: 3 * time.Hour, techniques: []string{"T1486"}, sev: alert.Critical},
			spec{member: "fr1", rule: "dump", host: "h1", at: time.Hour, techniques: []string{"T1003.001"}},
			spec{member: "fr1", rule: "phish", host: "h1", techniques: []string{"T1566.001"}},
			spec{member: "fr1", rule: "ps", host: "h1", at: time.Hour, techniques: []string{"T1059.001"}},
			spec{member: "fr1", rule: "smb", host: "h1", at: 2 * time.Hour, techniques: []string{"T1021.002"}},
		)
		ins := e.incidents(correlate.KindLocal)
		if len(ins) != 1 {
			t.Fatalf("%d incidents, want 1", len(ins))
		}
		in := ins[0]
		var rules, tactics []string
		for _, te := range in.Timeline {
			rules = append(rules, te.RuleID)
			tactics = append(tactics, string(te.Tactic))
		}
		// ps and dump share an event time: execution (phase 4) comes
		// before credential access (phase 8).
		if want := []string{"phish", "ps", "dump", "smb", "ransom"}; !slices.Equal(rules, want) {
			t.Errorf("timeline %v, want %v", rules, want)
		}
		if want := []string{"initial-access", "execution", "credential-access", "lateral-movement", "impact"}; !slices.Equal(tactics, want) {
			t.Errorf("timeline tactics %v, want %v", tactics, want)
		}
		if fmt.Sprint(in.Tactics) != "[initial-access execution credential-access lateral-movement impact]" {
			t.Errorf("incident tactics %v", in.Tactics)
		}
		if in.Severity != alert.Critical || !in.FirstSeen.Equal(t0) || !in.LastSeen.Equal(t0.Add(3*time.Hour)) {
			t.Errorf("severity %v first %v last %v", in.Severity, in.FirstSeen, in.LastSeen)
		}
	})
}

func TestTacticOf(t *testing.T) {
	tests := []struct {
		technique string
		want      correlate.Tactic
		phase     int
	}{
		{"T1595", "reconnaissance", 1}, {"t1566.002", "initial-access", 3}, {"T1078", "initial-access", 3},
		{"T1059.001", "execution", 4}, {"T1053.005", "execution", 4}, {"T1547.001", "persistence", 5},
		{"T1055", "privilege-escalation", 6}, {"T1027", "defense-evasion", 7}, {"T1003", "credential-access", 8},
		{"T1087", "discovery", 9}, {"T1021.001", "lateral-movement", 10}, {"T1560", "collection", 11},
		{"T1071.001", "command-and-control", 12}, {"T1041", "exfiltration", 13}, {"T1486", "impact", 14},
		{"T9999", "", 0}, {"", "", 0}, {"garbage", "", 0},
	}
	for _, tt := range tests {
		got := correlate.TacticOf(tt.technique)
		if got != tt.want || got.Phase() != tt.phase {
			t.Errorf("TacticOf(%q) = %q (phase %d), want %q (%d)", tt.technique, got, got.Phase(), tt.want, tt.phase)
		}
	}
}

func TestCrossBorderCampaigns(t *testing.T) {
	ip := alert.Observable{Type: "ipv4-addr", Value: "203.0.113.7", Role: "destination"}
	private := alert.Observable{Type: "ipv4-addr", Value: "10.1.2.3", Role: "destination"}
	tests := []struct {
		name      string
		specs     []spec
		campaigns int
		countries string
		alerts    int
	}{
		{"shared public IP in two countries", []spec{
			{member: "de1", rule: "a", host: "h1", obs: []alert.Observable{ip}},
			{member: "fr1", rule: "b", host: "h9", obs: []alert.Observable{ip}, at: 10 * time.Hour},
		}, 1, "[DE FR]", 2},
		{"same technique and rule in three countries", []spec{
			{member: "de1", rule: "r", host: "h1", techniques: []string{"T1190"}},
			{member: "fr1", rule: "r", host: "h2", techniques: []string{"T1190"}, at: time.Hour},
			{member: "nl1", rule: "r", host: "h3", techniques: []string{"T1190"}, at: 2 * time.Hour},
		}, 1, "[DE FR NL]", 3},
		{"same rule without technique", []spec{
			{member: "de1", rule: "r", host: "h1"},
			{member: "nl1", rule: "r", host: "h3", at: 2 * time.Hour},
		}, 1, "[DE NL]", 2},
		{"two members of one country", []spec{
			{member: "fr1", rule: "a", host: "h1", obs: []alert.Observable{ip}},
			{member: "fr2", rule: "b", host: "h2", obs: []alert.Observable{ip}},
		}, 0, "", 0},
		{"private address is not shared", []spec{
			{member: "de1", rule: "a", host: "h1", obs: []alert.Observable{private}},
			{member: "fr1", rule: "b", host: "h2", obs: []alert.Observable{private}},
		}, 0, "", 0},
		{"outside the campaign window", []spec{
			{member: "de1", rule: "a", host: "h1", obs: []alert.Observable{ip}},
			{member: "fr1", rule: "b", host: "h2", obs: []alert.Observable{ip}, at: 73 * time.Hour},
		}, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				e.raise(tt.specs...)
				ins := e.incidents(correlate.KindCampaign)
				if len(ins) != tt.campaigns {
					t.Fatalf("%d campaign incidents, want %d", len(ins), tt.campaigns)
				}
				if tt.campaigns == 0 {
					return
				}
				in := ins[0]
				if !in.CrossBorder || fmt.Sprint(in.Countries) != tt.countries || len(in.Timeline) != tt.alerts {
					t.Fatalf("campaign cross-border=%v countries=%v alerts=%d; want true %s %d",
						in.CrossBorder, in.Countries, len(in.Timeline), tt.countries, tt.alerts)
				}
				page, err := e.c.Incidents(e.ctx, operator, correlate.Filter{CrossBorder: true})
				if err != nil || len(page.Incidents) != 1 {
					t.Fatalf("cross-border filter found %d (%v)", len(page.Incidents), err)
				}
			})
		})
	}
}

func TestTLPWithholding(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ip := alert.Observable{Type: "ipv4-addr", Value: "198.51.100.20"}
		secret := alert.Observable{Type: "file:hashes.'SHA-256'", Value: strings.Repeat("ab", 32)}
		raised := e.raise(
			spec{member: "de1", rule: "a", host: "de-host", obs: []alert.Observable{ip}, level: tlp.Green},
			spec{member: "fr1", rule: "b", host: "fr-host", obs: []alert.Observable{ip, secret}, level: tlp.Amber, sev: alert.Critical},
		)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 {
			t.Fatalf("%d campaigns, want 1", len(ins))
		}
		id := ins[0].ID
		tests := []struct {
			v           alert.Viewer
			visible     int
			members     string
			hashVisible bool
			severity    alert.Severity
		}{
			{operator, 2, "[de1 fr1]", true, alert.Critical},
			// de1 and nl1 see de1's alert alone: to them the campaign
			// crosses no border, and is not shown.
			{alert.Viewer{Member: "de1"}, 0, "", false, 0},
			{alert.Viewer{Member: "fr1"}, 2, "[de1 fr1]", true, alert.Critical},
			{alert.Viewer{Member: "de1", ClientOf: []string{"fr1"}}, 2, "[de1 fr1]", true, alert.Critical},
			{alert.Viewer{Member: "nl1"}, 0, "", false, 0},
		}
		for _, tt := range tests {
			in, err := e.c.Incident(e.ctx, tt.v, id)
			if tt.visible == 0 {
				if !store.NotFound(err) {
					t.Errorf("%+v reads a campaign it sees one country of: %v", tt.v, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%+v: %v", tt.v, err)
			}
			hash := slices.Contains(in.Entities.Observables, secret)
			if len(in.Timeline) != tt.visible || fmt.Sprint(in.Members) != tt.members ||
				hash != tt.hashVisible || in.Severity != tt.severity {
				t.Errorf("%+v sees %d alerts, members %v, hash %v, severity %v; want %d %s %v %v",
					tt.v, len(in.Timeline), in.Members, hash, in.Severity,
					tt.visible, tt.members, tt.hashVisible, tt.severity)
			}
			if slices.Contains(in.Entities.Hosts, "fr-host") != tt.hashVisible {
				t.Errorf("%+v: host fr-host visibility wrong: %v", tt.v, in.Entities.Hosts)
			}
			if fmt.Sprint(in.Countries) != "[DE FR]" {
				t.Errorf("%+v: countries %v, want both", tt.v, in.Countries)
			}
		}
		// fr1's local incident is AMBER only: de1 does not see it at all.
		fr, err := e.alerts.Get(e.ctx, operator, raised[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Incident(e.ctx, alert.Viewer{Member: "de1"}, fr.Incident); !store.NotFound(err) {
			t.Errorf("de1 reads fr1's AMBER incident: %v", err)
		}
		page, err := e.c.Incidents(e.ctx, alert.Viewer{Member: "de1"}, correlate.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range page.Incidents {
			if in.ID == fr.Incident {
				t.Errorf("de1 lists fr1's AMBER incident")
			}
		}
		if len(page.Incidents) != 1 { // its own local incident
			t.Errorf("de1 lists %d incidents, want 1", len(page.Incidents))
		}
	})
}

func TestProcessIsIdempotent(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ip := alert.Observable{Type: "ipv4-addr", Value: "203.0.113.9"}
		raised := e.raise(
			spec{member: "de1", rule: "a", host: "h1", obs: []alert.Observable{ip}},
			spec{member: "fr1", rule: "b", host: "h2", obs: []alert.Observable{ip}},
		)
		var notified []string
		e.c.OnIncident(func(in correlate.Incident) { notified = append(notified, in.ID) })
		before := e.incidents("")
		audits := map[string]int{}
		for _, in := range before {
			en, _ := e.c.Audit(e.ctx, operator, in.ID)
			audits[in.ID] = len(en)
		}
		for range 2 {
			if err := e.c.Process(e.ctx, raised); err != nil {
				t.Fatal(err)
			}
		}
		after := e.incidents("")
		if len(after) != len(before) || len(after) != 3 {
			t.Fatalf("incidents %d → %d, want 3 both times", len(before), len(after))
		}
		for _, in := range after {
			en, _ := e.c.Audit(e.ctx, operator, in.ID)
			if len(en) != audits[in.ID] {
				t.Errorf("incident %s audit grew from %d to %d on replay", in.ID, audits[in.ID], len(en))
			}
		}
		if len(notified) != 0 {
			t.Errorf("replay notified %v", notified)
		}
		// A new alert does notify.
		e.raise(spec{member: "de1", rule: "c", host: "h1", at: time.Minute})
		if len(notified) != 1 {
			t.Errorf("notified %v after a new alert, want one incident", notified)
		}
		if err := e.c.Process(e.ctx, []alert.Alert{{Member: "x"}}); !errors.Is(err, correlate.ErrInvalid) {
			t.Errorf("unraised alert: %v", err)
		}
	})
}
