package node

import (
	"context"
	"fmt"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
)

// federationParts are what a federation role adds to a node.
type federationParts struct {
	identity   *federation.Identity
	pseudonyms *federation.Pseudonymiser // member nodes
	hub        *federation.Hub
	exporter   *federation.Exporter
	notices    *federation.Notices
	metrics    *federation.Metrics
	agreements *federation.Agreements // member nodes
	sharing    *federation.Sharing    // member nodes
	warner     *federation.Warner
	inbox      *federation.Inbox
}

// federationLeaf loads the node's federation credentials and returns the
// bus's leaf node settings for its role, or nil without federation.
func (n *Node) federationLeaf() (*bus.Leaf, error) {
	f := n.Config.Federation
	if f.Role == "" {
		return nil, nil
	}
	if err := federation.ValidNodeName(f.Node); err != nil {
		return nil, err
	}
	id, err := federation.LoadIdentity(f.Cert, f.Key, f.CA)
	if err != nil {
		return nil, err
	}
	if id.Name != f.Node {
		return nil, fmt.Errorf("federation: certificate %s is node %q's, but this node is %q", f.Cert, id.Name, f.Node)
	}
	n.fed.identity = id
	leaf := &bus.Leaf{Domain: f.Node}
	switch f.Role {
	case "hub":
		leaf.Listen, leaf.ListenTLS = f.LeafListen, id.ServerTLS()
		if f.HubName != "" {
			// A member of a higher hub: no node below may take its name.
			if err := federation.ValidNodeName(f.HubName); err != nil {
				return nil, fmt.Errorf("federation: hub_name: %w", err)
			}
			leaf.Hub, leaf.HubTLS = f.Hub, id.ClientTLS(f.HubName)
			leaf.Authorize = id.LeafAuthorizer(f.HubName)
		} else {
			leaf.Authorize = id.LeafAuthorizer()
		}
	case "member":
		if err := federation.ValidNodeName(f.HubName); err != nil {
			return nil, fmt.Errorf("federation: hub_name: %w", err)
		}
		if n.fed.pseudonyms, err = federation.LoadSecret(f.SecretFile); err != nil {
			return nil, err
		}
		leaf.Hub, leaf.HubTLS = f.Hub, id.ClientTLS(f.HubName)
	}
	return leaf, nil
}

// openFederation builds the hub or the exporter, once the alert service
// and correlator stand.
func (n *Node) openFederation(ctx context.Context) error {
	if n.Config.Federation.Role == "" {
		return nil
	}
	var err error
	if n.fed.metrics, err = federation.NewMetrics(n.Metrics); err != nil {
		return err
	}
	switch n.Config.Federation.Role {
	case "hub":
		n.fed.hub, err = federation.NewHub(ctx, federation.HubConfig{
			Bus: n.Bus, Identity: n.fed.identity, DB: n.DB, Correlator: n.Correlator, Members: n.Members,
			OnMember: n.dir.put, Log: n.Log, Registry: n.Metrics, Metrics: n.fed.metrics, Upstream: n.Config.Federation.HubName,
			CorroborationMembers: n.Config.Federation.CorroborationMembers,
		})
	case "member":
		n.fed.exporter, err = federation.NewExporter(federation.ExporterConfig{
			Bus: n.Bus, Identity: n.fed.identity, Pseudonyms: n.fed.pseudonyms,
			Member: n.dir.get, Log: n.Log, Registry: n.Metrics,
		})
		if err != nil {
			return err
		}
		n.fed.notices, err = federation.NewNotices(ctx, federation.NoticesConfig{
			Bus: n.Bus, Identity: n.fed.identity, Hub: n.Config.Federation.HubName,
			Alert: func(ctx context.Context, id string) (alert.Alert, error) {
				return n.Alerts.Get(ctx, alert.Viewer{Operator: true}, id)
			},
			// Notices go where the pipeline's alerts go.
			Raise: func(ctx context.Context, batch []alert.Alert) error { return n.sink.Raise(ctx, batch) },
			Log:   n.Log,
		})
		n.fed.agreements = &federation.Agreements{DB: n.DB, Members: n.Members}
		n.fed.sharing = &federation.Sharing{DB: n.DB, Members: n.Members}
	}
	return err
}

// openEarlyWarning builds a member node's early warning parts — the
// inbox that applies warnings to the IOC index, and the warner that
// pushes the node's own — once the index stands, and registers the
// federation's API.
func (n *Node) openEarlyWarning(ctx context.Context) error {
	if n.Config.Federation.Role == "member" {
		var err error
		n.fed.inbox, err = federation.NewInbox(ctx, federation.InboxConfig{
			Bus: n.Bus, Identity: n.fed.identity, Hub: n.Config.Federation.HubName, DB: n.DB, Index: n.IOC,
			IsMember: func(id string) bool { return n.dir.get(id).ID != "" }, Log: n.Log, Metrics: n.fed.metrics,
			// The warner, built next, answers the hub's release requests.
			Release: func(ctx context.Context, pseudonyms []string) error { return n.fed.warner.Release(ctx, pseudonyms) },
		})
		if err != nil {
			return err
		}
		n.fed.warner, err = federation.NewWarner(federation.WarnerConfig{
			Bus: n.Bus, Identity: n.fed.identity, Members: n.Members, Member: n.dir.get,
			Agreements: n.fed.agreements, Received: n.fed.inbox.Received, Log: n.Log, Metrics: n.fed.metrics,
			Pseudonyms: n.fed.pseudonyms, Sharing: n.fed.sharing, DB: n.DB,
		})
		if err != nil {
			return err
		}
	}
	(&federation.API{
		Role: n.Config.Federation.Role, Node: n.Config.Federation.Node, Hub: n.Config.Federation.HubName,
		DB: n.DB, Bus: n.Bus, Metrics: n.fed.metrics, Agreements: n.fed.agreements, Warner: n.fed.warner,
		Sharing: n.fed.sharing, Pseudonyms: n.fed.pseudonyms, CorroborationMembers: n.Config.Federation.CorroborationMembers,
	}).Register(n.mux)
	return nil
}

// federationWork lists the federation's background work for Run.
func (n *Node) federationWork() []func(context.Context) {
	var work []func(context.Context)
	if h := n.fed.hub; h != nil {
		work = append(work, func(ctx context.Context) {
			if err := h.Run(ctx); err != nil {
				n.Log.Error("federation hub stopped", "err", err)
			}
		})
	}
	if e := n.fed.exporter; e != nil {
		work = append(work, func(ctx context.Context) {
			if err := e.Run(ctx); err != nil {
				n.Log.Error("federation exporter stopped", "err", err)
			}
		})
	}
	if w := n.fed.warner; w != nil {
		work = append(work, func(ctx context.Context) {
			if err := w.Run(ctx); err != nil {
				n.Log.Error("federation warnings stopped", "err", err)
			}
		})
	}
	if in := n.fed.inbox; in != nil {
		work = append(work, func(ctx context.Context) {
			if err := in.Run(ctx); err != nil {
				n.Log.Error("federation inbox stopped", "err", err)
			}
		})
	}
	if ns := n.fed.notices; ns != nil {
		work = append(work, func(ctx context.Context) {
			if err := ns.Run(ctx); err != nil {
				n.Log.Error("federation notices stopped", "err", err)
			}
		})
	}
	return work
}

// put records m in the directory at once, so that a member registered
// by another part of the node (the federation hub) is known before the
// next reload.
func (d *directory) put(m member.Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.members == nil {
		d.members = map[string]member.Member{}
	}
	d.members[m.ID] = m
}
