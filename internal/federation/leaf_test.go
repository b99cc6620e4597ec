package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/bus"
)

// openHubBus starts a hub's embedded server with its leaf node listener.
func openHubBus(t *testing.T, id *Identity) (*bus.Bus, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b, err := bus.Open(context.Background(), bus.Config{DataDir: filepath.Join(t.TempDir(), "hub"),
		Leaf: &bus.Leaf{Domain: id.Name, Listen: addr, ListenTLS: id.ServerTLS(), Authorize: id.LeafAuthorizer()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, addr
}

// leafConnect speaks the start of the leaf node protocol with cert:
// read the server's INFO, upgrade to TLS, send CONNECT and PING, and
// return the server's first answer line (or the error that ended it).
func leafConnect(t *testing.T, addr string, cert tls.Certificate, roots *x509.CertPool) string {
	t.Helper()
	return leafSession(t, addr, cert, roots)[0]
}

// certWithoutNodeURI is issued by the federation CA but lacks NodeURI,
// as a certificate the CA issued for some other purpose would.
func certWithoutNodeURI(t *testing.T, ca *CA) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "web"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DNSNames: []string{"web"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestLeafListenerAdmitsOnlyFederationNodes: a node certificate of the
// federation CA is admitted, a certificate of another CA fails the TLS
// handshake, and a certificate of the federation CA without the node URI
// fails authorisation.
func TestLeafListenerAdmitsOnlyFederationNodes(t *testing.T) {
	p := newTestPKI(t)
	hub := p.identity(t, "hub")
	_, addr := openHubBus(t, hub)
	member := p.identity(t, "de-node")
	foreign := newTestPKI(t).identity(t, "de-node")
	tests := []struct {
		name string
		cert tls.Certificate
		want string
	}{
		{"federation node", member.tlsCertificate(), "PONG"},
		{"another CA's node", foreign.tlsCertificate(), "tls: remote error"},
		{"federation CA, not a node", certWithoutNodeURI(t, p.ca), "-ERR 'Authorization Violation'"},
	}
	for _, tt := range tests {
		got := leafConnect(t, addr, tt.cert, hub.roots)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: server answered %q, want %q…", tt.name, got, tt.want)
		}
	}
}

// openHubWithStreams opens a hub's bus with the hub's alert stream.
func openHubWithStreams(t *testing.T, p *testPKI) (*bus.Bus, string, jetstream.JetStream) {
	t.Helper()
	hub, addr := openHubBus(t, p.identity(t, "hub"))
	hubJS, _ := jetstream.New(hub.Federation())
	if err := ensureHubStreams(context.Background(), hubJS); err != nil {
		t.Fatal(err)
	}
	return hub, addr, hubJS
}

// linkMembers opens the buses of member nodes named names, linked to the
// hub at addr, each with a stream of its own subject under prefix, and
// waits until the hub counts every link.
func linkMembers(t *testing.T, p *testPKI, hub *bus.Bus, addr, stream, prefix string, names ...string) map[string]*bus.Bus {
	t.Helper()
	ctx := context.Background()
	out := map[string]*bus.Bus{}
	for _, name := range names {
		id := p.identity(t, name)
		m, err := bus.Open(ctx, bus.Config{DataDir: filepath.Join(t.TempDir(), name),
			Leaf: &bus.Leaf{Domain: name, Hub: "tls://" + addr, HubTLS: id.ClientTLS("hub")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		js, _ := jetstream.New(m.Federation())
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + "." + name}}); err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	for deadline := time.Now().Add(30 * time.Second); hub.LeafLinks() < len(out); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d member nodes linked", hub.LeafLinks(), len(out))
		}
	}
	return out
}

// TestHubLinksEveryMember: member nodes stay linked side by side (each
// embedded server has its own name), and the hub reaches each one's
// stream and each reaches the hub's.
func TestHubLinksEveryMember(t *testing.T) {
	p := newTestPKI(t)
	hub, addr, hubJS := openHubWithStreams(t, p)
	ctx := context.Background()
	members := map[string]jetstream.JetStream{}
	for name, b := range linkMembers(t, p, hub, addr, NoticeStream, NoticeSubject, "de-node", "fr-node", "se-node") {
		members[name], _ = jetstream.New(b.Federation())
	}
	// Stream interest crosses the link just after it stands.
	for name := range members {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := hubJS.Publish(ctx, NoticeSubject+"."+name, []byte("probe")); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("hub to %s: %v", name, err)
			}
		}
	}
	for i := range 20 {
		for name, js := range members {
			if _, err := hubJS.Publish(ctx, NoticeSubject+"."+name, []byte("notice")); err != nil {
				t.Fatalf("round %d: hub to %s: %v (links %d)", i, name, err, hub.LeafLinks())
			}
			if _, err := js.Publish(ctx, AlertSubject+"."+name+".m", []byte("alert")); err != nil {
				t.Fatalf("round %d: %s to hub: %v (links %d)", i, name, err, hub.LeafLinks())
			}
		}
	}
}
