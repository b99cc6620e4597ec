package federation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// warnConsumer is the durable consumer of the node's alert stream that
// the warning sender reads; independent of the alert exporter's, so that
// neither path waits for the other.
const warnConsumer = "xsoc-federation-warn"

// WarnerConfig configures a Warner.
type WarnerConfig struct {
	// Bus is the member node's bus.
	Bus *bus.Bus
	// Identity signs the warnings.
	Identity *Identity
	// Members lists the node's members (for the directory) and Member
	// returns one (for its country and sector).
	Members *member.Registry
	Member  func(id string) member.Member
	// Agreements are the node's information-sharing agreements.
	Agreements *Agreements
	// Pseudonyms computes the pseudonyms warnings carry for the hub's
	// corroboration; Sharing holds each member's sharing mode; DB keeps
	// the values members in corroborated mode withhold.
	Pseudonyms *Pseudonymiser
	Sharing    *Sharing
	DB         *store.DB
	// Received reports whether an indicator id came in a warning from
	// another node: alerts it raised are not pushed again.
	Received func(indicatorID string) bool
	Log      *slog.Logger
	Metrics  *Metrics
}

// Warner pushes the external observables of the member node's alerts to
// the hub as early warnings, at each alert's TLP level: TLP:CLEAR and
// GREEN to the community, TLP:AMBER to the partners of the member's
// agreements (none: it stays), AMBER+STRICT and RED never. It also keeps
// the hub's copy of the node's directory current.
type Warner struct {
	cfg       WarnerConfig
	fed       jetstream.JetStream
	handleKey []byte

	mu      sync.Mutex // serialises directory updates
	sentDir *Directory // the directory the hub last stored
}

// NewWarner returns a warner; Run starts it.
func NewWarner(cfg WarnerConfig) (*Warner, error) {
	if cfg.Bus == nil || cfg.Bus.Federation() == nil || cfg.Identity == nil || cfg.Members == nil || cfg.Member == nil ||
		cfg.Agreements == nil || cfg.Received == nil || cfg.Metrics == nil || cfg.Pseudonyms == nil || cfg.Sharing == nil || cfg.DB == nil {
		return nil, errors.New("federation: warner needs a federation bus, an identity, members, agreements, the received warnings, metrics, pseudonyms, sharing modes and a store")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	fed, err := jetstream.New(cfg.Bus.Federation(), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(cfg.Identity.key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("xsoc-member-handle\x00"), der...))
	return &Warner{cfg: cfg, fed: fed, handleKey: sum[:]}, nil
}

// memberHandle is how warnings name a member: a keyed hash of its id
// under a key derived from the node's private key. The hub learns which
// member it is from the node's directory; receiving members cannot tell
// it from another member of the same country and sector, nor test
// guesses.
func (w *Warner) memberHandle(id string) string {
	mac := hmac.New(sha256.New, w.handleKey)
	mac.Write([]byte(id))
	return "m" + hex.EncodeToString(mac.Sum(nil)[:10])
}

// Run sends warnings, and the directory whenever it changes, until ctx
// ends.
func (w *Warner) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.announce(ctx)
	}()
	defer func() { <-done }()
	consume(ctx, w.cfg.Bus.JetStream(), bus.AlertStream, jetstream.ConsumerConfig{
		Durable:       warnConsumer,
		Description:   "external observables of alerts on their way to the other members as early warnings",
		FilterSubject: bus.AlertSubject + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 8192,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}, 1024, w.cfg.Log, retrying(ctx, w.cfg.Log, "federation: hub not reached; warnings wait",
		func(msgs []jetstream.Msg) error { return w.send(ctx, msgs) }))
	return nil
}

// announce keeps the hub's copy of the node's directory current: at
// start, and every two seconds if members or agreements changed.
func (w *Warner) announce(ctx context.Context) {
	for ctx.Err() == nil {
		w.tick(ctx)
		if err := w.syncDirectory(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Log.Info("federation: directory not sent; trying again", "err", err)
		}
		sleep(ctx, 2*time.Second)
	}
}

// syncDirectory sends the node's directory to the hub if it changed
// since last sent. The warning path calls it before each batch too, so
// that the hub knows of a member and its agreements before their first
// warning: both travel on the same stream, in order.
func (w *Warner) syncDirectory(ctx context.Context) error {
	d, err := w.directory(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sentDir != nil && d.same(w.sentDir) {
		return nil
	}
	if err := w.publishDirectory(ctx, d); err != nil {
		return err
	}
	w.sentDir = d
	w.cfg.Log.Info("federation: directory sent to the hub", "members", len(d.Members), "agreements", len(d.Agreements))
	return nil
}

// directory builds the node's directory from its store.
func (w *Warner) directory(ctx context.Context) (*Directory, error) {
	ms, err := w.cfg.Members.List(ctx)
	if err != nil {
		return nil, err
	}
	ags, err := w.cfg.Agreements.List(ctx, "")
	if err != nil {
		return nil, err
	}
	d := &Directory{Node: w.cfg.Identity.Name, Sent: time.Now().UTC(), Agreements: ags}
	for _, m := range ms {
		d.Members = append(d.Members, DirMember{ID: m.ID, Handle: w.memberHandle(m.ID), Country: m.Country, Sector: m.Sector})
	}
	sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].ID < d.Members[j].ID })
	return d, nil
}

func (w *Warner) publishDirectory(ctx context.Context, d *Directory) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: d.Subject(), Data: data}
	if err := w.cfg.Identity.seal(msg); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = w.fed.PublishMsg(pctx, msg)
	return err
}

// group is the alerts of one member at one TLP level in a batch.
type group struct {
	member string
	level  tlp.Level
	alerts []*alert.Alert
	states []string
}

// send turns a batch of alert messages into warnings and publishes them,
// returning once the hub's stream stored every one (or with the first
// failure: the whole batch comes again, and the hub's stream stores
// each warning once).
func (w *Warner) send(ctx context.Context, msgs []jetstream.Msg) error {
	if err := w.syncDirectory(ctx); err != nil {
		return err
	}
	groups := map[string]*group{}
	var order []string
	for _, m := range msgs {
		var a alert.Alert
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			continue // the exporter logs these
		}
		if !w.mayWarn(&a) {
			continue
		}
		k := a.Member + "|" + strconv.Itoa(int(a.TLP))
		g := groups[k]
		if g == nil {
			g = &group{member: a.Member, level: a.TLP}
			groups[k] = g
			order = append(order, k)
		}
		g.alerts = append(g.alerts, &a)
		g.states = append(g.states, a.ID+"."+strconv.Itoa(a.Count))
	}
	var futures []jetstream.PubAckFuture
	counts, reported := []int{}, []int{}
	for _, k := range order {
		mode, err := w.cfg.Sharing.Mode(ctx, groups[k].member)
		if err != nil {
			return err
		}
		var out []outgoing
		if mode == ShareCorroborated {
			out, err = w.corroborated(ctx, groups[k])
		} else {
			out, err = w.warnings(ctx, groups[k])
		}
		if err != nil {
			return err
		}
		for _, o := range out {
			f, err := w.fed.PublishMsgAsync(o.msg, jetstream.WithMsgID(o.id))
			if err != nil {
				return err
			}
			futures = append(futures, f)
			counts = append(counts, o.indicators)
			reported = append(reported, o.reported)
		}
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
			w.cfg.Metrics.sent.Add(float64(counts[i]))
			w.cfg.Metrics.corr.reported.Add(float64(reported[i]))
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// mayWarn reports whether an alert may give a warning at all: not a
// notice of the hub, not a match of a warning received from another
// node (that is its origin's to share), and at a level that may leave.
func (w *Warner) mayWarn(a *alert.Alert) bool {
	if a.Detector == NoticeDetector || a.TLP > tlp.Amber {
		return false
	}
	if a.Detector == "ioc" && w.cfg.Received(a.RuleID) {
		return false
	}
	return slices.ContainsFunc(a.Observables, External)
}

// outgoing is one signed warning message and how many indicators (or
// pseudonymised observables, reported) it holds.
type outgoing struct {
	msg        *nats.Msg
	id         string
	indicators int
	reported   int
}

// warnings builds the signed warning messages of one group, in chunks of
// at most maxWarningIndicators indicators. TLP:AMBER goes only under the
// member's agreements; without one, nothing is built.
func (w *Warner) warnings(ctx context.Context, g *group) ([]outgoing, error) {
	mem, partners, ok, err := w.sender(ctx, g)
	if !ok || err != nil {
		return nil, err
	}
	var out []outgoing
	for start := 0; start < len(g.alerts); {
		end, n := start, 0
		for end < len(g.alerts) {
			k := externals(g.alerts[end])
			if end > start && n+k > maxWarningIndicators {
				break
			}
			n += k
			end++
		}
		bundle, count, err := buildBundle(w.cfg.Identity.Name, mem.Country, mem.Sector, g.level, g.alerts[start:end])
		if err != nil {
			return nil, err
		}
		if count > 0 {
			o, err := w.seal(Warning{
				ID: warningID(w.cfg.Identity.Name, g.states[start:end]), Node: w.cfg.Identity.Name,
				Sender: w.memberHandle(g.member), Country: mem.Country, Sector: mem.Sector, TLP: g.level,
				Created: time.Now().UTC(), Partners: partners, Bundle: bundle,
				Pseudonyms: sightedOf(w.cfg.Pseudonyms, g.alerts[start:end]),
			})
			if err != nil {
				return nil, err
			}
			o.indicators = count
			out = append(out, o)
		}
		start = end
	}
	return out, nil
}

// sender returns the member of a group and, for TLP:AMBER, the partners
// of its agreements; without one the group stays home (ok false, counted
// as withheld). Other levels need none.
func (w *Warner) sender(ctx context.Context, g *group) (member.Member, []Partner, bool, error) {
	mem := w.cfg.Member(g.member)
	if mem.Country == "" {
		return mem, nil, false, fmt.Errorf("federation: member %s unknown on this node", g.member)
	}
	if g.level != tlp.Amber {
		return mem, nil, true, nil
	}
	ags, err := w.cfg.Agreements.List(ctx, g.member)
	if err != nil || len(ags) == 0 {
		if err == nil {
			w.cfg.Metrics.withheld.Add(float64(len(g.alerts)))
		}
		return mem, nil, false, err
	}
	var out []Partner
	for _, a := range ags {
		out = append(out, a.Partner)
	}
	return mem, out, true, nil
}

// externals counts the external observables of an alert: at most the
// indicators it gives.
func externals(a *alert.Alert) int {
	n := 0
	for _, o := range a.Observables {
		if Pushable(a, o) {
			n++
		}
	}
	return n
}

// seal signs a warning end to end: the signature covers the warning's
// fields and the digest of each object of its bundle (originDigest), not
// the subject, so that it still verifies after a hub forwarded it on
// another subject, and after a hub left refused objects out.
func (w *Warner) seal(wn Warning) (outgoing, error) {
	msg, err := sealWarning(w.cfg.Identity, wn)
	if err != nil {
		return outgoing{}, err
	}
	return outgoing{msg: msg, id: wn.ID}, nil
}

// sealWarning encodes a warning and signs it as its origin.
func sealWarning(id *Identity, wn Warning) (*nats.Msg, error) {
	data, err := encodeWarning(&wn, wn.Bundle)
	if err != nil {
		return nil, err
	}
	var objs []json.RawMessage
	if len(wn.Bundle) > 0 {
		b, err := splitBundle(wn.Bundle)
		if err != nil {
			return nil, err
		}
		objs = b.Objects
	}
	hashes, err := objectDigests(objs, nil)
	if err != nil {
		return nil, err
	}
	digest, err := originDigest(&wn, hashes)
	if err != nil {
		return nil, err
	}
	sig, err := id.sign(digest)
	if err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: wn.Subject(), Data: data, Header: nats.Header{}}
	msg.Header.Set(hdrCert, id.certHeader)
	msg.Header.Set(hdrSignature, base64.StdEncoding.EncodeToString(sig))
	return msg, nil
}

// Revoke withdraws indicators this node shared (false positives): a
// warning that carries only the revocation, sent to the same recipients
// as the originals (the hub forwards it to every node that received
// them).
func (w *Warner) Revoke(ctx context.Context, memberID string, ids []string) error {
	mem := w.cfg.Member(memberID)
	if mem.Country == "" {
		return fmt.Errorf("federation: member %s unknown on this node", memberID)
	}
	for _, id := range ids {
		if typ, _, ok := stix.SplitID(id); !ok || typ != "indicator" {
			return fmt.Errorf("federation: %q is no indicator id", id)
		}
	}
	o, err := w.seal(Warning{
		ID: warningID(w.cfg.Identity.Name, append([]string{"revoke", time.Now().String()}, ids...)), Node: w.cfg.Identity.Name,
		Sender: w.memberHandle(memberID), Country: mem.Country, Sector: mem.Sector, TLP: tlp.Green,
		Created: time.Now().UTC(), Revoke: ids,
	})
	if err != nil {
		return err
	}
	_, err = w.fed.PublishMsg(ctx, o.msg, jetstream.WithMsgID(o.id))
	return err
}
