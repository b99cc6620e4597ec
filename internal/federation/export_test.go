package federation

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

// SealWarning signs w as its origin would, on w's subject.
func SealWarning(id *Identity, w Warning) *nats.Msg {
	msg, err := sealWarning(id, w)
	if err != nil {
		panic(err)
	}
	return msg
}

// SealWarningBody signs a raw warning body as an origin would: the
// digests of the warning it decodes to, or, if it decodes to none, of
// the body.
func SealWarningBody(id *Identity, subject string, data []byte) *nats.Msg {
	digest := signedDigest(warningContextV2, data)
	var w Warning
	var b wireBundle
	var err error
	if json.Unmarshal(data, &w) == nil && len(w.Bundle) > 0 {
		b, err = splitBundle(w.Bundle)
	}
	if err == nil {
		if hashes, err := objectDigests(b.Objects, w.Withheld); err == nil {
			digest, _ = originDigest(&w, hashes)
		}
	}
	sig, err := id.sign(digest)
	if err != nil {
		panic(err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(hdrCert, id.certHeader)
	msg.Header.Set(hdrSignature, base64.StdEncoding.EncodeToString(sig))
	return msg
}

// SealRelay adds id's relay seal to an origin-sealed warning, addressed
// to node's inbox.
func SealRelay(id *Identity, msg *nats.Msg, node, recipients string) *nats.Msg {
	out := &nats.Msg{Subject: InboxSubject + "." + node, Data: msg.Data, Header: nats.Header{}}
	out.Header.Set(hdrCert, msg.Header.Get(hdrCert))
	out.Header.Set(hdrSignature, msg.Header.Get(hdrSignature))
	if recipients != "" {
		out.Header.Set(hdrRecipients, recipients)
	}
	if err := sealHop(id, out); err != nil {
		panic(err)
	}
	return out
}

// Bundle builds the STIX bundle a warning of node carries for obs.
func Bundle(node string, level tlp.Level, obs ...alert.Observable) json.RawMessage {
	return BundleAt(node, level, time.Now(), obs...)
}

// BundleAt is Bundle for a detection at the given time.
func BundleAt(node string, level tlp.Level, now time.Time, obs ...alert.Observable) json.RawMessage {
	a := &alert.Alert{ID: "a1", Count: 1, EventTime: now, Detected: now, LastSeen: now, Severity: alert.High, Observables: obs}
	b, _, err := buildBundle(node, "DE", "energy", level, []*alert.Alert{a})
	if err != nil {
		panic(err)
	}
	return b
}

// OpenForward checks a warning as it sits in a node's inbox: the last
// hub's seal over it, and its origin's signature. It returns the origin
// node and the relay path.
func OpenForward(id *Identity, subject string, hdr nats.Header, data []byte) (string, string, error) {
	v := newVerifier(id)
	der, _ := base64.StdEncoding.DecodeString(hdr.Get(hdrRelayCert))
	sig, _ := base64.StdEncoding.DecodeString(hdr.Get(hdrRelaySignature))
	vc, err := v.cert(der)
	if err != nil {
		return "", "", err
	}
	if err := verifySignature(vc.cert, relayDigest(subject, hdr, data), sig); err != nil {
		return "", "", err
	}
	o, err := openWarning(v, hdr, data, time.Now())
	return o.w.Node, hdr.Get(hdrRelayPath), err
}
