package correlate_test

import (
	"cmp"
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

// sortWorld fills e with incidents whose values differ by viewer: local
// incidents of fr1 and nl1 at several TLP levels, severities and sizes,
// cross-border campaigns of fr1 and nl1, case work (statuses, comments,
// NIS2 clocks, a merge, a split) and an alert whose repeat raised its TLP
// level. With hidden, de1 then adds AMBER+STRICT alerts, graver, later
// and more numerous, to the campaigns and incidents of its own. Every
// raise happens at its own clock second, so incident ids order the same
// way in every world.
func sortWorld(e *env, hidden bool) []alert.Alert {
	e.t.Helper()
	var all []alert.Alert
	step := func(s spec) []alert.Alert {
		e.clock.Set(e.clock.Now().Add(time.Second))
		out := e.raise(s)
		all = append(all, out...)
		for i := range out {
			a, err := e.alerts.Get(e.ctx, operator, out[i].ID)
			if err != nil {
				e.t.Fatal(err)
			}
			out[i].Incident = a.Incident
		}
		return out
	}
	levels := []tlp.Level{tlp.Green, tlp.Amber, tlp.Clear}
	home := map[string]string{}
	for i := range 8 {
		for j := range i%3 + 1 {
			out := step(spec{member: "fr1", rule: fmt.Sprintf("fr-%d-%d", i, j), host: fmt.Sprintf("fr-h%d", i),
				at: time.Duration(i*41+j*17) * time.Minute, level: levels[i%3], sev: alert.Severity((i+2*j)%4 + 1)})
			home[fmt.Sprintf("fr%d", i)] = out[0].Incident
		}
	}
	for i := range 4 {
		out := step(spec{member: "nl1", rule: fmt.Sprintf("nl-%d", i), host: fmt.Sprintf("nl-h%d", i),
			at: time.Duration(i*53) * time.Minute, level: tlp.Green, sev: alert.Severity(i%4 + 1)})
		home[fmt.Sprintf("nl%d", i)] = out[0].Incident
	}
	for k := range 3 {
		c2 := domain(fmt.Sprintf("sort-c2-%d.example", k))
		for j := range k + 1 {
			step(spec{member: "fr1", rule: fmt.Sprintf("c2-%d-%d", k, j), host: fmt.Sprintf("fr-c%d", k),
				at: time.Duration(300+k*30+j) * time.Minute, level: tlp.Green, obs: []alert.Observable{c2}, sev: alert.Low})
		}
		step(spec{member: "nl1", rule: fmt.Sprintf("c2-nl-%d", k), host: fmt.Sprintf("nl-c%d", k),
			at: time.Duration(310+k*30) * time.Minute, level: tlp.Green, obs: []alert.Observable{c2}, sev: alert.Medium})
	}
	// A repeat of fr-h1's first detection, graver and AMBER+STRICT: the
	// alert leaves what nl1 may see.
	step(spec{member: "fr1", rule: "fr-1-0", host: "fr-h1", at: 700 * time.Minute, level: tlp.AmberStrict, sev: alert.High})
	fr, nl := alert.Viewer{Member: "fr1"}, alert.Viewer{Member: "nl1"}
	work := func(what string, err error) {
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	_, err := e.c.Update(e.ctx, fr, home["fr0"], correlate.Change{Status: correlate.StatusTriage}, "fr1:k")
	work("triage", err)
	_, err = e.c.Update(e.ctx, fr, home["fr2"], correlate.Change{Status: correlate.StatusClosed}, "fr1:k")
	work("close", err)
	_, err = e.c.Update(e.ctx, nl, home["nl1"], correlate.Change{Status: correlate.StatusTriage, Comment: "looking"}, "nl1:k")
	work("nl triage", err)
	_, err = e.c.MarkSignificant(e.ctx, fr, home["fr3"], "fr1:k", e.clock.Now().Add(-3*time.Hour))
	work("significant", err)
	_, err = e.c.MarkSignificant(e.ctx, fr, home["fr4"], "fr1:k", e.clock.Now().Add(-5*time.Hour))
	work("significant", err)
	_, err = e.c.SubmitReport(e.ctx, fr, home["fr4"], correlate.EarlyWarning, "fr1:k", e.clock.Now())
	work("early warning", err)
	_, err = e.c.MarkSignificant(e.ctx, fr, home["fr6"], "fr1:k", e.clock.Now().Add(-9*time.Hour))
	work("significant", err)
	for _, r := range []correlate.Report{correlate.EarlyWarning, correlate.Notification} {
		_, err = e.c.SubmitReport(e.ctx, fr, home["fr6"], r, "fr1:k", e.clock.Now())
		work("report", err)
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	_, err = e.c.Merge(e.ctx, fr, home["fr5"], home["fr7"], "fr1:k")
	work("merge", err)
	split, err := e.c.Incident(e.ctx, fr, home["fr2"])
	work("read", err)
	_, err = e.c.Split(e.ctx, fr, home["fr2"], split.AlertIDs()[:1], "fr1:k")
	work("split", err)
	ins, err := e.c.Incidents(e.ctx, fr, correlate.Filter{Kind: correlate.KindCampaign})
	work("campaigns", err)
	if len(ins.Incidents) != 3 {
		e.t.Fatalf("setup: fr1 sees %d campaigns, want 3", len(ins.Incidents))
	}
	_, err = e.c.Update(e.ctx, fr, ins.Incidents[1].ID, correlate.Change{Status: correlate.StatusTriage}, "fr1:k")
	work("campaign triage", err)
	if !hidden {
		return all
	}
	for k := range 3 {
		c2 := domain(fmt.Sprintf("sort-c2-%d.example", k))
		for j := range 3 {
			step(spec{member: "de1", rule: fmt.Sprintf("de-c2-%d-%d", k, j), host: fmt.Sprintf("de-c%d", k),
				at: time.Duration(900+k*10+j) * time.Minute, level: tlp.AmberStrict, obs: []alert.Observable{c2}, sev: alert.Critical})
		}
	}
	for i := range 3 {
		step(spec{member: "de1", rule: fmt.Sprintf("de-%d", i), host: fmt.Sprintf("de-h%d", i),
			at: time.Duration(i*7) * time.Minute, level: []tlp.Level{tlp.AmberStrict, tlp.Red, tlp.AmberStrict}[i], sev: alert.Critical})
	}
	return all
}

// nanos is a time as the store keeps it.
func nanos(t time.Time) int64 { return store.Nanos(t) }

// viewValue is what sort key k compares, computed in Go from an incident
// as its viewer sees it: the server's order must agree with it.
func viewValue(k correlate.SortKey, in *correlate.Incident) int64 {
	switch k {
	case correlate.SortUpdated:
		return nanos(in.Updated)
	case correlate.SortLastSeen:
		return nanos(in.LastSeen)
	case correlate.SortFirstSeen:
		return nanos(in.FirstSeen)
	case correlate.SortSeverity:
		return int64(in.Severity)
	case correlate.SortAlerts:
		return int64(len(in.Timeline))
	case correlate.SortStatus:
		return int64(slices.Index([]correlate.Status{correlate.StatusNew, correlate.StatusTriage, correlate.StatusContained,
			correlate.StatusResolved, correlate.StatusClosed}, in.Status))
	case correlate.SortNIS2Due:
		if in.NIS2 == nil {
			return 1 << 62
		}
		for _, c := range in.NIS2.Clocks {
			if !c.Submitted.IsZero() {
				continue
			}
			if c.Report == correlate.FinalReport {
				// Ordered by the notification plus 30 days.
				return nanos(in.NIS2.Clock(correlate.Notification).Submitted.Add(30 * 24 * time.Hour))
			}
			return nanos(c.Due)
		}
		return 1 << 62
	}
	return 0
}

// walk lists every page of f for v and returns the incidents in order.
func walk(t *testing.T, e *env, v alert.Viewer, f correlate.Filter) []correlate.Incident {
	t.Helper()
	var out []correlate.Incident
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatalf("%+v %s: paging does not end", v, f.Sort)
		}
		page, err := e.c.Incidents(e.ctx, v, f)
		if err != nil {
			t.Fatalf("%+v %s: %v", v, f.Sort, err)
		}
		out = append(out, page.Incidents...)
		if page.Next == "" {
			return out
		}
		f.Cursor = page.Next
	}
}

var sortViewers = []alert.Viewer{
	operator, {Member: "fr1"}, {Member: "de1"}, {Member: "nl1"}, {Member: "se1"},
	{Member: "de1", ClientOf: []string{"fr1"}},
}

// TestIncidentListSorts walks every sort key in both directions, three
// incidents a page, as each kind of viewer: the pages hold every incident
// the viewer lists once, in the order of the values the viewer is shown
// (so the server sorted on what the viewer sees, not on the whole
// incident), the id breaking ties.
func TestIncidentListSorts(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sortWorld(e, true)
		for _, v := range sortViewers {
			all, err := e.c.Incidents(e.ctx, v, correlate.Filter{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if v.Member != "se1" && len(all.Incidents) < 5 {
				t.Fatalf("%+v lists %d incidents", v, len(all.Incidents))
			}
			for _, k := range correlate.SortKeys() {
				for _, asc := range []bool{false, true} {
					sort := correlate.Sort{Key: k, Asc: asc}
					want := slices.Clone(all.Incidents)
					slices.SortFunc(want, func(x, y correlate.Incident) int {
						c := cmp.Or(cmp.Compare(viewValue(k, &x), viewValue(k, &y)), strings.Compare(x.ID, y.ID))
						if !asc {
							c = -c
						}
						return c
					})
					got := walk(t, e, v, correlate.Filter{Limit: 3, Sort: sort})
					if !slices.EqualFunc(got, want, func(x, y correlate.Incident) bool { return x.ID == y.ID }) {
						t.Errorf("viewer %+v, sort %s:\n got %v\nwant %v", v, sort, describe(k, got), describe(k, want))
					}
				}
			}
		}
		// Filters on what the viewer sees apply before paging: every
		// page is full but the last.
		fr := alert.Viewer{Member: "fr1"}
		for _, f := range []correlate.Filter{
			{Severity: alert.High}, {Status: correlate.StatusTriage}, {Member: "nl1"}, {From: t0.Add(5 * time.Hour)},
			{To: t0.Add(2 * time.Hour)}, {Kind: correlate.KindCampaign, CrossBorder: true},
		} {
			everything, err := e.c.Incidents(e.ctx, fr, correlate.Filter{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, in := range everything.Incidents {
				if matchesView(&f, &in) {
					want = append(want, in.ID)
				}
			}
			f.Limit, f.Sort = 1, correlate.Sort{Key: correlate.SortSeverity}
			var got []string
			for pages := 0; ; pages++ {
				page, err := e.c.Incidents(e.ctx, fr, f)
				if err != nil || pages > 100 {
					t.Fatalf("%+v: %v", f, err)
				}
				if page.Next != "" && len(page.Incidents) != 1 {
					t.Errorf("filter %+v: a page of %d before the last", f, len(page.Incidents))
				}
				for _, in := range page.Incidents {
					got = append(got, in.ID)
				}
				if f.Cursor = page.Next; f.Cursor == "" {
					break
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("filter %+v: listed %v, want %v", f, got, want)
			}
		}
	})
}

// matchesView is the filter as the tests read it off a viewer's incident.
func matchesView(f *correlate.Filter, in *correlate.Incident) bool {
	member := f.Member == "" || slices.Contains(in.Members, f.Member)
	return member && in.Severity >= f.Severity && (f.Status == "" || in.Status == f.Status) &&
		(f.From.IsZero() || !in.LastSeen.Before(f.From)) && (f.To.IsZero() || in.FirstSeen.Before(f.To)) &&
		(f.Kind == "" || in.Kind == f.Kind) && (!f.CrossBorder || in.CrossBorder)
}

// describe lists incidents with their sort values, for messages.
func describe(k correlate.SortKey, ins []correlate.Incident) []string {
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, fmt.Sprintf("%s=%d", in.ID[20:], viewValue(k, &in)))
	}
	return out
}

// TestIncidentOrderHidesHiddenAlerts: a member's incident list — which
// incidents, their counts and values, and their order in every sort, page
// by page — is the same whether or not another member added AMBER+STRICT
// alerts to the same campaigns (graver, later, more numerous) and
// incidents of its own.
func TestIncidentOrderHidesHiddenAlerts(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		var other *store.DB
		if strings.HasSuffix(t.Name(), "sqlite") {
			other = storetest.SQLite(t, schemas()...)
		} else {
			other = storetest.Postgres(t, schemas()...)
		}
		without, with := newEnv(t, db), newEnv(t, other)
		sortWorld(without, false)
		sortWorld(with, true)
		if len(with.incidents("")) <= len(without.incidents("")) {
			t.Fatal("setup: de1's alerts opened no incidents")
		}
		for _, v := range []alert.Viewer{{Member: "fr1"}, {Member: "nl1"}, {Member: "se1"}} {
			for _, k := range correlate.SortKeys() {
				for _, asc := range []bool{false, true} {
					f := correlate.Filter{Limit: 2, Sort: correlate.Sort{Key: k, Asc: asc}}
					a, b := pages(t, without, v, f), pages(t, with, v, f)
					if !slices.Equal(a, b) {
						t.Errorf("%s, sort %s: without de1's hidden alerts\n%v\nwith them\n%v", v.Member, f.Sort, a, b)
					}
				}
			}
			// The listed incidents name neither de1 nor Germany.
			// (checkNoLeak's substring search would find "de1" in the
			// hex of random ids.)
			page, err := with.c.Incidents(with.ctx, v, correlate.Filter{Limit: 500, Merged: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range page.Incidents {
				if slices.Contains(in.Members, "de1") || slices.Contains(in.Countries, "DE") {
					t.Errorf("%s lists incident %s with members %v, countries %v", v.Member, in.ID, in.Members, in.Countries)
				}
			}
		}
	})
}

// pages lists f for v page by page, each incident as what the viewer is
// shown of it, with the page sizes last. Ids differ between stores
// (titles, counts and values do not), and so may the order of incidents
// opened in the same millisecond with equal sort values, which the id's
// random part breaks: such runs are put in one order here.
func pages(t *testing.T, e *env, v alert.Viewer, f correlate.Filter) []string {
	t.Helper()
	type entry struct {
		tie  string
		desc string
	}
	var all []entry
	var sizes []int
	for n := 1; ; n++ {
		page, err := e.c.Incidents(e.ctx, v, f)
		if err != nil || n > 100 {
			t.Fatalf("%+v: %v", f, err)
		}
		for _, in := range page.Incidents {
			all = append(all, entry{fmt.Sprint(viewValue(f.Sort.Key, &in), in.ID[:12]),
				fmt.Sprintf("%s: %d alerts, %s, %s–%s, %s, updated %s, nis2 %d", in.Title, len(in.Timeline),
					in.Severity, in.FirstSeen.Format(time.TimeOnly), in.LastSeen.Format(time.TimeOnly), in.Status,
					in.Updated.Format(time.TimeOnly), viewValue(correlate.SortNIS2Due, &in))})
		}
		sizes = append(sizes, len(page.Incidents))
		if f.Cursor = page.Next; f.Cursor == "" {
			break
		}
	}
	var out []string
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].tie == all[i].tie {
			j++
		}
		run := make([]string, 0, j-i)
		for _, en := range all[i:j] {
			run = append(run, en.desc)
		}
		slices.Sort(run)
		out = append(out, run...)
		i = j
	}
	return append(out, fmt.Sprint("pages of ", sizes))
}

// TestIncidentCellsUpgrade: a store migrated before incident_cells
// existed gets them filled from its incidents, equal to what keeping them
// as alerts arrived, merged and split wrote — so an upgraded store lists
// in the same orders.
func TestIncidentCellsUpgrade(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sortWorld(e, true)
		kept := cells(t, e, db)
		before := map[string][]string{}
		for _, v := range sortViewers {
			for _, k := range correlate.SortKeys() {
				before[fmt.Sprint(v, k)] = pages(t, e, v, correlate.Filter{Limit: 4, Sort: correlate.Sort{Key: k}})
			}
		}
		// Back to the schema before: the cells table, the migrations from
		// its own on (the campaign_sightings_country index came after)
		// and what they made gone, as on a store of the previous release.
		cellsVersion := 1 + slices.IndexFunc(correlate.Schema().Migrations, func(m string) bool {
			return strings.HasPrefix(m, "CREATE TABLE incident_cells")
		})
		if cellsVersion == 0 {
			t.Fatal("no migration creates incident_cells")
		}
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			for _, drop := range []string{`DROP TABLE incident_cells`, `DROP INDEX IF EXISTS campaign_sightings_country`} {
				if _, err := tx.Exec(e.ctx, drop); err != nil {
					return err
				}
			}
			_, err := tx.Exec(e.ctx, `DELETE FROM xsoc_migrations WHERE owner = 'correlate' AND version >= ?`, cellsVersion)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckSchema(e.ctx, schemas()...); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("store without the cells checks as %v", err)
		}
		if err := db.Migrate(e.ctx, schemas()...); err != nil {
			t.Fatal(err)
		}
		if got := cells(t, e, db); !slices.Equal(got, kept) {
			t.Errorf("cells filled on upgrade:\n%v\nkept as alerts arrived:\n%v", got, kept)
		}
		for _, v := range sortViewers {
			for _, k := range correlate.SortKeys() {
				if got := pages(t, e, v, correlate.Filter{Limit: 4, Sort: correlate.Sort{Key: k}}); !slices.Equal(got, before[fmt.Sprint(v, k)]) {
					t.Errorf("%+v sort %s after the upgrade:\n%v\nbefore:\n%v", v, k, got, before[fmt.Sprint(v, k)])
				}
			}
		}
	})
}

// cells reads incident_cells in order.
func cells(t *testing.T, e *env, db *store.DB) []string {
	t.Helper()
	rows, err := db.Query(e.ctx, `SELECT incident_id, member, tlp, alerts, severity, first_seen, last_seen, first_detected,
		last_detected FROM incident_cells ORDER BY incident_id, member, tlp`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, m string
		var l, n, sev, fs, ls, fd, ld int64
		if err := rows.Scan(&id, &m, &l, &n, &sev, &fs, &ls, &fd, &ld); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s tlp%d: %d alerts sev %d seen %d–%d detected %d–%d", id, m, l, n, sev, fs, ls, fd, ld))
	}
	if len(out) == 0 {
		t.Fatal("no incident cells")
	}
	return out
}

// TestIncidentSortCursors: a cursor carries its sort; one used with
// another sort, or broken, is refused, and ParseSort names what it
// accepts.
func TestIncidentSortCursors(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for i := range 4 {
			e.raise(spec{member: "fr1", rule: fmt.Sprintf("r%d", i), host: fmt.Sprintf("h%d", i), at: time.Duration(i) * time.Minute})
		}
		sev, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Limit: 2, Sort: correlate.Sort{Key: correlate.SortSeverity}})
		if err != nil || sev.Next == "" {
			t.Fatalf("first page: %+v %v", sev, err)
		}
		plain, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Limit: 2})
		if err != nil || plain.Next == "" || !alert.ValidID(plain.Next) {
			t.Fatalf("first page: %+v %v", plain, err)
		}
		for _, f := range []correlate.Filter{
			{Cursor: sev.Next},
			{Cursor: sev.Next, Sort: correlate.Sort{Key: correlate.SortSeverity, Asc: true}},
			{Cursor: sev.Next, Sort: correlate.Sort{Key: correlate.SortAlerts}},
			{Cursor: plain.Next, Sort: correlate.Sort{Key: correlate.SortSeverity}},
			{Cursor: plain.Next, Sort: correlate.Sort{Asc: true}},
			{Cursor: "severity.desc.x." + plain.Next, Sort: correlate.Sort{Key: correlate.SortSeverity}},
			{Cursor: "created.asc.5." + plain.Next, Sort: correlate.Sort{Asc: true}},
			{Cursor: "severity.desc.3.nope", Sort: correlate.Sort{Key: correlate.SortSeverity}},
			{Cursor: "nope"},
		} {
			if _, err := e.c.Incidents(e.ctx, operator, f); !errors.Is(err, correlate.ErrInvalid) || !strings.Contains(err.Error(), "cursor") {
				t.Errorf("Incidents(%+v) err = %v, want ErrInvalid about the cursor", f, err)
			}
		}
	})
	for _, tt := range []struct {
		key, order string
		want       correlate.Sort
		err        string
	}{
		{"", "", correlate.Sort{Key: correlate.SortCreated}, ""},
		{"severity", "asc", correlate.Sort{Key: correlate.SortSeverity, Asc: true}, ""},
		{"nis2_due", "desc", correlate.Sort{Key: correlate.SortNIS2Due}, ""},
		{"title", "", correlate.Sort{}, "created, updated, last_seen, first_seen, severity, alerts, status, nis2_due"},
		{"alerts", "up", correlate.Sort{}, "asc or desc"},
	} {
		got, err := correlate.ParseSort(tt.key, tt.order)
		if tt.err != "" {
			if !errors.Is(err, correlate.ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSort(%q, %q) err = %v, want one naming %q", tt.key, tt.order, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSort(%q, %q) = %+v, %v, want %+v", tt.key, tt.order, got, err, tt.want)
		}
	}
}
