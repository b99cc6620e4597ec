package correlate_test

import (
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

func domain(v string) alert.Observable {
	return alert.Observable{Type: "domain-name", Value: v, Role: "query"}
}
func md5(v string) alert.Observable {
	return alert.Observable{Type: "file:hashes.MD5", Value: strings.Repeat(v, 32/len(v)), Role: "process"}
}

// attack is one member's share of a campaign like the demo's: a macro
// document with a known hash, hostless IOC hits on two C2 domains, a DGA
// detection naming both, a credential dump with a hash of its own, and
// lateral movement to a file server, whose detections carry no indicator.
func attack(member string, at time.Duration) []spec {
	ws, fs := member+"-ws", member+"-fs"
	return []spec{
		{member: member, rule: "macro", host: ws, user: "u-" + member, at: at, techniques: []string{"T1204.002"}, obs: []alert.Observable{md5("a1")}},
		{member: member, rule: "ioc-d1", at: at + time.Minute, obs: []alert.Observable{domain("c2-one.example")}},
		{member: member, rule: "ioc-d2", at: at + 2*time.Minute, obs: []alert.Observable{domain("c2-two.example")}},
		{member: member, rule: "dga", host: ws, at: at + 3*time.Minute, techniques: []string{"T1568.002"},
			obs: []alert.Observable{domain("c2-one.example"), domain("c2-two.example")}},
		{member: member, rule: "dump", host: ws, user: "u-" + member, at: at + 5*time.Minute, techniques: []string{"T1003.001"},
			obs: []alert.Observable{md5(member + "0")}},
		{member: member, rule: "psexec", host: fs, at: at + 10*time.Minute, techniques: []string{"T1569.002"}},
		{member: member, rule: "exfil", host: fs, user: "adm-" + member, at: at + 12*time.Minute, techniques: []string{"T1567.002"}},
	}
}

func TestCampaignGrouping(t *testing.T) {
	ip := alert.Observable{Type: "ipv4-addr", Value: "203.0.113.77", Role: "destination"}
	campaign := slices.Concat(attack("fr1", 0), attack("de1", time.Hour), attack("nl1", 2*time.Hour))
	tests := []struct {
		name  string
		specs []spec
		// campaigns lists, per open campaign incident, the indexes of its
		// alerts in specs.
		campaigns [][]int
		countries string
		title     string
	}{
		{"one campaign, many indicators and rules, three countries",
			append(slices.Clone(campaign),
				spec{member: "fr1", rule: "only-here", host: "fr1-ws", at: 4 * time.Minute, techniques: []string{"T1047"}}),
			[][]int{seq(0, 21)}, "[DE FR NL]",
			"Cross-border campaign: 3 shared indicators (c2-one.example, c2-two.example, …) at 3 members in DE, FR, NL"},
		{"unrelated attacks sharing a rule, each with its own indicators", []spec{
			{member: "fr1", rule: "dump", host: "h1", techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("b1")}},
			{member: "fr1", rule: "ioc", host: "h1", at: time.Minute, obs: []alert.Observable{domain("one.example")}},
			{member: "de1", rule: "dump", host: "h2", at: time.Hour, techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("b2")}},
			{member: "de1", rule: "ioc", host: "h2", at: time.Hour + time.Minute, obs: []alert.Observable{domain("two.example")}},
		}, nil, "", ""},
		{"a rule alone founds a campaign when no alert has an indicator", []spec{
			{member: "fr1", rule: "brute", host: "h1", techniques: []string{"T1110.003"}},
			{member: "de1", rule: "brute", host: "h2", at: time.Hour, techniques: []string{"T1110.003"}},
		}, [][]int{{0, 1}}, "[DE FR]",
			"Cross-border campaign: 1 shared detection (T1110.003 by rule sigma/brute) at 2 members in DE, FR"},
		// The third alert finds the campaign the first two founded in
		// the same batch by the key it was founded on.
		{"a rule a campaign was founded on brings a new member", []spec{
			{member: "fr1", rule: "brute", host: "h1", techniques: []string{"T1110.003"}},
			{member: "de1", rule: "brute", host: "h2", at: time.Hour, techniques: []string{"T1110.003"}},
			{member: "nl1", rule: "brute", host: "h3", at: 2 * time.Hour, techniques: []string{"T1110.003"}},
		}, [][]int{{0, 1, 2}}, "[DE FR NL]",
			"Cross-border campaign: 1 shared detection (T1110.003 by rule sigma/brute) at 3 members in DE, FR, NL"},
		{"a rule at the members of a campaign joins it", []spec{
			{member: "fr1", rule: "c2", host: "h1", obs: []alert.Observable{ip}},
			{member: "de1", rule: "c2", host: "h2", at: time.Hour, obs: []alert.Observable{ip}},
			{member: "fr1", rule: "dump", host: "h7", at: 2 * time.Hour, techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("c1")}},
			{member: "de1", rule: "dump", host: "h8", at: 3 * time.Hour, techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("c2")}},
		}, [][]int{{0, 1, 2, 3}}, "[DE FR]",
			"Cross-border campaign: 1 shared indicator (203.0.113.77) at 2 members in DE, FR"},
		{"a rule does not bring a new member into a campaign", []spec{
			{member: "fr1", rule: "c2", host: "h1", obs: []alert.Observable{ip}},
			{member: "de1", rule: "c2", host: "h2", at: time.Hour, obs: []alert.Observable{ip}},
			{member: "fr1", rule: "dump", host: "h7", at: 2 * time.Hour, techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("c1")}},
			{member: "nl1", rule: "dump", host: "h9", at: 3 * time.Hour, techniques: []string{"T1003.001"}, obs: []alert.Observable{md5("c3")}},
		}, [][]int{{0, 1}}, "[DE FR]", ""},
		{"a host shared by two campaigns makes them one", []spec{
			{member: "fr1", rule: "c2", host: "h1", obs: []alert.Observable{domain("one.example")}},
			{member: "de1", rule: "c2", host: "h2", at: time.Hour, obs: []alert.Observable{domain("one.example")}},
			{member: "nl1", rule: "c2", host: "h3", at: 2 * time.Hour, obs: []alert.Observable{domain("two.example")}},
			{member: "fr1", rule: "c2", host: "h1", at: 3 * time.Hour, obs: []alert.Observable{domain("two.example")}},
		}, [][]int{{0, 1, 2, 3}}, "[DE FR NL]",
			"Cross-border campaign: 2 shared indicators (one.example, two.example) at 3 members in DE, FR, NL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				raised := e.raise(tt.specs...)
				ins := e.incidents(correlate.KindCampaign)
				if got := groups(raised, ins); fmt.Sprint(got) != fmt.Sprint(tt.campaigns) {
					t.Fatalf("campaigns hold %v, want %v", got, tt.campaigns)
				}
				if len(ins) == 0 {
					return
				}
				in := ins[0]
				if !in.CrossBorder || fmt.Sprint(in.Countries) != tt.countries {
					t.Errorf("cross-border %v countries %v, want %s", in.CrossBorder, in.Countries, tt.countries)
				}
				if tt.title != "" && in.Title != tt.title {
					t.Errorf("title %q\nwant  %q", in.Title, tt.title)
				}
				var members []string
				for _, i := range tt.campaigns[0] {
					if !slices.Contains(members, tt.specs[i].member) {
						members = append(members, tt.specs[i].member)
					}
				}
				slices.Sort(members)
				if !slices.Equal(in.Members, members) {
					t.Errorf("members %v, want %v", in.Members, members)
				}
			})
		})
	}
}

// seq returns the integers from..to-1.
func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// groups returns, per incident, the sorted indexes in raised of its
// alerts, the groups in order.
func groups(raised []alert.Alert, ins []correlate.Incident) [][]int {
	index := map[string]int{}
	for i, a := range raised {
		index[a.ID] = i
	}
	var out [][]int
	for _, in := range ins {
		var g []int
		for _, id := range in.AlertIDs() {
			g = append(g, index[id])
		}
		sort.Ints(g)
		out = append(out, g)
	}
	slices.SortFunc(out, slices.Compare)
	return out
}

// TestCampaignInAnyOrder processes the campaign alert by alert in several
// orders: however its evidence arrives, one campaign incident stands at
// the end with every country and member and all the indicator-linked
// alerts.
func TestCampaignInAnyOrder(t *testing.T) {
	specs := slices.Concat(attack("fr1", 0), attack("de1", time.Hour), attack("nl1", 2*time.Hour))
	reversed := slices.Clone(specs)
	slices.Reverse(reversed)
	var interleaved []spec // the members' alerts taken in turns
	for i := range 7 {
		for m := range 3 {
			interleaved = append(interleaved, specs[m*7+i])
		}
	}
	tests := []struct {
		name  string
		order []spec
	}{{"event order", specs}, {"reversed", reversed}, {"interleaved", interleaved}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				var raised []alert.Alert
				for _, s := range tt.order {
					raised = append(raised, e.raise(s)...)
				}
				ins := e.incidents(correlate.KindCampaign)
				if len(ins) != 1 {
					t.Fatalf("%d open campaigns, want 1: %v", len(ins), groups(raised, ins))
				}
				in := ins[0]
				if fmt.Sprint(in.Countries) != "[DE FR NL]" || fmt.Sprint(in.Members) != "[de1 fr1 nl1]" {
					t.Errorf("countries %v members %v", in.Countries, in.Members)
				}
				// Every alert with a shared indicator is in, at every member.
				ids := in.AlertIDs()
				for i, s := range tt.order {
					if s.rule == "psexec" || s.rule == "exfil" || s.rule == "dump" {
						continue // weak evidence: order decides, see the policy
					}
					if !slices.Contains(ids, raised[i].ID) {
						t.Errorf("alert %s (%s at %s) not in the campaign", raised[i].ID, s.rule, s.member)
					}
				}
				for _, tech := range []string{"T1204.002", "T1568.002"} {
					if !slices.Contains(in.Techniques, tech) {
						t.Errorf("techniques %v lack %s", in.Techniques, tech)
					}
				}
			})
		})
	}
}

func TestCampaignAutomaticMerge(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// Two campaigns, each on its own indicator and hosts...
		first := e.raise(
			spec{member: "fr1", rule: "c2", host: "h1", obs: []alert.Observable{domain("one.example")}},
			spec{member: "de1", rule: "c2", host: "h2", at: time.Hour, obs: []alert.Observable{domain("one.example")}},
		)
		e.clock.Set(t0.Add(time.Minute))
		second := e.raise(
			spec{member: "nl1", rule: "c2", host: "h3", at: 2 * time.Hour, obs: []alert.Observable{domain("two.example")}},
			spec{member: "de1", rule: "c2", host: "h4", at: 2 * time.Hour, obs: []alert.Observable{domain("two.example")}},
		)
		before := e.incidents(correlate.KindCampaign)
		if len(before) != 2 {
			t.Fatalf("setup: %d campaigns, want 2", len(before))
		}
		older, newer := before[1].ID, before[0].ID // newest first
		// ...until host h3 at nl1 is seen with the first one's indicator.
		e.clock.Set(t0.Add(2 * time.Minute))
		bridge := e.raise(spec{member: "nl1", rule: "c2", host: "h3", at: 3 * time.Hour, obs: []alert.Observable{domain("one.example")}})
		after := e.incidents(correlate.KindCampaign)
		if len(after) != 1 || after[0].ID != older {
			t.Fatalf("after the bridge: %d campaigns (%v), want only the older %s", len(after), after, older)
		}
		in := after[0]
		all := slices.Concat(first, second, bridge)
		if len(in.Timeline) != len(all) || fmt.Sprint(in.Countries) != "[DE FR NL]" {
			t.Errorf("merged campaign holds %d alerts in %v, want %d in [DE FR NL]", len(in.Timeline), in.Countries, len(all))
		}
		gone, err := e.c.Incident(e.ctx, operator, newer)
		if err != nil {
			t.Fatal(err)
		}
		if gone.MergedInto != older || gone.Status != correlate.StatusClosed {
			t.Errorf("merged-away campaign: merged into %q status %s", gone.MergedInto, gone.Status)
		}
		page, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Kind: correlate.KindCampaign, Merged: true})
		if err != nil || len(page.Incidents) != 2 {
			t.Errorf("listing with merged incidents: %d (%v), want 2", len(page.Incidents), err)
		}
		tests := []struct {
			id, what, new string
		}{
			{older, "merged automatically", newer},
			{newer, "merged into", older},
			{newer, "status", string(correlate.StatusClosed)},
		}
		for _, tt := range tests {
			entries, err := e.c.Audit(e.ctx, operator, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(entries, func(en correlate.AuditEntry) bool {
				return en.What == tt.what && en.New == tt.new && en.Who == correlate.System
			}) {
				t.Errorf("audit of %s lacks %s %s by %s: %+v", tt.id, tt.what, tt.new, correlate.System, entries)
			}
		}
		// A replay of everything changes nothing: no incident, no audit
		// entry, no notification.
		audits := map[string]int{}
		for _, id := range []string{older, newer} {
			en, _ := e.c.Audit(e.ctx, operator, id)
			audits[id] = len(en)
		}
		var notified []string
		e.c.OnIncident(func(in correlate.Incident) { notified = append(notified, in.ID) })
		countBefore := len(e.incidents(""))
		for range 2 {
			if err := e.c.Process(e.ctx, all); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.incidents("")); n != countBefore {
			t.Errorf("replay: %d incidents, want %d", n, countBefore)
		}
		for id, n := range audits {
			if en, _ := e.c.Audit(e.ctx, operator, id); len(en) != n {
				t.Errorf("replay: audit of %s grew from %d to %d", id, n, len(en))
			}
		}
		if len(notified) != 0 {
			t.Errorf("replay notified %v", notified)
		}
	})
}

func TestCampaignReplayIsIdempotent(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var raised []alert.Alert
		for _, s := range slices.Concat(attack("fr1", 0), attack("de1", time.Hour), attack("nl1", 2*time.Hour)) {
			raised = append(raised, e.raise(s)...)
		}
		snapshot := func() string {
			var b strings.Builder
			page, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Merged: true, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range page.Incidents {
				en, _ := e.c.Audit(e.ctx, operator, in.ID)
				fmt.Fprintf(&b, "%s %s %q %v %v %d\n", in.ID, in.Status, in.Title, in.Countries, in.AlertIDs(), len(en))
			}
			return b.String()
		}
		want := snapshot()
		tests := []struct {
			name  string
			batch []alert.Alert
		}{
			{"whole batch", raised},
			{"last alert", raised[len(raised)-1:]},
			{"first member", raised[:7]},
		}
		for _, tt := range tests {
			if err := e.c.Process(e.ctx, tt.batch); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(); got != want {
				t.Errorf("replaying %s changed the incidents:\n%s\nwant\n%s", tt.name, got, want)
			}
		}
	})
}

// TestCampaignTitleRespectsTLP: each viewer's campaign title is derived
// from the alerts it may see: it names and counts only their indicators,
// members and countries.
func TestCampaignTitleRespectsTLP(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		secret := domain("secret.example")
		public := domain("public.example")
		e.raise(
			spec{member: "fr1", rule: "a", host: "h1", obs: []alert.Observable{secret}, level: tlp.Amber},
			spec{member: "de1", rule: "b", host: "h2", at: time.Hour, obs: []alert.Observable{secret}, level: tlp.Amber},
			spec{member: "nl1", rule: "c", host: "h3", at: 2 * time.Hour, obs: []alert.Observable{public}, level: tlp.Green},
			spec{member: "fr1", rule: "d", host: "h1", at: 3 * time.Hour, obs: []alert.Observable{public}, level: tlp.Amber},
		)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 {
			t.Fatalf("%d campaigns, want 1", len(ins))
		}
		if want := "Cross-border campaign: 2 shared indicators (secret.example, public.example) at 3 members in DE, FR, NL"; ins[0].Title != want {
			t.Errorf("operator's title %q, want %q", ins[0].Title, want)
		}
		// nl1 sees its own alert only: no campaign for it.
		if _, err := e.c.Incident(e.ctx, alert.Viewer{Member: "nl1"}, ins[0].ID); !store.NotFound(err) {
			t.Errorf("nl1 reads the campaign: %v", err)
		}
		// A client of fr1 sees fr1's alerts and nl1's, not de1's.
		in, err := e.c.Incident(e.ctx, alert.Viewer{Member: "nl1", ClientOf: []string{"fr1"}}, ins[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := "Cross-border campaign: 2 shared indicators (public.example, secret.example) at 2 members in FR, NL"; in.Title != want ||
			len(in.Timeline) != 3 || fmt.Sprint(in.Countries) != "[FR NL]" {
			t.Errorf("client of fr1 sees %d alerts, countries %v, title %q; want %q", len(in.Timeline), in.Countries, in.Title, want)
		}
	})
}
