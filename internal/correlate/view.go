package correlate

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// row is an incidents row.
type row struct {
	id, kind, title, status, assignee, countries, mergedInto, significantBy string
	severity                                                                int64
	crossBorder                                                             int64
	firstSeen, lastSeen, created, updated                                   int64
	acknowledged, contained, resolved, closed                               int64
	significant, earlyWarning, notification, finalReport                    int64
	// titled: title is an analyst's; otherwise each viewer's title is
	// derived from what it sees.
	titled int64
}

const rowColumns = `id, kind, title, status, assignee, countries, merged_into, significant_by, severity,
	cross_border, first_seen, last_seen, created, updated, acknowledged, contained, resolved, closed,
	significant, early_warning, notification, final_report, titled`

func scanRow(rows *sql.Rows) (row, error) {
	var r row
	err := rows.Scan(&r.id, &r.kind, &r.title, &r.status, &r.assignee, &r.countries, &r.mergedInto,
		&r.significantBy, &r.severity, &r.crossBorder, &r.firstSeen, &r.lastSeen, &r.created, &r.updated,
		&r.acknowledged, &r.contained, &r.resolved, &r.closed, &r.significant, &r.earlyWarning,
		&r.notification, &r.finalReport, &r.titled)
	return r, err
}

// querier is what *store.DB and *store.Tx have in common.
type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// facts is everything stored about a set of incidents.
type facts struct {
	rows    []row
	members map[string][]string // incident id → alert ids
	alerts  map[string]alert.Alert
	notes   map[string][]caseNote
	// cases holds the members' own cases of shared incidents: incident
	// id → member → the case's workflow columns.
	cases map[string]map[string]row
	// sightings are the campaign sightings of the incidents' defining
	// keys by their alerts, the evidence a campaign is titled by.
	sightings map[string][]keySighting
}

// caseNote is a note with the case it belongs to ("" for the incident's
// own case, else the member whose case of a shared incident it is).
type caseNote struct {
	Note
	caseOf string
}

// keySighting is one alert's sighting of a campaign's defining key.
type keySighting struct {
	key, alertID, country string
	at                    int64
}

// load reads the incidents ids with their alerts and notes, inside tx if
// it is not nil.
func (c *Correlator) load(ctx context.Context, tx *store.Tx, ids []string) (*facts, error) {
	var q querier = c.db
	if tx != nil {
		q = tx
	}
	f := &facts{members: map[string][]string{}, alerts: map[string]alert.Alert{}, notes: map[string][]caseNote{},
		cases: map[string]map[string]row{}, sightings: map[string][]keySighting{}}
	if len(ids) == 0 {
		return f, nil
	}
	in := "(" + placeholders(len(ids)) + ")"
	rows, err := q.Query(ctx, `SELECT `+rowColumns+` FROM incidents WHERE id IN `+in, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("correlate: load: %w", err)
	}
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("correlate: load: %w", err)
		}
		f.rows = append(f.rows, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("correlate: load: %w", err)
	}
	var alertIDs []string
	rows, err = q.Query(ctx, `SELECT incident_id, alert_id FROM incident_alerts WHERE incident_id IN `+in+
		` ORDER BY alert_id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("correlate: load alerts: %w", err)
	}
	for rows.Next() {
		var inc, al string
		if err := rows.Scan(&inc, &al); err != nil {
			rows.Close()
			return nil, err
		}
		f.members[inc] = append(f.members[inc], al)
		alertIDs = append(alertIDs, al)
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT id, incident_id, kind, value, who, at, case_of FROM incident_notes
		WHERE incident_id IN `+in+` ORDER BY id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("correlate: load notes: %w", err)
	}
	for rows.Next() {
		var n caseNote
		var inc string
		var at int64
		if err := rows.Scan(&n.ID, &inc, &n.Kind, &n.Value, &n.Who, &at, &n.caseOf); err != nil {
			rows.Close()
			return nil, err
		}
		n.At = store.Time(at)
		f.notes[inc] = append(f.notes[inc], n)
		if n.Kind == "alert" {
			alertIDs = append(alertIDs, n.Value)
		}
	}
	rows.Close()
	if err := c.loadCases(ctx, q, f, in, ids); err != nil {
		return nil, err
	}
	if err := loadSightings(ctx, q, f, in, ids); err != nil {
		return nil, err
	}
	slices.Sort(alertIDs)
	alerts, err := c.alerts.Fetch(ctx, tx, slices.Compact(alertIDs))
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		f.alerts[a.ID] = a
	}
	return f, nil
}

// caseColumns are the workflow columns a member's own case of a shared
// incident keeps, in row order.
const caseColumns = `status, assignee, title, titled, acknowledged, contained, resolved, closed,
	significant, significant_by, early_warning, notification, final_report`

// loadCases reads the members' cases of the incidents ids.
func (c *Correlator) loadCases(ctx context.Context, q querier, f *facts, in string, ids []string) error {
	rows, err := q.Query(ctx, `SELECT incident_id, member, updated, `+caseColumns+` FROM incident_cases
		WHERE incident_id IN `+in, anys(ids)...)
	if err != nil {
		return fmt.Errorf("correlate: load cases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, m string
		var r row
		if err := rows.Scan(&id, &m, &r.updated, &r.status, &r.assignee, &r.title, &r.titled, &r.acknowledged, &r.contained,
			&r.resolved, &r.closed, &r.significant, &r.significantBy, &r.earlyWarning, &r.notification,
			&r.finalReport); err != nil {
			return fmt.Errorf("correlate: load cases: %w", err)
		}
		if f.cases[id] == nil {
			f.cases[id] = map[string]row{}
		}
		f.cases[id][m] = r
	}
	return rows.Err()
}

// loadSightings reads the sightings of the incidents' defining campaign
// keys by their alerts.
func loadSightings(ctx context.Context, q querier, f *facts, in string, ids []string) error {
	rows, err := q.Query(ctx, `SELECT ia.incident_id, s.entity, s.alert_id, s.country, s.event_time
		FROM incident_alerts ia
			JOIN campaign_sightings s ON s.alert_id = ia.alert_id
			JOIN incident_keys k ON k.incident_id = ia.incident_id AND k.entity = 'campaign|' || s.entity
		WHERE ia.incident_id IN `+in, anys(ids)...)
	if err != nil {
		return fmt.Errorf("correlate: load evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ks keySighting
		if err := rows.Scan(&id, &ks.key, &ks.alertID, &ks.country, &ks.at); err != nil {
			return fmt.Errorf("correlate: load evidence: %w", err)
		}
		f.sightings[id] = append(f.sightings[id], ks)
	}
	return rows.Err()
}

// views returns the incidents ids as v sees them, in the order of ids,
// leaving out those v may not see.
func (c *Correlator) views(ctx context.Context, v alert.Viewer, ids []string) ([]Incident, error) {
	f, err := c.load(ctx, nil, ids)
	if err != nil {
		return nil, err
	}
	byID := map[string]*row{}
	for i := range f.rows {
		byID[f.rows[i].id] = &f.rows[i]
	}
	var out []Incident
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			continue
		}
		if in, ok := c.build(v, r, f); ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// build computes the incident r as v sees it; false if v sees none of it.
// This is where withholding happens: every list, count and piece of text
// comes from the alerts v may see, and the case shown is v's own.
func (c *Correlator) build(v alert.Viewer, r *row, f *facts) (Incident, bool) {
	in := Incident{
		ID: r.id, Kind: Kind(r.kind), MergedInto: r.mergedInto,
		Created: store.Time(r.created), Updated: store.Time(r.updated), Timeline: []TimelineEntry{},
	}
	for _, id := range f.members[r.id] {
		a, ok := f.alerts[id]
		if ok && v.MaySee(&a) {
			in.add(&a, strings.ToUpper(c.opts.MemberCountry(a.Member)))
		}
	}
	in.finish()
	in.CrossBorder = len(in.Countries) >= 2
	if !v.Operator && (len(in.Timeline) == 0 || (in.Kind == KindCampaign && !in.CrossBorder)) {
		// A campaign that does not cross a border in what v sees would
		// tell v only that members it may not see were hit.
		return Incident{}, false
	}
	cs, caseOf, ok := caseFor(v, r, f)
	in.setCase(&cs, c.opts.Now())
	if !v.Operator && !(ok && caseOf == "") {
		in.visibleTimes(&cs, ok)
	}
	if ok && cs.titled != 0 {
		in.Title = cs.title
	} else {
		in.Title = c.derivedTitle(v, &in, f)
	}
	if !ok {
		return in, true
	}
	if v.Operator {
		in.Cases = memberCases(f.cases[r.id], c.opts.Now())
	}
	for _, n := range f.notes[r.id] {
		if !v.Operator && n.caseOf != caseOf {
			continue
		}
		switch n.Kind {
		case "comment":
			in.Comments = append(in.Comments, n.Note)
		case "alert":
			if a, ok := f.alerts[n.Value]; ok && v.MaySee(&a) {
				in.Evidence = append(in.Evidence, n.Note)
			}
		default:
			in.Evidence = append(in.Evidence, n.Note)
		}
	}
	return in, true
}

// visibleTimes sets Created and Updated from what a viewer sees: an
// incident's own times may come from alerts it may not see (a campaign
// formed by two hidden members before the viewer's alerts joined, a
// hidden member's alert updating it). Created is never before the first
// visible alert was detected; Updated is the latest visible detection or
// change to the viewer's own case (cs, when hasCase).
func (in *Incident) visibleTimes(cs *row, hasCase bool) {
	if in.Created.Before(in.Detected) {
		in.Created = in.Detected
	}
	in.Updated = in.Created
	for _, e := range in.Timeline {
		if e.Detected.After(in.Updated) {
			in.Updated = e.Detected
		}
	}
	if u := store.Time(cs.updated); hasCase && u.After(in.Updated) {
		in.Updated = u
	}
}

// memberCases lists the members' cases, by member.
func memberCases(cases map[string]row, now time.Time) []MemberCase {
	out := make([]MemberCase, 0, len(cases))
	for m, cs := range cases {
		out = append(out, MemberCase{Member: m, Status: Status(cs.status), Assignee: cs.assignee,
			Updated: store.Time(cs.updated), NIS2: nis2Of(&cs, now)})
	}
	slices.SortFunc(out, func(a, b MemberCase) int { return strings.Compare(a.Member, b.Member) })
	return out
}

// shared reports whether incident r is shared by several members: a
// campaign, or an incident holding alerts of more than one member. Each
// member works its own case of a shared incident.
func shared(r *row, f *facts) bool {
	if Kind(r.kind) == KindCampaign {
		return true
	}
	first := ""
	for _, id := range f.members[r.id] {
		if a, ok := f.alerts[id]; ok {
			if first != "" && a.Member != first {
				return true
			}
			first = a.Member
		}
	}
	return false
}

// caseFor returns the case of incident r that v sees and works on, and
// whose it is: "" for the incident's own case (an operator's, or the
// member's whose alerts alone the incident holds), the member for a
// member's case of a shared incident. ok is false when v has no case
// there (it has no alerts in it): v then sees the incident's facts and,
// on an incident not shared, its status, but no one's case notes.
func caseFor(v alert.Viewer, r *row, f *facts) (cs row, caseOf string, ok bool) {
	if v.Operator {
		return *r, "", true
	}
	own := slices.ContainsFunc(f.members[r.id], func(id string) bool {
		a, ok := f.alerts[id]
		return ok && a.Member == v.Member
	})
	isShared := shared(r, f)
	switch {
	case !own && isShared:
		return row{id: r.id, status: string(StatusNew)}, "", false
	case !own:
		return row{id: r.id, status: r.status, acknowledged: r.acknowledged, contained: r.contained,
			resolved: r.resolved, closed: r.closed}, "", false
	case !isShared:
		return *r, "", true
	}
	cs, found := f.cases[r.id][v.Member]
	if !found {
		cs = row{status: string(StatusNew)}
	}
	cs.id, cs.kind, cs.mergedInto = r.id, r.kind, r.mergedInto
	return cs, v.Member, true
}

// setCase shows the workflow state of case cs.
func (in *Incident) setCase(cs *row, now time.Time) {
	in.Status, in.Assignee = Status(cs.status), cs.assignee
	in.Acknowledged, in.Contained = store.Time(cs.acknowledged), store.Time(cs.contained)
	in.Resolved, in.Closed = store.Time(cs.resolved), store.Time(cs.closed)
	in.NIS2 = nis2Of(cs, now)
}

// derivedTitle names an incident from what v sees of it: a campaign after
// its strongest visible evidence, another incident after its earliest
// visible alert.
func (c *Correlator) derivedTitle(v alert.Viewer, in *Incident, f *facts) string {
	if in.Kind == KindCampaign {
		return campaignTitle(visibleEvidence(v, f.sightings[in.ID], f), len(in.Members), in.Countries)
	}
	if len(in.Timeline) == 0 {
		return "Incident " + in.ID
	}
	a := f.alerts[in.Timeline[0].AlertID]
	return localTitle(&a)
}

// visibleEvidence sums up the sightings of a campaign's defining keys by
// the alerts v may see.
func visibleEvidence(v alert.Viewer, sights []keySighting, f *facts) []keyEvidence {
	type seen struct {
		ev                 keyEvidence
		countries, members map[string]bool
	}
	byKey := map[string]*seen{}
	var order []string
	for _, ks := range sights {
		a, ok := f.alerts[ks.alertID]
		if !ok || !v.MaySee(&a) {
			continue
		}
		s := byKey[ks.key]
		if s == nil {
			s = &seen{ev: keyEvidence{key: ks.key, first: ks.at}, countries: map[string]bool{}, members: map[string]bool{}}
			byKey[ks.key] = s
			order = append(order, ks.key)
		}
		if ks.country != "" {
			s.countries[ks.country] = true
		}
		s.members[a.Member] = true
		s.ev.first = min(s.ev.first, ks.at)
	}
	out := make([]keyEvidence, 0, len(order))
	for _, k := range order {
		s := byKey[k]
		s.ev.countries, s.ev.members = len(s.countries), len(s.members)
		out = append(out, s.ev)
	}
	return out
}

// add puts one visible alert into the incident's facts.
func (in *Incident) add(a *alert.Alert, country string) {
	e := TimelineEntry{
		AlertID: a.ID, EventTime: a.EventTime, LastSeen: a.LastSeen, Detected: a.Detected,
		Member: a.Member, Country: country, Techniques: a.Techniques, Detector: a.Detector,
		RuleID: a.RuleID, RuleTitle: a.RuleTitle, Severity: a.Severity, Count: a.Count,
	}
	for _, t := range a.Techniques {
		if tac := TacticOf(t); tac != "" && (e.Phase == 0 || tac.Phase() < e.Phase) {
			e.Tactic, e.Phase = tac, tac.Phase()
		}
		if !slices.Contains(in.Techniques, t) {
			in.Techniques = append(in.Techniques, t)
		}
	}
	in.Timeline = append(in.Timeline, e)
	in.Severity = max(in.Severity, a.Severity)
	if in.FirstSeen.IsZero() || a.EventTime.Before(in.FirstSeen) {
		in.FirstSeen = a.EventTime
	}
	if ls := lastSeen(a); ls.After(in.LastSeen) {
		in.LastSeen = ls
	}
	if in.Detected.IsZero() || a.Detected.Before(in.Detected) {
		in.Detected = a.Detected
	}
	if !slices.Contains(in.Members, a.Member) {
		in.Members = append(in.Members, a.Member)
	}
	if country != "" && !slices.Contains(in.Countries, country) {
		in.Countries = append(in.Countries, country)
	}
	in.Entities.merge(entitiesOf(a))
}

// finish orders the incident's lists: the timeline by event time, then
// kill-chain phase (an earlier phase first when events tie), then id.
func (in *Incident) finish() {
	slices.SortFunc(in.Timeline, func(a, b TimelineEntry) int {
		return cmp.Or(a.EventTime.Compare(b.EventTime), cmp.Compare(a.Phase, b.Phase), strings.Compare(a.AlertID, b.AlertID))
	})
	for _, e := range in.Timeline {
		if e.Tactic != "" && !slices.Contains(in.Tactics, e.Tactic) {
			in.Tactics = append(in.Tactics, e.Tactic)
		}
		for _, t := range e.Techniques {
			if tac := TacticOf(t); tac != "" && !slices.Contains(in.Tactics, tac) {
				in.Tactics = append(in.Tactics, tac)
			}
		}
	}
	slices.SortFunc(in.Tactics, func(a, b Tactic) int { return a.Phase() - b.Phase() })
	slices.Sort(in.Members)
	slices.Sort(in.Countries)
	slices.Sort(in.Techniques)
}

// Incident returns one incident as v sees it; an incident v may not see
// is reported as not found (store.NotFound).
func (c *Correlator) Incident(ctx context.Context, v alert.Viewer, id string) (Incident, error) {
	views, err := c.views(ctx, v, []string{id})
	if err != nil {
		return Incident{}, err
	}
	if len(views) == 0 {
		return Incident{}, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	return views[0], nil
}

// matches reports whether an incident as a viewer sees it passes the
// filters that depend on the view: severity, span, cross-border, status
// and assignee (a member's own case of a shared incident). The query
// matched the incident's whole span and severity, which alerts the
// viewer may not see can widen.
func (f *Filter) matches(in *Incident) bool {
	return in.Severity >= f.Severity && (!f.CrossBorder || in.CrossBorder) &&
		(f.From.IsZero() || !in.LastSeen.Before(f.From)) && (f.To.IsZero() || in.FirstSeen.Before(f.To)) &&
		(f.Status == "" || in.Status == f.Status) && (f.Assignee == "" || in.Assignee == f.Assignee)
}

// Audit returns the audit trail of an incident v may see, oldest first.
// An operator reads every entry. A member reads the entries of its own
// case and the incident's facts (created, alerts added and removed,
// splits and merges), less any entry naming an alert or incident it may
// not see or made by a member it may not see in the incident: the trail
// tells no more than the incident does.
func (c *Correlator) Audit(ctx context.Context, v alert.Viewer, id string) ([]AuditEntry, error) {
	f, err := c.load(ctx, nil, []string{id})
	if err != nil {
		return nil, err
	}
	if len(f.rows) == 0 {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	in, ok := c.build(v, &f.rows[0], f)
	if !ok {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	_, caseOf, hasCase := caseFor(v, &f.rows[0], f)
	rows, err := c.db.Query(ctx, `SELECT seq, at, who, what, old, new, member, case_of FROM incident_audit
		WHERE incident_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("correlate: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	var namedAlerts, namedIncidents []string
	for rows.Next() {
		e := AuditEntry{Incident: id}
		var at int64
		var by, entryCase string
		if err := rows.Scan(&e.Seq, &at, &e.Who, &e.What, &e.Old, &e.New, &by, &entryCase); err != nil {
			return nil, err
		}
		e.At = store.Time(at)
		if e.What == "created" {
			// Entries written before titles were derived per viewer
			// carry the title after the kind; the time is the
			// incident's as the viewer sees it.
			e.New, _, _ = strings.Cut(e.New, ":")
			e.At = in.Created
		}
		if !v.Operator {
			fact := entryCase == "" && factEntries[e.What]
			mine := hasCase && entryCase == caseOf
			if !fact && !mine || (by != "" && by != v.Member && !slices.Contains(in.Members, by)) {
				continue
			}
		}
		out = append(out, e)
		switch {
		case isAlertEntry(e.What):
			namedAlerts = append(namedAlerts, e.Old, e.New)
		case incidentEntries[e.What]:
			namedIncidents = append(namedIncidents, e.New)
		}
	}
	if err := rows.Err(); err != nil || v.Operator {
		return out, err
	}
	rows.Close()
	seenAlert, err := c.visibleAlerts(ctx, v, namedAlerts)
	if err != nil {
		return nil, err
	}
	seenIncident, err := c.visibleIncidents(ctx, v, namedIncidents)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(e AuditEntry) bool {
		return (isAlertEntry(e.What) && !seenAlert[e.Old] && !seenAlert[e.New]) ||
			(incidentEntries[e.What] && !seenIncident[e.New])
	}), nil
}

// factEntries are the audit entries that record what an incident holds
// rather than anyone's case of it.
var factEntries = map[string]bool{
	"created": true, "alert added": true, "alert removed": true, "split": true, "split from": true,
	"merged": true, "merged into": true, "merged automatically": true,
}

// incidentEntries are the audit entries naming in New another incident
// that still stands, shown only to viewers of that incident. ("merged"
// names an incident emptied into this one: its alerts are here.)
var incidentEntries = map[string]bool{"split": true, "split from": true, "merged into": true}

// visibleAlerts reports which of the alerts ids v may see.
func (c *Correlator) visibleAlerts(ctx context.Context, v alert.Viewer, ids []string) (map[string]bool, error) {
	slices.Sort(ids)
	alerts, err := c.alerts.Fetch(ctx, nil, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		seen[a.ID] = v.MaySee(&a)
	}
	return seen, nil
}

// visibleIncidents reports which of the incidents ids v may see.
func (c *Correlator) visibleIncidents(ctx context.Context, v alert.Viewer, ids []string) (map[string]bool, error) {
	slices.Sort(ids)
	views, err := c.views(ctx, v, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, in := range views {
		seen[in.ID] = true
	}
	return seen, nil
}

// isAlertEntry reports whether an audit entry names an alert in Old or
// New ("alert added", "alert removed", evidence of kind alert).
func isAlertEntry(what string) bool {
	return strings.HasPrefix(what, "alert") || what == "evidence alert"
}

// stamp formats a time for the audit trail.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
