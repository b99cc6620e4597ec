package correlate

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// maxNote bounds a comment or evidence text.
const maxNote = 64 << 10

// checkChange validates a change before anything is read.
func checkChange(ch *Change, who string) error {
	if strings.TrimSpace(who) == "" {
		return fmt.Errorf("%w: a change needs the name of who makes it", ErrInvalid)
	}
	if ch.Status != "" {
		if _, err := ParseStatus(string(ch.Status)); err != nil {
			return err
		}
	}
	if len(ch.Comment) > maxNote {
		return fmt.Errorf("%w: comment longer than %d bytes", ErrInvalid, maxNote)
	}
	for _, e := range ch.Evidence {
		switch e.Kind {
		case "alert":
			if !alert.ValidID(e.Value) {
				return fmt.Errorf("%w: evidence alert %q is not an alert id", ErrInvalid, e.Value)
			}
		case "text":
			if strings.TrimSpace(e.Value) == "" || len(e.Value) > maxNote {
				return fmt.Errorf("%w: evidence text must be 1 to %d bytes", ErrInvalid, maxNote)
			}
		case "link":
			u, err := url.Parse(e.Value)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%w: evidence link %q is not an http(s) URL", ErrInvalid, e.Value)
			}
		default:
			return fmt.Errorf("%w: evidence kind %q (want alert, text or link)", ErrInvalid, e.Kind)
		}
	}
	return nil
}

// editing is one workflow transaction on one incident.
type editing struct {
	c   *Correlator
	tx  *store.Tx
	v   alert.Viewer
	by  actor
	now time.Time
	// row is the incident with the editor's case in its workflow
	// columns: the incident's own, or (by.caseOf set) the editor's case
	// of a shared incident.
	row  row
	view Incident
	f    *facts
}

// edit loads incident id inside a transaction, checks that v may change
// it, runs fn, and notifies the hooks of the incidents fn reports changed.
func (c *Correlator) edit(ctx context.Context, v alert.Viewer, id, who string, fn func(*editing) ([]string, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var changed []string
	err := c.db.InTx(ctx, func(tx *store.Tx) error {
		e, err := c.begin(ctx, tx, v, id, who)
		if err != nil {
			return err
		}
		changed, err = fn(e)
		return err
	})
	if err != nil {
		return err
	}
	return c.notify(ctx, changed)
}

// begin loads incident id for a change by v.
func (c *Correlator) begin(ctx context.Context, tx *store.Tx, v alert.Viewer, id, who string) (*editing, error) {
	f, err := c.load(ctx, tx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(f.rows) == 0 {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	e := &editing{c: c, tx: tx, v: v, by: actor{who: who}, now: c.opts.Now().UTC(), row: f.rows[0], f: f}
	var ok bool
	if e.view, ok = c.build(v, &e.row, f); !ok {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	cs, caseOf, ok := caseFor(v, &e.row, f)
	if !ok {
		return nil, fmt.Errorf("%w: incident %s involves none of %s's alerts", ErrForbidden, id, v.Member)
	}
	if !v.Operator {
		e.by.member = v.Member
	}
	if e.by.caseOf = caseOf; caseOf != "" {
		e.row.status, e.row.assignee, e.row.title, e.row.titled = cs.status, cs.assignee, cs.title, cs.titled
		e.row.acknowledged, e.row.contained, e.row.resolved, e.row.closed = cs.acknowledged, cs.contained, cs.resolved, cs.closed
		e.row.significant, e.row.significantBy = cs.significant, cs.significantBy
		e.row.earlyWarning, e.row.notification, e.row.finalReport = cs.earlyWarning, cs.notification, cs.finalReport
	}
	return e, nil
}

// audit records a change to the editor's case of the incident.
func (e *editing) audit(ctx context.Context, id, what, old, new string) error {
	return audit(ctx, e.tx, id, e.now, e.by, what, old, new)
}

// fact records a change to what an incident holds (alerts moved, a split
// or merge), which is no one's case: every viewer of the incident may
// read it, as far as it names what that viewer may see.
func (e *editing) fact(ctx context.Context, id, what, old, new string) error {
	by := e.by
	by.caseOf = ""
	return audit(ctx, e.tx, id, e.now, by, what, old, new)
}

// ownAlerts are the incident's alerts the editor acts for: all of them
// for an operator, else the editor's own. A member's decision about a
// shared cross-border incident does not set milestones on other members'
// alerts.
func (e *editing) ownAlerts() []string {
	var ids []string
	for _, t := range e.view.Timeline {
		if e.v.Owns(t.Member) {
			ids = append(ids, t.AlertID)
		}
	}
	return ids
}

// Update applies an analyst's change to an incident and returns it as v
// now sees it. v must be an operator or a member with alerts in the
// incident. Status changes follow the workflow (see CanMove); reaching
// triage, containment and resolution records the matching milestones on
// the alerts (feeding the alert response-time metrics). Every change is
// written to the audit trail.
func (c *Correlator) Update(ctx context.Context, v alert.Viewer, id string, ch Change, who string) (Incident, error) {
	if err := checkChange(&ch, who); err != nil {
		return Incident{}, err
	}
	err := c.edit(ctx, v, id, who, func(e *editing) ([]string, error) {
		return []string{id}, e.apply(ctx, &ch)
	})
	if err != nil {
		return Incident{}, err
	}
	return c.Incident(ctx, v, id)
}

func (e *editing) apply(ctx context.Context, ch *Change) error {
	r := &e.row
	if ch.Status != "" && ch.Status != Status(r.status) {
		if r.mergedInto != "" {
			return fmt.Errorf("%w: incident %s was merged into %s", ErrInvalid, r.id, r.mergedInto)
		}
		if err := e.move(ctx, ch.Status); err != nil {
			return err
		}
	}
	if ch.Assignee != nil && *ch.Assignee != r.assignee {
		if err := e.audit(ctx, r.id, "assignee", r.assignee, *ch.Assignee); err != nil {
			return err
		}
		r.assignee = *ch.Assignee
	}
	if ch.Title != nil && strings.TrimSpace(*ch.Title) != "" && (r.titled == 0 || *ch.Title != r.title) {
		// A derived title differs between viewers: the trail does not
		// quote it.
		old := ""
		if r.titled != 0 {
			old = r.title
		}
		if err := e.audit(ctx, r.id, "title", old, *ch.Title); err != nil {
			return err
		}
		r.title, r.titled = *ch.Title, 1
	}
	if strings.TrimSpace(ch.Comment) != "" {
		if err := e.note(ctx, "comment", ch.Comment); err != nil {
			return err
		}
	}
	for _, ev := range ch.Evidence {
		if ev.Kind == "alert" {
			a, err := e.c.alerts.Fetch(ctx, e.tx, []string{ev.Value})
			if err != nil {
				return err
			}
			if len(a) == 0 || !e.v.MaySee(&a[0]) {
				return fmt.Errorf("evidence alert %s: %w", ev.Value, store.ErrNotFound)
			}
		}
		if err := e.note(ctx, ev.Kind, ev.Value); err != nil {
			return err
		}
	}
	return e.save(ctx)
}

// move changes the status, stamping the incident's milestones and the
// alerts' (each milestone once: the first time counts).
func (e *editing) move(ctx context.Context, to Status) error {
	r := &e.row
	from := Status(r.status)
	if !CanMove(from, to) {
		return fmt.Errorf("%w: incident %s cannot move from %s to %s (allowed: %v)", ErrInvalid, r.id, from, to, transitions[from])
	}
	now := store.Nanos(e.now)
	setOnce := func(field *int64) {
		if *field == 0 {
			*field = now
		}
	}
	var reached []alert.Milestone
	switch to {
	case StatusTriage:
		setOnce(&r.acknowledged)
		r.closed = 0 // reopening
		reached = []alert.Milestone{alert.MilestoneAcknowledged}
	case StatusContained:
		setOnce(&r.acknowledged)
		setOnce(&r.contained)
		reached = []alert.Milestone{alert.MilestoneAcknowledged, alert.MilestoneContained}
	case StatusResolved:
		setOnce(&r.acknowledged)
		setOnce(&r.contained)
		setOnce(&r.resolved)
		reached = []alert.Milestone{alert.MilestoneAcknowledged, alert.MilestoneContained, alert.MilestoneResolved}
	case StatusClosed:
		// Closing a new incident (a false positive) resolves it without
		// anything having been contained.
		setOnce(&r.acknowledged)
		setOnce(&r.resolved)
		r.closed = now
		reached = []alert.Milestone{alert.MilestoneAcknowledged, alert.MilestoneResolved}
	}
	for _, m := range reached {
		if err := e.c.alerts.Record(ctx, e.tx, m, e.now, e.by.who, e.ownAlerts()...); err != nil {
			return err
		}
	}
	r.status = string(to)
	return e.audit(ctx, r.id, "status", string(from), string(to))
}

// note attaches a comment or evidence.
func (e *editing) note(ctx context.Context, kind, value string) error {
	if _, err := e.tx.Exec(ctx, `INSERT INTO incident_notes (incident_id, kind, value, who, at, case_of) VALUES (?, ?, ?, ?, ?, ?)`,
		e.row.id, kind, value, e.by.who, store.Nanos(e.now), e.by.caseOf); err != nil {
		return fmt.Errorf("correlate: note: %w", err)
	}
	what := kind
	if kind != "comment" {
		what = "evidence " + kind
	}
	return e.audit(ctx, e.row.id, what, "", value)
}

// save writes the workflow columns of the edited case: the incident's
// own, or the editor's case of a shared incident.
func (e *editing) save(ctx context.Context) error {
	r := &e.row
	args := []any{r.status, r.assignee, r.title, r.titled, r.acknowledged, r.contained, r.resolved, r.closed,
		r.significant, r.significantBy, r.earlyWarning, r.notification, r.finalReport, store.Nanos(e.now)}
	var err error
	if e.by.caseOf == "" {
		_, err = e.tx.Exec(ctx, `UPDATE incidents SET status = ?, assignee = ?, title = ?, titled = ?, acknowledged = ?,
			contained = ?, resolved = ?, closed = ?, significant = ?, significant_by = ?,
			early_warning = ?, notification = ?, final_report = ?, updated = ? WHERE id = ?`, append(args, r.id)...)
	} else {
		_, err = e.tx.Exec(ctx, `INSERT INTO incident_cases (`+caseColumns+`, updated, incident_id, member)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (incident_id, member) DO UPDATE SET status = excluded.status, assignee = excluded.assignee,
				title = excluded.title, titled = excluded.titled, acknowledged = excluded.acknowledged,
				contained = excluded.contained, resolved = excluded.resolved, closed = excluded.closed,
				significant = excluded.significant, significant_by = excluded.significant_by,
				early_warning = excluded.early_warning, notification = excluded.notification,
				final_report = excluded.final_report, updated = excluded.updated`,
			append(args, r.id, e.by.caseOf)...)
	}
	if err != nil {
		return fmt.Errorf("correlate: save %s: %w", r.id, err)
	}
	return nil
}

// moveCasesSQL gives incident ? the members' cases of incident ? where it
// has none of the member's own.
const moveCasesSQL = `INSERT INTO incident_cases (incident_id, member, ` + caseColumns + `, updated)
	SELECT ?, member, ` + caseColumns + `, updated FROM incident_cases WHERE incident_id = ?
	ON CONFLICT (incident_id, member) DO NOTHING`

// markMerged closes incident from for everyone, pointing at into.
func (e *editing) markMerged(ctx context.Context, from, into string) error {
	var status string
	if err := e.tx.QueryRow(ctx, `SELECT status FROM incidents WHERE id = ?`, from).Scan(&status); err != nil {
		return err
	}
	if status != string(StatusClosed) {
		if err := e.fact(ctx, from, "status", status, string(StatusClosed)); err != nil {
			return err
		}
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{moveCasesSQL, []any{into, from}},
		{`DELETE FROM incident_cases WHERE incident_id = ?`, []any{from}},
		{`UPDATE incidents SET status = ?, closed = CASE WHEN closed = 0 THEN ? ELSE closed END, merged_into = ?,
			updated = ? WHERE id = ?`, []any{string(StatusClosed), store.Nanos(e.now), into, store.Nanos(e.now), from}},
	} {
		if _, err := e.tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("correlate: merge %s into %s: %w", from, into, err)
		}
	}
	return nil
}

// membership is one incident_alerts row.
type membership struct {
	alertID, member string
	tlp, home       int64
}

// take removes the given alerts (all when ids is nil) from incident id
// and returns their rows.
func take(ctx context.Context, tx *store.Tx, id string, ids []string) ([]membership, error) {
	cond, args := "incident_id = ?", []any{id}
	if ids != nil {
		cond += " AND alert_id IN (" + placeholders(len(ids)) + ")"
		args = append(args, anys(ids)...)
	}
	rows, err := tx.Query(ctx, `SELECT alert_id, member, tlp, home FROM incident_alerts WHERE `+cond, args...)
	if err != nil {
		return nil, err
	}
	var out []membership
	for rows.Next() {
		var m membership
		if err := rows.Scan(&m.alertID, &m.member, &m.tlp, &m.home); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err = tx.Exec(ctx, `DELETE FROM incident_alerts WHERE `+cond, args...); err != nil {
		return nil, err
	}
	return out, recountCells(ctx, tx, id)
}

// put adds memberships to incident id; an alert already there becomes
// home if either row was its home. Home alerts are re-pointed at id.
func (e *editing) put(ctx context.Context, id string, ms []membership) error {
	var homes []string
	for _, m := range ms {
		if _, err := e.tx.Exec(ctx, `INSERT INTO incident_alerts (incident_id, alert_id, member, tlp, home)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident_id, alert_id)
			DO UPDATE SET home = CASE WHEN excluded.home = 1 THEN 1 ELSE incident_alerts.home END`,
			id, m.alertID, m.member, m.tlp, m.home); err != nil {
			return fmt.Errorf("correlate: move alert %s: %w", m.alertID, err)
		}
		if m.home == 1 {
			homes = append(homes, m.alertID)
		}
		if err := e.fact(ctx, id, "alert added", "", m.alertID); err != nil {
			return err
		}
	}
	return e.c.alerts.SetIncident(ctx, e.tx, id, homes...)
}

// recompute derives incident id's severity, span and countries from its
// alerts, after alerts moved.
func (c *Correlator) recompute(ctx context.Context, tx *store.Tx, id string, now time.Time) error {
	rows, err := tx.Query(ctx, `SELECT alert_id FROM incident_alerts WHERE incident_id = ?`, id)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, a)
	}
	rows.Close()
	alerts, err := c.alerts.Fetch(ctx, tx, ids)
	if err != nil {
		return err
	}
	var sev alert.Severity
	var first, last time.Time
	for i := range alerts {
		a := &alerts[i]
		sev = max(sev, a.Severity)
		if first.IsZero() || a.EventTime.Before(first) {
			first = a.EventTime
		}
		if ls := lastSeen(a); ls.After(last) {
			last = ls
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE incidents SET severity = ?, first_seen = ?, last_seen = ?, updated = ? WHERE id = ?`,
		int64(sev), store.Nanos(first), store.Nanos(last), store.Nanos(now), id); err != nil {
		return err
	}
	if err := recountCells(ctx, tx, id); err != nil {
		return err
	}
	return c.recountCountries(ctx, tx, id, now, nil)
}

// Merge moves every alert, key, comment and piece of evidence of incident
// from into incident into, and closes from with a pointer to into. v must
// be allowed to change both. It returns into as v now sees it.
func (c *Correlator) Merge(ctx context.Context, v alert.Viewer, into, from, who string) (Incident, error) {
	if into == from {
		return Incident{}, fmt.Errorf("%w: cannot merge incident %s into itself", ErrInvalid, into)
	}
	if strings.TrimSpace(who) == "" {
		return Incident{}, fmt.Errorf("%w: a merge needs the name of who makes it", ErrInvalid)
	}
	err := c.edit(ctx, v, into, who, func(e *editing) ([]string, error) {
		src, err := c.begin(ctx, e.tx, v, from, who)
		if err != nil {
			return nil, err
		}
		if e.row.mergedInto != "" || src.row.mergedInto != "" {
			return nil, fmt.Errorf("%w: incident already merged", ErrInvalid)
		}
		moved, err := take(ctx, e.tx, from, nil)
		if err != nil {
			return nil, err
		}
		if err := e.put(ctx, into, moved); err != nil {
			return nil, err
		}
		for _, q := range []string{
			`INSERT INTO incident_keys (entity, incident_id) SELECT entity, ? FROM incident_keys WHERE incident_id = ?
				ON CONFLICT (entity, incident_id) DO NOTHING`,
			`DELETE FROM incident_keys WHERE incident_id = ? AND incident_id <> ?`,
		} {
			args := []any{into, from}
			if strings.HasPrefix(q, "DELETE") {
				args = []any{from, into}
			}
			if _, err := e.tx.Exec(ctx, q, args...); err != nil {
				return nil, fmt.Errorf("correlate: merge keys: %w", err)
			}
		}
		if _, err := e.tx.Exec(ctx, `UPDATE incident_notes SET incident_id = ? WHERE incident_id = ?`, into, from); err != nil {
			return nil, fmt.Errorf("correlate: merge notes: %w", err)
		}
		if err := e.fact(ctx, into, "merged", "", from); err != nil {
			return nil, err
		}
		if err := e.fact(ctx, from, "merged into", "", into); err != nil {
			return nil, err
		}
		if err := e.markMerged(ctx, from, into); err != nil {
			return nil, err
		}
		return []string{into, from}, c.recompute(ctx, e.tx, into, e.now)
	})
	if err != nil {
		return Incident{}, err
	}
	return c.Incident(ctx, v, into)
}

// splitKind is the kind of an incident split off one of kind with the
// alerts ids: a campaign stays one only if those alerts still span two
// countries.
func (c *Correlator) splitKind(kind Kind, ids []string, f *facts) Kind {
	if kind != KindCampaign {
		return kind
	}
	var countries []string
	for _, id := range ids {
		a := f.alerts[id]
		if cc := strings.ToUpper(c.opts.MemberCountry(a.Member)); cc != "" && !slices.Contains(countries, cc) {
			countries = append(countries, cc)
		}
	}
	if len(countries) >= 2 {
		return KindCampaign
	}
	return KindLocal
}

// Split moves the given alerts of incident id into a new incident and
// returns the new incident as v sees it. v must see each alert, and at
// least one alert must stay behind. A member splits off only its own
// alerts (ErrForbidden for another member's, even one it sees): moving
// an alert out of a shared incident reshapes the owner's case, and a
// member acts only on what it owns (alert.Viewer.Owns); an operator may
// split off any. The new incident is a campaign if the
// source was one and the alerts moved still span two countries, local
// otherwise; its title is derived per viewer like any other's.
func (c *Correlator) Split(ctx context.Context, v alert.Viewer, id string, alertIDs []string, who string) (Incident, error) {
	ids := slices.Clone(alertIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return Incident{}, fmt.Errorf("%w: split needs at least one alert", ErrInvalid)
	}
	if strings.TrimSpace(who) == "" {
		return Incident{}, fmt.Errorf("%w: a split needs the name of who makes it", ErrInvalid)
	}
	var newID string
	err := c.edit(ctx, v, id, who, func(e *editing) ([]string, error) {
		inIncident := map[string]bool{}
		for _, aid := range e.view.AlertIDs() {
			inIncident[aid] = true
		}
		for _, aid := range ids {
			if !inIncident[aid] {
				return nil, fmt.Errorf("%w: alert %s is not (visibly) in incident %s", ErrInvalid, aid, id)
			}
		}
		for _, aid := range ids {
			if a := e.f.alerts[aid]; !v.Owns(a.Member) {
				return nil, fmt.Errorf("%w: alert %s belongs to another member: a member splits off only its own alerts", ErrForbidden, aid)
			}
		}
		if len(ids) >= len(e.f.members[id]) {
			return nil, fmt.Errorf("%w: split would leave incident %s empty; merge or close instead", ErrInvalid, id)
		}
		first := e.f.alerts[ids[0]]
		p := &placing{c: c, tx: e.tx, now: e.now, touched: map[string]bool{}}
		var err error
		if newID, err = p.create(ctx, c.splitKind(Kind(e.row.kind), ids, e.f), &first); err != nil {
			return nil, err
		}
		moved, err := take(ctx, e.tx, id, ids)
		if err != nil {
			return nil, err
		}
		for _, m := range moved {
			if err := e.fact(ctx, id, "alert removed", m.alertID, ""); err != nil {
				return nil, err
			}
		}
		if err := e.put(ctx, newID, moved); err != nil {
			return nil, err
		}
		if Kind(e.row.kind) == KindLocal {
			for _, aid := range ids {
				a := e.f.alerts[aid]
				if err := p.addKeys(ctx, newID, localKeys(&a)); err != nil {
					return nil, err
				}
			}
		}
		if err := e.fact(ctx, id, "split", "", newID); err != nil {
			return nil, err
		}
		if err := e.fact(ctx, newID, "split from", "", id); err != nil {
			return nil, err
		}
		if err := e.save(ctx); err != nil {
			return nil, err
		}
		if err := c.recompute(ctx, e.tx, id, e.now); err != nil {
			return nil, err
		}
		return []string{id, newID}, c.recompute(ctx, e.tx, newID, e.now)
	})
	if err != nil {
		return Incident{}, err
	}
	return c.Incident(ctx, v, newID)
}
