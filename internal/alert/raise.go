package alert

import (
	"context"
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
	// folded and stored are what the store held when the batch began,
	// read for all its detections at once (see prefetch): the alert each
	// event id was folded into (by fingerprint + "\x00" + event id), and
	// the fingerprints with any alert. The store does not change while
	// the batch folds (write runs after), so they answer what fold would
	// otherwise ask the store once per detection.
	folded map[string]string
	stored map[string]bool
}

// The statements Raise runs once or more per detection.
const (
	// queryFolded and queryStored take a list of fingerprints (and of
	// event ids) each; see prefetch.
	queryFolded = `SELECT fingerprint, event_id, alert_id FROM alert_events WHERE fingerprint IN (%s) AND event_id IN (%s)`
	queryStored = `SELECT DISTINCT fingerprint FROM alerts WHERE fingerprint IN (%s)`
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
	// doc is the JSON write stored for the alert: what the bus receives
	// once the batch committed, encoded once for both.
	doc []byte
}

func newRaising(s *Service, now time.Time) *raising {
	return &raising{
		s: s, now: now,
		byID:    map[string]*working{},
		byFP:    map[string][]*working{},
		seen:    map[string]bool{},
		created: map[string]bool{},
		folded:  map[string]string{},
		stored:  map[string]bool{},
	}
}

// prefetchChunk bounds the fingerprints, and the event ids, one prefetch
// query asks about.
const prefetchChunk = 64

// prefetch reads what the store holds about the batch's detections, whose
// keys are set: which of their event ids were folded, into which alert,
// and which of their fingerprints have alerts. It costs two queries per
// 64 detections instead of two per detection: a group of new alerts (a
// fingerprint the store has never seen) then reads nothing more.
func (r *raising) prefetch(ctx context.Context, tx *store.Tx, batch []Alert) error {
	var fps, ids []string
	flush := func() error {
		if len(fps) == 0 {
			return nil
		}
		if err := r.readFolded(ctx, tx, fps, ids); err != nil {
			return err
		}
		if err := r.readStored(ctx, tx, fps); err != nil {
			return err
		}
		fps, ids = fps[:0], ids[:0]
		return nil
	}
	for i := range batch {
		a := &batch[i]
		fp := fingerprint(a)
		if !slices.Contains(fps, fp) {
			if len(fps) == prefetchChunk {
				if err := flush(); err != nil {
					return err
				}
			}
			fps = append(fps, fp)
		}
		for _, id := range a.EventIDs {
			if id == "" || slices.Contains(ids, id) {
				continue
			}
			if len(ids) == prefetchChunk {
				// The ids asked next go with fp alone.
				if err := flush(); err != nil {
					return err
				}
				fps = append(fps, fp)
			}
			ids = append(ids, id)
		}
	}
	return flush()
}

// readFolded records which pairs of fps and ids the store has folded.
// Rows of a fingerprint and an event id of two different detections are
// recorded too: they are as true as the rest.
func (r *raising) readFolded(ctx context.Context, tx *store.Tx, fps, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	pf, pi := padded(fps), padded(ids)
	rows, err := tx.Query(ctx, fmt.Sprintf(queryFolded, placeholders(len(pf)), placeholders(len(pi))),
		append(anys(pf), anys(pi)...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var fp, id, al string
		if err := rows.Scan(&fp, &id, &al); err != nil {
			return err
		}
		r.folded[fp+"\x00"+id] = al
	}
	return rows.Err()
}

// readStored records which of fps have alerts in the store.
func (r *raising) readStored(ctx context.Context, tx *store.Tx, fps []string) error {
	pf := padded(fps)
	rows, err := tx.Query(ctx, fmt.Sprintf(queryStored, placeholders(len(pf))), anys(pf)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var fp string
		if err := rows.Scan(&fp); err != nil {
			return err
		}
		r.stored[fp] = true
	}
	return rows.Err()
}

// padded returns ss (not empty) lengthened to a power of two by repeating
// its last value: a query over a list then takes one of a few shapes,
// each prepared once, instead of one per list length.
func padded(ss []string) []string {
	n := 1
	for n < len(ss) {
		n *= 2
	}
	out := make([]string, n)
	copy(out, ss)
	for i := len(ss); i < n; i++ {
		out[i] = ss[len(ss)-1]
	}
	return out
}

// fold applies one detection: a replay changes nothing, a repeat within
// the window folds into its open alert, anything else opens a new alert.
//
// in.Key is set (see RaiseThen) and prefetch has read in's fingerprint and
// event ids.
func (r *raising) fold(ctx context.Context, tx *store.Tx, in Alert) error {
	in.EventTime = in.EventTime.UTC()
	fp := fingerprint(&in)
	fresh, folded := r.freshEvents(fp, in.EventIDs)
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
func (r *raising) freshEvents(fp string, ids []string) (fresh []string, folded string) {
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
	for _, id := range candidates {
		if al, ok := r.folded[fp+"\x00"+id]; ok {
			folded = al
			continue
		}
		fresh = append(fresh, id)
	}
	return fresh, folded
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
	if w := scan(); w != nil || !r.stored[fp] {
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
		// Room for the evidence escaped (quotes take two bytes, < > &
		// six), so that the document is written without growing.
		size := 512
		for _, ev := range a.Evidence {
			size += 2 * len(ev)
		}
		doc, err := marshal(make([]byte, 0, size), a)
		if err != nil {
			return fmt.Errorf("encode alert %s: %w", a.ID, err)
		}
		w.doc = doc
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

// results returns every alert of the raising, the changed ones and, once
// written, the JSON stored for each changed one.
func (r *raising) results() (all, changed []Alert, docs [][]byte) {
	all = make([]Alert, 0, len(r.order))
	for _, w := range r.order {
		all = append(all, w.a)
		if w.changed {
			changed = append(changed, w.a)
			docs = append(docs, w.doc)
		}
	}
	return all, changed, docs
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
