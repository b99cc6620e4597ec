package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// The hub hierarchy. A hub may itself be a member of a higher hub, its
// upstream (a national hub under a cross-border hub under a European
// one). Its member hubs relay up to it, on xsoc.fed.relay.<member
// hub>.<hub>, the directories of the nodes below them and the warnings
// that may travel beyond them; it forwards down into each member hub's
// inbox (xsoc.fed.inbox.<member hub>), like into a member node's, what
// the nodes below that hub may receive. Every hop keeps the origin's
// signature and adds its own seal over the subject, the recipients, the
// relay path (the hubs the message passed, oldest first) and the kind of
// message; a hub refuses a message whose path already holds it or is
// maxRelayHops long.
const (
	// RelayStream is a hub's stream of what its member hubs relay up.
	RelayStream = "XSOC_FED_RELAYS"
	// RelaySubject prefixes relay subjects: xsoc.fed.relay.<member hub>.<hub>.
	RelaySubject = "xsoc.fed.relay"
	// maxRelayHops bounds a relay path: national, cross-border, European
	// and a few levels to spare.
	maxRelayHops = 6
)

// Relay headers of the hierarchy.
const (
	hdrRelayPath = "Xsoc-Relay-Path"
	hdrRelayKind = "Xsoc-Relay-Kind"
	// kindDirectory marks a relayed directory; warnings carry no kind.
	kindDirectory = "directory"
)

// Consumers of the hierarchy's streams.
const (
	hubRelayConsumer    = "xsoc-hub-relays"        // relays of member hubs, forwarded down
	hubDownConsumer     = "xsoc-hub-downlink"      // the upstream's forwards, forwarded down
	hubUpConsumer       = "xsoc-hub-uplink"        // member nodes' warnings, forwarded up
	hubRelayUpConsumer  = "xsoc-hub-relays-uplink" // member hubs' relays, forwarded further up
	reasonLoop          = "loop"
	upstreamAnnounceGap = time.Hour
)

// HierarchySchema is the hierarchy's table at a hub: the directories of
// nodes below its member hubs, each with the member hub it is reached
// through.
func HierarchySchema() store.Schema {
	return store.Schema{Owner: "federation-hierarchy", Migrations: []string{
		`CREATE TABLE federation_far_nodes (
			node TEXT PRIMARY KEY,
			via TEXT NOT NULL,
			directory TEXT NOT NULL,
			sent BIGINT NOT NULL,
			received BIGINT NOT NULL
		)`,
		// The warnings a hub holds for catch-ups (catchup.go).
		heldSchema,
	}}
}

// farDir is the directory of a node below a member hub, and that hub.
type farDir struct {
	dir *Directory
	via string
}

// hop is where a message came from: a member node (its own warning), a
// member hub (a relay), or the upstream hub; the relay path it carries,
// and the recipients the upstream sealed.
type hop struct {
	node       string
	upstream   bool
	path       []string
	recipients []string
}

// relayDigest is what a hub's seal on a forwarded message covers: the
// subject, the recipients, the relay path and the kind.
func relayDigest(subject string, hdr nats.Header, data []byte) []byte {
	return signedDigest(subject+"\x00"+hdr.Get(hdrRecipients)+"\x00"+hdr.Get(hdrRelayPath)+"\x00"+hdr.Get(hdrRelayKind), data)
}

// sealHop adds id's seal to a message whose headers are set.
func sealHop(id *Identity, msg *nats.Msg) error {
	sig, err := id.sign(relayDigest(msg.Subject, msg.Header, msg.Data))
	if err != nil {
		return err
	}
	msg.Header.Set(hdrRelayCert, id.certHeader)
	msg.Header.Set(hdrRelaySignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

// hopMessage builds a forward of a received message (data — its body, or
// a warning without the indicators refused — and the origin's signature
// in origin, as they came) to subject, with path extended by this hub,
// sealed by it.
func (r *relay) hopMessage(origin nats.Header, data []byte, subject string, path []string, recipients []string, kind string) (*nats.Msg, error) {
	out := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	out.Header.Set(hdrCert, origin.Get(hdrCert))
	out.Header.Set(hdrSignature, origin.Get(hdrSignature))
	if len(recipients) > 0 {
		out.Header.Set(hdrRecipients, strings.Join(recipients, ","))
	}
	out.Header.Set(hdrRelayPath, strings.Join(append(slices.Clone(path), r.h.cfg.Identity.Name), ","))
	if kind != "" {
		out.Header.Set(hdrRelayKind, kind)
	}
	return out, sealHop(r.h.cfg.Identity, out)
}

// isHop reports whether a message came over another hub: a member hub's
// relay, or the upstream's forward into this hub's inbox.
func (r *relay) isHop(subject string) bool {
	return strings.HasPrefix(subject, RelaySubject+".") || subject == InboxSubject+"."+r.h.cfg.Identity.Name
}

// openHop verifies the seal of a message that came over another hub and
// returns where it came from: the upstream into this hub's inbox, or a
// member hub on its own relay subject, sealing with the path ending in
// itself. A path that holds this hub already, or is too long, is a loop.
func (r *relay) openHop(m jetstream.Msg) (hop, error) {
	self := r.h.cfg.Identity.Name
	hdr := m.Headers()
	der, err1 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelayCert))
	sig, err2 := base64.StdEncoding.DecodeString(hdr.Get(hdrRelaySignature))
	if err1 != nil || err2 != nil || len(der) == 0 || len(sig) == 0 {
		return hop{}, refuse(reasonRelay, "no hub seal")
	}
	vc, err := r.verify.cert(der)
	if err != nil {
		return hop{}, refuse(reasonRelay, "%v", err)
	}
	h := hop{node: vc.node}
	switch {
	case m.Subject() == InboxSubject+"."+self:
		if r.upstream == "" || vc.node != r.upstream {
			return hop{}, refuse(reasonRelay, "forwarded by %s, which is not this hub's upstream", vc.node)
		}
		h.upstream = true
	case m.Subject() != RelaySubject+"."+vc.node+"."+self:
		return hop{}, refuse(reasonRelay, "sealed by %s on %s", vc.node, m.Subject())
	}
	if err := verifySignature(vc.cert, relayDigest(m.Subject(), hdr, m.Data()), sig); err != nil {
		return hop{}, refuse(reasonRelay, "seal of %s: %v", vc.node, err)
	}
	if p := hdr.Get(hdrRelayPath); p != "" {
		h.path = strings.Split(p, ",")
	}
	if len(h.path) == 0 || h.path[len(h.path)-1] != vc.node {
		return hop{}, refuse(reasonRelay, "relay path %q does not end with %s, which sealed it", hdr.Get(hdrRelayPath), vc.node)
	}
	for _, n := range h.path {
		if ValidNodeName(n) != nil {
			return hop{}, refuse(reasonMalformed, "relay path %q", hdr.Get(hdrRelayPath))
		}
	}
	if slices.Contains(h.path, self) {
		return hop{}, refuse(reasonLoop, "relay path %s already holds this hub", strings.Join(h.path, " → "))
	}
	if len(h.path) >= maxRelayHops {
		return hop{}, refuse(reasonLoop, "relay path %s is %d hubs long (at most %d)", strings.Join(h.path, " → "), len(h.path), maxRelayHops-1)
	}
	if rc := hdr.Get(hdrRecipients); rc != "" && h.upstream {
		h.recipients = strings.Split(rc, ",")
	}
	return h, nil
}

// prepareHop checks a message that came over another hub: a relayed
// directory is stored, a warning planned like a member node's own.
func (r *relay) prepareHop(ctx context.Context, m jetstream.Msg) (*pending, error) {
	from, err := r.openHop(m)
	if err != nil {
		return nil, err
	}
	if m.Headers().Get(hdrRelayKind) == kindDirectory {
		if from.upstream {
			return nil, refuse(reasonMalformed, "a directory from the upstream hub")
		}
		return nil, r.takeFarDirectory(ctx, m, from)
	}
	o, err := r.open(m)
	if err != nil {
		return nil, err
	}
	if from.upstream && m.Headers().Get(hdrRelayKind) == kindWiden {
		return r.planWiden(ctx, m, o, from)
	}
	return r.plan(ctx, m, o, from)
}

// openDirectory verifies a directory sent by its node (the signature
// covers its own subject, whatever subject it came on).
func (r *relay) openDirectory(hdr nats.Header, data []byte) (*Directory, error) {
	var d Directory
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, refuse(reasonMalformed, "directory: %v", err)
	}
	if ValidNodeName(d.Node) != nil {
		return nil, refuse(reasonMalformed, "directory of node %q", d.Node)
	}
	node, err := r.verify.open(d.Subject(), hdr, data)
	if err != nil {
		return nil, refuse(reasonSignature, "%v", err)
	}
	if node != d.Node {
		return nil, refuse(reasonOrigin, "node %s signed a directory of node %s", node, d.Node)
	}
	return &d, nil
}

// takeFarDirectory stores a directory a member hub relayed: its own (a
// member hub is a member node of this hub, without members), or that of
// a node below it, reached through it.
func (r *relay) takeFarDirectory(ctx context.Context, m jetstream.Msg, from hop) error {
	d, err := r.openDirectory(m.Headers(), m.Data())
	if err != nil {
		return err
	}
	switch {
	case d.Node == r.h.cfg.Identity.Name:
		return refuse(reasonLoop, "this hub's own directory came back over %s", strings.Join(from.path, " → "))
	case d.Node == from.node:
		return r.storeDirectory(ctx, d, m.Data())
	}
	r.mu.Lock()
	have := r.far[d.Node]
	direct := r.dirs[d.Node] != nil
	r.mu.Unlock()
	if direct {
		return refuse(reasonOrigin, "node %s is a member node of this hub, not of %s", d.Node, from.node)
	}
	if have != nil && have.dir.Sent.After(d.Sent) {
		return nil // an older directory, overtaken
	}
	if _, err := r.h.cfg.DB.Exec(ctx, `INSERT INTO federation_far_nodes (node, via, directory, sent, received) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET via = excluded.via, directory = excluded.directory, sent = excluded.sent, received = excluded.received`,
		d.Node, from.node, string(m.Data()), store.Nanos(d.Sent), store.Nanos(time.Now())); err != nil {
		return err
	}
	r.mu.Lock()
	r.far[d.Node] = &farDir{dir: d, via: from.node}
	r.dirStored(from.node)
	r.mu.Unlock()
	// The member hub it is reached through may now receive more.
	r.wantCatchUp(from.node)
	return nil
}

// loadFar reads the directories of nodes below member hubs.
func (r *relay) loadFar(ctx context.Context) error {
	rows, err := r.h.cfg.DB.Query(ctx, `SELECT via, directory FROM federation_far_nodes`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var via, raw string
		if err := rows.Scan(&via, &raw); err != nil {
			return err
		}
		var d Directory
		if json.Unmarshal([]byte(raw), &d) == nil {
			r.far[d.Node] = &farDir{dir: &d, via: via}
		}
	}
	return rows.Err()
}

// directoryOf returns a node's directory, of a member node or of a node
// below a member hub; the relay's lock is held.
func (r *relay) directoryOf(node string) *Directory {
	if d := r.dirs[node]; d != nil {
		return d
	}
	if f := r.far[node]; f != nil {
		return f.dir
	}
	return nil
}

// routes decides where a warning goes next: the member nodes and member
// hubs that may receive it, never back where it came from nor to a hub
// on its path (the upstream is served by the uplink). TLP:CLEAR, GREEN
// and revocations go to every member node and member hub; TLP:AMBER to
// the member nodes and the member hubs above the members both the
// warning and the sender's agreements name — or, coming from the
// upstream, which cannot send the origin's directory down, to the
// members the upstream's seal names.
func (r *relay) routes(w *Warning, from hop) ([]target, error) {
	amber := w.TLP == tlp.Amber && len(w.Bundle) > 0
	var out []target
	if from.upstream && amber {
		out = r.named(w, from.recipients)
	} else {
		var err error
		if out, err = r.targets(w); err != nil {
			return nil, err
		}
		if amber {
			out = append(out, r.farTargets(w)...)
		}
	}
	return slices.DeleteFunc(out, func(t target) bool {
		return t.node == from.node || t.node == r.upstream || slices.Contains(from.path, t.node)
	}), nil
}

// farTargets are, for a TLP:AMBER warning, the member hubs above the
// members its agreed partners name, each with those members' ids.
func (r *relay) farTargets(w *Warning) []target {
	r.mu.Lock()
	defer r.mu.Unlock()
	partners, sender, err := r.agreed(w)
	if err != nil {
		return nil
	}
	byVia := map[string]*target{}
	why := map[string][]string{}
	for node, f := range r.far {
		if node == w.Node {
			continue
		}
		for _, m := range f.dir.Members {
			for _, p := range partners {
				if p.names(node, m) {
					t := byVia[f.via]
					if t == nil {
						t = &target{node: f.via}
						byVia[f.via] = t
					}
					t.members = append(t.members, RemoteMemberID(node, m.ID))
					why[f.via] = append(why[f.via], p.String())
					break
				}
			}
		}
	}
	var out []target
	for via, t := range byVia {
		slices.Sort(t.members)
		reasons := why[via]
		slices.Sort(reasons)
		t.reason = w.TLP.String() + ": agreement of " + RemoteMemberID(w.Node, sender) + " with " + strings.Join(slices.Compact(reasons), ", ") + ", through hub " + via
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].node < out[j].node })
	return out
}

// named routes a TLP:AMBER warning from the upstream to the members its
// seal names: a member node's under their own ids, a member hub's under
// "<node>--<member>".
func (r *relay) named(w *Warning, recipients []string) []target {
	r.mu.Lock()
	defer r.mu.Unlock()
	byNode := map[string]*target{}
	var order []string
	for _, id := range recipients {
		node, m, ok := strings.Cut(id, "--")
		if !ok {
			continue
		}
		next, member := node, m
		if r.dirs[node] == nil {
			f := r.far[node]
			if f == nil {
				continue // not below this hub
			}
			next, member = f.via, id
		}
		t := byNode[next]
		if t == nil {
			t = &target{node: next, reason: w.TLP.String() + ": named by the upstream hub " + r.upstream}
			byNode[next] = t
			order = append(order, next)
		}
		t.members = append(t.members, member)
	}
	out := make([]target, 0, len(order))
	for _, n := range order {
		out = append(out, *byNode[n])
	}
	return out
}

// below reports whether a node is this hub's member node or below one of
// its member hubs.
func (r *relay) below(node string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dirs[node] != nil || r.far[node] != nil
}

// goesUp decides whether a warning that came from below goes on to the
// upstream: TLP:CLEAR, GREEN and revocations do; TLP:AMBER if an agreed
// partner may name a member beyond this hub (a country or a sector, or a
// member of a node this hub does not reach); pseudonyms reported for
// corroboration do not.
func (r *relay) goesUp(w *Warning) (bool, string) {
	if w.report() {
		// Pseudonyms reported for corroboration are counted by the
		// member's own hub, which alone can ask its node for the value.
		return false, ""
	}
	if len(w.Bundle) == 0 {
		return true, "revocation"
	}
	if w.TLP <= tlp.Green {
		return true, w.TLP.String() + ": the community beyond this hub"
	}
	r.mu.Lock()
	partners, sender, err := r.agreed(w)
	r.mu.Unlock()
	if err != nil {
		return false, ""
	}
	var beyond []string
	for _, p := range partners {
		node, _, _ := strings.Cut(p.Value, "--")
		if p.Kind != "member" || !r.below(node) {
			beyond = append(beyond, p.String())
		}
	}
	if len(beyond) == 0 {
		return false, ""
	}
	return true, w.TLP.String() + ": agreement of " + RemoteMemberID(w.Node, sender) + " with " + strings.Join(beyond, ", ") + ", beyond this hub"
}

// ensureHierarchyStreams creates a hub's relay stream and, with an
// upstream, its inbox.
func ensureHierarchyStreams(ctx context.Context, js jetstream.JetStream, self, upstream string) error {
	streams := []jetstream.StreamConfig{{
		Name:        RelayStream,
		Description: "directories and early warnings member hubs relay up",
		Subjects:    []string{RelaySubject + ".*." + self},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxWarningAge,
		MaxBytes:    4 << 30,
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
	}}
	if upstream != "" {
		streams = append(streams, jetstream.StreamConfig{
			Name:        InboxStream,
			Description: "early warnings forwarded by the upstream hub",
			Subjects:    []string{InboxSubject + "." + self},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      maxWarningAge,
			MaxBytes:    1 << 30,
			Storage:     jetstream.FileStorage,
			Duplicates:  time.Hour,
		})
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("federation: stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// hopStreams are the streams besides the warning stream whose messages
// the relay forwards down: member hubs' relays, and with an upstream its
// forwards.
func (r *relay) hopStreams() []jetstream.ConsumerConfig {
	out := []jetstream.ConsumerConfig{{Durable: hubRelayConsumer, Description: RelayStream}}
	if r.upstream != "" {
		out = append(out, jetstream.ConsumerConfig{Durable: hubDownConsumer, Description: InboxStream})
	}
	return out
}

// farNodes lists the nodes below a hub's member hubs, each with the
// member hub it is reached through.
func farNodes(ctx context.Context, db *store.DB) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT node, via FROM federation_far_nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var node, via string
		if err := rows.Scan(&node, &via); err != nil {
			return nil, err
		}
		out[node] = via
	}
	if len(out) == 0 {
		return nil, rows.Err()
	}
	return out, rows.Err()
}
