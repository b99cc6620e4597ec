package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
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

	mu   sync.Mutex
	dirs map[string]*Directory // by node
}

// target is one recipient node of a warning: the members it is for (all,
// for the community) and why.
type target struct {
	node    string
	members []string
	reason  string
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
	r := &relay{h: h, verify: newVerifier(h.cfg.Identity), dirs: map[string]*Directory{}}
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

// run forwards warnings until ctx ends.
func (r *relay) run(ctx context.Context) {
	consume(ctx, r.h.fed, WarningStream, jetstream.ConsumerConfig{
		Durable:       hubWarnConsumer,
		Description:   "the hub's forwarding of early warnings",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 8192,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}, 256, r.h.cfg.Log, func(msgs []jetstream.Msg) {
		for _, m := range msgs {
			r.take(ctx, m)
		}
	})
}

// take handles one message of the warning stream. Refused messages are
// acknowledged (sending them again cannot help); a warning some recipient
// could not be reached for comes again later, and goes only to the
// recipients that did not get it yet.
func (r *relay) take(ctx context.Context, m jetstream.Msg) {
	var err error
	if strings.HasPrefix(m.Subject(), DirectorySubject+".") {
		err = r.takeDirectory(ctx, m)
	} else {
		err = r.forward(ctx, m)
	}
	if err == nil {
		m.Ack()
		return
	}
	if _, refused := err.(*refusal); refused {
		r.h.metrics.refuse(reasonOf(err))
		r.h.cfg.Log.Warn("federation: warning refused", "subject", m.Subject(), "reason", reasonOf(err), "err", err)
		m.Ack()
		return
	}
	r.h.cfg.Log.Info("federation: warning not forwarded to every recipient yet; it comes again", "subject", m.Subject(), "err", err)
	m.NakWithDelay(2 * time.Second)
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
	if _, err := r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_nodes (node, directory, received) VALUES (?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET directory = excluded.directory, received = excluded.received`,
		d.Node, string(m.Data()), store.Nanos(time.Now())); err != nil {
		return err
	}
	r.mu.Lock()
	r.dirs[d.Node] = &d
	r.mu.Unlock()
	return nil
}

// openWarning verifies a warning's origin: the signature over the body
// verifies under a node certificate of the federation, and that node is
// the one the body names.
func openWarning(v *verifier, hdr nats.Header, data []byte, now time.Time) (Warning, []Item, error) {
	node, err := v.open(warningContext, hdr, data)
	if err != nil {
		return Warning{}, nil, refuse(reasonSignature, "%v", err)
	}
	w, items, err := parseWarning(data, now)
	if err != nil {
		return w, nil, err
	}
	if w.Node != node {
		return w, nil, refuse(reasonOrigin, "node %s signed a warning of node %s", node, w.Node)
	}
	return w, items, nil
}

// forward checks one warning and forwards it to every recipient node
// that did not get it yet.
func (r *relay) forward(ctx context.Context, m jetstream.Msg) error {
	w, items, err := openWarning(r.verify, m.Headers(), m.Data(), time.Now())
	if err != nil {
		return err
	}
	if m.Subject() != w.Subject() {
		return refuse(reasonOrigin, "warning of %s/%s on %s", w.Node, w.Sender, m.Subject())
	}
	done, finished, err := r.delivered(ctx, w.ID)
	if err != nil {
		return err
	}
	if finished {
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			return nil // forwarded before the hub stopped; not acknowledged then
		}
		return refuse(reasonReplay, "warning %s was forwarded before", w.ID)
	}
	targets, err := r.targets(&w)
	if err != nil {
		return err
	}
	var failed error
	for _, t := range targets {
		if done[t.node] {
			continue
		}
		if err := r.send(ctx, m, &w, t); err != nil {
			failed = fmt.Errorf("to %s: %w", t.node, err)
			continue
		}
		if err := r.audit(ctx, &w, len(items), t); err != nil {
			return err
		}
		r.h.metrics.forwarded.Inc()
	}
	if failed != nil {
		return failed
	}
	_, err = r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_relayed (warning, node, received, recipients) VALUES (?, ?, ?, ?)
		ON CONFLICT (warning) DO NOTHING`, w.ID, w.Node, store.Nanos(time.Now()), len(targets))
	return err
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
	d := r.dirs[w.Node]
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

// send publishes a warning into a recipient node's inbox: the body and
// the origin's signature as they came, the recipients, and the hub's
// seal over all three and the subject.
func (r *relay) send(ctx context.Context, m jetstream.Msg, w *Warning, t target) error {
	out := &nats.Msg{Subject: InboxSubject + "." + t.node, Data: m.Data(), Header: nats.Header{}}
	out.Header.Set(hdrCert, m.Headers().Get(hdrCert))
	out.Header.Set(hdrSignature, m.Headers().Get(hdrSignature))
	recipients := strings.Join(t.members, ",")
	if recipients != "" {
		out.Header.Set(hdrRecipients, recipients)
	}
	sig, err := r.h.cfg.Identity.sign(relayDigest(out.Subject, recipients, out.Data))
	if err != nil {
		return err
	}
	out.Header.Set(hdrRelayCert, r.h.cfg.Identity.certHeader)
	out.Header.Set(hdrRelaySignature, base64.StdEncoding.EncodeToString(sig))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = r.h.fed.PublishMsg(pctx, out, jetstream.WithMsgID(w.ID))
	return err
}

// relayDigest is what the hub's seal on a forwarded warning covers.
func relayDigest(subject, recipients string, data []byte) []byte {
	return signedDigest(subject+"\x00"+recipients, data)
}

// audit records one forward: which warning, from whom, to which node and
// members, when, and why.
func (r *relay) audit(ctx context.Context, w *Warning, indicators int, t target) error {
	sender := w.Sender
	r.mu.Lock()
	if d := r.dirs[w.Node]; d != nil {
		for _, m := range d.Members {
			if m.Handle == w.Sender {
				sender = m.ID
			}
		}
	}
	r.mu.Unlock()
	kind := "indicators"
	if len(w.Bundle) == 0 {
		kind, indicators = "revocation", len(w.Revoke)
	}
	_, err := r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_forwards
		(warning, recipient_node, origin_node, origin_member, tlp, kind, indicators, recipients, reason, forwarded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (warning, recipient_node) DO NOTHING`,
		w.ID, t.node, w.Node, sender, w.TLP.String(), kind, indicators, strings.Join(t.members, ","), t.reason, store.Nanos(time.Now()))
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
