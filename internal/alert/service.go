package alert

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store"
)

// SubjectPrefix prefixes the subjects alerts are published on:
// xsoc.alert.<member>. It is the bus package's AlertSubject, repeated here
// so that detectors importing this package do not link the NATS server.
const SubjectPrefix = "xsoc.alert"

// Publisher is what the service needs of the bus; *bus.Bus satisfies it.
// Publish must return only once the message is stored, and must treat a
// repeated msgID as a duplicate.
type Publisher interface {
	Publish(ctx context.Context, subject string, hdr nats.Header, data []byte, msgID string) (uint64, error)
}

// Options tune a Service. The zero value gives the defaults.
type Options struct {
	// DedupWindow is how far apart in event time two detections of the
	// same member, detector, rule and key may be and still fold into one
	// alert. 0 means 15 minutes.
	DedupWindow time.Duration
	// MaxEvidence caps the evidence documents kept per alert. 0 means 5.
	MaxEvidence int
	// MaxEventIDs caps the event ids listed on an alert (all of them are
	// still remembered for replay detection). 0 means 100.
	MaxEventIDs int
	// Registry receives the response-time histograms. Nil registers
	// nothing; the process-wide default registry is never used.
	Registry *prometheus.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Triage, if set, scores every new alert and learns from the
	// verdicts given in CloseWithVerdict.
	Triage Triager
	// Exclusive, if set, runs fn under the lock alerts are raised and
	// folded under (see node's raiseLock). Re-scoring an entity's open
	// alerts after a verdict rewrites their documents, and a fold running
	// beside it would otherwise overwrite the new score with the one it
	// read, or the re-score the fold's new count and evidence.
	Exclusive func(ctx context.Context, fn func() error) error
}

func (o *Options) setDefaults() {
	if o.DedupWindow <= 0 {
		o.DedupWindow = 15 * time.Minute
	}
	if o.MaxEvidence <= 0 {
		o.MaxEvidence = 5
	}
	if o.MaxEventIDs <= 0 {
		o.MaxEventIDs = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service owns raised alerts: it deduplicates, stores, publishes and
// serves them. It is safe for concurrent use.
type Service struct {
	db    *store.DB
	pub   Publisher
	opts  Options
	times *histograms

	// raiseMu serialises Raise within the process: deduplication reads
	// the open alerts and then writes them, and two batches interleaving
	// there could open two alerts for one fingerprint.
	raiseMu sync.Mutex
	// pending is set when a publication failed; the next Raise then sends
	// every unpublished alert, not only its own.
	pending atomic.Bool
	// marks are the alerts published since the last Raise committed,
	// each with the count (its state) the bus holds. They are recorded
	// in the next Raise's transaction, or by recordMarks when no Raise
	// comes soon: a transaction of their own for every batch cost
	// another commit per batch. Guarded by raiseMu, as is markTimer,
	// which runs recordMarks.
	marks     map[string]int
	markTimer *time.Timer

	subMu     sync.RWMutex
	subs      []func(Alert)
	batchSubs []func([]Alert)
}

// Errors the service returns (wrapped).
var (
	// ErrForbidden: the viewer may see the alert but not act on it.
	ErrForbidden = errors.New("alert: not permitted")
	// ErrInvalid: the input was rejected; the message says why.
	ErrInvalid = errors.New("alert: invalid")
)

// NewService returns the alert service over db, publishing on pub (nil
// publishes nothing). The caller migrates Schema() first.
func NewService(db *store.DB, pub Publisher, opts Options) (*Service, error) {
	if db == nil {
		return nil, errors.New("alert: nil store")
	}
	opts.setDefaults()
	times, err := newHistograms(opts.Registry)
	if err != nil {
		return nil, err
	}
	return &Service{db: db, pub: pub, opts: opts, times: times}, nil
}

// Schema is the alert service's tables. alerts keeps one row per alert,
// with the fields queries filter on as columns and the rest as JSON in
// doc; alert_events remembers every event folded into an alert, per
// deduplication fingerprint, so replays are recognised.
func Schema() store.Schema {
	return store.Schema{Owner: "alert", Migrations: []string{
		`CREATE TABLE alerts (
			id TEXT PRIMARY KEY,
			fingerprint TEXT NOT NULL,
			member TEXT NOT NULL,
			detector TEXT NOT NULL,
			rule_id TEXT NOT NULL,
			severity INTEGER NOT NULL,
			tlp INTEGER NOT NULL,
			techniques TEXT NOT NULL,
			status TEXT NOT NULL,
			incident TEXT NOT NULL DEFAULT '',
			hits INTEGER NOT NULL,
			event_time BIGINT NOT NULL,
			last_seen BIGINT NOT NULL,
			detected BIGINT NOT NULL,
			acknowledged BIGINT NOT NULL DEFAULT 0,
			acknowledged_by TEXT NOT NULL DEFAULT '',
			contained BIGINT NOT NULL DEFAULT 0,
			resolved BIGINT NOT NULL DEFAULT 0,
			closed BIGINT NOT NULL DEFAULT 0,
			closed_by TEXT NOT NULL DEFAULT '',
			published INTEGER NOT NULL DEFAULT 0,
			doc TEXT NOT NULL
		);
		CREATE INDEX IF NOT EXISTS alerts_fingerprint ON alerts (fingerprint, last_seen);
		CREATE INDEX IF NOT EXISTS alerts_detected ON alerts (detected);
		CREATE INDEX IF NOT EXISTS alerts_member ON alerts (member, id);
		CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident);
		CREATE INDEX IF NOT EXISTS alerts_unpublished ON alerts (published, hits);
		CREATE TABLE alert_events (
			fingerprint TEXT NOT NULL,
			event_id TEXT NOT NULL,
			alert_id TEXT NOT NULL,
			PRIMARY KEY (fingerprint, event_id)
		)`,
		// The orders List sorts by (see SortKey), each with the id as
		// tiebreaker so keyset pages read the index in order.
		`CREATE INDEX IF NOT EXISTS alerts_sort_last_seen ON alerts (last_seen, id);
		CREATE INDEX IF NOT EXISTS alerts_sort_severity ON alerts (severity, id);
		CREATE INDEX IF NOT EXISTS alerts_sort_hits ON alerts (hits, id);
		CREATE INDEX IF NOT EXISTS alerts_sort_status ON alerts (status, id)`,
		triageMigration,
		triageRescoreMigration,
		unpublishedMigration,
	}}
}

// unpublishedMigration replaces the index on (published, hits), which no
// query could seek in (Republish asks for published < hits, a comparison
// of two columns: it scanned every alert in id order instead), with one
// holding only the alerts the bus lacks, in id order: Republish then
// reads those alone, and a new alert costs the index an insertion at its
// commit and a deletion at its publication, where the old one took an
// insertion, then a deletion and another insertion, and kept every alert.
const unpublishedMigration = `DROP INDEX IF EXISTS alerts_unpublished;
	CREATE INDEX IF NOT EXISTS alerts_unpublished_id ON alerts (id) WHERE published < hits`

// Schema returns the package's Schema (a convenience for callers holding
// a Service).
func (s *Service) Schema() store.Schema { return Schema() }

// OnAlert registers fn to receive every new or updated alert after its
// batch committed, in order. fn runs on Raise's goroutine and should hand
// slow work off.
func (s *Service) OnAlert(fn func(Alert)) {
	s.subMu.Lock()
	s.subs = append(s.subs, fn)
	s.subMu.Unlock()
}

// OnAlerts registers fn to receive the new and updated alerts of each
// batch at once, after it committed: for work that costs a store
// transaction, which then costs one per batch instead of one per alert.
// fn runs on Raise's goroutine after the OnAlert functions and must not
// keep the slice.
func (s *Service) OnAlerts(fn func([]Alert)) {
	s.subMu.Lock()
	s.batchSubs = append(s.batchSubs, fn)
	s.subMu.Unlock()
}

func (s *Service) notify(alerts []Alert) {
	s.subMu.RLock()
	subs, batchSubs := s.subs, s.batchSubs
	s.subMu.RUnlock()
	for i := range alerts {
		for _, fn := range subs {
			fn(alerts[i])
		}
	}
	if len(alerts) == 0 {
		return
	}
	for _, fn := range batchSubs {
		fn(alerts)
	}
}

// check validates a detector's alert before it is raised.
func check(a *Alert) error {
	switch {
	case a.Member == "":
		return errors.New("no member")
	case !subjectToken(a.Member):
		return fmt.Errorf("member %q is not a valid subject token (no spaces, dots, * or >)", a.Member)
	case a.Detector == "":
		return errors.New("no detector")
	case a.RuleID == "":
		return errors.New("no rule id")
	case a.EventTime.IsZero():
		return errors.New("no event time")
	case a.Severity > Critical:
		return fmt.Errorf("unknown severity %d", a.Severity)
	case a.TLP > 4:
		return fmt.Errorf("unknown TLP level %d", a.TLP)
	}
	return nil
}

func subjectToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ". \t\r\n*>")
}

// dedupKey returns the alert's key, defaulting to the host of the
// triggering event: a host observable, else host.name in the evidence.
func dedupKey(a *Alert) string {
	if a.Key != "" {
		return a.Key
	}
	for _, o := range a.Observables {
		if o.Type == "host" || o.Role == "host" {
			return o.Value
		}
	}
	if len(a.Evidence) > 0 {
		var ev event.Event
		if ev.ParseJSON([]byte(a.Evidence[0])) == nil {
			if h, ok := ev.Get("host.name"); ok {
				return h
			}
		}
	}
	return ""
}

// fingerprint names the deduplication group of a: member, detector, rule
// and key, hashed to a fixed-width index key.
func fingerprint(a *Alert) string {
	h := sha256.New()
	for _, part := range []string{a.Member, a.Detector, a.RuleID, a.Key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Raise deduplicates, stores and publishes a batch of detections.
//
// It returns the alerts the batch touched, one per alert id in order of
// first touch: new alerts, alerts the batch folded into, and alerts a
// replayed detection had already been folded into (returned unchanged so a
// caller recovering from a crash can finish its own work on them).
// Subscribers and the bus receive only new and changed alerts.
//
// An invalid detection (no member, detector, rule or event time) is
// skipped and reported in the returned error; the rest of the batch is
// still raised.
func (s *Service) Raise(ctx context.Context, batch []Alert) ([]Alert, error) {
	return s.RaiseThen(ctx, batch, nil)
}

// RaiseThen raises batch as Raise does and, when then is not nil, runs
// then inside the same transaction with the alerts Raise returns: what
// then writes (the incidents the alerts join) commits with the alerts, in
// one commit, or neither does. An error from then rolls the batch back
// and is returned. then must not keep tx. The alerts returned are nil
// exactly when the batch was not stored.
func (s *Service) RaiseThen(ctx context.Context, batch []Alert, then func(tx *store.Tx, raised []Alert) error) ([]Alert, error) {
	var bad []error
	valid := make([]Alert, 0, len(batch))
	for i := range batch {
		if err := check(&batch[i]); err != nil {
			bad = append(bad, fmt.Errorf("%w: alert %d (%s/%s): %v", ErrInvalid, i, batch[i].Detector, batch[i].RuleID, err))
			continue
		}
		valid = append(valid, batch[i])
		valid[len(valid)-1].Key = dedupKey(&batch[i])
	}
	s.raiseMu.Lock()
	defer s.raiseMu.Unlock()
	r := newRaising(s, s.opts.Now().UTC())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.writeMarks(ctx, tx); err != nil {
			return err
		}
		if err := r.prefetch(ctx, tx, valid); err != nil {
			return err
		}
		for i := range valid {
			if err := r.fold(ctx, tx, valid[i]); err != nil {
				return err
			}
		}
		if err := r.write(ctx, tx); err != nil || then == nil {
			return err
		}
		all, _, _ := r.results()
		return then(tx, all)
	})
	if err != nil {
		return nil, errors.Join(append([]error{fmt.Errorf("alert: raise: %w", err)}, bad...)...)
	}
	s.marks = nil // recorded in the transaction just committed
	out, changed, docs := r.results()
	for i := range changed {
		if r.created[changed[i].ID] {
			s.times.observe(timeToDetect, &changed[i], changed[i].Detected)
		}
	}
	perr := s.publishAfterCommit(ctx, changed, docs)
	s.notify(changed)
	return out, errors.Join(append([]error{perr}, bad...)...)
}

// publishAfterCommit publishes the alerts a Raise just changed, or every
// unpublished alert when an earlier publication failed. The alerts a
// Raise left unchanged (replays) were published when they last changed:
// a publication that failed then set pending, and one a crash cut short
// is sent by Republish at start-up. docs are the changed alerts' JSON as
// stored.
func (s *Service) publishAfterCommit(ctx context.Context, changed []Alert, docs [][]byte) error {
	if s.pub == nil {
		return nil
	}
	if s.pending.Load() {
		_, err := s.republish(ctx)
		return err
	}
	if len(changed) == 0 {
		return nil
	}
	errs := s.publishEach(ctx, changed, docs)
	if s.marks == nil {
		s.marks = make(map[string]int, len(changed))
	}
	var failed error
	for i := range changed {
		if errs[i] != nil {
			failed = cmp.Or(failed, errs[i])
			continue
		}
		s.marks[changed[i].ID] = max(s.marks[changed[i].ID], changed[i].Count)
	}
	s.scheduleMarks()
	if failed != nil {
		s.pending.Store(true)
	}
	return failed
}

// markPublished records that the bus holds an alert's state (its count).
const markPublished = `UPDATE alerts SET published = ? WHERE id = ? AND published < ?`

// writeMarks records the pending marks inside tx, in id order (concurrent
// writers on PostgreSQL then lock rows in one order). The caller holds
// raiseMu and clears the marks once tx committed.
func (s *Service) writeMarks(ctx context.Context, tx *store.Tx) error {
	ids := make([]string, 0, len(s.marks))
	for id := range s.marks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := tx.Exec(ctx, markPublished, s.marks[id], id, s.marks[id]); err != nil {
			return fmt.Errorf("mark %s published: %w", id, err)
		}
	}
	return nil
}

// markDelay is how long published alerts wait for the next Raise to
// record them before recordMarks does.
const markDelay = time.Second

// scheduleMarks has recordMarks run after markDelay unless a Raise
// records the marks first. The caller holds raiseMu.
func (s *Service) scheduleMarks() {
	if len(s.marks) == 0 {
		return
	}
	if s.markTimer == nil {
		s.markTimer = time.AfterFunc(markDelay, func() { s.RecordPublished(context.Background()) })
		return
	}
	s.markTimer.Reset(markDelay)
}

// RecordPublished records in the store which alerts the bus holds, for
// those published since the last Raise (which records them otherwise).
// Call it before closing the store: alerts published but not recorded
// are sent again by Republish at the next start (the bus absorbs a repeat
// within its duplicate window).
func (s *Service) RecordPublished(ctx context.Context) error {
	s.raiseMu.Lock()
	defer s.raiseMu.Unlock()
	return s.recordMarks(ctx)
}

// recordMarks is RecordPublished for a caller holding raiseMu.
func (s *Service) recordMarks(ctx context.Context) error {
	if len(s.marks) == 0 {
		return nil
	}
	if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.writeMarks(ctx, tx) }); err != nil {
		return fmt.Errorf("alert: record publications: %w", err)
	}
	s.marks = nil
	return nil
}

// Republish sends every alert whose latest state has not been published
// (after a bus outage or a crash between commit and publish) and returns
// how many it sent. Call it at start-up; Raise calls it after a failure.
func (s *Service) Republish(ctx context.Context) (int, error) {
	s.raiseMu.Lock()
	defer s.raiseMu.Unlock()
	return s.republish(ctx)
}

// republish is Republish for a caller holding raiseMu. Alerts published
// since the last Raise are recorded first, not sent again.
func (s *Service) republish(ctx context.Context) (int, error) {
	if s.pub == nil {
		return 0, nil
	}
	if err := s.recordMarks(ctx); err != nil {
		return 0, err
	}
	s.pending.Store(false)
	total := 0
	for {
		n, err := s.publishWhere(ctx, "1 = 1 ORDER BY id LIMIT 500", nil)
		total += n
		if err != nil || n < 500 {
			return total, err
		}
	}
}

// publishers bounds the publications in flight at once: JetStream
// acknowledges them concurrently, so a batch costs about one round trip
// instead of one per alert.
const publishers = 64

// publishWhere publishes the unpublished alerts matching cond, all at
// once, then marks those published in one transaction. Alerts of one
// batch are distinct, so their order on the bus does not matter; each
// alert's successive states are published by successive calls.
func (s *Service) publishWhere(ctx context.Context, cond string, args []any) (int, error) {
	if len(args) == 0 && strings.HasPrefix(cond, "id IN") {
		return 0, nil
	}
	alerts, err := s.selectAlerts(ctx, s.db, "published < hits AND "+cond, args)
	if err != nil {
		return 0, err
	}
	errs := s.publishEach(ctx, alerts, nil)
	var failed error
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		for i := range alerts {
			if errs[i] != nil {
				failed = cmp.Or(failed, errs[i])
				continue
			}
			if _, err := tx.Exec(ctx, markPublished, alerts[i].Count, alerts[i].ID, alerts[i].Count); err != nil {
				return fmt.Errorf("alert: mark %s published: %w", alerts[i].ID, err)
			}
		}
		return nil
	})
	if err != nil || failed != nil {
		s.pending.Store(true)
		return 0, cmp.Or(err, failed)
	}
	return len(alerts), nil
}

// publishEach publishes alerts, all at once, and returns each one's
// outcome. docs, if not nil, holds each alert's JSON, already encoded.
func (s *Service) publishEach(ctx context.Context, alerts []Alert, docs [][]byte) []error {
	errs := make([]error, len(alerts))
	doc := func(i int) []byte {
		if docs == nil {
			return nil
		}
		return docs[i]
	}
	if len(alerts) == 1 { // the common case at a steady rate
		errs[0] = s.publish(ctx, &alerts[0], doc(0))
		return errs
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(publishers, len(alerts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = s.publish(ctx, &alerts[i], doc(i))
			}
		}()
	}
	for i := range alerts {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// publish sends one alert's current state on the bus: data, its JSON, or
// when nil the JSON it encodes.
func (s *Service) publish(ctx context.Context, a *Alert, data []byte) error {
	if data == nil {
		var err error
		if data, err = json.Marshal(a); err != nil {
			return fmt.Errorf("alert: encode %s: %w", a.ID, err)
		}
	}
	hdr := nats.Header{}
	hdr.Set("Xsoc-Member", a.Member)
	hdr.Set("Xsoc-Severity", a.Severity.String())
	msgID := fmt.Sprintf("%s.%d", a.ID, a.Count)
	if _, err := s.pub.Publish(ctx, SubjectPrefix+"."+a.Member, hdr, data, msgID); err != nil {
		return fmt.Errorf("alert: publish %s: %w", a.ID, err)
	}
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
