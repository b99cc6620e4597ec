package correlate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// SortKey names an order Incidents can list incidents in. Every key but
// SortCreated sorts on a value as the viewer sees the incident: computed
// from its visible alerts (incident_cells) and its own case, never from
// alerts it may not see.
type SortKey string

// The orders Incidents knows, each with the incident id as tiebreaker.
const (
	// SortCreated orders by when the incident was opened, which its
	// time-ordered id records: the default, newest first.
	SortCreated SortKey = "created"
	// SortUpdated orders by the Updated time the viewer is shown.
	SortUpdated SortKey = "updated"
	// SortLastSeen orders by the last event time of the visible alerts.
	SortLastSeen SortKey = "last_seen"
	// SortFirstSeen orders by the first event time of the visible alerts.
	SortFirstSeen SortKey = "first_seen"
	// SortSeverity orders by the highest severity of the visible alerts.
	SortSeverity SortKey = "severity"
	// SortAlerts orders by the number of visible alerts.
	SortAlerts SortKey = "alerts"
	// SortStatus orders by the viewer's case status in workflow order
	// (new, triage, contained, resolved, closed).
	SortStatus SortKey = "status"
	// SortNIS2Due orders by the due time of the viewer's next NIS2 report
	// not yet submitted (early warning, notification, final report, the
	// final report's month counted as 30 days); incidents without a
	// running clock come after all others in ascending order.
	SortNIS2Due SortKey = "nis2_due"
)

// SortKeys lists the sort keys Incidents accepts.
func SortKeys() []SortKey {
	return []SortKey{SortCreated, SortUpdated, SortLastSeen, SortFirstSeen, SortSeverity, SortAlerts, SortStatus, SortNIS2Due}
}

// noDeadline is the nis2_due value of an incident without a running
// clock: after every real deadline.
const noDeadline = int64(1) << 62

// Sort is the order of an incident list: a key and a direction. The zero
// Sort is the default, newest incident first.
type Sort struct {
	Key SortKey
	Asc bool
}

// ParseSort reads a sort key and an order ("asc" or "desc") from a
// client; empty strings mean created and desc.
func ParseSort(key, order string) (Sort, error) {
	o, err := store.ParseOrder(store.Names(SortKeys()), key, order)
	if err != nil {
		return Sort{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return Sort{Key: SortKey(o.Key), Asc: o.Asc}, nil
}

// order is s as the store's keyset helpers take it.
func (s Sort) order() store.Order {
	if s.Key == "" {
		s.Key = SortCreated
	}
	return store.Order{Key: string(s.Key), Asc: s.Asc}
}

// String is the sort as a client writes it: "severity desc".
func (s Sort) String() string { return s.order().String() }

// cursor is the position after the last incident of a page: the sort
// value as the viewer sees it (0 for created) and the id.
type cursor struct {
	value int64
	id    string
}

// parseCursor checks a client's cursor against sort s: the bare id in the
// default sort, else "<sort>.<order>.<value>.<id>" (store.Order.Cursor).
func parseCursor(s Sort, c string) (cursor, error) {
	v, id, err := s.order().ReadCursor(store.Names(SortKeys()), alert.ValidID, c)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if id == "" || (v == "" && s.order().Key == string(SortCreated)) {
		return cursor{id: id}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || (s.order().Key == string(SortCreated) && n != 0) {
		return cursor{}, fmt.Errorf("%w: cursor %q holds no sort value", ErrInvalid, c)
	}
	return cursor{value: n, id: id}, nil
}

// visibleCells aggregates incident_cells per incident for a viewer: n
// visible alerts, their highest severity, first and last seen, first and
// last detected; own is 1 when the viewer (member ?) has alerts there,
// has 1 when member ? has visible ones (the member filter), several 1
// when more than one member has alerts there. Its arguments are the
// visibility condition's, the viewer's member and the filtered member.
func visibleCells(vis string) string {
	return `SELECT c.incident_id,
			SUM(CASE WHEN c.ok = 1 THEN c.alerts ELSE 0 END) AS n,
			MAX(CASE WHEN c.ok = 1 THEN c.severity ELSE 0 END) AS sev,
			MIN(CASE WHEN c.ok = 1 THEN c.first_seen END) AS fs,
			MAX(CASE WHEN c.ok = 1 THEN c.last_seen ELSE 0 END) AS ls,
			MIN(CASE WHEN c.ok = 1 THEN c.first_detected END) AS fd,
			MAX(CASE WHEN c.ok = 1 THEN c.last_detected ELSE 0 END) AS ld,
			MAX(CASE WHEN c.member = ? THEN 1 ELSE 0 END) AS own,
			MAX(CASE WHEN c.ok = 1 AND c.member = ? THEN 1 ELSE 0 END) AS has,
			CASE WHEN MIN(c.member) <> MAX(c.member) THEN 1 ELSE 0 END AS several
		FROM (SELECT incident_id, member, alerts, severity, first_seen, last_seen, first_detected, last_detected,
			CASE WHEN ` + vis + ` THEN 1 ELSE 0 END AS ok FROM incident_cells) c
		GROUP BY c.incident_id`
}

// greatest is the larger of two SQL integer expressions.
func greatest(a, b string) string {
	return "CASE WHEN " + a + " > " + b + " THEN " + a + " ELSE " + b + " END"
}

// caseColumns returns the SQL of the columns of the case v is shown of
// each incident (see caseFor): for an operator the incident's own; for a
// member its own case of a shared incident (from ic), the incident's
// when its alerts alone are there, and none (zero values, status new on
// a shared incident) where it has no alerts. col is a column both tables
// have; zero its value without a case.
func caseColumn(v alert.Viewer, col, zero string) string {
	if v.Operator {
		return "i." + col
	}
	shared := "(i.kind = 'campaign' OR s.several = 1)"
	none := zero
	if col == "status" {
		none = "CASE WHEN " + shared + " THEN 'new' ELSE i.status END"
	}
	return "CASE WHEN s.own = 1 AND NOT " + shared + " THEN i." + col +
		" WHEN s.own = 1 THEN COALESCE(ic." + col + ", " + zero + ") ELSE " + none + " END"
}

// sortValue is the SQL of key k's value for viewer v over the columns
// listQuery's inner select names.
func sortValue(v alert.Viewer, k SortKey) string {
	switch k {
	case SortUpdated:
		if v.Operator {
			return "x.updated"
		}
		// As Incident.visibleTimes: the incident's own time when the
		// viewer's alerts alone are there, else the latest of its
		// creation (not before the first visible detection), the last
		// visible detection and the viewer's own case.
		return "CASE WHEN x.mode = 0 THEN x.updated ELSE " +
			greatest(greatest("x.created", "x.fd"), greatest("x.ld", "x.case_updated")) + " END"
	case SortLastSeen:
		return "x.ls"
	case SortFirstSeen:
		return "x.fs"
	case SortSeverity:
		return "x.sev"
	case SortAlerts:
		return "x.n"
	case SortStatus:
		return `CASE x.status WHEN 'new' THEN 0 WHEN 'triage' THEN 1 WHEN 'contained' THEN 2
			WHEN 'resolved' THEN 3 ELSE 4 END`
	case SortNIS2Due:
		const day = int64(24 * time.Hour)
		return fmt.Sprintf(`CASE WHEN x.significant = 0 THEN %[1]d WHEN x.early_warning = 0 THEN x.significant + %[2]d
			WHEN x.notification = 0 THEN x.significant + %[3]d WHEN x.final_report = 0 THEN x.notification + %[4]d
			ELSE %[1]d END`, noDeadline, day, 3*day, 30*day)
	}
	return "0"
}

// Incidents returns the incidents v may see that match f in f.Sort's
// order, a page at a time: keyset pagination on the sort value as v sees
// it and the incident id. The filters on what v sees (severity, span,
// status, assignee, member) are applied in the query, so pages are full;
// a page may still hold fewer than Limit incidents while Next leads on
// when an incident is left out as built for v (a campaign that crosses
// no border in what v sees, cross-border in the whole but not for v).
// (An incident whose sort value changes between pages may be listed
// twice or not at all, as in any keyset walk.)
func (c *Correlator) Incidents(ctx context.Context, v alert.Viewer, f Filter) (Page, error) {
	cur, err := parseCursor(f.Sort, f.Cursor)
	if err != nil {
		return Page{}, err
	}
	if f.Status != "" {
		if _, err := ParseStatus(string(f.Status)); err != nil {
			return Page{}, err
		}
	}
	vis, vargs := v.Where("member", "tlp")
	// In the order the placeholders appear: visibleCells' member
	// columns, then its visibility condition.
	args := append([]any{v.Member, f.Member}, vargs...)
	mode := "0"
	if !v.Operator {
		mode = "CASE WHEN s.own = 1 AND NOT (i.kind = 'campaign' OR s.several = 1) THEN 0 WHEN s.own = 1 THEN 1 ELSE 2 END"
	}
	caseUpdated := "0"
	if !v.Operator {
		caseUpdated = "CASE WHEN s.own = 1 THEN COALESCE(ic.updated, 0) ELSE 0 END"
	}
	inner := `SELECT i.id, i.created, i.updated, ` + mode + ` AS mode, ` + caseUpdated + ` AS case_updated,
			COALESCE(s.n, 0) AS n, COALESCE(s.sev, 0) AS sev, COALESCE(s.fs, 0) AS fs, COALESCE(s.ls, 0) AS ls,
			COALESCE(s.fd, 0) AS fd, COALESCE(s.ld, 0) AS ld,
			` + caseColumn(v, "status", "'new'") + ` AS status, ` + caseColumn(v, "assignee", "''") + ` AS assignee,
			` + caseColumn(v, "significant", "0") + ` AS significant, ` + caseColumn(v, "early_warning", "0") + ` AS early_warning,
			` + caseColumn(v, "notification", "0") + ` AS notification, ` + caseColumn(v, "final_report", "0") + ` AS final_report
		FROM incidents i LEFT JOIN (` + visibleCells(vis) + `) s ON s.incident_id = i.id
			LEFT JOIN incident_cases ic ON ic.incident_id = i.id AND ic.member = ?`
	args = append(args, v.Member)
	var conds []string
	add := func(cond string, a ...any) { conds = append(conds, cond); args = append(args, a...) }
	if !v.Operator {
		add("s.n > 0")
	}
	if f.Member != "" {
		add("s.has = 1")
	}
	if f.Kind != "" {
		add("i.kind = ?", string(f.Kind))
	}
	if f.CrossBorder {
		// Necessary, not sufficient: what v sees must cross a border
		// too (matches, below).
		add("i.cross_border = 1")
	}
	if !f.Merged {
		add("i.merged_into = ''")
	}
	if len(conds) > 0 {
		inner += " WHERE " + strings.Join(conds, " AND ")
	}
	conds = conds[:0]
	if !f.From.IsZero() {
		add("x.ls >= ?", store.Nanos(f.From))
	}
	if !f.To.IsZero() {
		add("x.fs < ?", store.Nanos(f.To))
	}
	if f.Severity > alert.Informational {
		add("x.sev >= ?", int64(f.Severity))
	}
	if f.Status != "" {
		add("x.status = ?", string(f.Status))
	}
	if f.Assignee != "" {
		add("x.assignee = ?", f.Assignee)
	}
	s := f.Sort
	if s.Key == "" {
		s.Key = SortCreated
	}
	dir, op := " DESC", " < "
	if s.Asc {
		dir, op = " ASC", " > "
	}
	outer := `SELECT x.id, ` + sortValue(v, s.Key) + ` AS k FROM (` + inner + `) x`
	if len(conds) > 0 {
		outer += " WHERE " + strings.Join(conds, " AND ")
	}
	q := `SELECT id, k FROM (` + outer + `) y`
	if cur.id != "" {
		q += " WHERE (k, id)" + op + "(?, ?)"
		args = append(args, cur.value, cur.id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q += fmt.Sprintf(" ORDER BY k%s, id%s LIMIT %d", dir, dir, limit+1)
	rows, err := c.db.Query(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("correlate: incidents: %w", err)
	}
	var ids []string
	var last cursor
	for rows.Next() {
		var id string
		var k int64
		if err := rows.Scan(&id, &k); err != nil {
			rows.Close()
			return Page{}, err
		}
		if len(ids) < limit {
			last = cursor{value: k, id: id}
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("correlate: incidents: %w", err)
	}
	var p Page
	if len(ids) > limit {
		ids = ids[:limit]
		p.Next = s.order().Cursor(string(SortCreated), strconv.FormatInt(last.value, 10), last.id)
	}
	views, err := c.views(ctx, v, ids)
	if err != nil {
		return Page{}, err
	}
	for _, in := range views {
		if f.matches(&in) {
			p.Incidents = append(p.Incidents, in)
		}
	}
	return p, nil
}
