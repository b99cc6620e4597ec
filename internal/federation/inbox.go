package federation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// inboxConsumer is the durable consumer of a member node's inbox.
const inboxConsumer = "xsoc-inbox"

// InboxConfig configures an Inbox.
type InboxConfig struct {
	// Bus is the member node's bus; its federation account keeps the
	// inbox stream.
	Bus *bus.Bus
	// Identity verifies signatures; Hub names the only node whose
	// forwards are taken.
	Identity *Identity
	Hub      string
	// DB keeps the received indicators, so that a restart applies them
	// again (and nothing twice); Index is the node's IOC index.
	DB    *store.DB
	Index *ioc.Index
	// IsMember reports whether a member id is one of this node's members.
	IsMember func(id string) bool
	Log      *slog.Logger
	Metrics  *Metrics
	// Clock tells the time; nil means time.Now.
	Clock func() time.Time
	// Release releases the values behind corroborated pseudonyms when the
	// hub asks (Warner.Release); nil leaves the requests unanswered.
	Release func(ctx context.Context, pseudonyms []string) error
}

// Inbox takes in the warnings the hub forwards to a member node and makes
// their indicators active in the node's IOC index at once: the next
// matching event raises an alert that names the warning's country and
// age. It refuses, with a logged reason and a counter, anything not
// forwarded by the hub, not signed by the node it names, replayed, over
// its TLP level, malformed or about a private address; indicators that
// expired before they arrived are not applied.
//
// A value several origins pushed — members of other nodes, each with its
// own indicator id — is one indicator of the index (ReceivedID), with one
// entry per origin: the origin's member at the hub owns it, with its TLP
// level, recipients, country, confidence, detection time and expiry. So
// an event raises one alert for it, naming the origins its member may
// use; a revocation removes its origin's entry alone; and each origin
// expires on its own.
type Inbox struct {
	cfg    InboxConfig
	js     jetstream.JetStream
	verify *verifier

	mu sync.Mutex
	// indicators are the ids of the indicators received (ReceivedID),
	// whose alerts are not pushed on. An indicator whose origins all
	// revoked it stays: alerts it raised just before may still be on
	// their way.
	indicators map[string]bool
}

// NewInbox creates the node's inbox stream (if missing), makes the
// received indicators still valid active in the index, and returns the
// inbox; Run starts it.
func NewInbox(ctx context.Context, cfg InboxConfig) (*Inbox, error) {
	if cfg.Bus == nil || cfg.Bus.Federation() == nil || cfg.Identity == nil || cfg.Hub == "" || cfg.DB == nil ||
		cfg.Index == nil || cfg.IsMember == nil || cfg.Metrics == nil {
		return nil, errors.New("federation: inbox needs a federation bus, an identity, the hub's name, a store, an index, members and metrics")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	js, err := jetstream.New(cfg.Bus.Federation())
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        InboxStream,
		Description: "early warnings forwarded by the federation hub",
		Subjects:    []string{InboxSubject + "." + cfg.Identity.Name},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxWarningAge,
		MaxBytes:    1 << 30,
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
	}); err != nil {
		return nil, fmt.Errorf("federation: stream %s: %w", InboxStream, err)
	}
	in := &Inbox{cfg: cfg, js: js, verify: newVerifier(cfg.Identity), indicators: map[string]bool{}}
	if err := in.load(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

// Received reports whether an indicator id (an IOC alert's rule id) is
// one this node received in warnings.
func (in *Inbox) Received(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.indicators[id]
}

// ReceivedID is the id a receiving node gives the indicator of a value of
// kind k, whatever origins pushed it: each origin names its indicator
// after itself, and the receiving node makes them one.
func ReceivedID(k ioc.Kind, value string) string {
	if v, err := ioc.Normalize(k, value); err == nil {
		value = v
	}
	return stix.NameID("indicator", "xsoc-received|"+k.String()+"|"+value)
}

// load makes the stored indicators that are neither revoked nor expired
// active in the index.
func (in *Inbox) load(ctx context.Context) error {
	rows, err := in.cfg.DB.Query(ctx, `SELECT indicator_id, origin_node, sender, country, tlp, named, kind, value, confidence,
		detected, valid_until FROM federation_warnings WHERE revoked = 0 AND valid_until > ?`, store.Nanos(in.cfg.Clock()))
	if err != nil {
		return fmt.Errorf("federation: received warnings: %w", err)
	}
	defer rows.Close()
	b := in.cfg.Index.NewBatch()
	for rows.Next() {
		var r stored
		var named string
		var level, kind int
		var detected, until int64
		if err := rows.Scan(&r.item.ID, &r.node, &r.sender, &r.country, &level, &named, &kind, &r.item.Value,
			&r.item.Confidence, &detected, &until); err != nil {
			return err
		}
		r.level, r.item.Kind = tlp.Level(level), ioc.Kind(kind)
		r.item.Detected, r.item.ValidUntil = store.Time(detected), store.Time(until)
		if named != "" {
			r.named = strings.Split(named, ",")
		}
		ind := r.indicator(in.cfg.Clock())
		if err := b.Add(ind); err != nil {
			in.cfg.Log.Warn("federation: stored warning not applied", "indicator", r.item.ID, "err", err)
			continue
		}
		in.indicators[ind.ID] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return b.Commit()
}

// stored is one received indicator with the warning's provenance.
type stored struct {
	item            Item
	node, sender    string
	country, sector string
	level           tlp.Level
	named           []string
	warning         string
}

// indicator is the index entry of a received indicator from its origin.
// It is owned by the remote sender, so TLP decides which local members
// may use it: everyone for CLEAR and GREEN, the members the hub named for
// AMBER. Its id is the value's (ReceivedID): the origins of a value are
// entries of one indicator.
func (r *stored) indicator(now time.Time) ioc.Indicator {
	from := r.item.Detected
	if from.After(now) {
		from = now // a clock ahead at the origin must not delay the match
	}
	return ioc.Indicator{
		ID: ReceivedID(r.item.Kind, r.item.Value), Kind: r.item.Kind, Value: r.item.Value, Source: "cross-border warning from " + r.country,
		Owner: RemoteMemberID(r.node, r.sender), Confidence: r.item.Confidence, TLP: r.level, Named: r.named,
		ValidFrom: from, ValidUntil: r.item.ValidUntil, WarnedFrom: r.country,
	}
}

// Run takes in warnings until ctx ends.
func (in *Inbox) Run(ctx context.Context) error {
	consume(ctx, in.js, InboxStream, jetstream.ConsumerConfig{
		Durable:       inboxConsumer,
		Description:   "early warnings from the hub, applied to the IOC index",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 8192,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 256, in.cfg.Log, func(msgs []jetstream.Msg) {
		if err := in.take(ctx, msgs); err != nil {
			in.cfg.Log.Warn("federation: warnings not applied; they come again", "err", err)
			for _, m := range msgs {
				m.NakWithDelay(time.Second)
			}
			sleep(ctx, time.Second)
			return
		}
		for _, m := range msgs {
			m.Ack()
		}
	})
	return nil
}

// accepted is a warning that passed every check, with its items.
type accepted struct {
	w     Warning
	items []Item
	named []string
}

// take applies a batch: it checks every message, applies the indicators
// of the accepted ones (and their revocations) to the index in one
// commit, then records them. A refused message is counted and logged.
func (in *Inbox) take(ctx context.Context, msgs []jetstream.Msg) error {
	now := in.cfg.Clock()
	var ok []accepted
	var releases []ReleaseRequest
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.Headers().Get(hdrKind) == kindRelease {
			req, err := in.checkRelease(m, now)
			if err != nil {
				in.cfg.Metrics.refuse(reasonOf(err))
				in.cfg.Log.Warn("federation: release request refused", "reason", reasonOf(err), "err", err)
				continue
			}
			releases = append(releases, req)
			continue
		}
		a, err := in.check(ctx, m, now)
		if err == nil && seen[a.w.ID] {
			err = refuse(reasonReplay, "warning %s twice in a batch", a.w.ID)
		}
		if err != nil {
			if errors.Is(err, errTaken) {
				continue
			}
			var r *refusal
			if !errors.As(err, &r) {
				return err
			}
			in.cfg.Metrics.refuse(r.reason)
			in.cfg.Log.Warn("federation: warning refused", "reason", r.reason, "err", r.err)
			continue
		}
		seen[a.w.ID] = true
		ok = append(ok, a)
	}
	if len(ok) > 0 {
		if err := in.apply(ctx, ok, now); err != nil {
			return err
		}
	}
	return in.release(ctx, releases)
}

// countRefused counts and logs the indicators refused in a warning.
func (in *Inbox) countRefused(warning string, refused []error) {
	for _, e := range refused {
		in.cfg.Metrics.refuse(reasonOf(e))
		in.cfg.Log.Warn("federation: indicator refused", "warning", warning, "reason", reasonOf(e), "err", e)
	}
}

// errTaken: a warning delivered again after this node took it but before
// it acknowledged it.
var errTaken = errors.New("federation: warning taken before")

// check verifies one forwarded warning: sealed by the hub for this
// node's inbox, signed by the node it names (not this one), never taken
// before, no more restricted than what the hub may forward to this
// node, and well formed.
func (in *Inbox) check(ctx context.Context, m jetstream.Msg, now time.Time) (accepted, error) {
	hdr := m.Headers()
	recipients := hdr.Get(hdrRecipients)
	relayCert, err1 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelayCert))
	relaySig, err2 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelaySignature))
	if err1 != nil || err2 != nil || len(relayCert) == 0 || len(relaySig) == 0 {
		return accepted{}, refuse(reasonRelay, "no hub seal")
	}
	vc, err := in.verify.cert(relayCert)
	if err != nil {
		return accepted{}, refuse(reasonRelay, "%v", err)
	}
	if vc.node != in.cfg.Hub || m.Subject() != InboxSubject+"."+in.cfg.Identity.Name {
		return accepted{}, refuse(reasonRelay, "forwarded by node %s on %s", vc.node, m.Subject())
	}
	if err := verifySignature(vc.cert, relayDigest(m.Subject(), hdr, m.Data()), relaySig); err != nil {
		return accepted{}, refuse(reasonRelay, "hub seal: %v", err)
	}
	o, err := openWarning(in.verify, hdr, m.Data(), now)
	w, items := o.w, o.items
	// Indicators refused in a warning the hub sealed: only a hub that
	// failed to check it forwards them.
	in.countRefused(o.w.ID, o.refused)
	if err != nil {
		return accepted{}, err
	}
	if w.Node == in.cfg.Identity.Name {
		return accepted{}, refuse(reasonOrigin, "a warning of this node came back")
	}
	var named []string
	if recipients != "" {
		for _, r := range strings.Split(recipients, ",") {
			if in.cfg.IsMember(r) {
				named = append(named, r)
			}
		}
	}
	if w.TLP == tlp.Amber && len(named) == 0 && len(w.Bundle) > 0 {
		return accepted{}, refuse(reasonTLP, "TLP:AMBER warning %s names no member of this node", w.ID)
	}
	var n int
	if err := in.cfg.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_inbox WHERE warning = ?`, w.ID).Scan(&n); err != nil {
		return accepted{}, err
	}
	// Taken before, unless the hub sends it again for more members (a
	// member added that an agreement covers): applied again, naming all.
	if n > 0 && (hdr.Get(hdrRelayKind) != kindWiden || len(named) == 0) {
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			return accepted{}, errTaken
		}
		return accepted{}, refuse(reasonReplay, "warning %s was taken before", w.ID)
	}
	return accepted{w: w, items: items, named: named}, nil
}

// apply makes the accepted warnings' indicators active (and removes the
// revoked ones) in one index commit, then records them.
func (in *Inbox) apply(ctx context.Context, ok []accepted, now time.Time) error {
	b := in.cfg.Index.NewBatch()
	var rows []stored
	var revoked []removal
	var detected []time.Time
	for _, a := range ok {
		in.cfg.Metrics.received.Add(float64(len(a.items)))
		for _, it := range a.items {
			if !it.ValidUntil.After(now) {
				in.cfg.Metrics.expired.Inc()
				continue
			}
			r := stored{item: it, node: a.w.Node, sender: a.w.Sender, country: a.w.Country, sector: a.w.Sector,
				level: a.w.TLP, named: a.named, warning: a.w.ID}
			if err := b.Add(r.indicator(now)); err != nil {
				in.cfg.Metrics.refuse(reasonMalformed)
				in.cfg.Log.Warn("federation: indicator not applied", "indicator", it.ID, "err", err)
				continue
			}
			rows = append(rows, r)
			detected = append(detected, it.Detected)
		}
		for _, id := range a.w.Revoke {
			revoked = append(revoked, removal{id: id, node: a.w.Node, sender: a.w.Sender})
		}
	}
	removals, err := in.removals(ctx, revoked)
	if err != nil {
		return err
	}
	for _, r := range removals {
		// Only the origin's entry: the value's other origins stay.
		b.RemoveOwned(r.kind, r.value, ReceivedID(r.kind, r.value), RemoteMemberID(r.node, r.sender))
	}
	if err := b.Commit(); err != nil {
		return err
	}
	applied := in.cfg.Clock()
	in.cfg.Metrics.observeApplied(applied, detected)
	in.cfg.Metrics.revoked.Add(float64(len(removals)))
	in.mu.Lock()
	for _, r := range rows {
		in.indicators[ReceivedID(r.item.Kind, r.item.Value)] = true
	}
	in.mu.Unlock()
	return in.record(ctx, ok, rows, removals, applied)
}

// removal is one origin's indicator to withdraw: its id at the origin,
// the origin (node and sender), and the value it names.
type removal struct {
	id, node, sender string
	value            string
	kind             ioc.Kind
}

// removals keeps the revocations of indicators their origin pushed and
// has not revoked yet, with the values they name: only its origin — the
// same node and sender — revokes an indicator.
func (in *Inbox) removals(ctx context.Context, revoked []removal) ([]removal, error) {
	var out []removal
	seen := map[removal]bool{}
	for _, r := range revoked {
		if seen[r] {
			continue // revoked twice in a batch: counted once
		}
		seen[r] = true
		var kind int
		err := in.cfg.DB.QueryRow(ctx, `SELECT kind, value FROM federation_warnings
			WHERE indicator_id = ? AND origin_node = ? AND sender = ? AND revoked = 0`, r.id, r.node, r.sender).Scan(&kind, &r.value)
		if store.NotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r.kind = ioc.Kind(kind)
		out = append(out, r)
	}
	return out, nil
}

// record stores the applied indicators, the revocations and the warnings
// taken, in one transaction.
func (in *Inbox) record(ctx context.Context, ok []accepted, rows []stored, removals []removal, applied time.Time) error {
	at := store.Nanos(applied)
	return in.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO federation_warnings (indicator_id, origin_node, sender, country, sector, tlp, named,
				kind, value, confidence, detected, valid_until, sightings, first_seen, last_seen, warning, applied, revoked)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (indicator_id, origin_node, sender) DO UPDATE SET
				country = excluded.country, sector = excluded.sector, tlp = excluded.tlp, named = excluded.named,
				confidence = excluded.confidence, detected = excluded.detected, valid_until = excluded.valid_until,
				sightings = excluded.sightings, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
				warning = excluded.warning, applied = excluded.applied, revoked = 0`,
				r.item.ID, r.node, r.sender, r.country, r.sector, int(r.level), strings.Join(r.named, ","), int(r.item.Kind),
				r.item.Value, r.item.Confidence, store.Nanos(r.item.Detected), store.Nanos(r.item.ValidUntil),
				max(r.item.Count, 1), store.Nanos(r.item.FirstSeen), store.Nanos(r.item.LastSeen), r.warning, at); err != nil {
				return err
			}
		}
		for _, r := range removals {
			if _, err := tx.Exec(ctx, `UPDATE federation_warnings SET revoked = ? WHERE indicator_id = ? AND origin_node = ? AND sender = ?`,
				at, r.id, r.node, r.sender); err != nil {
				return err
			}
		}
		for _, a := range ok {
			if _, err := tx.Exec(ctx, `INSERT INTO federation_inbox (warning, origin_node, received) VALUES (?, ?, ?)
				ON CONFLICT (warning) DO NOTHING`, a.w.ID, a.w.Node, at); err != nil {
				return err
			}
		}
		return nil
	})
}
