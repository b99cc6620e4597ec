package federation

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Streams and subjects of the federation account. Each side publishes
// into the other's stream across the leaf node link — member nodes their
// alerts into the hub's, the hub its notices into each member node's —
// and is answered once the stream stored the message. Subjects carry the
// member node concerned.
const (
	// AlertStream is the hub's stream of federated alerts.
	AlertStream = "XSOC_FED_ALERTS"
	// AlertSubject prefixes federated alert subjects:
	// xsoc.fed.alert.<node>.<member>.
	AlertSubject = "xsoc.fed.alert"
	// NoticeStream is a member node's stream of notices from the hub,
	// which the hub publishes into across the link.
	NoticeStream = "XSOC_FED_NOTICES"
	// NoticeSubject prefixes notice subjects: xsoc.fed.notice.<node>.
	NoticeSubject = "xsoc.fed.notice"
)

// Message headers.
const (
	hdrCert      = "Xsoc-Node-Cert"
	hdrSignature = "Xsoc-Signature"
)

// Alert is everything a member node sends the hub about one of its
// alerts — and so everything of it that leaves the node: the rule, its
// techniques, severity and TLP, the times, the member with its country and
// sector, and the observables as pseudonyms. Raw events (evidence), event
// ids, the deduplication key and triage state stay on the node.
type Alert struct {
	// Node is the sending node; ID the alert's id there. Count is how
	// many detections the alert folds so far: a later message about the
	// same alert carries a higher count.
	Node  string `json:"node"`
	ID    string `json:"id"`
	Count int    `json:"count"`

	Member  string `json:"member"`
	Country string `json:"country"`
	Sector  string `json:"sector,omitempty"`

	EventTime time.Time `json:"event_time"`
	LastSeen  time.Time `json:"last_seen"`
	Detected  time.Time `json:"detected"`

	Detector string `json:"detector"`
	RuleID   string `json:"rule_id"`
	// RuleTitle is the rule's title for detectors whose titles are fixed
	// rule names (Sigma); for the others, whose titles quote the matched
	// value, a title made of the detector and rule id.
	RuleTitle  string         `json:"rule_title"`
	Severity   alert.Severity `json:"severity"`
	Techniques []string       `json:"techniques,omitempty"`
	TLP        tlp.Level      `json:"tlp"`

	Observables []Observable `json:"observables,omitempty"`
}

// Observable is a pseudonymised observable.
type Observable struct {
	// Type is the STIX type the pseudonym was computed for.
	Type string `json:"type"`
	Role string `json:"role,omitempty"`
	// Pseudonym stands for the value (see Pseudonymiser).
	Pseudonym string `json:"pseudonym"`
	// Global says the value names the same thing at every member (a
	// public address, a domain, a hash), so that it may link members in
	// different countries; hosts, users and private addresses are local.
	Global bool `json:"global,omitempty"`
}

// staticTitles are the detectors whose rule titles are rule names only,
// never the data that matched.
var staticTitles = map[string]bool{"sigma": true}

// Describe builds what leaves the node for alert a of member m (country,
// sector) on node: observables pseudonymised, plus the host and user of
// its evidence (pseudonymised too) so the hub can group the member's
// alerts by host as the node does; nothing else of the evidence leaves.
func Describe(node string, a *alert.Alert, country, sector string, p *Pseudonymiser) Alert {
	out := Alert{
		Node: node, ID: a.ID, Count: max(a.Count, 1),
		Member: a.Member, Country: country, Sector: sector,
		EventTime: a.EventTime.UTC(), LastSeen: a.LastSeen.UTC(), Detected: a.Detected.UTC(),
		Detector: a.Detector, RuleID: a.RuleID, RuleTitle: a.RuleTitle,
		Severity: a.Severity, Techniques: a.Techniques, TLP: a.TLP,
	}
	if !staticTitles[a.Detector] {
		out.RuleTitle = a.Detector + " rule " + a.RuleID
	}
	add := func(typ, role, value string) {
		if strings.TrimSpace(value) == "" {
			return
		}
		// Decided here: a pseudonymised address can no longer be
		// inspected.
		global := correlate.Global(alert.Observable{Type: typ, Role: role, Value: value})
		// During the overlap after a rotation of the pseudonym key the
		// previous epoch's pseudonym goes too, so that the hub links the
		// alert with those of before the switch.
		ps, typ := p.PseudonymsAt(pseudonymTime(a), typ, value)
	next:
		for _, eps := range ps {
			o := Observable{Type: typ, Role: role, Pseudonym: eps.Value, Global: global}
			for _, have := range out.Observables {
				if have.Type == o.Type && have.Pseudonym == o.Pseudonym {
					continue next
				}
			}
			out.Observables = append(out.Observables, o)
		}
	}
	for _, o := range a.Observables {
		add(o.Type, o.Role, o.Value)
	}
	hosts, users := correlate.EvidenceNames(a.Evidence)
	for _, h := range hosts {
		add("host", "host", h)
	}
	for _, u := range users {
		add("user-account", "user", u)
	}
	return out
}

// Subject is the subject a federated alert is published on.
func (a *Alert) Subject() string { return AlertSubject + "." + a.Node + "." + a.Member }

// MsgID is the JetStream message id of this state of the alert: the hub's
// stream stores each state once, however often it is sent.
func (a *Alert) MsgID() string { return fmt.Sprintf("%s.%s.%d", a.Node, a.ID, a.Count) }

// check validates a received alert before the hub takes it.
func (a *Alert) check() error {
	switch {
	case ValidNodeName(a.Node) != nil:
		return fmt.Errorf("bad node %q", a.Node)
	case !alert.ValidID(a.ID):
		return fmt.Errorf("bad alert id %q", a.ID)
	case a.Member == "" || strings.ContainsAny(a.Member, ". \t\r\n*>"):
		return fmt.Errorf("bad member %q", a.Member)
	case a.Count < 1:
		return errors.New("count below 1")
	case a.Detector == "" || a.RuleID == "":
		return errors.New("no detector or rule")
	case a.EventTime.IsZero():
		return errors.New("no event time")
	case a.Severity > alert.Critical:
		return fmt.Errorf("unknown severity %d", a.Severity)
	case !tlp.MayReceive(a.TLP, tlp.Community):
		return fmt.Errorf("%v may not leave its node", a.TLP)
	}
	return nil
}

// signedDigest is what a signature covers: the SHA-256 of the subject
// (which names node and member), a zero byte and the body.
func signedDigest(subject string, data []byte) []byte {
	h := sha256.New()
	io.WriteString(h, subject)
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

// seal signs a message with the node's key and attaches the node's
// certificate, so that the hub (and any hub it forwards to) can tell
// which node sent it whatever link it came over.
func (id *Identity) seal(msg *nats.Msg) error {
	sig, err := id.sign(signedDigest(msg.Subject, msg.Data))
	if err != nil {
		return err
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(hdrCert, id.certHeader)
	msg.Header.Set(hdrSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

// verifier checks sealed messages, remembering the certificates it has
// verified (a federation has few nodes, each signing many messages).
type verifier struct {
	id *Identity

	mu    sync.Mutex
	known map[[32]byte]verifiedCert
}

type verifiedCert struct {
	cert *x509.Certificate
	node string
}

// maxKnownCerts bounds the verifier's memory; beyond it, it starts over.
const maxKnownCerts = 4096

func newVerifier(id *Identity) *verifier {
	return &verifier{id: id, known: map[[32]byte]verifiedCert{}}
}

// open verifies a sealed message and returns the node that sent it.
func (v *verifier) open(subject string, hdr nats.Header, data []byte) (string, error) {
	return v.openDigest(hdr, signedDigest(subject, data))
}

// openDigest verifies the signature of a message over digest and
// returns the node that signed it.
func (v *verifier) openDigest(hdr nats.Header, digest []byte) (string, error) {
	der, err := base64.StdEncoding.DecodeString(hdr.Get(hdrCert))
	if err != nil || len(der) == 0 {
		return "", errors.New("no node certificate")
	}
	sig, err := base64.StdEncoding.DecodeString(hdr.Get(hdrSignature))
	if err != nil || len(sig) == 0 {
		return "", errors.New("no signature")
	}
	vc, err := v.cert(der)
	if err != nil {
		return "", err
	}
	if err := verifySignature(vc.cert, digest, sig); err != nil {
		return "", err
	}
	return vc.node, nil
}

func (v *verifier) cert(der []byte) (verifiedCert, error) {
	sum := sha256.Sum256(der)
	v.mu.Lock()
	defer v.mu.Unlock()
	if vc, ok := v.known[sum]; ok && time.Now().Before(vc.cert.NotAfter) {
		return vc, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return verifiedCert{}, fmt.Errorf("node certificate: %w", err)
	}
	node, err := v.id.VerifyNode(cert)
	if err != nil {
		return verifiedCert{}, fmt.Errorf("node certificate: %w", err)
	}
	if len(v.known) >= maxKnownCerts {
		clear(v.known)
	}
	vc := verifiedCert{cert: cert, node: node}
	v.known[sum] = vc
	return vc, nil
}

// parseAlert decodes and checks the body of a federated alert message.
func parseAlert(data []byte) (Alert, error) {
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return Alert{}, fmt.Errorf("decode: %w", err)
	}
	if err := a.check(); err != nil {
		return Alert{}, err
	}
	return a, nil
}

// decodeAlert reads and authenticates one federated alert message: the
// signature must verify, and the node named by the certificate, the
// subject and the body must agree.
func (v *verifier) decodeAlert(subject string, hdr nats.Header, data []byte) (Alert, error) {
	node, err := v.open(subject, hdr, data)
	if err != nil {
		return Alert{}, err
	}
	a, err := parseAlert(data)
	if err != nil {
		return Alert{}, err
	}
	if a.Node != node || subject != a.Subject() {
		return Alert{}, fmt.Errorf("node %s sent an alert as node %s on %s", node, a.Node, subject)
	}
	return a, nil
}
