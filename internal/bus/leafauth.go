package bus

import (
	"crypto/subtle"
	"crypto/x509"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// LeafPeer is what a hub's leaf node listener makes of a connecting
// node's certificate: the name the node is known by, and the subjects of
// the federation account it may publish to and receive. The hub's server
// enforces both on the link, and tells the node's server, which holds
// back locally what it may not send (so that a node's mistake does not
// cost it its link; a peer that sends it anyway is disconnected).
type LeafPeer struct {
	Name string
	// Publish and Subscribe are allow lists of subjects (wildcards
	// allowed); everything else is denied.
	Publish, Subscribe []string
}

// ReplyPrefix is the prefix of the reply subjects a federation node's
// connection into its federation account uses (the inbox prefix of
// requests and JetStream publications): "xsoc.fed.reply.<node>". Replies
// to one node's requests thereby carry its name, and the hub lets each
// node receive only its own.
func ReplyPrefix(node string) string { return "xsoc.fed.reply." + node }

// leafAuth authenticates every connection of a hub's embedded server:
// leaf nodes by their certificate (Leaf.Authorize decides the account
// user and its permissions), the process's own connections by the
// per-process password of the federation user or, without credentials,
// into the global account (what NoAuthUser does on a node without a
// leaf listener).
type leafAuth struct {
	creds     *leafCredentials
	authorize func(*x509.Certificate) (LeafPeer, error)

	mu  sync.Mutex
	srv *server.Server // set once the server exists, before it starts
}

// Check implements server.Authentication.
func (a *leafAuth) Check(c server.ClientAuthentication) bool {
	a.mu.Lock()
	srv := a.srv
	a.mu.Unlock()
	if srv == nil {
		return false
	}
	switch c.Kind() {
	case server.LEAF:
		st := c.GetTLSConnectionState()
		if st == nil || len(st.PeerCertificates) == 0 {
			return false
		}
		peer, err := a.authorize(st.PeerCertificates[0])
		if err != nil {
			srv.Warnf("federation: leaf node refused: %v", err)
			return false
		}
		fed, err := srv.LookupAccount(FederationAccount)
		if err != nil {
			return false
		}
		c.RegisterUser(&server.User{Username: peer.Name, Account: fed, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: peer.Publish},
			Subscribe: &server.SubjectPermission{Allow: peer.Subscribe},
		}})
		return true
	case server.CLIENT:
		o := c.GetOpts()
		if o.Username == a.creds.fedUser {
			if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.creds.fedPassword)) != 1 {
				return false
			}
			fed, err := srv.LookupAccount(FederationAccount)
			if err != nil {
				return false
			}
			c.RegisterUser(&server.User{Username: a.creds.fedUser, Account: fed})
			return true
		}
		// Without credentials: the global account, as on any node.
		return o.Username == "" && o.Password == "" && o.Token == "" && o.Nkey == "" && o.JWT == ""
	}
	return false
}
