package correlate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
)

// Options tune a Correlator. The zero value gives the defaults.
type Options struct {
	// Window is how far apart in event time alerts sharing an entity may
	// be and still join one local incident. 0 means 24 hours.
	Window time.Duration
	// CampaignWindow is how far apart sightings of one campaign at
	// different members may be. 0 means 72 hours.
	CampaignWindow time.Duration
	// CampaignBy selects the campaign criteria. 0 means ByAll.
	CampaignBy CampaignBy
	// MemberCountry returns a member's country (ISO 3166 alpha-2). Nil or
	// "" for a member leaves it out of cross-border detection.
	MemberCountry func(member string) string
	// MemberSector returns a member's NIS2 sector, a value of the MISP
	// nis2 taxonomy's impact-sectors-impacted predicate ("energy",
	// "health"...), for NIS2 drafts.
	MemberSector func(member string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
	}
	if o.CampaignWindow <= 0 {
		o.CampaignWindow = 72 * time.Hour
	}
	if o.CampaignBy == 0 {
		o.CampaignBy = ByAll
	}
	if o.MemberCountry == nil {
		o.MemberCountry = func(string) string { return "" }
	}
	if o.MemberSector == nil {
		o.MemberSector = func(string) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Correlator groups alerts into incidents and runs the case workflow. It
// is safe for concurrent use.
type Correlator struct {
	db     *store.DB
	alerts *alert.Service
	opts   Options

	// mu serialises writers in this process: grouping reads candidate
	// incidents and then writes, and two batches interleaving there could
	// open two incidents for one host.
	mu sync.Mutex

	hookMu sync.RWMutex
	hooks  []func(Incident)
}

// Errors the correlator returns (wrapped).
var (
	// ErrInvalid: the request was rejected; the message says why.
	ErrInvalid = errors.New("correlate: invalid")
	// ErrForbidden: the viewer may see the incident but not change it.
	ErrForbidden = errors.New("correlate: not permitted")
)

// System is the name the audit trail gives the correlator's own changes.
const System = "xsoc"

// NewCorrelator returns a correlator over db, reading and updating alerts
// through alerts. The caller migrates alert.Schema() and Schema() first.
func NewCorrelator(db *store.DB, alerts *alert.Service, opts Options) (*Correlator, error) {
	if db == nil || alerts == nil {
		return nil, errors.New("correlate: nil store or alert service")
	}
	opts.setDefaults()
	return &Correlator{db: db, alerts: alerts, opts: opts}, nil
}

// Schema is the correlator's tables: incidents; incident_alerts (which
// alerts an incident groups; "home" marks the one incident an alert's
// Incident field names, campaign memberships are extra); incident_keys
// (the entity and campaign keys incidents are found by);
// campaign_sightings (campaign keys seen per alert, with member and
// country); incident_cases (each member's own case of a shared
// incident); incident_notes (comments and evidence); incident_audit.
func Schema() store.Schema {
	return store.Schema{Owner: "correlate", Migrations: []string{
		`CREATE TABLE incidents (
			id TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			title TEXT NOT NULL,
			status TEXT NOT NULL,
			assignee TEXT NOT NULL DEFAULT '',
			severity INTEGER NOT NULL,
			first_seen BIGINT NOT NULL,
			last_seen BIGINT NOT NULL,
			cross_border INTEGER NOT NULL DEFAULT 0,
			countries TEXT NOT NULL DEFAULT '',
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			acknowledged BIGINT NOT NULL DEFAULT 0,
			contained BIGINT NOT NULL DEFAULT 0,
			resolved BIGINT NOT NULL DEFAULT 0,
			closed BIGINT NOT NULL DEFAULT 0,
			merged_into TEXT NOT NULL DEFAULT '',
			significant BIGINT NOT NULL DEFAULT 0,
			significant_by TEXT NOT NULL DEFAULT '',
			early_warning BIGINT NOT NULL DEFAULT 0,
			notification BIGINT NOT NULL DEFAULT 0,
			final_report BIGINT NOT NULL DEFAULT 0
		);
		CREATE INDEX IF NOT EXISTS incidents_last_seen ON incidents (last_seen);
		CREATE TABLE incident_alerts (
			incident_id TEXT NOT NULL,
			alert_id TEXT NOT NULL,
			member TEXT NOT NULL,
			tlp INTEGER NOT NULL,
			home INTEGER NOT NULL,
			PRIMARY KEY (incident_id, alert_id)
		);
		CREATE INDEX IF NOT EXISTS incident_alerts_alert ON incident_alerts (alert_id);
		CREATE UNIQUE INDEX IF NOT EXISTS incident_alerts_home ON incident_alerts (alert_id) WHERE home = 1;
		CREATE TABLE incident_keys (
			entity TEXT NOT NULL,
			incident_id TEXT NOT NULL,
			PRIMARY KEY (entity, incident_id)
		);
		CREATE TABLE campaign_sightings (
			entity TEXT NOT NULL,
			alert_id TEXT NOT NULL,
			member TEXT NOT NULL,
			country TEXT NOT NULL,
			event_time BIGINT NOT NULL,
			PRIMARY KEY (entity, alert_id)
		);
		CREATE INDEX IF NOT EXISTS campaign_sightings_time ON campaign_sightings (entity, event_time);
		CREATE TABLE incident_notes (
			id AUTOINCREMENT_PK,
			incident_id TEXT NOT NULL,
			kind TEXT NOT NULL,
			value TEXT NOT NULL,
			who TEXT NOT NULL,
			at BIGINT NOT NULL
		);
		CREATE INDEX IF NOT EXISTS incident_notes_incident ON incident_notes (incident_id);
		CREATE TABLE incident_audit (
			seq AUTOINCREMENT_PK,
			incident_id TEXT NOT NULL,
			at BIGINT NOT NULL,
			who TEXT NOT NULL,
			what TEXT NOT NULL,
			old TEXT NOT NULL,
			new TEXT NOT NULL
		);
		CREATE INDEX IF NOT EXISTS incident_audit_incident ON incident_audit (incident_id, seq)`,
		// Campaign linking looks up an alert's other sightings, and a
		// campaign's keys.
		`CREATE INDEX IF NOT EXISTS campaign_sightings_alert ON campaign_sightings (alert_id);
		CREATE INDEX IF NOT EXISTS incident_keys_incident ON incident_keys (incident_id, entity)`,
		// Titles are derived per viewer unless an analyst set one; each
		// member keeps its own case of a shared incident (incident_cases),
		// and notes and audit entries say whose case they belong to and
		// which member made them.
		`ALTER TABLE incidents ADD COLUMN titled INTEGER NOT NULL DEFAULT 0;
		UPDATE incidents SET titled = 1 WHERE id IN (SELECT incident_id FROM incident_audit WHERE what = 'title');
		ALTER TABLE incident_notes ADD COLUMN case_of TEXT NOT NULL DEFAULT '';
		ALTER TABLE incident_audit ADD COLUMN member TEXT NOT NULL DEFAULT '';
		ALTER TABLE incident_audit ADD COLUMN case_of TEXT NOT NULL DEFAULT '';
		CREATE TABLE incident_cases (
			incident_id TEXT NOT NULL,
			member TEXT NOT NULL,
			status TEXT NOT NULL,
			assignee TEXT NOT NULL DEFAULT '',
			title TEXT NOT NULL DEFAULT '',
			titled INTEGER NOT NULL DEFAULT 0,
			acknowledged BIGINT NOT NULL DEFAULT 0,
			contained BIGINT NOT NULL DEFAULT 0,
			resolved BIGINT NOT NULL DEFAULT 0,
			closed BIGINT NOT NULL DEFAULT 0,
			significant BIGINT NOT NULL DEFAULT 0,
			significant_by TEXT NOT NULL DEFAULT '',
			early_warning BIGINT NOT NULL DEFAULT 0,
			notification BIGINT NOT NULL DEFAULT 0,
			final_report BIGINT NOT NULL DEFAULT 0,
			updated BIGINT NOT NULL,
			PRIMARY KEY (incident_id, member)
		)`,
		// Each member's alerts in an incident, by TLP level: what lists
		// sort and page by for each viewer (see cells.go); filled in for
		// the incidents already stored.
		cellsMigration,
		// Whether a campaign key crossed a border is decided country by
		// country, with seeks in this index (see placing.crossing),
		// instead of counting every sighting of the key in the window.
		`CREATE INDEX IF NOT EXISTS campaign_sightings_country ON campaign_sightings (entity, country, event_time)`,
	}}
}

// Schema returns the package's Schema.
func (c *Correlator) Schema() store.Schema { return Schema() }

// OnIncident registers fn to receive each incident created or changed, as
// an operator sees it, after the change committed. fn runs on the
// caller's goroutine and should hand slow work off.
func (c *Correlator) OnIncident(fn func(Incident)) {
	c.hookMu.Lock()
	c.hooks = append(c.hooks, fn)
	c.hookMu.Unlock()
}

// notify sends the operator view of each incident in ids to the hooks.
func (c *Correlator) notify(ctx context.Context, ids []string) error {
	c.hookMu.RLock()
	hooks := c.hooks
	c.hookMu.RUnlock()
	if len(hooks) == 0 || len(ids) == 0 {
		return nil
	}
	views, err := c.views(ctx, alert.Viewer{Operator: true}, ids)
	if err != nil {
		return err
	}
	for _, in := range views {
		for _, fn := range hooks {
			fn(in)
		}
	}
	return nil
}

// Process places alerts (as returned by alert.Service.Raise) into
// incidents: each alert joins the open local incident of its member that
// shares a host, user or observable with it within the window, or opens
// one; and alerts sharing a campaign key across countries are grouped
// into a cross-border incident. Process is idempotent: an alert already
// placed is only refreshed (severity, times), so a batch may be processed
// again after a crash.
func (c *Correlator) Process(ctx context.Context, alerts []alert.Alert) error {
	var after func(context.Context) error
	err := c.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		after, err = c.ProcessIn(ctx, tx, alerts)
		return err
	})
	if err != nil {
		return err
	}
	return after(ctx)
}

// ProcessIn places alerts as Process does, inside tx, which the caller
// commits: the alert sink raises a batch and places its alerts in one
// transaction (alert.Service.RaiseThen). The correlator's other writers
// wait until tx ends. Once tx committed, the caller runs after, which
// tells the incident hooks and reports the alerts that could not be
// placed (ErrInvalid); an error from ProcessIn itself means tx must roll
// back. Call it once per transaction.
func (c *Correlator) ProcessIn(ctx context.Context, tx *store.Tx, alerts []alert.Alert) (after func(context.Context) error, err error) {
	batch := make([]alert.Alert, 0, len(alerts))
	var bad []error
	for i := range alerts {
		if !alert.ValidID(alerts[i].ID) || alerts[i].Member == "" {
			bad = append(bad, fmt.Errorf("%w: alert %d has no id or member; raise it first", ErrInvalid, i))
			continue
		}
		batch = append(batch, alerts[i])
	}
	// Event-time order lets windows grow the way the attack did.
	slices.SortStableFunc(batch, func(a, b alert.Alert) int { return a.EventTime.Compare(b.EventTime) })
	c.mu.Lock()
	tx.AfterEnd(c.mu.Unlock)
	p := &placing{c: c, tx: tx, now: c.opts.Now().UTC(), touched: map[string]bool{}, cells: &cellTally{}}
	if p.unplaced, err = unplaced(ctx, tx, batch); err != nil {
		return nil, fmt.Errorf("correlate: process: %w", err)
	}
	for i := range batch {
		if err := p.local(ctx, &batch[i]); err != nil {
			return nil, fmt.Errorf("correlate: process: %w", err)
		}
		if err := p.campaign(ctx, &batch[i]); err != nil {
			return nil, fmt.Errorf("correlate: process: %w", err)
		}
	}
	if err := p.cells.flush(ctx, tx); err != nil {
		return nil, fmt.Errorf("correlate: process: %w", err)
	}
	touched := sortedKeys(p.touched)
	return func(ctx context.Context) error {
		return errors.Join(append([]error{c.notify(ctx, touched)}, bad...)...)
	}, nil
}

// placing is the state of one Process transaction.
type placing struct {
	c       *Correlator
	tx      *store.Tx
	now     time.Time
	touched map[string]bool
	// cells gathers the batch's changes to the incidents' per-member
	// values, written once per incident at the end.
	cells *cellTally
	// unplaced are the alerts of the batch that were in no incident when
	// it began: newly raised ones, mostly. Such an alert has no home
	// incident to look up, and the incidents it joins record its TLP
	// level as it is.
	unplaced map[string]bool
	// countries caches, per campaign key, the countries it has been
	// sighted in, in order (see countriesOf).
	countries map[string][]string
	// unheld are campaign keys (unprefixed) filed under no incident, as
	// held found; addKeys forgets those it files.
	unheld map[string]bool
}

// unplaced returns which of alerts no incident holds, in one query.
func unplaced(ctx context.Context, tx *store.Tx, alerts []alert.Alert) (map[string]bool, error) {
	out := make(map[string]bool, len(alerts))
	ids := make([]string, 0, len(alerts))
	for i := range alerts {
		if !out[alerts[i].ID] {
			out[alerts[i].ID] = true
			ids = append(ids, alerts[i].ID)
		}
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := tx.Query(ctx, `SELECT DISTINCT alert_id FROM incident_alerts WHERE alert_id IN (`+placeholders(len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			delete(out, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// local puts a into its local incident.
func (p *placing) local(ctx context.Context, a *alert.Alert) error {
	if !p.unplaced[a.ID] {
		var home string
		err := p.tx.QueryRow(ctx, `SELECT incident_id FROM incident_alerts WHERE alert_id = ? AND home = 1`, a.ID).Scan(&home)
		switch {
		case err == nil:
			a.Incident = home
			return p.refresh(ctx, home, a)
		case !store.NotFound(err):
			return err
		}
	}
	keys := localKeys(a)
	id, err := p.findOpen(ctx, KindLocal, keys, a.EventTime, p.c.opts.Window)
	if err != nil {
		return err
	}
	if id == "" {
		if id, err = p.create(ctx, KindLocal, a); err != nil {
			return err
		}
	}
	if _, err := p.join(ctx, id, a, true); err != nil {
		return err
	}
	return p.addKeys(ctx, id, keys)
}

// localTitle names an incident after one of its alerts: the rule and the
// first host.
func localTitle(a *alert.Alert) string {
	title := a.RuleTitle
	if title == "" {
		title = a.RuleID
	}
	if hosts := entitiesOf(a).Hosts; len(hosts) > 0 {
		title += " on " + hosts[0]
	}
	return title
}

// findOpen returns the most recently active open incident of kind holding
// one of keys, whose span widened by window covers t.
func (p *placing) findOpen(ctx context.Context, kind Kind, keys []string, t time.Time, window time.Duration) (string, error) {
	if len(keys) == 0 {
		return "", nil
	}
	args := anys(keys)
	args = append(args, string(kind), store.Nanos(t.Add(-window)), store.Nanos(t.Add(window)))
	var id string
	err := p.tx.QueryRow(ctx, `SELECT i.id FROM incident_keys k JOIN incidents i ON i.id = k.incident_id
		WHERE k.entity IN (`+placeholders(len(keys))+`) AND i.kind = ? AND i.merged_into = ''
			AND i.status IN ('new', 'triage', 'contained') AND i.last_seen >= ? AND i.first_seen <= ?
		ORDER BY i.last_seen DESC, i.id DESC LIMIT 1`, args...).Scan(&id)
	if store.NotFound(err) {
		return "", nil
	}
	return id, err
}

// create opens an incident for a's time and severity. It stores no
// title: until an analyst gives one, each viewer's title is derived from
// the alerts it may see.
func (p *placing) create(ctx context.Context, kind Kind, a *alert.Alert) (string, error) {
	id := alert.NewID(p.now)
	_, err := p.tx.Exec(ctx, `INSERT INTO incidents (id, kind, title, status, severity, first_seen, last_seen, created, updated)
		VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)`, id, string(kind), string(StatusNew), int64(a.Severity),
		store.Nanos(a.EventTime), store.Nanos(lastSeen(a)), store.Nanos(p.now), store.Nanos(p.now))
	if err != nil {
		return "", fmt.Errorf("create incident: %w", err)
	}
	p.touched[id] = true
	return id, audit(ctx, p.tx, id, p.now, system, "created", "", string(kind))
}

func lastSeen(a *alert.Alert) time.Time {
	if a.LastSeen.After(a.EventTime) {
		return a.LastSeen
	}
	return a.EventTime
}

// join adds a to incident id (as its home incident or as an extra
// membership) and widens the incident to it. It reports whether a was
// new to the incident.
func (p *placing) join(ctx context.Context, id string, a *alert.Alert, home bool) (bool, error) {
	res, err := p.tx.Exec(ctx, `INSERT INTO incident_alerts (incident_id, alert_id, member, tlp, home)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident_id, alert_id) DO NOTHING`,
		id, a.ID, a.Member, int64(a.TLP), boolInt(home))
	if err != nil {
		return false, fmt.Errorf("join incident: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		p.touched[id] = true
		p.cells.grow(id, a, true)
		if err := audit(ctx, p.tx, id, p.now, system, "alert added", "", a.ID); err != nil {
			return false, err
		}
	}
	if home {
		if err := p.c.alerts.SetIncident(ctx, p.tx, id, a.ID); err != nil {
			return false, err
		}
		a.Incident = id
	}
	return n > 0, p.refresh(ctx, id, a)
}

// refresh widens incident id to a's times and severity and records a's
// current TLP level (folding may have raised it).
func (p *placing) refresh(ctx context.Context, id string, a *alert.Alert) error {
	if !p.unplaced[a.ID] { // else every incident holding it took its level now
		moved, err := p.tx.Exec(ctx, `UPDATE incident_alerts SET tlp = ? WHERE alert_id = ? AND tlp <> ?`,
			int64(a.TLP), a.ID, int64(a.TLP))
		if err != nil {
			return err
		}
		if n, _ := moved.RowsAffected(); n > 0 {
			// The alert changed TLP level: the viewers its values count
			// for changed in every incident holding it.
			if err := p.cells.retier(ctx, p.tx, a.ID); err != nil {
				return err
			}
		}
	}
	p.cells.grow(id, a, false)
	res, err := p.tx.Exec(ctx, `UPDATE incidents SET
			severity = CASE WHEN severity < ? THEN ? ELSE severity END,
			first_seen = CASE WHEN first_seen > ? THEN ? ELSE first_seen END,
			last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END,
			updated = ?
		WHERE id = ? AND (severity < ? OR first_seen > ? OR last_seen < ?)`,
		int64(a.Severity), int64(a.Severity), store.Nanos(a.EventTime), store.Nanos(a.EventTime),
		store.Nanos(lastSeen(a)), store.Nanos(lastSeen(a)), store.Nanos(p.now), id,
		int64(a.Severity), store.Nanos(a.EventTime), store.Nanos(lastSeen(a)))
	if err != nil {
		return fmt.Errorf("refresh incident: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		p.touched[id] = true
	}
	return nil
}

// addKeys files incident id under keys, in one statement per 100 keys.
func (p *placing) addKeys(ctx context.Context, id string, keys []string) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 100)]
		keys = keys[len(chunk):]
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k, id)
			if len(p.unheld) > 0 && strings.HasPrefix(k, campaignKeyPrefix) {
				delete(p.unheld, k[len(campaignKeyPrefix):])
			}
		}
		res, err := p.tx.Exec(ctx, `INSERT INTO incident_keys (entity, incident_id) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ")+`
			ON CONFLICT (entity, incident_id) DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("incident key: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			p.touched[id] = true
		}
	}
	return nil
}

// recountCountries stores the countries of incident id's alerts and
// whether they make it cross-border.
func (c *Correlator) recountCountries(ctx context.Context, tx *store.Tx, id string, now time.Time, touched map[string]bool) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT member FROM incident_alerts WHERE incident_id = ? ORDER BY member`, id)
	if err != nil {
		return err
	}
	var countries []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return err
		}
		if cc := strings.ToUpper(c.opts.MemberCountry(m)); cc != "" && !slices.Contains(countries, cc) {
			countries = append(countries, cc)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	slices.Sort(countries)
	joined := strings.Join(countries, " ")
	res, err := tx.Exec(ctx, `UPDATE incidents SET countries = ?, cross_border = ?, updated = ?
		WHERE id = ? AND (countries <> ? OR cross_border <> ?)`,
		joined, boolInt(len(countries) >= 2), store.Nanos(now), id, joined, boolInt(len(countries) >= 2))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 && touched != nil {
		touched[id] = true
	}
	return nil
}

// actor is who makes a change: the name the audit trail shows, the
// member acting ("" for an operator or the correlator) and the case the
// change belongs to ("" for the incident's own case or its facts, else
// the member's case of a shared incident).
type actor struct {
	who, member, caseOf string
}

// system is the correlator acting on its own.
var system = actor{who: System}

// audit appends one entry to the audit trail.
func audit(ctx context.Context, tx *store.Tx, id string, at time.Time, by actor, what, old, new string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO incident_audit (incident_id, at, who, what, old, new, member, case_of)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, store.Nanos(at), by.who, what, old, new, by.member, by.caseOf); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// sortedKeys returns the keys of set in order.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
