package alert

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// querier is what *store.DB and *store.Tx have in common, so that reads
// and writes can join a caller's transaction.
type querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// on returns tx when the caller passed one, else the service's store.
func (s *Service) on(tx *store.Tx) querier {
	if tx != nil {
		return tx
	}
	return s.db
}

const alertColumns = `id, status, incident, hits, event_time, last_seen, detected, acknowledged,
	acknowledged_by, contained, resolved, closed, closed_by, verdict, doc`

// selectAlerts runs "SELECT alertColumns FROM alerts WHERE cond".
func (s *Service) selectAlerts(ctx context.Context, q querier, cond string, args []any) ([]Alert, error) {
	rows, err := q.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("alert: query: %w", err)
	}
	return scanAlerts(rows)
}

// scanAlerts decodes and closes rows of alertColumns.
func scanAlerts(rows *sql.Rows) ([]Alert, error) {
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert: query: %w", err)
	}
	return out, nil
}

// scanAlert decodes one row: doc holds what detection and folding set,
// the columns hold the workflow state, which changes without rewriting doc.
func scanAlert(rows *sql.Rows) (Alert, error) {
	var (
		a                                                                        Alert
		id, status, incident, ackBy, closedBy, verdict, doc                      string
		hits                                                                     int
		eventTime, lastSeen, detected, acknowledged, contained, resolved, closed int64
	)
	if err := rows.Scan(&id, &status, &incident, &hits, &eventTime, &lastSeen, &detected, &acknowledged,
		&ackBy, &contained, &resolved, &closed, &closedBy, &verdict, &doc); err != nil {
		return a, fmt.Errorf("alert: scan: %w", err)
	}
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return a, fmt.Errorf("alert: decode %s: %w", id, err)
	}
	a.ID, a.Status, a.Incident, a.Count = id, Status(status), incident, hits
	a.EventTime, a.LastSeen, a.Detected = store.Time(eventTime), store.Time(lastSeen), store.Time(detected)
	a.Acknowledged, a.AcknowledgedBy = store.Time(acknowledged), ackBy
	a.Contained, a.Resolved = store.Time(contained), store.Time(resolved)
	a.Closed, a.ClosedBy, a.Verdict = store.Time(closed), closedBy, Verdict(verdict)
	return a, nil
}

// Filter selects alerts in List. Zero fields do not filter.
type Filter struct {
	// From and To bound Detected: From <= Detected < To.
	From, To time.Time
	// Severity is the minimum severity.
	Severity Severity
	// Members restricts to alerts owned by these members.
	Members []string
	Status  Status
	// Technique matches an ATT&CK id; a technique matches its
	// sub-techniques too ("T1059" finds "T1059.001").
	Technique string
	Detector  string
	RuleID    string
	// Incident matches the alerts whose home incident it is (see
	// Alert.Incident).
	Incident string
	// IDs, when not nil, restricts to these alerts (an empty list
	// matches none): the alerts of an incident they are not at home in,
	// such as a cross-border campaign.
	IDs []string
	// Limit is the page size: 0 means 100, at most 1000.
	Limit int
	// Sort orders the list; the zero Sort is newest detected first.
	Sort Sort
	// Cursor is a Page.Next from the previous page of the same Sort.
	Cursor string
}

// Page is one page of alerts in the filter's order. Next is the cursor of the
// following page, empty on the last.
type Page struct {
	Alerts []Alert `json:"alerts"`
	Next   string  `json:"next,omitempty"`
}

var techniquePattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// ParseCursor checks a page cursor from a client; a cursor is the id of
// the last alert of the previous page.
func ParseCursor(s string) (string, error) {
	if s == "" || ValidID(s) {
		return s, nil
	}
	return "", fmt.Errorf("%w: cursor %q is not an alert id", ErrInvalid, s)
}

// where renders f (without the cursor) as SQL conditions.
func (f *Filter) where() ([]string, []any, error) {
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if !f.From.IsZero() {
		add("detected >= ?", store.Nanos(f.From))
	}
	if !f.To.IsZero() {
		add("detected < ?", store.Nanos(f.To))
	}
	if f.Severity > Critical {
		return nil, nil, fmt.Errorf("%w: severity %d", ErrInvalid, f.Severity)
	}
	if f.Severity > Informational {
		add("severity >= ?", int64(f.Severity))
	}
	if len(f.Members) > 0 {
		add("member IN ("+placeholders(len(f.Members))+")", anys(f.Members)...)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Technique != "" {
		t := strings.ToUpper(strings.TrimSpace(f.Technique))
		if !techniquePattern.MatchString(t) {
			return nil, nil, fmt.Errorf("%w: technique %q is not an ATT&CK id like T1059 or T1059.001", ErrInvalid, f.Technique)
		}
		add("(techniques LIKE ? OR techniques LIKE ?)", "% "+t+" %", "% "+t+".%")
	}
	if f.Detector != "" {
		add("detector = ?", f.Detector)
	}
	if f.RuleID != "" {
		add("rule_id = ?", f.RuleID)
	}
	if f.Incident != "" {
		add("incident = ?", f.Incident)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			add("1 = 0")
		} else {
			add("id IN ("+placeholders(len(f.IDs))+")", anys(f.IDs)...)
		}
	}
	return conds, args, nil
}

// List returns the alerts v may see that match f in f.Sort's order, a
// page at a time: keyset pagination on the sort column and the
// time-ordered id, so pages stay stable while new alerts arrive. (An
// alert whose sort column changes between pages, a status or count, may
// be listed twice or not at all, as in any keyset walk.)
func (s *Service) List(ctx context.Context, v Viewer, f Filter) (Page, error) {
	conds, args, err := f.where()
	if err != nil {
		return Page{}, err
	}
	cur, err := parseCursor(f.Sort, f.Cursor)
	if err != nil {
		return Page{}, err
	}
	if cur.id != "" {
		cond, cargs := cur.after(f.Sort)
		conds = append(conds, cond)
		args = append(args, cargs...)
	}
	vis, vargs := v.Where("member", "tlp")
	conds = append(conds, vis)
	args = append(args, vargs...)
	if f.Sort.Key == SortTriage && !v.Operator {
		// Scores are their owners': ordering others' alerts by theirs
		// would reveal them.
		conds = append(conds, "member = ?")
		args = append(args, v.Member)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	alerts, err := s.selectAlerts(ctx, s.db, strings.Join(conds, " AND ")+
		fmt.Sprintf(" ORDER BY %s LIMIT %d", f.Sort.orderBy(), limit+1), args)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if len(alerts) > limit {
		alerts = alerts[:limit]
		p.Next = cursorOf(f.Sort, &alerts[limit-1])
	}
	// The SQL condition is derived from MaySee; checking again costs
	// little and keeps a mistake there from leaking anything.
	for _, a := range alerts {
		if v.MaySee(&a) {
			v.hideTriage(&a)
			p.Alerts = append(p.Alerts, a)
		}
	}
	return p, nil
}

// Get returns one alert if v may see it; otherwise, as when it does not
// exist, an error satisfying store.NotFound.
func (s *Service) Get(ctx context.Context, v Viewer, id string) (Alert, error) {
	a, err := s.one(ctx, s.db, id)
	if err != nil {
		return Alert{}, err
	}
	if !v.MaySee(&a) {
		return Alert{}, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
	}
	v.hideTriage(&a)
	return a, nil
}

func (s *Service) one(ctx context.Context, q querier, id string) (Alert, error) {
	alerts, err := s.selectAlerts(ctx, q, "id = ?", []any{id})
	if err != nil {
		return Alert{}, err
	}
	if len(alerts) == 0 {
		return Alert{}, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
	}
	return alerts[0], nil
}

// Fetch returns the alerts with the given ids, in id order, without
// visibility checks: it is for xsoc's own services (the incident
// correlator), which apply Viewer.MaySee themselves. Unknown ids are
// skipped.
func (s *Service) Fetch(ctx context.Context, tx *store.Tx, ids []string) ([]Alert, error) {
	var out []Alert
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		alerts, err := s.selectAlerts(ctx, s.on(tx), "id IN ("+placeholders(len(chunk))+") ORDER BY id", anys(chunk))
		if err != nil {
			return nil, err
		}
		out = append(out, alerts...)
	}
	return out, nil
}

// SetIncident records that the alerts belong to incident (empty detaches
// them), inside tx when it is not nil.
func (s *Service) SetIncident(ctx context.Context, tx *store.Tx, incident string, ids ...string) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		if _, err := s.on(tx).Exec(ctx, `UPDATE alerts SET incident = ? WHERE id IN (`+placeholders(len(chunk))+`)`,
			append([]any{incident}, anys(chunk)...)...); err != nil {
			return fmt.Errorf("alert: set incident: %w", err)
		}
	}
	return nil
}

// Ack acknowledges an alert of v's own (operators: any) on behalf of who.
// Acknowledging twice keeps the first time; a closed alert cannot be
// acknowledged.
func (s *Service) Ack(ctx context.Context, v Viewer, id, who string) (Alert, error) {
	return s.transition(ctx, v, id, func(a *Alert, now time.Time) ([]measure, bool, error) {
		switch a.Status {
		case StatusClosed:
			return nil, false, fmt.Errorf("%w: alert %s is closed", ErrInvalid, id)
		case StatusAcknowledged:
			return nil, false, nil
		}
		a.Status, a.Acknowledged, a.AcknowledgedBy = StatusAcknowledged, now, who
		return []measure{timeToAcknowledge}, true, nil
	})
}

// Close closes an alert of v's own (operators: any) on behalf of who. An
// alert closed before it was acknowledged or resolved counts as both at
// the closing time: closing is the analyst's final word on it.
func (s *Service) Close(ctx context.Context, v Viewer, id, who string) (Alert, error) {
	return s.transition(ctx, v, id, func(a *Alert, now time.Time) ([]measure, bool, error) {
		ms, closed := closing(a, who, now)
		return ms, closed, nil
	})
}

// closing closes a at now on behalf of who, unless it is closed already,
// and returns the response times it reached and whether it closed it.
func closing(a *Alert, who string, now time.Time) ([]measure, bool) {
	if a.Status == StatusClosed {
		return nil, false
	}
	var ms []measure
	if a.Acknowledged.IsZero() {
		a.Acknowledged, a.AcknowledgedBy = now, who
		ms = append(ms, timeToAcknowledge)
	}
	if a.Resolved.IsZero() {
		a.Resolved = now
		ms = append(ms, timeToResolve)
	}
	a.Status, a.Closed, a.ClosedBy = StatusClosed, now, who
	return ms, true
}

// transition loads, checks, changes (via fn) and stores one alert, then
// observes the response times fn reached. fn says whether it changed the
// alert; an unchanged alert is not written.
func (s *Service) transition(ctx context.Context, v Viewer, id string, fn func(*Alert, time.Time) ([]measure, bool, error)) (Alert, error) {
	now := s.opts.Now().UTC()
	var a Alert
	var reached []measure
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = s.one(ctx, tx, id); err != nil {
			return err
		}
		if !v.MaySee(&a) {
			return fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
		}
		if !v.Owns(a.Member) {
			return fmt.Errorf("%w: alert %s belongs to %s", ErrForbidden, id, a.Member)
		}
		var changed bool
		if reached, changed, err = fn(&a, now); err != nil || !changed {
			return err
		}
		return s.writeWorkflow(ctx, tx, &a)
	})
	if err != nil {
		return Alert{}, err
	}
	for _, m := range reached {
		s.times.observe(m, &a, a.milestone(m))
	}
	return a, nil
}

// writeWorkflow stores the workflow columns of a.
func (s *Service) writeWorkflow(ctx context.Context, q querier, a *Alert) error {
	_, err := q.Exec(ctx, `UPDATE alerts SET status = ?, acknowledged = ?, acknowledged_by = ?, contained = ?,
		resolved = ?, closed = ?, closed_by = ?, verdict = ? WHERE id = ?`,
		string(a.Status), store.Nanos(a.Acknowledged), a.AcknowledgedBy, store.Nanos(a.Contained),
		store.Nanos(a.Resolved), store.Nanos(a.Closed), a.ClosedBy, string(a.Verdict), a.ID)
	if err != nil {
		return fmt.Errorf("alert: update %s: %w", a.ID, err)
	}
	return nil
}

// Milestone is a step of the response to an alert that incident handling
// reaches on the alert's behalf.
type Milestone uint8

// The milestones Record accepts.
const (
	// MilestoneAcknowledged: an analyst took the alert (or its incident)
	// up; a new alert becomes acknowledged.
	MilestoneAcknowledged Milestone = iota + 1
	// MilestoneContained: the threat behind the alert was contained.
	MilestoneContained
	// MilestoneResolved: the threat was removed and systems restored.
	MilestoneResolved
)

// Record marks milestone m reached at time at, by who, on the alerts ids,
// inside tx when it is not nil. Each milestone is recorded once per alert:
// the first time counts, later calls leave it alone. The response-time
// histograms observe each newly reached milestone at once, even if tx
// later rolls back.
func (s *Service) Record(ctx context.Context, tx *store.Tx, m Milestone, at time.Time, who string, ids ...string) error {
	if m < MilestoneAcknowledged || m > MilestoneResolved {
		return fmt.Errorf("%w: milestone %d", ErrInvalid, m)
	}
	alerts, err := s.Fetch(ctx, tx, ids)
	if err != nil {
		return err
	}
	at = at.UTC()
	for i := range alerts {
		a := &alerts[i]
		if !a.milestone(measure(m)).IsZero() {
			continue
		}
		switch m {
		case MilestoneAcknowledged:
			a.Acknowledged, a.AcknowledgedBy = at, who
			if a.Status == StatusNew {
				a.Status = StatusAcknowledged
			}
		case MilestoneContained:
			a.Contained = at
		case MilestoneResolved:
			a.Resolved = at
		}
		if err := s.writeWorkflow(ctx, s.on(tx), a); err != nil {
			return err
		}
		s.times.observe(measure(m), a, at)
	}
	return nil
}
