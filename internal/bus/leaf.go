package bus

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// FederationAccount is the NATS account federation traffic lives in on a
// federation node's embedded server. The node's own streams (ingest,
// alerts) stay in the global account; a leaf node link joins only this
// account, so neither side's ingest, alerts or JetStream API reach the
// other.
const FederationAccount = "XSOC_FEDERATION"

// Leaf is the embedded server's part in a federation.
//
// A hub sets Listen, ListenTLS and Authorize: it accepts leaf node
// connections over mutual TLS and binds those whose certificate
// Authorize admits to the federation account, each as its own user with
// the permissions Authorize gives it; every other connection is refused.
// A member node sets Hub and HubTLS: its server connects to the hub as a
// leaf node, over mutual TLS, from its own federation account. Both set
// Domain, so that JetStream does not merge across the link: each side's
// JetStream is reached from the other only through its domain. A node
// may do both (a hub that is itself a member of a wider hub).
type Leaf struct {
	// Domain is the server's JetStream domain, and its server name (the
	// node name).
	Domain string
	// Listen is the leaf node listener's host:port (a hub).
	Listen string
	// ListenTLS secures the listener; it must require and verify client
	// certificates.
	ListenTLS *tls.Config
	// Authorize decides from a connecting node's certificate (already
	// verified against ListenTLS's client CAs) whether it is admitted, as
	// whom, and what it may publish and receive; an error refuses it.
	Authorize func(*x509.Certificate) (LeafPeer, error)
	// Hub is the URL of the hub's leaf node listener ("tls://hub:7422").
	Hub string
	// HubTLS secures the link to the hub (client certificate, trusted CA,
	// expected server name).
	HubTLS *tls.Config
}

// leafCredentials are the per-process passwords of the embedded server's
// two users: "xsoc" (the global account, also taken by connections
// without credentials, as on a node without federation) and the
// federation account's user, which only this process knows.
type leafCredentials struct {
	fedUser, fedPassword string
	// auth authenticates a hub's connections (nil on a member node).
	auth *leafAuth
}

// configure adds the accounts, users and leaf node settings to o.
func (l *Leaf) configure(o *server.Options) (*leafCredentials, error) {
	if l.Domain == "" {
		return nil, errors.New("bus: federation needs a JetStream domain")
	}
	fed := server.NewAccount(FederationAccount)
	creds := &leafCredentials{fedUser: "xsoc-federation", fedPassword: randomSecret()}
	o.JetStreamDomain = l.Domain
	// A hub tells its leaf nodes apart by server name; two named alike
	// would push each other off the link.
	o.ServerName = "xsoc-" + l.Domain
	o.Accounts = []*server.Account{fed}
	o.Users = []*server.User{
		{Username: "xsoc", Password: randomSecret()}, // global account
		{Username: creds.fedUser, Password: creds.fedPassword, Account: fed},
	}
	o.NoAuthUser = "xsoc"
	if l.Listen != "" {
		if l.ListenTLS == nil || l.ListenTLS.ClientAuth != tls.RequireAndVerifyClientCert || l.Authorize == nil {
			return nil, errors.New("bus: a leaf node listener needs TLS that requires client certificates, and Authorize")
		}
		host, port, err := splitHostPort(l.Listen)
		if err != nil {
			return nil, err
		}
		o.LeafNode.Host, o.LeafNode.Port = host, port
		o.LeafNode.TLSConfig = l.ListenTLS
		o.LeafNode.TLSTimeout = 5
		// The certificate, not a name and password, decides: each node
		// is its own user, with permissions of its own (leafAuth), which
		// static users could not give nodes the hub has not heard of.
		creds.auth = &leafAuth{creds: creds, authorize: l.Authorize}
		o.CustomClientAuthentication = creds.auth
		o.Users, o.NoAuthUser = nil, ""
		// One member's subscriptions do not pull the other members'
		// traffic through the hub.
		o.LeafNode.IsolateLeafnodeInterest = true
	}
	if l.Hub != "" {
		u, err := url.Parse(l.Hub)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("bus: hub URL %q: want tls://host:port", l.Hub)
		}
		if l.HubTLS == nil {
			return nil, errors.New("bus: the link to the hub needs TLS")
		}
		o.LeafNode.Remotes = []*server.RemoteLeafOpts{{
			URLs: []*url.URL{u}, LocalAccount: FederationAccount,
			TLS: true, TLSConfig: l.HubTLS, TLSTimeout: 5,
		}}
		o.LeafNode.ReconnectInterval = 2e9 // 2 s: a restarted hub is found again quickly
	}
	return creds, nil
}

// enableJetStream turns JetStream on in both accounts: the global
// account keeps the node's streams, the federation account the
// federation's (the hub its alert stream, a member node the hub's
// notices). With accounts configured, the server enables it in none by
// itself.
func (l *Leaf) enableJetStream(srv *server.Server) error {
	if err := srv.GlobalAccount().EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	acc, err := srv.LookupAccount(FederationAccount)
	if err != nil {
		return err
	}
	if err := acc.EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("bus: jetstream in the federation account: %w", err)
	}
	return nil
}

// Federation returns the connection into the federation account, or nil
// when the bus is not a federation node.
func (b *Bus) Federation() *nats.Conn { return b.fed }

// LeafLinks returns the number of leaf node links of the embedded server:
// on a hub the members connected, on a member 1 while the hub is reached.
func (b *Bus) LeafLinks() int {
	if b.srv == nil {
		return 0
	}
	return b.srv.NumLeafNodes()
}

func randomSecret() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
