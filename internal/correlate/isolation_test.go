package correlate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Everything the correlator shows a viewer about an incident — its view,
// its audit trail, its NIS2 draft in both forms — is derived text; none of
// it may carry a fact of an alert the viewer may not see.

// viewerKinds are the viewers the isolation tests look through: an
// operator, every member alone, and a member that is a client of another.
var viewerKinds = []alert.Viewer{
	operator,
	{Member: "fr1"}, {Member: "de1"}, {Member: "nl1"}, {Member: "se1"},
	{Member: "de1", ClientOf: []string{"fr1"}},
}

// secrets returns the strings that tell of alerts v may not see: their
// ids, rule titles, observables, hosts and members, less what an alert v
// may see says too.
func secrets(v alert.Viewer, all []alert.Alert) []string {
	told := map[string]bool{v.Member: true}
	var hidden []alert.Alert
	for _, a := range all {
		if !v.MaySee(&a) {
			hidden = append(hidden, a)
			continue
		}
		told[a.ID], told[a.RuleTitle], told[a.Member] = true, true, true
		for _, o := range a.Observables {
			told[strings.ToLower(o.Value)] = true
		}
	}
	var out []string
	for _, a := range hidden {
		for _, s := range []string{a.ID, a.RuleTitle, a.Member} {
			if !told[s] {
				out = append(out, s)
			}
		}
		for _, o := range a.Observables {
			if !told[strings.ToLower(o.Value)] {
				out = append(out, o.Value)
			}
		}
	}
	return out
}

// containsWord reports whether s occurs in text as a whole word: not
// preceded or followed by a letter or digit. A hidden member named "de1"
// is a leak when the text names it, not when a random alert id happens
// to hold the letters "…d37de18f".
func containsWord(text, s string) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], s)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(s)
		if !isWordByte(text, start-1) && !isWordByte(text, end) {
			return true
		}
		from = start + 1
	}
}

// isWordByte reports whether text[i] exists and is an ASCII letter or digit.
func isWordByte(text string, i int) bool {
	if i < 0 || i >= len(text) {
		return false
	}
	c := text[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// visibleCountries are the countries of the alerts v may see.
func visibleCountries(v alert.Viewer, all []alert.Alert) []string {
	var out []string
	for _, a := range all {
		if cc := strings.ToUpper(countries[a.Member]); v.MaySee(&a) && cc != "" && !slices.Contains(out, cc) {
			out = append(out, cc)
		}
	}
	return out
}

// checkNoLeak reads every incident v may list, with its audit trail and
// NIS2 draft, and fails on any secret or country v may not know of.
func (e *env) checkNoLeak(v alert.Viewer, all []alert.Alert) {
	e.t.Helper()
	page, err := e.c.Incidents(e.ctx, v, correlate.Filter{Limit: 500, Merged: true})
	if err != nil {
		e.t.Fatal(err)
	}
	ids := []string{}
	for _, in := range page.Incidents {
		ids = append(ids, in.ID)
	}
	// Incidents v may not list must not be readable either.
	for _, in := range e.incidentsAll() {
		if !slices.Contains(ids, in.ID) {
			if _, err := e.c.Incident(e.ctx, v, in.ID); !store.NotFound(err) {
				e.t.Errorf("%+v: incident %s is not listed but reads as %v", v, in.ID, err)
			}
			if _, err := e.c.Audit(e.ctx, v, in.ID); !store.NotFound(err) {
				e.t.Errorf("%+v: audit of unlisted incident %s: %v", v, in.ID, err)
			}
		}
	}
	forbidden := secrets(v, all)
	allowed := visibleCountries(v, all)
	for _, id := range ids {
		in, err := e.c.Incident(e.ctx, v, id)
		if err != nil {
			e.t.Fatalf("%+v: incident %s listed but not readable: %v", v, id, err)
		}
		for _, cc := range in.Countries {
			if !slices.Contains(allowed, cc) && !v.Operator {
				e.t.Errorf("%+v: incident %s names country %s of alerts it may not see (%v)", v, id, cc, in.Countries)
			}
		}
		audit, err := e.c.Audit(e.ctx, v, id)
		if err != nil {
			e.t.Fatal(err)
		}
		draft, err := e.c.NIS2Draft(e.ctx, v, id)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, cc := range draft.Countries {
			if !slices.Contains(allowed, cc) && !v.Operator {
				e.t.Errorf("%+v: NIS2 draft of %s names country %s", v, id, cc)
			}
		}
		for _, part := range []struct {
			name string
			doc  any
		}{{"incident", in}, {"audit", audit}, {"draft", draft}, {"markdown", draft.Markdown()}} {
			text, _ := json.Marshal(part.doc)
			for _, s := range forbidden {
				if containsWord(strings.ToLower(string(text)), strings.ToLower(s)) {
					e.t.Errorf("%+v: %s of incident %s carries %q of an alert it may not see:\n%s", v, part.name, id, s, text)
				}
			}
		}
	}
}

// incidentsAll lists every incident, merged ones included, as an
// operator sees them.
func (e *env) incidentsAll() []correlate.Incident {
	e.t.Helper()
	page, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Limit: 500, Merged: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Incidents
}

// TestSplitDoesNotQuoteWithheldAlerts: splitting a cross-border incident
// into a new one builds no text from an alert other viewers may not see;
// members who cannot see it find nothing of it in the new incident, its
// audit trail or its NIS2 draft.
func TestSplitDoesNotQuoteWithheldAlerts(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shared := domain("shared-c2.example")
		// fr1's alert is raised first, so its id sorts first.
		raised := e.raise(spec{member: "fr1", rule: "ioc-amber-secret.example", host: "fr-secret-host", level: tlp.Amber,
			obs: []alert.Observable{shared, domain("amber-secret.example")}})
		e.clock.Set(t0.Add(time.Second))
		raised = append(raised, e.raise(
			spec{member: "de1", rule: "beacon", host: "de-host", at: time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
			spec{member: "nl1", rule: "beacon", host: "nl-host", at: 2 * time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
			spec{member: "se1", rule: "beacon", host: "se-host", at: 3 * time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
		)...)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 || len(ins[0].Timeline) != 4 {
			t.Fatalf("setup: %d campaigns", len(ins))
		}
		// de1, a client of fr1, sees fr1's AMBER alert but may not split
		// it off: it is fr1's. Nothing moves.
		client := alert.Viewer{Member: "de1", ClientOf: []string{"fr1"}}
		if _, err := e.c.Split(e.ctx, client, ins[0].ID, []string{raised[0].ID, raised[1].ID}, "de1:k1"); !errors.Is(err, correlate.ErrForbidden) {
			t.Fatalf("a member splits off another member's alert: %v, want ErrForbidden", err)
		}
		if in, err := e.c.Incident(e.ctx, alert.Viewer{Operator: true}, ins[0].ID); err != nil || len(in.Timeline) != 4 {
			t.Fatalf("after the refused split: %d alerts, %v; want 4", len(in.Timeline), err)
		}
		// An operator splits them off together; the new incident quotes
		// fr1's AMBER alert to nobody who may not see it.
		split, err := e.c.Split(e.ctx, alert.Viewer{Operator: true}, ins[0].ID, []string{raised[0].ID, raised[1].ID}, "operator")
		if err != nil {
			t.Fatal(err)
		}
		if len(split.Timeline) != 2 {
			t.Fatalf("split incident shows %d alerts to its maker, want 2", len(split.Timeline))
		}
		for _, v := range viewerKinds {
			e.checkNoLeak(v, raised)
		}
		// de1 splits off its own alert.
		if _, err := e.c.Split(e.ctx, client, split.ID, []string{raised[1].ID}, "de1:k1"); err != nil {
			t.Errorf("a member splits off its own alert: %v", err)
		}
		for _, v := range viewerKinds {
			e.checkNoLeak(v, raised)
		}
	})
}

// TestIncidentMetadataHidesMembers: a member sees the countries, members
// and counts of a cross-border incident only as far as it may see their
// alerts; members sharing at RED or AMBER+STRICT are not revealed, not
// even as a count.
func TestIncidentMetadataHidesMembers(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shared := domain("campaign-c2.example")
		raised := e.raise(
			spec{member: "fr1", rule: "fr-rule", host: "fr-host", level: tlp.Red, obs: []alert.Observable{shared}},
			spec{member: "de1", rule: "de-rule", host: "de-host", at: time.Minute, level: tlp.AmberStrict, obs: []alert.Observable{shared}},
			spec{member: "nl1", rule: "nl-rule", host: "nl-host", at: 2 * time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
			spec{member: "se1", rule: "se-rule", host: "se-host", at: 3 * time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
		)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 {
			t.Fatalf("setup: %d campaigns", len(ins))
		}
		id := ins[0].ID
		if got := fmt.Sprint(ins[0].Countries); got != "[DE FR NL SE]" {
			t.Errorf("operator sees countries %s", got)
		}
		tests := []struct {
			v                 alert.Viewer
			countries, title  string
			members, entities string
		}{
			{alert.Viewer{Member: "nl1"}, "[NL SE]", "Cross-border campaign: 1 shared indicator (campaign-c2.example) at 2 members in NL, SE",
				"[nl1 se1]", "[nl1 se1]"},
			{alert.Viewer{Member: "se1"}, "[NL SE]", "Cross-border campaign: 1 shared indicator (campaign-c2.example) at 2 members in NL, SE",
				"[nl1 se1]", "[nl1 se1]"},
			{alert.Viewer{Member: "de1", ClientOf: []string{"fr1"}}, "[DE NL SE]",
				"Cross-border campaign: 1 shared indicator (campaign-c2.example) at 3 members in DE, NL, SE", "[de1 nl1 se1]", ""},
		}
		for _, tt := range tests {
			in, err := e.c.Incident(e.ctx, tt.v, id)
			if err != nil {
				t.Fatalf("%+v: %v", tt.v, err)
			}
			if fmt.Sprint(in.Countries) != tt.countries || in.Title != tt.title || fmt.Sprint(in.Members) != tt.members || !in.CrossBorder {
				t.Errorf("%+v sees countries %v members %v title %q cross-border %v;\nwant %s %s %q",
					tt.v, in.Countries, in.Members, in.Title, in.CrossBorder, tt.countries, tt.members, tt.title)
			}
			d, err := e.c.NIS2Draft(e.ctx, tt.v, id)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(d.Countries) != tt.countries || d.Title != tt.title || len(d.Entities) != len(in.Members) {
				t.Errorf("%+v: draft countries %v title %q entities %v", tt.v, d.Countries, d.Title, d.Entities)
			}
			for _, w := range d.Warnings {
				if strings.Contains(w, "withheld") || strings.Contains(w, "other") {
					t.Errorf("%+v: draft warning tells of hidden alerts: %q", tt.v, w)
				}
			}
		}
		// fr1 and de1 see the others' GREEN alerts, not each other.
		for m, want := range map[string]string{"fr1": "[FR NL SE]", "de1": "[DE NL SE]"} {
			in, err := e.c.Incident(e.ctx, alert.Viewer{Member: m}, id)
			if err != nil || fmt.Sprint(in.Countries) != want || len(in.Members) != 3 {
				t.Errorf("%s sees countries %v members %v (%v), want %s", m, in.Countries, in.Members, err, want)
			}
		}
		for _, v := range viewerKinds {
			e.checkNoLeak(v, raised)
		}
	})
}

// TestMembersKeepTheirOwnCase: on a shared campaign each member's
// status, assignee, title, notes and NIS2 clocks are its own; another
// member's change neither overwrites nor shows in them.
func TestMembersKeepTheirOwnCase(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shared := domain("case-c2.example")
		e.raise(
			spec{member: "fr1", rule: "a", host: "fr-host", level: tlp.Green, obs: []alert.Observable{shared}},
			spec{member: "de1", rule: "b", host: "de-host", at: time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
		)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 {
			t.Fatalf("setup: %d campaigns", len(ins))
		}
		id := ins[0].ID
		fr, de := alert.Viewer{Member: "fr1"}, alert.Viewer{Member: "de1"}
		bob, title := "bob", "fr1's view of the C2"
		e.clock.Set(t0.Add(time.Hour))
		if _, err := e.c.Update(e.ctx, fr, id, correlate.Change{Status: correlate.StatusTriage, Assignee: &bob, Title: &title,
			Comment: "fr1 internal note", Evidence: []correlate.Note{{Kind: "text", Value: "fr1 isolated fr-host"}}}, "fr1:k"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.MarkSignificant(e.ctx, fr, id, "fr1:k", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.SubmitReport(e.ctx, fr, id, correlate.EarlyWarning, "fr1:k", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// de1 closes its case as a false positive and starts its own
		// clocks later.
		e.clock.Set(t0.Add(3 * time.Hour))
		if _, err := e.c.Update(e.ctx, de, id, correlate.Change{Status: correlate.StatusClosed}, "de1:k"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.MarkSignificant(e.ctx, de, id, "de1:k", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		mine, _ := e.c.Incident(e.ctx, fr, id)
		theirs, _ := e.c.Incident(e.ctx, de, id)
		op, _ := e.c.Incident(e.ctx, operator, id)
		if mine.Status != correlate.StatusTriage || mine.Assignee != "bob" || mine.Title != title || len(mine.Comments) != 1 ||
			len(mine.Evidence) != 1 || mine.NIS2 == nil || !mine.NIS2.AwareAt.Equal(t0.Add(time.Hour)) ||
			mine.NIS2.Clock(correlate.EarlyWarning).Submitted.IsZero() {
			t.Errorf("fr1's case: %+v", mine)
		}
		if theirs.Status != correlate.StatusClosed || theirs.Assignee != "" || strings.Contains(theirs.Title, "fr1") ||
			len(theirs.Comments) != 0 || len(theirs.Evidence) != 0 || theirs.NIS2 == nil ||
			!theirs.NIS2.AwareAt.Equal(t0.Add(3*time.Hour)) || !theirs.NIS2.Clock(correlate.EarlyWarning).Submitted.IsZero() {
			t.Errorf("de1's case: %+v", theirs)
		}
		if op.Status != correlate.StatusNew || op.NIS2 != nil || len(op.Comments) != 1 {
			t.Errorf("operator's case of the campaign: status %s NIS2 %+v comments %d", op.Status, op.NIS2, len(op.Comments))
		}
		// Operators see every member's case; members none but their own.
		if len(op.Cases) != 2 || op.Cases[0].Member != "de1" || op.Cases[0].Status != correlate.StatusClosed ||
			op.Cases[1].Member != "fr1" || op.Cases[1].Status != correlate.StatusTriage || op.Cases[1].Assignee != "bob" ||
			op.Cases[1].NIS2 == nil || op.Cases[1].NIS2.Clock(correlate.EarlyWarning).Submitted.IsZero() {
			t.Errorf("operator sees the members' cases as %+v", op.Cases)
		}
		if len(mine.Cases)+len(theirs.Cases) != 0 {
			t.Errorf("members see cases %+v and %+v", mine.Cases, theirs.Cases)
		}
		entries, err := e.c.Audit(e.ctx, de, id)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := json.Marshal(entries)
		for _, s := range []string{"fr1", "bob", "internal note", "isolated", title} {
			if strings.Contains(string(text), s) {
				t.Errorf("de1's audit trail tells of fr1's case (%q): %s", s, text)
			}
		}
		// Status filters match the caller's own case.
		for _, tt := range []struct {
			v      alert.Viewer
			status correlate.Status
			want   int
		}{{fr, correlate.StatusTriage, 1}, {fr, correlate.StatusClosed, 0}, {de, correlate.StatusClosed, 1}, {de, correlate.StatusTriage, 0}} {
			page, err := e.c.Incidents(e.ctx, tt.v, correlate.Filter{Kind: correlate.KindCampaign, Status: tt.status})
			if err != nil || len(page.Incidents) != tt.want {
				t.Errorf("%s lists %d campaigns in %s (%v), want %d", tt.v.Member, len(page.Incidents), tt.status, err, tt.want)
			}
		}
		// A member without alerts in the campaign has no case to change.
		if _, err := e.c.Update(e.ctx, alert.Viewer{Member: "nl1"}, id, correlate.Change{Comment: "x"}, "nl1:k"); !errors.Is(err, correlate.ErrForbidden) {
			t.Errorf("nl1 changes a campaign it has no alerts in: %v", err)
		}
	})
}

// TestNIS2DraftListsEachIndicatorOnce: an indicator seen in several roles
// or spelled in other case is listed once.
func TestNIS2DraftListsEachIndicatorOnce(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		hash := strings.Repeat("ab", 16)
		obs := []alert.Observable{
			{Type: "domain-name", Value: "c2.example", Role: "query"},
			{Type: "domain-name", Value: "c2.example", Role: "destination"},
			{Type: "domain-name", Value: "C2.Example"},
			{Type: "file:hashes.MD5", Value: hash, Role: "file"},
			{Type: "file:hashes.MD5", Value: strings.ToUpper(hash)},
			{Type: "url", Value: "HTTPS://C2.example/Path"},
			{Type: "url", Value: "https://c2.example/Path"},
			{Type: "url", Value: "https://c2.example/path"},
		}
		raised := e.raise(spec{member: "fr1", rule: "a", host: "h1", obs: obs[:4]})
		e.raise(spec{member: "fr1", rule: "b", host: "h1", at: time.Minute, obs: obs[4:]})
		a, _ := e.alerts.Get(e.ctx, operator, raised[0].ID)
		d, err := e.c.NIS2Draft(e.ctx, alert.Viewer{Member: "fr1"}, a.Incident)
		if err != nil {
			t.Fatal(err)
		}
		want := []alert.Observable{
			{Type: "domain-name", Value: "c2.example"}, {Type: "file:hashes.MD5", Value: hash},
			{Type: "url", Value: "https://c2.example/Path"}, {Type: "url", Value: "https://c2.example/path"},
		}
		slices.SortFunc(d.Indicators, func(a, b alert.Observable) int { return strings.Compare(a.Type+a.Value, b.Type+b.Value) })
		if !slices.Equal(d.Indicators, want) {
			t.Errorf("draft indicators %v, want %v", d.Indicators, want)
		}
	})
}

// TestIncidentTimesTellNothingHidden: an incident's created and updated
// times, its "created" audit entry and the time filters reflect the
// alerts a viewer sees, not when hidden members' alerts formed or grew it.
func TestIncidentTimesTellNothingHidden(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shared := domain("timing-c2.example")
		e.clock.Set(t0.Add(time.Hour))
		all := e.raise(
			spec{member: "fr1", rule: "fr-rule", host: "fr-host", level: tlp.Red, obs: []alert.Observable{shared}},
			spec{member: "de1", rule: "de-rule", host: "de-host", at: time.Minute, level: tlp.Red, obs: []alert.Observable{shared}},
		)
		e.clock.Set(t0.Add(5 * time.Hour))
		visible := e.raise(
			spec{member: "nl1", rule: "nl-rule", host: "nl-host", at: 4 * time.Hour, level: tlp.Green, obs: []alert.Observable{shared}},
			spec{member: "se1", rule: "se-rule", host: "se-host", at: 4*time.Hour + time.Minute, level: tlp.Green, obs: []alert.Observable{shared}},
		)
		e.clock.Set(t0.Add(9 * time.Hour))
		all = append(append(all, visible...),
			e.raise(spec{member: "fr1", rule: "fr-rule-2", host: "fr-host", at: 8 * time.Hour, level: tlp.Red, obs: []alert.Observable{shared}})...)
		ins := e.incidents(correlate.KindCampaign)
		if len(ins) != 1 || !ins[0].Created.Equal(t0.Add(time.Hour)) || !ins[0].Updated.Equal(t0.Add(9*time.Hour)) {
			t.Fatalf("setup: %d campaigns, operator sees created %v updated %v", len(ins), ins[0].Created, ins[0].Updated)
		}
		nl := alert.Viewer{Member: "nl1"}
		in, err := e.c.Incident(e.ctx, nl, ins[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		detected := visible[0].Detected
		if !in.Created.Equal(detected) || !in.Updated.Equal(detected) || !in.FirstSeen.Equal(t0.Add(4*time.Hour)) {
			t.Errorf("nl1 sees created %v updated %v first seen %v; want %v, %v, %v",
				in.Created, in.Updated, in.FirstSeen, detected, detected, t0.Add(4*time.Hour))
		}
		entries, err := e.c.Audit(e.ctx, nl, ins[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if en.What == "created" && en.At.Before(detected) {
				t.Errorf("nl1's audit dates the campaign's creation %v, before its first visible alert", en.At)
			}
		}
		for _, f := range []correlate.Filter{{From: t0.Add(7 * time.Hour)}, {To: t0.Add(2 * time.Hour)}} {
			f.Kind = correlate.KindCampaign
			page, err := e.c.Incidents(e.ctx, nl, f)
			if err != nil || len(page.Incidents) != 0 {
				t.Errorf("nl1 finds the campaign active in [%v, %v), when only hidden alerts were (%v)", f.From, f.To, err)
			}
		}
		e.checkNoLeak(nl, all)
	})
}

func TestContainsWord(t *testing.T) {
	tests := []struct {
		text, s string
		want    bool
	}{
		{`{"members":["de1"]}`, "de1", true},
		{`{"id":"a1b2d37de18f"}`, "de1", false},
		{`{"id":"d37de18f","m":"de1's host"}`, "de1", true},
		{`de1`, "de1", true},
		{`xde1`, "de1", false},
		{`de-rule fired`, "de-rule", true},
	}
	for _, tt := range tests {
		if got := containsWord(tt.text, tt.s); got != tt.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", tt.text, tt.s, got, tt.want)
		}
	}
}
