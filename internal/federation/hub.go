package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// hubConsumer is the hub's durable consumer of the federated alert stream.
const hubConsumer = "xsoc-hub"

// hubDedupWindow is how far apart the states of one remote alert may be
// and still update the same alert at the hub. A member node folds
// repeats within its own window; the hub follows whatever it folded.
const hubDedupWindow = 366 * 24 * time.Hour

// Schema is the federation's table at the hub: which hub alert stands for
// each remote alert, up to which state (count) the hub alert was raised
// (raised_count), and up to which state it was correlated (origin_count).
// The two differ after a failure between raising and correlating.
func Schema() store.Schema {
	return store.Schema{Owner: "federation", Migrations: []string{
		`CREATE TABLE federation_alerts (
			node TEXT NOT NULL,
			origin_id TEXT NOT NULL,
			member TEXT NOT NULL,
			alert_id TEXT NOT NULL,
			origin_count INTEGER NOT NULL,
			received BIGINT NOT NULL,
			PRIMARY KEY (node, origin_id)
		);
		CREATE INDEX IF NOT EXISTS federation_alerts_alert ON federation_alerts (alert_id)`,
		// Rows from before it have 0: raised up to origin_count.
		`ALTER TABLE federation_alerts ADD COLUMN raised_count INTEGER NOT NULL DEFAULT 0`,
		// The early warning path. At the hub: the member nodes'
		// directories, the warnings forwarded to all their recipients,
		// and the audit of every forward. At a member node: its
		// information-sharing agreements, the indicators received in
		// warnings, and the warning messages taken (replays are refused).
		`CREATE TABLE federation_nodes (
			node TEXT PRIMARY KEY,
			directory TEXT NOT NULL,
			received BIGINT NOT NULL
		);
		CREATE TABLE federation_relayed (
			warning TEXT PRIMARY KEY,
			node TEXT NOT NULL,
			received BIGINT NOT NULL,
			recipients INTEGER NOT NULL
		);
		CREATE TABLE federation_forwards (
			warning TEXT NOT NULL,
			recipient_node TEXT NOT NULL,
			origin_node TEXT NOT NULL,
			origin_member TEXT NOT NULL,
			tlp TEXT NOT NULL,
			kind TEXT NOT NULL,
			indicators INTEGER NOT NULL,
			recipients TEXT NOT NULL,
			reason TEXT NOT NULL,
			forwarded BIGINT NOT NULL,
			PRIMARY KEY (warning, recipient_node)
		);
		CREATE INDEX IF NOT EXISTS federation_forwards_time ON federation_forwards (forwarded);
		CREATE TABLE federation_agreements (
			member TEXT NOT NULL,
			kind TEXT NOT NULL,
			partner TEXT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (member, kind, partner)
		);
		CREATE TABLE federation_warnings (
			indicator_id TEXT PRIMARY KEY,
			origin_node TEXT NOT NULL,
			sender TEXT NOT NULL,
			country TEXT NOT NULL,
			sector TEXT NOT NULL,
			tlp INTEGER NOT NULL,
			named TEXT NOT NULL,
			kind INTEGER NOT NULL,
			value TEXT NOT NULL,
			confidence INTEGER NOT NULL,
			detected BIGINT NOT NULL,
			valid_until BIGINT NOT NULL,
			sightings INTEGER NOT NULL,
			warning TEXT NOT NULL,
			applied BIGINT NOT NULL,
			revoked BIGINT NOT NULL DEFAULT 0
		);
		CREATE INDEX IF NOT EXISTS federation_warnings_applied ON federation_warnings (applied);
		CREATE TABLE federation_inbox (
			warning TEXT PRIMARY KEY,
			origin_node TEXT NOT NULL,
			received BIGINT NOT NULL
		)`,
		receivedPerOrigin,
	}}
}

// RemoteMemberID is the id a member of another node has at the hub:
// "<node>--<member>". Node names contain no "--" and do not end in "-",
// so the first "--" separates the two and ids of different nodes cannot
// collide. A member id too long to fit the 63 characters member ids may
// have is shortened and suffixed with a hash of it.
func RemoteMemberID(node, memberID string) string {
	id := node + "--" + memberID
	if len(id) <= 63 {
		return id
	}
	sum := sha256.Sum256([]byte(memberID))
	suffix := "-" + hex.EncodeToString(sum[:4])
	keep := 63 - len(node) - 2 - len(suffix)
	return node + "--" + strings.TrimRight(memberID[:keep], "-") + suffix
}

// HubConfig configures a Hub.
type HubConfig struct {
	// Bus is the hub's bus; the federated streams live in its federation
	// account, and the hub's own alerts are published on it.
	Bus *bus.Bus
	// Identity is the hub's: it verifies the member nodes' signatures
	// against the federation CA.
	Identity *Identity
	// DB is the hub's store; Correlator the node's correlator, which
	// forms incidents and cross-border campaigns from federated alerts as
	// from local ones.
	DB         *store.DB
	Correlator Correlator
	// Members is the hub's member registry: remote members are registered
	// in it, with their country and sector, when their first alert comes.
	Members *member.Registry
	// OnMember is told about each remote member the hub registers or
	// meets for the first time since start, before its alerts are
	// correlated (caches of members' countries must know it).
	OnMember func(member.Member)
	Log      *slog.Logger
	// Registry receives the hub's counters; nil registers nothing.
	Registry *prometheus.Registry
	// Metrics counts the early warnings the hub forwards and refuses;
	// nil: counters of its own, registered with Registry.
	Metrics *Metrics
	// CorroborationMembers is how many members (in at least two
	// countries) must report a pseudonym before the hub asks for its
	// value; below DefaultCorroborationMembers means the default.
	CorroborationMembers int
	// Upstream names the hub this hub is a member of (a national hub's
	// cross-border hub), or is empty: see hierarchy.go.
	Upstream string
}

// Correlator is what the hub needs of the node's correlator (a
// *correlate.Correlator): placing the alerts it raised into incidents,
// and listing the cross-border incidents it sends notices of.
type Correlator interface {
	Process(ctx context.Context, alerts []alert.Alert) error
	Incidents(ctx context.Context, v alert.Viewer, f correlate.Filter) (correlate.Page, error)
}

// Hub takes in the alerts member nodes send: it keeps them in a durable
// stream, verifies who sent each, registers remote members, raises each
// remote alert as an alert of the hub and correlates it.
type Hub struct {
	cfg      HubConfig
	fed      jetstream.JetStream
	relayJS  jetstream.JetStream // the relay's, for its asynchronous forwards
	alerts   *alert.Service
	verify   *verifier
	known    map[string]bool // remote members registered, by hub id
	notices  *notifier
	relay    *relay
	metrics  *Metrics
	received prometheus.Counter
	refused  prometheus.Counter
}

// NewHub creates the hub's streams (if missing) and returns the hub; Run
// starts it.
func NewHub(ctx context.Context, cfg HubConfig) (*Hub, error) {
	if cfg.Bus == nil || cfg.Bus.Federation() == nil || cfg.Identity == nil || cfg.DB == nil || cfg.Correlator == nil || cfg.Members == nil {
		return nil, errors.New("federation: hub needs a federation bus, an identity, a store, a correlator and members")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnMember == nil {
		cfg.OnMember = func(member.Member) {}
	}
	fed, err := jetstream.New(cfg.Bus.Federation())
	if err != nil {
		return nil, err
	}
	if err := ensureHubStreams(ctx, fed); err != nil {
		return nil, err
	}
	if err := ensureWarningStream(ctx, fed); err != nil {
		return nil, err
	}
	if err := ensureHierarchyStreams(ctx, fed, cfg.Identity.Name, cfg.Upstream); err != nil {
		return nil, err
	}
	relayJS, err := jetstream.New(cfg.Bus.Federation(), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	// Remote alerts get their own alert service over the same store: the
	// same tables and publication, with a deduplication window wide
	// enough that every state of a remote alert updates one hub alert.
	alerts, err := alert.NewService(cfg.DB, cfg.Bus, alert.Options{DedupWindow: hubDedupWindow})
	if err != nil {
		return nil, err
	}
	h := &Hub{
		cfg: cfg, fed: fed, relayJS: relayJS, alerts: alerts, verify: newVerifier(cfg.Identity), known: map[string]bool{},
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "xsoc_federation_alerts_received_total",
			Help: "Federated alert states taken in by the hub."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "xsoc_federation_alerts_refused_total",
			Help: "Federated alert messages refused: bad signature, unknown node, malformed, or a TLP level that may not leave its node."}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{h.received, h.refused} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	h.notices = newNotifier(h)
	if h.metrics = cfg.Metrics; h.metrics == nil {
		if h.metrics, err = NewMetrics(cfg.Registry); err != nil {
			return nil, err
		}
	}
	if h.relay, err = newRelay(ctx, h); err != nil {
		return nil, err
	}
	return h, nil
}

// ensureHubStreams creates the hub's stream in the federation account.
func ensureHubStreams(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        AlertStream,
		Description: "alerts member nodes share with the hub (pseudonymised)",
		Subjects:    []string{AlertSubject + ".>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      30 * 24 * time.Hour,
		MaxBytes:    4 << 30,
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
	}); err != nil {
		return fmt.Errorf("federation: stream %s: %w", AlertStream, err)
	}
	return nil
}

// Run takes in federated alerts, and tells member nodes when their
// alerts join cross-border incidents, until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		h.notices.run(ctx)
	}()
	defer func() { <-notified }()
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		h.relay.run(ctx)
	}()
	defer func() { <-relayed }()
	consume(ctx, h.fed, AlertStream, jetstream.ConsumerConfig{
		Durable:       hubConsumer,
		Description:   "the hub's correlation of federated alerts",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 256, h.cfg.Log, func(msgs []jetstream.Msg) {
		if err := h.ingest(ctx, msgs); err != nil {
			h.cfg.Log.Warn("federation: federated alerts not taken in; they come again", "err", err)
			for _, m := range msgs {
				m.NakWithDelay(time.Second)
			}
			sleep(ctx, time.Second)
		}
	})
	return nil
}

// ingest takes in one batch: verify, keep each remote alert's latest
// state, raise and correlate, record the states taken in, then
// acknowledge. A crash anywhere before the acknowledgement makes the
// batch come again; each step is idempotent (an alert state already
// raised is recognised by its state id, one already recorded is
// skipped).
func (h *Hub) ingest(ctx context.Context, msgs []jetstream.Msg) error {
	latest := map[string]Alert{}
	var order []string
	for _, m := range msgs {
		a, err := h.verify.decodeAlert(m.Subject(), m.Headers(), m.Data())
		if err != nil {
			h.refused.Inc()
			h.cfg.Log.Warn("federation: federated alert refused", "subject", m.Subject(), "err", err)
			continue
		}
		k := a.Node + "/" + a.ID
		if have, ok := latest[k]; !ok {
			order = append(order, k)
		} else if have.Count >= a.Count {
			continue
		}
		latest[k] = a
	}
	if len(order) > 0 {
		start := time.Now()
		if err := h.take(ctx, latest, order); err != nil {
			return err
		}
		h.cfg.Log.Debug("federation: alert states taken in", "messages", len(msgs), "alerts", len(order), "took", time.Since(start))
		h.notices.poke()
	}
	for _, m := range msgs {
		m.Ack() // refused messages too: sending them again cannot help
	}
	return nil
}

// take raises and correlates the given remote alert states and records
// them. Raising and correlating are recorded apart (raised_count,
// origin_count): a state raised but not correlated (Process failed, or
// the hub stopped in between) is not raised again when it, or a later
// state, comes again — only the rest is — and is correlated then. (The
// raise and the first record are two transactions: a crash between them
// still loses which state was raised.)
func (h *Hub) take(ctx context.Context, latest map[string]Alert, order []string) error {
	known, err := h.knownStates(ctx, latest, order)
	if err != nil {
		return err
	}
	var detections []alert.Alert
	var taken []Alert
	for _, k := range order {
		a := latest[k]
		if err := h.ensureMember(ctx, a); errors.Is(err, errBadMember) {
			// Sending it again cannot help.
			h.refused.Inc()
			h.cfg.Log.Warn("federation: federated alert refused", "node", a.Node, "alert", a.ID, "err", err)
			continue
		} else if err != nil {
			return err
		}
		st := known[k]
		if a.Count <= st.correlated {
			continue // an older or repeated state
		}
		detections = append(detections, hubDetections(a, st.raised)...)
		// The hub alert holds the later of this state and the one raised
		// before; that is what gets correlated.
		a.Count = max(a.Count, st.raised)
		taken = append(taken, a)
	}
	if len(taken) == 0 {
		return nil
	}
	raised, err := h.alerts.Raise(ctx, detections)
	if err != nil && !errors.Is(err, alert.ErrInvalid) {
		return err
	}
	if err != nil {
		h.cfg.Log.Warn("federation: federated alert not raised", "err", err)
	}
	byKey := map[string]string{}
	for _, r := range raised {
		byKey[r.Key] = r.ID
	}
	// Which hub alert stands for which remote alert, and the state
	// raised, are recorded before correlating (notices need the first);
	// the state correlated only after, so that a failure in between
	// makes the state come again and be correlated then.
	if err := h.record(ctx, taken, byKey, false); err != nil {
		return err
	}
	if err := h.cfg.Correlator.Process(ctx, raised); err != nil && !errors.Is(err, correlate.ErrInvalid) {
		return err
	}
	if err := h.record(ctx, taken, byKey, true); err != nil {
		return err
	}
	h.received.Add(float64(len(taken)))
	return nil
}

// record stores which hub alert stands for each remote alert taken and
// the state (count) raised, and with correlated also the state
// correlated. Neither count ever goes down.
func (h *Hub) record(ctx context.Context, taken []Alert, byKey map[string]string, correlated bool) error {
	now := store.Nanos(time.Now())
	err := h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, a := range taken {
			id, ok := byKey[originKey(&a)]
			if !ok {
				continue
			}
			done := 0
			if correlated {
				done = a.Count
			}
			if _, err := tx.Exec(ctx, `INSERT INTO federation_alerts (node, origin_id, member, alert_id, origin_count, raised_count, received)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, origin_id) DO UPDATE SET
				alert_id = excluded.alert_id, received = excluded.received,
				origin_count = CASE WHEN excluded.origin_count > federation_alerts.origin_count
					THEN excluded.origin_count ELSE federation_alerts.origin_count END,
				raised_count = CASE WHEN excluded.raised_count > federation_alerts.raised_count
					THEN excluded.raised_count ELSE federation_alerts.raised_count END`,
				a.Node, a.ID, a.Member, id, done, a.Count, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("federation: record alerts: %w", err)
	}
	return nil
}

// takenState is how far the hub took a remote alert in: the state
// (count) its hub alert was raised up to, and correlated up to.
type takenState struct {
	raised, correlated int
}

// knownStates returns, by key in latest, how far the hub took each
// remote alert of a batch in; alerts it never took are missing.
func (h *Hub) knownStates(ctx context.Context, latest map[string]Alert, order []string) (map[string]takenState, error) {
	where := make([]string, 0, len(order))
	args := make([]any, 0, 2*len(order))
	for _, k := range order {
		a := latest[k]
		where = append(where, "(node = ? AND origin_id = ?)")
		args = append(args, a.Node, a.ID)
	}
	rows, err := h.cfg.DB.Query(ctx, `SELECT node, origin_id, raised_count, origin_count FROM federation_alerts WHERE `+
		strings.Join(where, " OR "), args...)
	if err != nil {
		return nil, fmt.Errorf("federation: read alert states: %w", err)
	}
	defer rows.Close()
	known := make(map[string]takenState, len(order))
	for rows.Next() {
		var node, id string
		var st takenState
		if err := rows.Scan(&node, &id, &st.raised, &st.correlated); err != nil {
			return nil, fmt.Errorf("federation: read alert states: %w", err)
		}
		// Rows older than raised_count have it 0.
		st.raised = max(st.raised, st.correlated)
		known[node+"/"+id] = st
	}
	return known, rows.Err()
}

// errBadMember: a remote member the hub cannot register (no EU country,
// no NIS2 sector, an id that is no member id).
var errBadMember = errors.New("federation: remote member not valid")

// ensureMember registers the remote member of a at the hub, once.
func (h *Hub) ensureMember(ctx context.Context, a Alert) error {
	id := RemoteMemberID(a.Node, a.Member)
	if h.known[id] {
		return nil
	}
	m, err := h.cfg.Members.Get(ctx, id)
	if errors.Is(err, member.ErrNotFound) {
		// Only alerts shared with the community (CLEAR, GREEN) reach the
		// hub, so the member shares its alerts here at TLP:GREEN.
		green := tlp.Green
		m = member.Member{ID: id, Name: a.Member + " (node " + a.Node + ")", Country: a.Country, Sector: a.Sector, AlertTLP: &green}
		if err := m.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errBadMember, err)
		}
		// The key Add returns is not kept: a remote member has no access
		// to the hub until an operator issues one (members rotate-key).
		m, _, err = h.cfg.Members.Add(ctx, m)
		if errors.Is(err, member.ErrExists) {
			m, err = h.cfg.Members.Get(ctx, id)
		}
	}
	if err != nil {
		return fmt.Errorf("federation: remote member %s: %w", id, err)
	}
	h.cfg.OnMember(m)
	h.known[id] = true
	return nil
}

// originKey is the deduplication key of a remote alert's hub alert: one
// hub alert per remote alert.
func originKey(a *Alert) string { return "federation|" + a.Node + "|" + a.ID }

// hubDetections turns a remote alert's state into detections for the
// hub's alert service, given the state its hub alert was raised up to.
// The first state opens the hub alert at the remote alert's first event
// time (and, if it already spans a later event, extends it to that); a
// later state adds the detections counted since the one raised. Each
// carries the state's id as its event id, so raising it again changes
// nothing. A state no later than the one raised gives that state's last
// detection again: the alert service recognises it and returns the hub
// alert unchanged, so that it can still be correlated.
func hubDetections(a Alert, raised int) []alert.Alert {
	base := alert.Alert{
		Member: RemoteMemberID(a.Node, a.Member), Detector: a.Detector, RuleID: a.RuleID, RuleTitle: a.RuleTitle,
		Severity: a.Severity, Techniques: a.Techniques, TLP: a.TLP, Key: originKey(&a),
		Observables: hubObservables(a.Observables),
	}
	if raised > 0 {
		d := base
		d.EventTime, d.Count, d.EventIDs = later(a.LastSeen, a.EventTime), a.Count-raised, []string{a.MsgID()}
		if raised >= a.Count {
			was := a
			was.Count = raised
			d.Count, d.EventIDs = 1, []string{was.MsgID()}
		}
		return []alert.Alert{d}
	}
	state := a.MsgID()
	first := base
	first.EventTime, first.Count, first.EventIDs = a.EventTime, a.Count, []string{state}
	if a.Count < 2 || !a.LastSeen.After(a.EventTime) {
		return []alert.Alert{first}
	}
	first.Count, first.EventIDs = a.Count-1, []string{state + ".first"}
	last := base
	last.EventTime, last.Count, last.EventIDs = a.LastSeen, 1, []string{state}
	return []alert.Alert{first, last}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hubObservables is how the hub's correlator sees pseudonymised
// observables. It keeps each type, except that a public address becomes
// "public-ipv4-addr" or "public-ipv6-addr": the correlator tells public
// from private addresses by parsing them, which a pseudonym defeats, and
// the member node already decided (Observable.Global); correlate.Global
// counts these two types global.
func hubObservables(obs []Observable) []alert.Observable {
	out := make([]alert.Observable, 0, len(obs))
	for _, o := range obs {
		typ := o.Type
		if o.Global && (typ == "ipv4-addr" || typ == "ipv6-addr") {
			typ = "public-" + typ
		}
		out = append(out, alert.Observable{Type: typ, Value: o.Pseudonym, Role: o.Role})
	}
	return out
}
