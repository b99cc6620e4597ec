package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// hubWarnConsumer is the hub's durable consumer of the warning stream.
const hubWarnConsumer = "xsoc-hub-warnings"

// relay is the hub's half of the early warning path: it keeps the member
// nodes' directories, checks each warning as a receiving node would,
// decides who may receive it, forwards it into each recipient node's
// inbox with the origin's signature intact and its own seal added, and
// records every forward.
type relay struct {
	h      *Hub
	verify *verifier
	corr   *corroborator

	mu   sync.Mutex            // guards dirs, far and recent
	dirs map[string]*Directory // by node
	// far are the directories of nodes below member hubs (hierarchy.go);
	// upstream names this hub's upstream hub, if it has one.
	far      map[string]*farDir
	upstream string

	// recent are the warnings taken lately, in order, so that a replay is
	// recognised before the forward of the original is recorded.
	recent     map[string]bool
	recentList []string

	// The catch-up (catchup.go): the nodes to catch up and a poke for
	// its loop; a count of directories stored and, by node reached
	// directly, the count when its directory last changed; the
	// indicators being revoked, by "<origin>/<id>", since when.
	wanted   map[string]bool
	poke     chan struct{}
	dirGen   uint64
	dirAt    map[string]uint64
	revoking map[string]time.Time
	// sendMu orders the live forwards and a catch-up's: each sends a
	// whole batch or page under it.
	sendMu sync.Mutex
}

// maxRecent bounds relay.recent.
const maxRecent = 1 << 16

// remember records a warning taken; it reports false if it was taken
// lately.
func (r *relay) remember(id string) bool {
	r.mu.Lock() // the hub's streams are read side by side
	defer r.mu.Unlock()
	if r.recent[id] {
		return false
	}
	if len(r.recentList) >= maxRecent {
		delete(r.recent, r.recentList[0])
		r.recentList = r.recentList[1:]
	}
	r.recent[id] = true
	r.recentList = append(r.recentList, id)
	return true
}

// target is one recipient node of a warning: the members it is for (all,
// for the community) and why.
type target struct {
	node    string
	members []string
	reason  string
	// widen: the node was sent the warning before, for fewer of its
	// members (catchup.go).
	widen bool
}

// ensureWarningStream creates the hub's warning stream.
func ensureWarningStream(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        WarningStream,
		Description: "early warnings and directories of member nodes",
		Subjects:    []string{WarningSubject + ".>", DirectorySubject + ".>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxWarningAge,
		MaxBytes:    4 << 30,
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
	}); err != nil {
		return fmt.Errorf("federation: stream %s: %w", WarningStream, err)
	}
	return nil
}

func newRelay(ctx context.Context, h *Hub) (*relay, error) {
	r := &relay{h: h, verify: newVerifier(h.cfg.Identity), dirs: map[string]*Directory{}, recent: map[string]bool{},
		far: map[string]*farDir{}, upstream: h.cfg.Upstream, wanted: map[string]bool{}, poke: make(chan struct{}, 1),
		dirAt: map[string]uint64{}, revoking: map[string]time.Time{}}
	if err := r.loadFar(ctx); err != nil {
		return nil, err
	}
	r.corr = &corroborator{r: r, k: max(h.cfg.CorroborationMembers, DefaultCorroborationMembers)}
	r.corr.countPending(ctx)
	rows, err := h.cfg.DB.Query(ctx, `SELECT directory FROM federation_nodes`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var d Directory
		if json.Unmarshal([]byte(raw), &d) == nil {
			r.dirs[d.Node] = &d
		}
	}
	return r, rows.Err()
}

// run forwards warnings until ctx ends: its member nodes' (the warning
// stream), its member hubs' and its upstream's (hopStreams), each read
// by a consumer of its own; and with an upstream, what goes up
// (runUplink). Each batch is checked, then forwarded with every
// publication in flight at once; the audit of a batch is written while
// the next one is forwarded, and its messages are acknowledged once it
// is written.
func (r *relay) run(ctx context.Context) {
	audits := make(chan auditBatch, 4)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range audits {
			r.write(ctx, b)
		}
	}()
	defer func() { close(audits); <-written }()
	var wg sync.WaitGroup
	defer wg.Wait()
	streams := append([]jetstream.ConsumerConfig{{Durable: hubWarnConsumer, Description: WarningStream}}, r.hopStreams()...)
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consume(ctx, r.h.fed, s.Description, jetstream.ConsumerConfig{
				Durable:       s.Durable,
				Description:   "the hub's forwarding of early warnings",
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       time.Minute,
				MaxAckPending: 8192,
				DeliverPolicy: jetstream.DeliverAllPolicy,
			}, 256, r.h.cfg.Log, func(msgs []jetstream.Msg) {
				if b := r.takeBatch(ctx, msgs); len(b.done)+len(b.again) > 0 {
					select {
					case audits <- b:
					case <-ctx.Done():
					}
				}
			})
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.runUplink(ctx)
	}()
	go func() {
		defer wg.Done()
		r.runCatchUp(ctx)
	}()
}

// pending is one warning of a batch on its way: its message, what it
// says, and its forwards.
type pending struct {
	msg jetstream.Msg
	// origin holds the origin's certificate and signature.
	origin nats.Header
	// body is what is forwarded: the message's, or, if indicators were
	// refused, one without them (openWarning).
	body       []byte
	path       []string // the hubs it passed before this one
	from       hop
	w          Warning
	indicators int
	// ids are its indicators' ids, expires when the hub stops holding
	// it for catch-ups, gen the directories' count when it was routed.
	ids     []string
	expires time.Time
	gen     uint64
	// widened: it came from the upstream for more members than before.
	widened bool
	targets []target
	sent    []target
	sends   []jetstream.PubAckFuture
	failed  error
}

// auditBatch is what a batch leaves to write: the forwards made, and the
// messages to acknowledge (done) or to have come again (again) once
// written.
type auditBatch struct {
	forwards []*pending
	done     []jetstream.Msg
	again    []jetstream.Msg
}

// takeBatch checks and forwards a batch. Directories are stored at once
// (later warnings of the batch may need them); refused messages are
// counted and acknowledged.
func (r *relay) takeBatch(ctx context.Context, msgs []jetstream.Msg) auditBatch {
	var b auditBatch
	var inFlight []*pending
	r.sendMu.Lock()
	for _, m := range msgs {
		var p *pending
		var err error
		if strings.HasPrefix(m.Subject(), DirectorySubject+".") {
			err = r.takeDirectory(ctx, m)
		} else if r.isHop(m.Subject()) {
			p, err = r.prepareHop(ctx, m)
		} else {
			p, err = r.prepare(ctx, m)
		}
		switch {
		case err == nil && p != nil:
			inFlight = append(inFlight, p)
		case err == nil:
			m.Ack()
		case isRefusal(err):
			r.h.metrics.refuse(reasonOf(err))
			r.h.cfg.Log.Warn("federation: warning refused", "subject", m.Subject(), "reason", reasonOf(err), "err", err)
			m.Ack()
		default:
			r.h.cfg.Log.Info("federation: warning not taken; it comes again", "subject", m.Subject(), "err", err)
			b.again = append(b.again, m)
		}
	}
	for _, p := range inFlight {
		r.send(p)
	}
	r.sendMu.Unlock()
	for _, p := range inFlight {
		r.await(ctx, p)
		b.forwards = append(b.forwards, p)
		if p.failed != nil {
			r.h.cfg.Log.Info("federation: warning not forwarded to every recipient yet; it comes again", "warning", p.w.ID, "err", p.failed)
			b.again = append(b.again, p.msg)
		} else {
			b.done = append(b.done, p.msg)
		}
	}
	return b
}

func isRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// write records a batch's forwards, then acknowledges its messages (or
// has them come again).
func (r *relay) write(ctx context.Context, b auditBatch) {
	var err error
	for _, p := range b.forwards {
		if len(p.w.Pseudonyms) > 0 && err == nil {
			err = r.corr.sighted(ctx, &p.w)
		}
	}
	now := store.Nanos(time.Now())
	gen := r.generation()
	if err == nil {
		err = r.h.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			for i, p := range b.forwards {
				gen = min(gen, p.gen)
				// Held whether or not every forward succeeded: a node
				// that stays unreachable gets it in its catch-up.
				if err := r.hold(ctx, tx, p, now+int64(i)); err != nil {
					return err
				}
				for _, t := range p.sent {
					if err := r.audit(ctx, tx, p, t, now); err != nil {
						return err
					}
				}
				if p.failed == nil {
					if _, err := tx.Exec(ctx, `INSERT INTO federation_relayed (warning, node, received, recipients) VALUES (?, ?, ?, ?)
					ON CONFLICT (warning) DO NOTHING`, p.w.ID, p.w.Node, now, len(p.targets)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err != nil {
		// Forwarded but not recorded: they come again, and each inbox
		// stores a warning once (its id is the message id).
		r.h.cfg.Log.Warn("federation: forwards not recorded; the warnings come again", "err", err)
		b.again, b.done = append(b.again, b.done...), nil
	} else {
		r.recheck(gen)
	}
	for _, m := range b.done {
		m.Ack()
	}
	for _, m := range b.again {
		m.NakWithDelay(2 * time.Second)
	}
}

// takeDirectory stores a member node's directory, sent by that node.
func (r *relay) takeDirectory(ctx context.Context, m jetstream.Msg) error {
	node, err := r.verify.open(m.Subject(), m.Headers(), m.Data())
	if err != nil {
		return refuse(reasonSignature, "%v", err)
	}
	var d Directory
	if err := json.Unmarshal(m.Data(), &d); err != nil {
		return refuse(reasonMalformed, "directory: %v", err)
	}
	if d.Node != node || m.Subject() != d.Subject() {
		return refuse(reasonOrigin, "node %s sent a directory of node %s on %s", node, d.Node, m.Subject())
	}
	return r.storeDirectory(ctx, &d, m.Data())
}

// storeDirectory keeps the directory of a member node (or member hub).
func (r *relay) storeDirectory(ctx context.Context, d *Directory, raw []byte) error {
	if _, err := r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_nodes (node, directory, received) VALUES (?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET directory = excluded.directory, received = excluded.received`,
		d.Node, string(raw), store.Nanos(time.Now())); err != nil {
		return err
	}
	r.mu.Lock()
	r.dirs[d.Node] = d
	delete(r.far, d.Node)
	r.dirStored(d.Node)
	r.mu.Unlock()
	// Whatever it may receive now that it did not get: a node joining, a
	// member added, one back after longer than the queue keeps.
	r.wantCatchUp(d.Node)
	return nil
}

// open verifies and checks a warning that came to the hub, counting and
// logging each indicator refused in it.
func (r *relay) open(m jetstream.Msg) (opened, error) {
	o, err := openWarning(r.verify, m.Headers(), m.Data(), time.Now())
	for _, e := range o.refused {
		r.h.metrics.refuse(reasonOf(e))
		r.h.cfg.Log.Warn("federation: indicator refused", "subject", m.Subject(), "warning", o.w.ID, "reason", reasonOf(e), "err", e)
	}
	return o, err
}

// prepare checks one warning and decides its recipients, leaving out
// the nodes it was forwarded to before. It returns nil for a warning
// delivered again after it was forwarded to all.
func (r *relay) prepare(ctx context.Context, m jetstream.Msg) (*pending, error) {
	o, err := r.open(m)
	if err != nil {
		return nil, err
	}
	if m.Subject() != o.w.Subject() {
		return nil, refuse(reasonOrigin, "warning of %s/%s on %s", o.w.Node, o.w.Sender, m.Subject())
	}
	return r.plan(ctx, m, o, hop{node: o.w.Node})
}

// plan decides the recipients of a checked warning that came from a
// member node, a member hub or the upstream (routes), leaving out those
// it was forwarded to before.
func (r *relay) plan(ctx context.Context, m jetstream.Msg, o opened, from hop) (*pending, error) {
	w := o.w
	redelivered := false
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
		redelivered = true
	}
	if !r.remember(w.ID) && !redelivered {
		return nil, refuse(reasonReplay, "warning %s was taken before", w.ID)
	}
	if w.report() {
		// For the hub alone.
		return nil, r.corr.sighted(ctx, &w)
	}
	// The pseudonyms an immediate warning carries are recorded with the
	// batch's audit (write), off the forwarding path: recording takes the
	// store's write lock, which the correlation of federated alerts may
	// hold for a while.
	done, finished, err := r.delivered(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	if finished {
		if redelivered {
			// Forwarded before the hub stopped, not acknowledged then:
			// its pseudonyms may not have been recorded.
			return nil, r.corr.sighted(ctx, &w)
		}
		return nil, refuse(reasonReplay, "warning %s was forwarded before", w.ID)
	}
	gen := r.generation()
	r.noteRevoked(&w)
	targets, err := r.routes(&w, from)
	if err != nil {
		return nil, err
	}
	p := &pending{msg: m, origin: m.Headers(), body: o.body, path: from.path, from: from, w: w, indicators: len(o.items),
		targets: targets, gen: gen, expires: heldUntil(&w, o.items)}
	for _, it := range o.items {
		p.ids = append(p.ids, it.ID)
	}
	if len(w.Bundle) == 0 {
		p.indicators = len(w.Revoke)
	}
	for _, t := range targets {
		if !done[t.node] {
			p.sent = append(p.sent, t)
		}
	}
	return p, nil
}

// delivered returns the recipient nodes a warning was forwarded to so
// far, and whether it was forwarded to all.
func (r *relay) delivered(ctx context.Context, id string) (map[string]bool, bool, error) {
	var n int
	if err := r.h.cfg.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_relayed WHERE warning = ?`, id).Scan(&n); err != nil {
		return nil, false, err
	}
	if n > 0 {
		return nil, true, nil
	}
	rows, err := r.h.cfg.DB.Query(ctx, `SELECT recipient_node FROM federation_forwards WHERE warning = ?`, id)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var node string
		if err := rows.Scan(&node); err != nil {
			return nil, false, err
		}
		done[node] = true
	}
	return done, false, rows.Err()
}

// targets decides who receives a warning. TLP:CLEAR and GREEN (and
// revocations, which carry no value) go to every other member node;
// TLP:AMBER only to the members that both the warning's partners and the
// hub's record of the sender's agreements name; nothing above AMBER
// reaches this point (parseWarning).
func (r *relay) targets(w *Warning) ([]target, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []target
	nodes := make([]string, 0, len(r.dirs))
	for n := range r.dirs {
		if n != w.Node {
			nodes = append(nodes, n)
		}
	}
	sort.Strings(nodes)
	if w.TLP <= tlp.Green || len(w.Bundle) == 0 {
		reason := w.TLP.String() + ": the community"
		if len(w.Bundle) == 0 {
			reason = "revocation"
		}
		for _, n := range nodes {
			out = append(out, target{node: n, reason: reason})
		}
		return out, nil
	}
	partners, sender, err := r.agreed(w)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		t := target{node: n}
		var why []string
		for _, m := range r.dirs[n].Members {
			for _, p := range partners {
				if p.names(n, m) {
					t.members = append(t.members, m.ID)
					why = append(why, p.String())
					break
				}
			}
		}
		if len(t.members) > 0 {
			slices.Sort(why)
			t.reason = w.TLP.String() + ": agreement of " + RemoteMemberID(w.Node, sender) + " with " + strings.Join(slices.Compact(why), ", ")
			out = append(out, t)
		}
	}
	return out, nil
}

// agreed returns the partners of a TLP:AMBER warning that both the
// warning and the hub's copy of the sender's agreements name, and the
// sender's member id.
func (r *relay) agreed(w *Warning) ([]Partner, string, error) {
	d := r.directoryOf(w.Node)
	if d == nil {
		return nil, "", refuse(reasonAgreement, "no directory of node %s", w.Node)
	}
	sender := ""
	for _, m := range d.Members {
		if m.Handle == w.Sender {
			sender = m.ID
		}
	}
	if sender == "" {
		return nil, "", refuse(reasonAgreement, "sender %s unknown in node %s's directory", w.Sender, w.Node)
	}
	var out []Partner
	for _, a := range d.Agreements {
		if a.Member == sender && slices.Contains(w.Partners, a.Partner) {
			out = append(out, a.Partner)
		}
	}
	if len(out) == 0 {
		return nil, "", refuse(reasonAgreement, "no agreement of %s covers TLP:AMBER warning %s", RemoteMemberID(w.Node, sender), w.ID)
	}
	return out, sender, nil
}

// send publishes a warning into each recipient node's inbox, without
// waiting: the body and the origin's signature as they came, the
// recipients, the relay path, and the hub's seal over them and the
// subject (hopMessage).
func (r *relay) send(p *pending) {
	for _, t := range p.sent {
		kind, id := "", p.w.ID
		if t.widen {
			kind, id = kindWiden, widenID(p.w.ID, t.members)
		}
		out, err := r.hopMessage(p.origin, p.body, InboxSubject+"."+t.node, p.path, t.members, kind)
		var f jetstream.PubAckFuture
		if err == nil {
			f, err = r.h.relayJS.PublishMsgAsync(out, jetstream.WithMsgID(id))
		}
		if err != nil {
			p.failed = fmt.Errorf("to %s: %w", t.node, err)
		}
		p.sends = append(p.sends, f)
	}
}

// await waits for the inboxes to store a warning's forwards, keeping in
// p.sent those that were.
func (r *relay) await(ctx context.Context, p *pending) {
	var ok []target
	for i, f := range p.sends {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			ok = append(ok, p.sent[i])
			r.h.metrics.forwarded.Inc()
		case err := <-f.Err():
			p.failed = fmt.Errorf("to %s: %w", p.sent[i].node, err)
		case <-ctx.Done():
			p.failed = ctx.Err()
		}
	}
	p.sent = ok
}

// audit records one forward: which warning, from whom, to which node
// and members, when, and why.
func (r *relay) audit(ctx context.Context, tx *store.Tx, p *pending, t target, now int64) error {
	sender := p.w.Sender
	r.mu.Lock()
	if d := r.directoryOf(p.w.Node); d != nil {
		for _, m := range d.Members {
			if m.Handle == p.w.Sender {
				sender = m.ID
			}
		}
	}
	r.mu.Unlock()
	kind := "indicators"
	if len(p.w.Bundle) == 0 {
		kind = "revocation"
	}
	conflict := `DO NOTHING`
	if t.widen {
		// Sent again for more members: the forward names them all now.
		conflict = `DO UPDATE SET recipients = excluded.recipients, reason = excluded.reason, forwarded = excluded.forwarded`
	}
	_, err := tx.Exec(ctx, `INSERT INTO federation_forwards
		(warning, recipient_node, origin_node, origin_member, tlp, kind, indicators, recipients, reason, forwarded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (warning, recipient_node) `+conflict,
		p.w.ID, t.node, p.w.Node, sender, p.w.TLP.String(), kind, p.indicators, strings.Join(t.members, ","), t.reason, now)
	return err
}

// Forward is one audited forward of a warning by the hub.
type Forward struct {
	Warning       string    `json:"warning"`
	OriginNode    string    `json:"origin_node"`
	OriginMember  string    `json:"origin_member"`
	TLP           string    `json:"tlp"`
	Kind          string    `json:"kind"`
	Indicators    int       `json:"indicators"`
	RecipientNode string    `json:"recipient_node"`
	Recipients    []string  `json:"recipients,omitempty"`
	Reason        string    `json:"reason"`
	Forwarded     time.Time `json:"forwarded"`
}

// ForwardFilter selects forwards; zero fields select all.
type ForwardFilter struct {
	Origin, Recipient, Warning string
	Since                      time.Time
	Limit                      int
}

// Forwards lists the hub's audited forwards, newest first.
func Forwards(ctx context.Context, db *store.DB, f ForwardFilter) ([]Forward, error) {
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	rows, err := db.Query(ctx, `SELECT warning, origin_node, origin_member, tlp, kind, indicators, recipient_node, recipients, reason, forwarded
		FROM federation_forwards WHERE (? = '' OR origin_node = ?) AND (? = '' OR recipient_node = ?) AND (? = '' OR warning = ?)
		AND forwarded >= ? ORDER BY forwarded DESC, recipient_node LIMIT ?`,
		f.Origin, f.Origin, f.Recipient, f.Recipient, f.Warning, f.Warning, store.Nanos(f.Since), f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Forward{}
	for rows.Next() {
		var fw Forward
		var recipients string
		var at int64
		if err := rows.Scan(&fw.Warning, &fw.OriginNode, &fw.OriginMember, &fw.TLP, &fw.Kind, &fw.Indicators,
			&fw.RecipientNode, &recipients, &fw.Reason, &at); err != nil {
			return nil, err
		}
		if recipients != "" {
			fw.Recipients = strings.Split(recipients, ",")
		}
		fw.Forwarded = store.Time(at)
		out = append(out, fw)
	}
	return out, rows.Err()
}
