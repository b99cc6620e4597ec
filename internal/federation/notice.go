package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// NoticeRule is the rule id of the alert a member node raises when the hub
// reports that one of its alerts joined a cross-border incident.
const NoticeRule = "cross-border-incident"

// Notice is what the hub tells a member node when an alert of the node
// joins a cross-border incident (or the incident reaches more countries):
// the incident's id, title, countries, severity, span and techniques, and
// which of the node's alerts it holds. Other members are only counted.
// Everything in it is the incident as the alert's member may see it at
// the hub: members sharing at TLP:RED or AMBER+STRICT add no country, no
// count, no technique and no word of the title.
type Notice struct {
	Hub        string         `json:"hub"`
	Incident   string         `json:"incident"`
	Title      string         `json:"title"`
	Countries  []string       `json:"countries"`
	Members    int            `json:"members"`
	Severity   alert.Severity `json:"severity"`
	Techniques []string       `json:"techniques,omitempty"`
	FirstSeen  time.Time      `json:"first_seen"`
	LastSeen   time.Time      `json:"last_seen"`
	// Node, Member and Alert name the node's alert in the incident.
	Node   string `json:"node"`
	Member string `json:"member"`
	Alert  string `json:"alert"`
}

// Subject is the subject the notice is published on.
func (n *Notice) Subject() string { return NoticeSubject + "." + n.Node }

// msgID names this notice: one per incident, alert and set of countries.
func (n *Notice) msgID() string {
	return n.Incident + "." + n.Alert + "." + strings.Join(n.Countries, "-")
}

// notifier sends notices for the hub's cross-border incidents into each
// member node's notice stream. After the hub took in alerts (and every
// few seconds) it reads the cross-border incidents and sends a notice for
// each alert that joined one since the last pass, and for every alert of
// an incident that reached other countries (the notice names them).
// Notices that could not be stored (a member node is down) are sent on
// the next pass; after a restart, all are (member nodes recognise
// repeats).
type notifier struct {
	h    *Hub
	wake chan struct{}
	// sent is, per incident, what its notices told so far.
	sent map[string]*noticed
}

// noticed is what the notices of one incident told: its countries, and
// which of its alerts were noticed (or need none: the hub's own).
type noticed struct {
	countries string
	alerts    map[string]bool
}

func newNotifier(h *Hub) *notifier {
	return &notifier{h: h, wake: make(chan struct{}, 1), sent: map[string]*noticed{}}
}

// poke asks for a pass soon; it never blocks.
func (nt *notifier) poke() {
	select {
	case nt.wake <- struct{}{}:
	default:
	}
}

// run makes passes until ctx ends.
func (nt *notifier) run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if err := nt.pass(ctx); err != nil && ctx.Err() == nil {
			nt.h.cfg.Log.Warn("federation: notices not all sent; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-nt.wake:
			// Let a burst of batches settle into one pass.
			sleep(ctx, 100*time.Millisecond)
		case <-t.C:
		}
	}
}

// pass sends the notices of the cross-border incidents that changed.
func (nt *notifier) pass(ctx context.Context) error {
	page, err := nt.h.cfg.Correlator.Incidents(ctx, alert.Viewer{Operator: true}, correlate.Filter{CrossBorder: true, Limit: 500})
	if err != nil {
		return err
	}
	var failed error
	seen := make(map[string]bool, len(page.Incidents))
	views := map[string]map[string]*correlate.Incident{}
	for i := range page.Incidents {
		in := &page.Incidents[i]
		seen[in.ID] = true
		countries := strings.Join(in.Countries, ",")
		told := nt.sent[in.ID]
		if told == nil || told.countries != countries {
			// New, or news for every alert's node: other countries.
			told = &noticed{countries: countries, alerts: map[string]bool{}}
			nt.sent[in.ID] = told
		}
		if err := nt.send(ctx, in, told.alerts, views); err != nil {
			failed = err
		}
	}
	for id := range nt.sent {
		if !seen[id] {
			delete(nt.sent, id) // closed, merged or beyond the listing
		}
	}
	return failed
}

// send publishes a notice for each remote alert of incident in not in
// done, and adds to done the alerts it noticed. Each notice tells the
// incident as the alert's member sees it (views caches those views for
// the pass); a member that sees no other country in it gets none, which
// would tell it only that members it may not see were hit.
func (nt *notifier) send(ctx context.Context, in *correlate.Incident, done map[string]bool,
	views map[string]map[string]*correlate.Incident) error {
	for _, id := range in.AlertIDs() {
		if done[id] {
			continue
		}
		var node, origin, memberID string
		err := nt.h.cfg.DB.QueryRow(ctx, `SELECT node, origin_id, member FROM federation_alerts WHERE alert_id = ?`,
			id).Scan(&node, &origin, &memberID)
		if store.NotFound(err) {
			done[id] = true // an alert of the hub's own members
			continue
		}
		if err != nil {
			return err
		}
		view, err := nt.viewOf(ctx, views, RemoteMemberID(node, memberID), in.ID)
		if err != nil {
			return err
		}
		if view == nil || !view.CrossBorder {
			done[id] = true
			continue
		}
		n := Notice{Hub: nt.h.cfg.Identity.Name, Incident: in.ID, Title: view.Title, Countries: view.Countries,
			Members: len(view.Members), Severity: view.Severity, Techniques: view.Techniques,
			FirstSeen: view.FirstSeen, LastSeen: view.LastSeen, Node: node, Member: memberID, Alert: origin}
		data, err := json.Marshal(&n)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: n.Subject(), Data: data}
		if err := nt.h.cfg.Identity.seal(msg); err != nil {
			return err
		}
		if _, err := nt.h.fed.PublishMsg(ctx, msg, jetstream.WithMsgID(n.msgID())); err != nil {
			return fmt.Errorf("notice to %s: %w", node, err)
		}
		done[id] = true
	}
	return nil
}

// viewOf returns cross-border incident id as the hub member memberID
// (a remote member's "<node>--<member>") may see it, nil if it sees it
// as none; views caches each member's listing for one pass.
func (nt *notifier) viewOf(ctx context.Context, views map[string]map[string]*correlate.Incident, memberID, id string) (*correlate.Incident, error) {
	seen, ok := views[memberID]
	if !ok {
		page, err := nt.h.cfg.Correlator.Incidents(ctx, alert.Viewer{Member: memberID}, correlate.Filter{CrossBorder: true, Limit: 500})
		if err != nil {
			return nil, err
		}
		seen = make(map[string]*correlate.Incident, len(page.Incidents))
		for i := range page.Incidents {
			seen[page.Incidents[i].ID] = &page.Incidents[i]
		}
		views[memberID] = seen
	}
	return seen[id], nil
}

// NoticesConfig configures a member node's reader of hub notices.
type NoticesConfig struct {
	// Bus is the member node's bus; its federation account keeps the
	// node's notice stream.
	Bus *bus.Bus
	// Identity verifies that notices come from Hub, the configured hub.
	Identity *Identity
	Hub      string
	// Alert returns one of the node's alerts by id.
	Alert func(ctx context.Context, id string) (alert.Alert, error)
	// Raise raises the notice alerts as the node's pipeline raises its
	// own (sharing level, storage, correlation, response).
	Raise func(ctx context.Context, alerts []alert.Alert) error
	Log   *slog.Logger
}

// Notices raises an alert on a member node for each notice from the hub:
// detector NoticeDetector, rule NoticeRule, on the member and with the
// observables of its alert that joined the cross-border incident, so that
// the notice lands in the same local incident and playbooks can act on
// it. Notice alerts stay on the node (MayLeave).
type Notices struct {
	cfg    NoticesConfig
	js     jetstream.JetStream
	verify *verifier
}

// noticeConsumer is the durable consumer of the node's notice stream.
const noticeConsumer = "xsoc-notices"

// NewNotices creates the node's notice stream (if missing) and returns a
// notice reader; Run starts it.
func NewNotices(ctx context.Context, cfg NoticesConfig) (*Notices, error) {
	if cfg.Bus == nil || cfg.Bus.Federation() == nil || cfg.Identity == nil || cfg.Hub == "" || cfg.Alert == nil || cfg.Raise == nil {
		return nil, errors.New("federation: notices need a federation bus, an identity, the hub's name, alerts and a sink")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(cfg.Bus.Federation())
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        NoticeStream,
		Description: "notices from the federation hub",
		Subjects:    []string{NoticeSubject + "." + cfg.Identity.Name},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    1 << 30,
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
	}); err != nil {
		return nil, fmt.Errorf("federation: stream %s: %w", NoticeStream, err)
	}
	return &Notices{cfg: cfg, js: js, verify: newVerifier(cfg.Identity)}, nil
}

// Run raises the notices the hub sends until ctx ends.
func (ns *Notices) Run(ctx context.Context) error {
	consume(ctx, ns.js, NoticeStream, jetstream.ConsumerConfig{
		Durable:       noticeConsumer,
		Description:   "notices from the hub, raised as alerts",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 64, ns.cfg.Log, func(msgs []jetstream.Msg) {
		for _, m := range msgs {
			if err := ns.take(ctx, m); err != nil {
				ns.cfg.Log.Warn("federation: notice not taken; it comes again", "err", err)
				m.NakWithDelay(time.Second)
				continue
			}
			m.Ack()
		}
	})
	return nil
}

// take raises the alert for one notice. A notice that is not from the hub,
// or names an alert the node does not have, is dropped with a warning.
func (ns *Notices) take(ctx context.Context, m jetstream.Msg) error {
	sender, err := ns.verify.open(m.Subject(), m.Headers(), m.Data())
	var n Notice
	if err == nil {
		err = json.Unmarshal(m.Data(), &n)
	}
	if err == nil && (sender != ns.cfg.Hub || n.Hub != sender || n.Node != ns.cfg.Identity.Name) {
		err = fmt.Errorf("notice from %s for node %s", sender, n.Node)
	}
	if err != nil {
		ns.cfg.Log.Warn("federation: notice refused", "err", err)
		return nil
	}
	own, err := ns.cfg.Alert(ctx, n.Alert)
	if err != nil {
		ns.cfg.Log.Warn("federation: notice for an unknown alert", "alert", n.Alert, "err", err)
		return nil
	}
	return ns.cfg.Raise(ctx, []alert.Alert{noticeAlert(&n, &own)})
}

// noticeAlert is the alert a notice raises on the member's alert own.
func noticeAlert(n *Notice, own *alert.Alert) alert.Alert {
	return alert.Alert{
		Member: own.Member, EventTime: own.EventTime, Detector: NoticeDetector, RuleID: NoticeRule,
		RuleTitle: fmt.Sprintf("Cross-border incident at hub %s (%s, %d members): %s",
			n.Hub, strings.Join(n.Countries, ", "), n.Members, n.Title),
		Severity: max(n.Severity, own.Severity), Techniques: own.Techniques, Observables: own.Observables,
		// What the hub says about other members stays with this member
		// and its clients.
		TLP: tlp.Amber,
		Key: n.Hub + "/" + n.Incident,
		// One event per notice: a repeated notice changes nothing, news
		// (more countries) counts.
		EventIDs: []string{"notice/" + n.Hub + "/" + n.msgID()},
	}
}
