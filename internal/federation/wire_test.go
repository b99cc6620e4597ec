package federation

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

// sealedAlert returns the message node id sends for the sample alert.
func sealedAlert(t *testing.T, id *Identity, edit func(*Alert)) *nats.Msg {
	t.Helper()
	a := sampleAlert()
	out := Describe(id.Name, &a, "DE", "energy", testPseudonymiser(t, "s"))
	if edit != nil {
		edit(&out)
	}
	data, _ := json.Marshal(out)
	msg := &nats.Msg{Subject: out.Subject(), Data: data}
	if err := id.seal(msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestSealedAlertsVerify(t *testing.T) {
	p := newTestPKI(t)
	hub, de, fr := p.identity(t, "hub"), p.identity(t, "de-node"), p.identity(t, "fr-node")
	foreign := newTestPKI(t).identity(t, "de-node")
	v := newVerifier(hub)
	good := sealedAlert(t, de, nil)
	if a, err := v.decodeAlert(good.Subject, good.Header, good.Data); err != nil || a.Node != "de-node" {
		t.Fatalf("good message: %+v, %v", a, err)
	}
	tampered := sealedAlert(t, de, nil)
	tampered.Data = []byte(strings.Replace(string(tampered.Data), `"severity":"high"`, `"severity":"low"`, 1))
	// fr-node signs an alert claiming to come from de-node.
	impostor := sealedAlert(t, fr, func(a *Alert) { a.Node = "de-node" })
	moved := sealedAlert(t, de, nil)
	moved.Subject = AlertSubject + ".de-node.nl-bank"
	unsigned := sealedAlert(t, de, nil)
	unsigned.Header.Del(hdrSignature)
	amber := sealedAlert(t, de, func(a *Alert) { a.TLP = tlp.Amber })
	tests := []struct {
		name string
		msg  *nats.Msg
		want string
	}{
		{"tampered body", tampered, "signature"},
		{"another node's signature", impostor, "sent an alert as node"},
		{"moved to another subject", moved, "signature"},
		{"no signature", unsigned, "no signature"},
		{"another federation's node", sealedAlert(t, foreign, nil), "unknown authority"},
		{"TLP:AMBER", amber, "may not leave"},
	}
	for _, tt := range tests {
		_, err := v.decodeAlert(tt.msg.Subject, tt.msg.Header, tt.msg.Data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestSignaturesCoverSubjectAndBody: a signature covers SHA-256 of the
// subject, a zero byte and the body, as it always has, so nodes of
// either version verify each other's messages.
func TestSignaturesCoverSubjectAndBody(t *testing.T) {
	p := newTestPKI(t)
	de := p.identity(t, "de-node")
	msg := sealedAlert(t, de, nil)
	digest := sha256.Sum256(append(append([]byte(msg.Subject), 0), msg.Data...))
	sig, _ := base64.StdEncoding.DecodeString(msg.Header.Get(hdrSignature))
	if !ecdsa.VerifyASN1(de.Cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("a sealed message's signature does not cover subject, 0, body")
	}
	if msg.Header.Get(hdrCert) != base64.StdEncoding.EncodeToString(de.Cert.Raw) {
		t.Error("the certificate header is not the node's certificate")
	}
	// Signed over the same digest by hand, the message opens.
	sig, err := ecdsa.SignASN1(rand.Reader, de.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(hdrSignature, base64.StdEncoding.EncodeToString(sig))
	if node, err := newVerifier(p.identity(t, "hub")).open(msg.Subject, msg.Header, msg.Data); err != nil || node != "de-node" {
		t.Errorf("opened as %q, %v", node, err)
	}
}

func TestHubDetectionsFollowStates(t *testing.T) {
	at := time.Date(2026, 3, 11, 9, 40, 0, 0, time.UTC)
	a := Alert{Node: "de-node", ID: alert.NewID(at), Member: "de-energie", Count: 4, EventTime: at, LastSeen: at.Add(10 * time.Minute),
		Detector: "sigma", RuleID: "r1", TLP: tlp.Green,
		Observables: []Observable{{Type: "ipv4-addr", Pseudonym: "p1", Global: true}, {Type: "ipv4-addr", Pseudonym: "p2"}}}
	first := hubDetections(a, 0)
	if len(first) != 2 || first[0].Count+first[1].Count != 4 || !first[1].EventTime.Equal(a.LastSeen) {
		t.Errorf("first state: %+v", first)
	}
	if first[0].Member != "de-node--de-energie" || first[0].Observables[0].Type != "public-ipv4-addr" || first[0].Observables[1].Type != "ipv4-addr" {
		t.Errorf("first detection %+v", first[0])
	}
	next := hubDetections(a, 3)
	if len(next) != 1 || next[0].Count != 1 || next[0].EventIDs[0] != a.MsgID() {
		t.Errorf("update: %+v", next)
	}
}

// FuzzParseAlert: the hub's decoder of federated alert bodies never
// panics, and what it accepts is an alert that may have left its node.
func FuzzParseAlert(f *testing.F) {
	a := sampleAlert()
	good, _ := json.Marshal(Describe("de-node", &a, "DE", "energy", testPseudonymiser(f, "s")))
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"node":"a--b","id":"x","count":-1}`))
	f.Add([]byte(`{"tlp":"TLP:RED"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAlert(data)
		if err != nil {
			return
		}
		if a.Count < 1 || !tlp.MayReceive(a.TLP, tlp.Community) || ValidNodeName(a.Node) != nil || !alert.ValidID(a.ID) {
			t.Errorf("accepted %+v", a)
		}
	})
}
