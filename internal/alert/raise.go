package alert

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// raising is the state of one Raise transaction: the alerts it loaded or
// created, by id and by fingerprint, and the event ids it folded.
type raising struct {
	s       *Service
	now     time.Time
	byID    map[string]*working
	byFP    map[string][]*working
	order   []*working
	seen    map[string]bool // fingerprint + "\x00" + event id folded in this batch
	created map[string]bool // ids of alerts this batch opened
}

// The statements Raise runs once or more per detection.
const (
	queryFolded = `SELECT alert_id FROM alert_events WHERE fingerprint = ? AND event_id = ?`
	queryOpen   = `SELECT ` + alertColumns + ` FROM alerts WHERE fingerprint = ? AND status <> 'closed'
		AND last_seen >= ? AND event_time <= ? ORDER BY last_seen DESC LIMIT 4`
	upsertAlert = `INSERT INTO alerts (id, fingerprint, member, detector, rule_id, severity, tlp,
			techniques, status, hits, event_time, last_seen, detected, doc, triage)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, tlp = excluded.tlp,
			techniques = excluded.techniques, hits = excluded.hits, event_time = excluded.event_time,
			last_seen = excluded.last_seen, doc = excluded.doc`
	insertEvent = `INSERT INTO alert_events (fingerprint, event_id, alert_id) VALUES (?, ?, ?)
		ON CONFLICT (fingerprint, event_id) DO NOTHING`
)

// working is one alert in a raising, with what must be written for it.
type working struct {
	a         Alert
	fp        string
	changed   bool
	newEvents []string
}

func newRaising(s *Service, now time.Time) *raising {
	return &raising{
		s: s, now: now,
		byID:    map[string]*working{},
		byFP:    map[string][]*working{},
		seen:    map[string]bool{},
		created: map[string]bool{},
	}
}

// fold applies one detection: a replay changes nothing, a repeat within
// the window folds into its open alert, anything else opens a new alert.
func (r *raising) fold(ctx context.Context, tx *store.Tx, in Alert) error {
	in.Key = dedupKey(&in)
	in.EventTime = in.EventTime.UTC()
	fp := fingerprint(&in)
	fresh, folded, err := r.freshEvents(ctx, tx, fp, in.EventIDs)
	if err != nil {
		return err
	}
	if len(in.EventIDs) > 0 && len(fresh) == 0 {
		// Every event was folded before: a replay. Show the caller the
		// alert it went into, unchanged.
		if folded != "" {
			return r.load(ctx, tx, "id = ?", folded)
		}
		return nil
	}
	w, err := r.target(ctx, tx, fp, in.EventTime)
	if err != nil {
		return err
	}
	if w == nil {
		w = r.open(in, fp)
	} else {
		r.merge(w, &in, fresh)
	}
	w.changed = true
	w.newEvents = append(w.newEvents, fresh...)
	for _, id := range fresh {
		r.seen[fp+"\x00"+id] = true
	}
	return nil
}

// freshEvents returns the event ids not yet folded under fp, and the id of
// an alert one of the others was folded into.
func (r *raising) freshEvents(ctx context.Context, tx *store.Tx, fp string, ids []string) (fresh []string, folded string, err error) {
	candidates := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || slices.Contains(candidates, id) {
			continue
		}
		if r.seen[fp+"\x00"+id] {
			folded = r.inBatch(fp)
			continue
		}
		candidates = append(candidates, id)
	}
	if len(candidates) == 0 {
		return nil, folded, nil
	}
	known := map[string]string{}
	for _, id := range candidates {
		var al string
		switch err := tx.QueryRow(ctx, queryFolded, fp, id).Scan(&al); {
		case err == nil:
			known[id] = al
		case !errors.Is(err, sql.ErrNoRows):
			return nil, "", err
		}
	}
	for _, id := range candidates {
		if al, ok := known[id]; ok {
			folded = al
			continue
		}
		fresh = append(fresh, id)
	}
	return fresh, folded, nil
}

// inBatch returns the id of the latest alert of fp in this batch.
func (r *raising) inBatch(fp string) string {
	if ws := r.byFP[fp]; len(ws) > 0 {
		return ws[len(ws)-1].a.ID
	}
	return ""
}

// target finds the open alert of fp whose event-time span, widened by the
// window, covers t: first among the batch's alerts, then in the store.
func (r *raising) target(ctx context.Context, tx *store.Tx, fp string, t time.Time) (*working, error) {
	win := r.s.opts.DedupWindow
	covers := func(a *Alert) bool {
		return a.Status != StatusClosed && !t.Before(a.EventTime.Add(-win)) && !t.After(a.LastSeen.Add(win))
	}
	// scan picks the covering alert seen most recently.
	scan := func() *working {
		var best *working
		for _, w := range r.byFP[fp] {
			if covers(&w.a) && (best == nil || w.a.LastSeen.After(best.a.LastSeen)) {
				best = w
			}
		}
		return best
	}
	if w := scan(); w != nil {
		return w, nil
	}
	rows, err := tx.Query(ctx, queryOpen, fp, store.Nanos(t.Add(-win)), store.Nanos(t.Add(win)))
	if err != nil {
		return nil, err
	}
	alerts, err := scanAlerts(rows)
	if err != nil {
		return nil, err
	}
	r.keep(alerts)
	return scan(), nil
}

// load reads the alerts matching cond into the working set, keeping the
// working copy of any already there.
func (r *raising) load(ctx context.Context, tx *store.Tx, cond string, args ...any) error {
	alerts, err := r.s.selectAlerts(ctx, tx, cond, args)
	if err != nil {
		return err
	}
	r.keep(alerts)
	return nil
}

// keep adds alerts read from the store to the working set, keeping the
// working copy of any already there.
func (r *raising) keep(alerts []Alert) {
	for _, a := range alerts {
		if _, ok := r.byID[a.ID]; ok {
			continue
		}
		r.add(&working{a: a, fp: fingerprint(&a)})
	}
}

func (r *raising) add(w *working) {
	r.byID[w.a.ID] = w
	r.byFP[w.fp] = append(r.byFP[w.fp], w)
	r.order = append(r.order, w)
}

// open starts a new alert from a detection.
func (r *raising) open(in Alert, fp string) *working {
	a := in
	a.ID = NewID(r.now)
	a.Detected = r.now
	a.LastSeen = a.EventTime
	a.Status = StatusNew
	a.Count = max(in.Count, 1)
	a.Incident = ""
	a.Acknowledged, a.AcknowledgedBy, a.Contained, a.Resolved, a.Closed, a.ClosedBy = time.Time{}, "", time.Time{}, time.Time{}, time.Time{}, ""
	a.Techniques = normaliseTechniques(a.Techniques)
	a.EventIDs = dedupStrings(a.EventIDs, r.s.opts.MaxEventIDs)
	if len(a.Evidence) > r.s.opts.MaxEvidence {
		a.Evidence = a.Evidence[:r.s.opts.MaxEvidence]
	}
	a.Verdict, a.Triage = "", nil
	if r.s.opts.Triage != nil {
		r.s.opts.Triage.Score(&a)
	}
	w := &working{a: a, fp: fp}
	r.created[a.ID] = true
	r.add(w)
	return w
}

// merge folds detection in (whose new event ids are fresh) into w.
func (r *raising) merge(w *working, in *Alert, fresh []string) {
	a := &w.a
	a.Count += max(in.Count, 1)
	if in.EventTime.Before(a.EventTime) {
		a.EventTime = in.EventTime
	}
	if in.EventTime.After(a.LastSeen) {
		a.LastSeen = in.EventTime
	}
	// A repeat may be graver or more restricted than the first detection:
	// the alert takes the worst of both.
	a.Severity = max(a.Severity, in.Severity)
	a.TLP = max(a.TLP, in.TLP)
	// The title is the detector's latest word on it: an IOC match names
	// the cross-border warnings known at the repeat, a model its latest
	// score.
	if in.RuleTitle != "" {
		a.RuleTitle = in.RuleTitle
	}
	a.Techniques = normaliseTechniques(append(a.Techniques, in.Techniques...))
	for _, o := range in.Observables {
		if !slices.Contains(a.Observables, o) {
			a.Observables = append(a.Observables, o)
		}
	}
	for _, id := range fresh {
		if len(a.EventIDs) < r.s.opts.MaxEventIDs {
			a.EventIDs = append(a.EventIDs, id)
		}
	}
	for _, ev := range in.Evidence {
		if len(a.Evidence) < r.s.opts.MaxEvidence {
			a.Evidence = append(a.Evidence, ev)
		}
	}
}

// write stores every changed alert and the event ids it folded.
func (r *raising) write(ctx context.Context, tx *store.Tx) error {
	for _, w := range r.order {
		if !w.changed {
			continue
		}
		a := &w.a
		doc, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode alert %s: %w", a.ID, err)
		}
		_, err = tx.Exec(ctx, upsertAlert, a.ID, w.fp, a.Member, a.Detector, a.RuleID, int64(a.Severity), int64(a.TLP),
			techniqueColumn(a.Techniques), string(a.Status), a.Count, store.Nanos(a.EventTime),
			store.Nanos(a.LastSeen), store.Nanos(a.Detected), string(doc), triageScore(a))
		if err != nil {
			return fmt.Errorf("store alert %s: %w", a.ID, err)
		}
		for _, ev := range w.newEvents {
			if _, err := tx.Exec(ctx, insertEvent, w.fp, ev, a.ID); err != nil {
				return fmt.Errorf("store event %s of alert %s: %w", ev, a.ID, err)
			}
		}
	}
	return nil
}

// results returns every alert of the raising and the changed ones.
func (r *raising) results() (all, changed []Alert) {
	all = make([]Alert, 0, len(r.order))
	for _, w := range r.order {
		all = append(all, w.a)
		if w.changed {
			changed = append(changed, w.a)
		}
	}
	return all, changed
}

// normaliseTechniques upper-cases, trims and deduplicates ATT&CK ids,
// keeping their order.
func normaliseTechniques(ts []string) []string {
	out := ts[:0:0]
	for _, t := range ts {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// techniqueColumn renders techniques space-delimited with spaces at both
// ends, so that "LIKE '% T1059 %'" matches a whole id.
func techniqueColumn(ts []string) string {
	if len(ts) == 0 {
		return ""
	}
	return " " + strings.Join(ts, " ") + " "
}

func dedupStrings(ss []string, limit int) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) && len(out) < limit {
			out = append(out, s)
		}
	}
	return out
}
