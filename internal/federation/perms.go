package federation

import (
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/xsoc/xsoc/internal/bus"
)

// fedPrefix is the common prefix of the federation's subjects. Every
// subject a node sends on or receives on names that node as its second
// token after the prefix: xsoc.fed.<kind>.<node>[.<more>] — the sender
// of what goes up (alerts, warnings, directories, a member hub's
// relays), the recipient of what comes down (notices, inbox). The hub's
// leaf node listener lets each node publish and receive only subjects
// that name it, plus the replies JetStream needs:
//
//   - publish: xsoc.fed.*.<node>, xsoc.fed.*.<node>.>, and
//     xsoc.fed.reply.<hub>.> (its streams' acknowledgements of what the
//     hub publishes into them);
//   - receive: xsoc.fed.*.<node> and xsoc.fed.*.<node>.> (its notices,
//     its inbox, and xsoc.fed.reply.<node>.>, the hub's acknowledgements
//     of what it published).
//
// So a node cannot publish as another node, read another node's inbox
// or notices, read the hub's streams of federated alerts and warnings
// (which would need the hub's JetStream API, $JS.<hub>.API.>), or see
// what other nodes send the hub. A new kind of message that follows the
// rule needs no change here.
const fedPrefix = "xsoc.fed."

// NodePermissions returns what node may publish and receive on the leaf
// node link to hub.
func NodePermissions(hub, node string) bus.LeafPeer {
	own := []string{fedPrefix + "*." + node, fedPrefix + "*." + node + ".>"}
	return bus.LeafPeer{
		Name:      node,
		Publish:   append(slices.Clone(own), bus.ReplyPrefix(hub)+".>"),
		Subscribe: own,
	}
}

// LeafAuthorizer returns the hub's decision on a connecting node's
// certificate (already verified against the federation CA by TLS): a
// node certificate of the federation (VerifyNode), not naming the hub
// itself or one of reserved (its upstream hub: a node of either name
// would receive what is addressed to them), gets NodePermissions.
func (id *Identity) LeafAuthorizer(reserved ...string) func(*x509.Certificate) (bus.LeafPeer, error) {
	return func(cert *x509.Certificate) (bus.LeafPeer, error) {
		node, err := id.VerifyNode(cert)
		if err != nil {
			return bus.LeafPeer{}, err
		}
		if node == id.Name || slices.Contains(reserved, node) {
			return bus.LeafPeer{}, fmt.Errorf("a node named %q may not link to hub %s", node, id.Name)
		}
		return NodePermissions(id.Name, node), nil
	}
}
