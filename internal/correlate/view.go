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
}

const rowColumns = `id, kind, title, status, assignee, countries, merged_into, significant_by, severity,
	cross_border, first_seen, last_seen, created, updated, acknowledged, contained, resolved, closed,
	significant, early_warning, notification, final_report`

func scanRow(rows *sql.Rows) (row, error) {
	var r row
	err := rows.Scan(&r.id, &r.kind, &r.title, &r.status, &r.assignee, &r.countries, &r.mergedInto,
		&r.significantBy, &r.severity, &r.crossBorder, &r.firstSeen, &r.lastSeen, &r.created, &r.updated,
		&r.acknowledged, &r.contained, &r.resolved, &r.closed, &r.significant, &r.earlyWarning,
		&r.notification, &r.finalReport)
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
	notes   map[string][]Note
}

// load reads the incidents ids with their alerts and notes, inside tx if
// it is not nil.
func (c *Correlator) load(ctx context.Context, tx *store.Tx, ids []string) (*facts, error) {
	var q querier = c.db
	if tx != nil {
		q = tx
	}
	f := &facts{members: map[string][]string{}, alerts: map[string]alert.Alert{}, notes: map[string][]Note{}}
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
	rows, err = q.Query(ctx, `SELECT id, incident_id, kind, value, who, at FROM incident_notes
		WHERE incident_id IN `+in+` ORDER BY id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("correlate: load notes: %w", err)
	}
	for rows.Next() {
		var n Note
		var inc string
		var at int64
		if err := rows.Scan(&n.ID, &inc, &n.Kind, &n.Value, &n.Who, &at); err != nil {
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
// This is where withholding happens: every list comes from visible alerts.
func (c *Correlator) build(v alert.Viewer, r *row, f *facts) (Incident, bool) {
	in := Incident{
		ID: r.id, Kind: Kind(r.kind), Title: r.title, Status: Status(r.status), Assignee: r.assignee,
		Created: store.Time(r.created), Updated: store.Time(r.updated), CrossBorder: r.crossBorder != 0,
		Countries: strings.Fields(r.countries), MergedInto: r.mergedInto,
		Acknowledged: store.Time(r.acknowledged), Contained: store.Time(r.contained),
		Resolved: store.Time(r.resolved), Closed: store.Time(r.closed),
		Timeline: []TimelineEntry{},
	}
	visible := map[string]bool{}
	for _, id := range f.members[r.id] {
		a, ok := f.alerts[id]
		if !ok {
			continue
		}
		if !v.MaySee(&a) {
			in.WithheldAlerts++
			continue
		}
		visible[id] = true
		in.add(&a, strings.ToUpper(c.opts.MemberCountry(a.Member)))
	}
	if len(visible) == 0 && !v.Operator {
		return Incident{}, false
	}
	in.finish()
	for _, n := range f.notes[r.id] {
		switch n.Kind {
		case "comment":
			in.Comments = append(in.Comments, n)
		case "alert":
			if a, ok := f.alerts[n.Value]; ok && v.MaySee(&a) {
				in.Evidence = append(in.Evidence, n)
			}
		default:
			in.Evidence = append(in.Evidence, n)
		}
	}
	in.NIS2 = nis2Of(r, c.opts.Now())
	return in, true
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

// Incidents returns the incidents v may see that match f, newest first.
// Severity is matched against what v sees, so a page may hold fewer than
// Limit incidents while Next still leads on.
func (c *Correlator) Incidents(ctx context.Context, v alert.Viewer, f Filter) (Page, error) {
	cursor, err := alert.ParseCursor(f.Cursor)
	if err != nil {
		return Page{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	vis, vargs := v.Where("ia.member", "ia.tlp")
	conds := []string{}
	var args []any
	add := func(cond string, a ...any) { conds = append(conds, cond); args = append(args, a...) }
	if !v.Operator {
		add(`EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = incidents.id AND `+vis+`)`, vargs...)
	}
	if f.Member != "" {
		add(`EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = incidents.id AND ia.member = ? AND `+vis+`)`,
			append([]any{f.Member}, vargs...)...)
	}
	if !f.From.IsZero() {
		add("last_seen >= ?", store.Nanos(f.From))
	}
	if !f.To.IsZero() {
		add("first_seen < ?", store.Nanos(f.To))
	}
	if f.Status != "" {
		if _, err := ParseStatus(string(f.Status)); err != nil {
			return Page{}, err
		}
		add("status = ?", string(f.Status))
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	if f.CrossBorder {
		add("cross_border = 1")
	}
	if !f.Merged {
		add("merged_into = ''")
	}
	if f.Severity > alert.Informational {
		add("severity >= ?", int64(f.Severity))
	}
	if f.Assignee != "" {
		add("assignee = ?", f.Assignee)
	}
	if cursor != "" {
		add("id < ?", cursor)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	where := "1 = 1"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	rows, err := c.db.Query(ctx, fmt.Sprintf(`SELECT id FROM incidents WHERE %s ORDER BY id DESC LIMIT %d`, where, limit+1), args...)
	if err != nil {
		return Page{}, fmt.Errorf("correlate: incidents: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return Page{}, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var p Page
	if len(ids) > limit {
		ids = ids[:limit]
		p.Next = ids[limit-1]
	}
	views, err := c.views(ctx, v, ids)
	if err != nil {
		return Page{}, err
	}
	for _, in := range views {
		if in.Severity >= f.Severity {
			p.Incidents = append(p.Incidents, in)
		}
	}
	return p, nil
}

// Audit returns the audit trail of an incident v may see, oldest first.
// Entries naming an alert v may not see are left out.
func (c *Correlator) Audit(ctx context.Context, v alert.Viewer, id string) ([]AuditEntry, error) {
	if _, err := c.Incident(ctx, v, id); err != nil {
		return nil, err
	}
	rows, err := c.db.Query(ctx, `SELECT seq, at, who, what, old, new FROM incident_audit WHERE incident_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("correlate: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	var named []string
	for rows.Next() {
		e := AuditEntry{Incident: id}
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Who, &e.What, &e.Old, &e.New); err != nil {
			return nil, err
		}
		e.At = store.Time(at)
		out = append(out, e)
		if isAlertEntry(e.What) {
			named = append(named, e.Old, e.New)
		}
	}
	if err := rows.Err(); err != nil || v.Operator {
		return out, err
	}
	slices.Sort(named)
	alerts, err := c.alerts.Fetch(ctx, nil, slices.Compact(named))
	if err != nil {
		return nil, err
	}
	visible := map[string]bool{}
	for _, a := range alerts {
		visible[a.ID] = v.MaySee(&a)
	}
	return slices.DeleteFunc(out, func(e AuditEntry) bool {
		return isAlertEntry(e.What) && !visible[e.Old] && !visible[e.New]
	}), nil
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
