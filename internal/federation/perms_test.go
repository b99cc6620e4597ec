package federation

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/bus"
)

// leafDial opens a leaf node connection to addr with cert: it reads the
// server's INFO and upgrades to TLS. It returns nil and the handshake's
// error if TLS refused it.
func leafDial(t *testing.T, addr string, cert tls.Certificate, roots *x509.CertPool) (*tls.Conn, *bufio.Reader, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hung test, not a measurement
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("no INFO: %q %v", line, err)
	}
	tc := tls.Client(conn, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "hub", MinVersion: tls.VersionTLS13})
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	return tc, bufio.NewReader(tc), nil
}

// leafSession speaks the leaf node protocol with cert: CONNECT, then
// each command followed by PING, and returns for each the server's first
// answer that is a PONG or an error (or the error that ended the
// connection).
func leafSession(t *testing.T, addr string, cert tls.Certificate, roots *x509.CertPool, cmds ...string) []string {
	t.Helper()
	tc, tr, err := leafDial(t, addr, cert, roots)
	if err != nil {
		return []string{"tls: " + err.Error()}
	}
	var out []string
	for _, cmd := range append([]string{"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,\"name\":\"probe\"}"}, cmds...) {
		if _, err := tc.Write([]byte(cmd + "\r\nPING\r\n")); err != nil {
			return append(out, "tls: "+err.Error())
		}
		for {
			line, err := tr.ReadString('\n')
			if err != nil {
				return append(out, "tls: "+err.Error())
			}
			// Until the answer to PING (or an error), an admitted leaf
			// node receives the server's INFO, PINGs and interest.
			if strings.HasPrefix(line, "PONG") || strings.HasPrefix(line, "-ERR") {
				out = append(out, strings.TrimSpace(line))
				break
			}
		}
		if strings.HasPrefix(out[len(out)-1], "-ERR") {
			return out
		}
	}
	return out
}

// TestLeafPeersHoldToTheirOwnSubjects: at the hub, a node that speaks the
// leaf protocol itself and ignores its permissions is refused — and cut
// off — when it subscribes to another node's inbox or notices,
// publishes as another node or into another node's inbox, or calls the
// hub's JetStream API; a certificate with the hub's own name is not
// admitted. (A wildcard subscription is taken, but delivers only what
// the node may receive: TestWildcardsDeliverOnlyOwnSubjects.)
func TestLeafPeersHoldToTheirOwnSubjects(t *testing.T) {
	p := newTestPKI(t)
	hub := p.identity(t, "hub")
	_, addr := openHubBus(t, hub)
	de := p.identity(t, "de-node").tlsCertificate()
	tests := []struct {
		name string
		cert tls.Certificate
		cmds []string
		want []string
	}{
		{"its own subjects", de, []string{
			"LS+ xsoc.fed.inbox.de-node", "LS+ xsoc.fed.notice.de-node", "LS+ xsoc.fed.reply.de-node.abc.*",
			"LMSG xsoc.fed.alert.de-node.m 2\r\nok", "LMSG xsoc.fed.warn.de-node.m1 2\r\nok", "LMSG xsoc.fed.dir.de-node 2\r\nok",
			"LMSG xsoc.fed.reply.hub.abc.1 2\r\nok",
		}, []string{"PONG", "PONG", "PONG", "PONG", "PONG", "PONG", "PONG", "PONG"}},
		{"another node's inbox", de, []string{"LS+ xsoc.fed.inbox.fr-node"},
			[]string{"PONG", `-ERR 'Permissions Violation for Subscription to "xsoc.fed.inbox.fr-node"'`}},
		{"another node's notices", de, []string{"LS+ xsoc.fed.notice.fr-node"},
			[]string{"PONG", `-ERR 'Permissions Violation for Subscription to "xsoc.fed.notice.fr-node"'`}},
		{"an alert as another node", de, []string{"LMSG xsoc.fed.alert.fr-node.m 2\r\nno"},
			[]string{"PONG", `-ERR 'Permissions Violation for Publish to "xsoc.fed.alert.fr-node.m"'`}},
		{"a warning as another node", de, []string{"LMSG xsoc.fed.warn.fr-node.m1 2\r\nno"},
			[]string{"PONG", `-ERR 'Permissions Violation for Publish to "xsoc.fed.warn.fr-node.m1"'`}},
		{"into another node's inbox", de, []string{"LMSG xsoc.fed.inbox.fr-node 2\r\nno"},
			[]string{"PONG", `-ERR 'Permissions Violation for Publish to "xsoc.fed.inbox.fr-node"'`}},
		{"the hub's JetStream API", de, []string{"LMSG $JS.hub.API.STREAM.INFO.XSOC_FED_ALERTS xsoc.fed.reply.de-node.x.1 0\r\n"},
			[]string{"PONG", `-ERR 'Permissions Violation for Publish to "$JS.API.STREAM.INFO.XSOC_FED_ALERTS"'`}},
		{"the hub's own name", p.identity(t, "hub").tlsCertificate(), nil, []string{"-ERR 'Authorization Violation'"}},
	}
	for _, tt := range tests {
		got := leafSession(t, addr, tt.cert, hub.roots, tt.cmds...)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: server answered\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// TestWildcardsDeliverOnlyOwnSubjects: a node subscribed to every
// federation subject at the hub receives, of the hub's messages to fr-node
// (inbox, notices, replies) and to the hub's own alert subjects, nothing;
// the first message it gets is the one to its own inbox, sent last.
func TestWildcardsDeliverOnlyOwnSubjects(t *testing.T) {
	p := newTestPKI(t)
	hubID := p.identity(t, "hub")
	hub, addr := openHubBus(t, hubID)
	tc, tr, err := leafDial(t, addr, p.identity(t, "de-node").tlsCertificate(), hubID.roots)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte("CONNECT {\"tls_required\":true,\"name\":\"probe\"}\r\nLS+ xsoc.fed.>\r\nLS+ >\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := tr.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "-ERR") {
			t.Fatal(line)
		}
		if strings.HasPrefix(line, "PONG") {
			break
		}
	}
	for _, subject := range []string{InboxSubject + ".fr-node", NoticeSubject + ".fr-node", bus.ReplyPrefix("fr-node") + ".x.1",
		AlertSubject + ".fr-node.m", WarningSubject + ".fr-node.m1", InboxSubject + ".de-node"} {
		if err := hub.Federation().Publish(subject, []byte("for "+subject)); err != nil {
			t.Fatal(err)
		}
	}
	hub.Federation().Flush()
	for {
		line, err := tr.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "LMSG ") {
			continue
		}
		if got := strings.Fields(line)[1]; got != InboxSubject+".de-node" {
			t.Fatalf("de-node received %s", got)
		}
		return
	}
}

// TestNodesAreConfinedAtTheHub: member nodes' own servers, linked to the
// hub, learn their permissions from it and hold back what they may not
// send: a node that publishes as another node is not heard, its reads
// of another node's inbox and of the hub's alert stream come to
// nothing — and its link stays up for what it may send.
func TestNodesAreConfinedAtTheHub(t *testing.T) {
	p := newTestPKI(t)
	hub, addr, hubJS := openHubWithStreams(t, p)
	ctx := context.Background()
	nodes := linkMembers(t, p, hub, addr, InboxStream, InboxSubject, "de-node", "fr-node")
	de, _ := jetstream.New(nodes["de-node"].Federation())
	// Interest crosses the links just after they stand.
	publishEventually := func(js jetstream.JetStream, subject string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := js.Publish(ctx, subject, []byte("probe")); err == nil {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: %v", subject, err)
			}
		}
	}
	publishEventually(de, AlertSubject+".de-node.m")
	publishEventually(hubJS, InboxSubject+".fr-node")
	publishEventually(hubJS, InboxSubject+".de-node")
	stored := func() uint64 {
		s, err := hubJS.Stream(ctx, AlertStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	before := stored()

	// Publishing as fr-node: no stream answers (the node's server does
	// not send it), and the hub's stream holds nothing more.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := de.Publish(short, AlertSubject+".fr-node.m", []byte("as fr-node"))
	cancel()
	if err == nil {
		t.Fatal("de-node published an alert as fr-node")
	}
	if n := stored(); n != before {
		t.Fatalf("the hub's alert stream went from %d to %d messages", before, n)
	}

	// Reading the hub's alert stream through the hub's JetStream domain.
	hubFromDE, err := jetstream.NewWithDomain(nodes["de-node"].Federation(), "hub")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel = context.WithTimeout(ctx, 2*time.Second)
	_, err = hubFromDE.Stream(short, AlertStream)
	cancel()
	if err == nil {
		t.Fatal("de-node reached the hub's alert stream")
	}

	// Reading other nodes' inboxes: the hub writes into fr-node's inbox,
	// then into de-node's; de-node, listening to every inbox subject,
	// hears only its own (the hub's link delivers in order, so fr-node's
	// would have come first).
	sub, err := nodes["de-node"].Federation().SubscribeSync(InboxSubject + ".>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nodes["de-node"].Federation().Flush()
	for _, to := range []string{"fr-node", "de-node"} {
		if _, err := hubJS.Publish(ctx, InboxSubject+"."+to, []byte("for "+to)); err != nil {
			t.Fatalf("hub to %s: %v", to, err)
		}
	}
	msg, err := sub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != InboxSubject+".de-node" {
		t.Fatalf("de-node heard %s: %q", msg.Subject, msg.Data)
	}

	// The hub's streams of the other nodes' messages do not answer de-node's
	// requests either: a request on the hub's alert subjects as fr-node
	// finds no stream.
	short, cancel = context.WithTimeout(ctx, 2*time.Second)
	_, err = nodes["de-node"].Federation().RequestWithContext(short, AlertSubject+".fr-node.m2", []byte("?"))
	cancel()
	if err == nil || errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("request as fr-node: %v", err)
	}

	// The links stand, and carry what each node may send.
	if hub.LeafLinks() != len(nodes) {
		t.Fatalf("%d links after the refusals, want %d", hub.LeafLinks(), len(nodes))
	}
	for name, m := range nodes {
		js, _ := jetstream.New(m.Federation())
		if _, err := js.Publish(ctx, fmt.Sprintf("%s.%s.m", AlertSubject, name), []byte("still here")); err != nil {
			t.Fatalf("%s after the refusals: %v", name, err)
		}
	}
	if n := stored(); n != before+2 {
		t.Fatalf("the hub's alert stream holds %d messages, want %d", n, before+2)
	}
}
