package federation_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// freeAddrs returns n free addresses on 127.0.0.1.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// hubAt is the configuration of hub name listening at listen, a member
// of the hub upstream (listening at upAddr) if upstream is set.
func (f *federationFixture) hubAt(t *testing.T, name, listen, upstream, upAddr string) config.Config {
	t.Helper()
	cfg := f.config(t, "hub", name)
	cfg.Federation.LeafListen = listen
	if upstream != "" {
		cfg.Federation.Hub, cfg.Federation.HubName = "tls://"+upAddr, upstream
	}
	return cfg
}

// memberOf starts member node name under hub (listening at addr) with
// one member organisation.
func (f *federationFixture) memberOf(t *testing.T, name, hub, addr string, m member.Member) *running {
	t.Helper()
	cfg := f.config(t, "member", name)
	cfg.Federation.Hub, cfg.Federation.HubName = "tls://"+addr, hub
	n := start(t, cfg)
	if _, _, err := n.Members.Add(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return n
}

// knows reports whether a hub holds the directory of node, its own
// member node's or one below a member hub.
func knows(n *running, node string) bool {
	var c int
	n.DB.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM federation_nodes WHERE node = ?) + (SELECT COUNT(*) FROM federation_far_nodes WHERE node = ?)`, node, node).Scan(&c)
	return c > 0
}

// TestHubHierarchy: member node de-node under the national hub de-hub,
// fr-node under fr-hub, both hubs members of the cross-border hub
// eu-hub, and se-node right under eu-hub. A TLP:GREEN warning of DE
// reaches FR over de-hub → eu-hub → fr-hub and SE over de-hub → eu-hub,
// signed by de-node all the way; a TLP:AMBER warning under an agreement
// with FR reaches FR's member alone; one under an agreement that names
// only a member below de-hub does not leave de-hub; RED never leaves DE.
// fr-soc joins fr-node after the warnings: eu-hub sends the AMBER one
// down in a catch-up once fr-node's directory naming it came up.
func TestHubHierarchy(t *testing.T) {
	f := newFederation(t)
	ctx := context.Background()
	addrs := freeAddrs(t, 3)
	euAddr, deAddr, frAddr := addrs[0], addrs[1], addrs[2]
	eu := start(t, f.hubAt(t, "eu-hub", euAddr, "", ""))
	deHub := start(t, f.hubAt(t, "de-hub", deAddr, "eu-hub", euAddr))
	frHub := start(t, f.hubAt(t, "fr-hub", frAddr, "eu-hub", euAddr))
	de := f.memberOf(t, "de-node", "de-hub", deAddr, deEnergie)
	// fr-node's member comes only after the warnings: FR's hubs route
	// the AMBER one to it once its directory names it.
	frCfg := f.config(t, "member", "fr-node")
	frCfg.Federation.Hub, frCfg.Federation.HubName = "tls://"+frAddr, "fr-hub"
	fr := start(t, frCfg)
	se := f.memberOf(t, "se-node", "eu-hub", euAddr, seHospital)
	stadtwerke := member.Member{ID: "de-stadtwerke", Name: "Stadtwerke", Country: "DE", Sector: "energy"}
	if _, _, err := de.Members.Add(ctx, stadtwerke); err != nil {
		t.Fatal(err)
	}
	ags := &federation.Agreements{DB: de.DB, Members: de.Members}
	for _, a := range [][2]string{{"de-energie", "country:FR"}, {"de-energie", "member:de-other--x"}, {"de-stadtwerke", "member:de-node--de-energie"}} {
		partner, err := federation.ParsePartner(a[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ags.Add(ctx, a[0], partner); err != nil {
			t.Fatal(err)
		}
	}
	// No waiting for the directories: a hub holds what it accepted and
	// catches each node (or member hub) up once its directory arrives.
	raise(t, de, "de-energie", "red-rule", tlp.Red, alert.Observable{Type: "domain-name", Value: "red.example.org", Role: "query"})
	raise(t, de, "de-stadtwerke", "amber-rule", tlp.Amber, alert.Observable{Type: "domain-name", Value: "de-only.example.org", Role: "query"})
	raise(t, de, "de-energie", "amber-rule", tlp.Amber, alert.Observable{Type: "domain-name", Value: "fr-only.example.org", Role: "query"})
	raise(t, de, "de-energie", "green-rule", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.9", Role: "destination"})
	for _, n := range []*running{fr, se} {
		eventually(t, "the GREEN warning at "+n.Config.Federation.Node, func() bool { return len(warned(n, ioc.KindIP, "185.220.101.9")) == 1 })
		for _, r := range received(t, n) {
			if r.OriginNode != "de-node" || r.Country != "DE" {
				t.Errorf("%s received %+v", n.Config.Federation.Node, r)
			}
		}
	}
	if got := warned(fr, ioc.KindDomain, "fr-only.example.org"); len(got) != 0 {
		t.Errorf("the AMBER warning reached FR before its member: %+v", got)
	}
	if _, _, err := fr.Members.Add(ctx, frSOC); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the AMBER warning at FR", func() bool { return len(warned(fr, ioc.KindDomain, "fr-only.example.org")) == 1 })
	h := warned(fr, ioc.KindDomain, "fr-only.example.org")[0]
	if h.Indicator.TLP != tlp.Amber || len(h.Indicator.Named) != 1 || h.Indicator.Named[0] != "fr-soc" {
		t.Errorf("AMBER at FR: %+v", h.Indicator)
	}
	// Each hub forwards in order: SE has the GREEN warning raised after
	// the AMBER one, so it would have had that.
	for _, v := range []string{"fr-only.example.org", "red.example.org", "de-only.example.org"} {
		if got := warned(se, ioc.KindDomain, v); len(got) != 0 {
			t.Errorf("%s reached SE: %+v", v, got)
		}
	}
	for _, v := range []string{"red.example.org", "de-only.example.org"} {
		if got := warned(fr, ioc.KindDomain, v); len(got) != 0 {
			t.Errorf("%s reached FR: %+v", v, got)
		}
	}

	// Every hop is audited (each hub records a batch's forwards once the
	// next hop stored them).
	want := map[string]string{
		"de-hub → eu-hub TLP:GREEN":  " | to the upstream hub eu-hub: TLP:GREEN: the community beyond this hub",
		"de-hub → eu-hub TLP:AMBER":  " | to the upstream hub eu-hub: TLP:AMBER: agreement of de-node--de-energie with country FR, member de-other--x, beyond this hub",
		"eu-hub → fr-hub TLP:GREEN":  " | TLP:GREEN: the community",
		"eu-hub → se-node TLP:GREEN": " | TLP:GREEN: the community",
		"eu-hub → fr-hub TLP:AMBER":  "fr-node--fr-soc | catch-up: TLP:AMBER: agreement of de-node--de-energie with country FR, through hub fr-hub",
		"fr-hub → fr-node TLP:GREEN": " | TLP:GREEN: the community",
		"fr-hub → fr-node TLP:AMBER": "fr-soc | TLP:AMBER: named by the upstream hub eu-hub",
	}
	hops := map[string]string{}
	eventually(t, "every hop in the audits", func() bool {
		clear(hops)
		// de-energie's warnings, by de-hub's audit; hubs above de-hub
		// know the sender by its handle only, if they hold no copy of
		// de-node's directory.
		fw, err := federation.Forwards(ctx, deHub.DB, federation.ForwardFilter{Origin: "de-node"})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, f := range fw {
			if f.OriginMember != "de-energie" {
				t.Fatalf("de-hub forwarded %+v", f)
			}
			ids[f.Warning] = true
		}
		for _, n := range []*running{deHub, eu, frHub} {
			for id := range ids {
				fw, err := federation.Forwards(ctx, n.DB, federation.ForwardFilter{Warning: id})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range fw {
					hops[n.Config.Federation.Node+" → "+f.RecipientNode+" "+f.TLP] = strings.Join(f.Recipients, ",") + " | " + f.Reason
				}
			}
		}
		return len(hops) >= len(want)
	})
	for k, v := range want {
		// Forwarded live, or in a catch-up if the hub did not hold the
		// recipient's directory yet; the AMBER one to fr-hub must be.
		if got := hops[k]; got != v && strings.Replace(got, "| catch-up: ", "| ", 1) != v {
			t.Errorf("forward %s: %q, want %q", k, hops[k], v)
		}
	}
	if len(hops) != len(want) {
		t.Errorf("forwards %v", hops)
	}

	// Each level learned the nodes below it: its own member nodes and
	// member hubs, and the member nodes below those; directories never
	// travel down.
	eventually(t, "the directories", func() bool {
		return knows(eu, "de-hub") && knows(eu, "fr-hub") && knows(eu, "se-node") && knows(eu, "de-node") && knows(eu, "fr-node") &&
			knows(deHub, "de-node") && knows(frHub, "fr-node")
	})
	for _, h := range []*running{deHub, frHub} {
		if knows(h, "se-node") || knows(h, "eu-hub") {
			t.Errorf("%s holds directories from above it", h.Config.Federation.Node)
		}
	}

	// Another FR member joins: the AMBER warning comes down again, for
	// both, from eu-hub through fr-hub.
	if _, _, err := fr.Members.Add(ctx, member.Member{ID: "fr-other", Name: "Autre", Country: "FR", Sector: "health"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the AMBER warning for FR's second member", func() bool {
		hits, _ := fr.IOC.LookupFor("fr-other", ioc.KindDomain, "fr-only.example.org")
		return len(hits) == 1
	})
	if hits, _ := fr.IOC.LookupFor("fr-soc", ioc.KindDomain, "fr-only.example.org"); len(hits) != 1 {
		t.Errorf("fr-soc lost the AMBER indicator: %+v", hits)
	}
	var amberID string
	for _, r := range received(t, fr) {
		if r.Value == "fr-only.example.org" {
			amberID = r.Warning
		}
	}
	for n, want := range map[*running]string{
		eu:    "fr-node--fr-other,fr-node--fr-soc | catch-up: TLP:AMBER: agreement of de-node--de-energie with country FR, through hub fr-hub",
		frHub: "fr-other,fr-soc | TLP:AMBER: named by the upstream hub eu-hub",
	} {
		var got string
		eventually(t, "the second forward audited", func() bool {
			fw, err := federation.Forwards(ctx, n.DB, federation.ForwardFilter{Warning: amberID})
			if err != nil || len(fw) != 1 {
				return false
			}
			got = strings.Join(fw[0].Recipients, ",") + " | " + fw[0].Reason
			return strings.HasPrefix(got, "fr-node--fr-other,") || strings.HasPrefix(got, "fr-other,")
		})
		if got != want {
			t.Errorf("%s's forward: %q, want %q", n.Config.Federation.Node, got, want)
		}
	}

	// The origin's signature verifies at the far end: the message in
	// FR's inbox is de-node's, sealed by fr-hub, over de-hub → eu-hub → fr-hub.
	js, _ := jetstream.New(fr.Bus.Federation())
	s, err := js.Stream(ctx, federation.InboxStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	origin, path, err := federation.OpenForward(f.identity(t, "fr-node"), m.Subject, m.Header, m.Data)
	if err != nil || origin != "de-node" || path != "de-hub,eu-hub,fr-hub" {
		t.Errorf("FR's first message: origin %q, path %q, %v", origin, path, err)
	}
}

// TestHubLoopIsRefused: hubs that are each other's members in a circle
// (a-hub under b-hub under c-hub under a-hub) refuse what comes back
// round with the reason "loop", forward it no further, and still deliver
// each warning once.
func TestHubLoopIsRefused(t *testing.T) {
	f := newFederation(t)
	addrs := freeAddrs(t, 3)
	aAddr, bAddr, cAddr := addrs[0], addrs[1], addrs[2]
	a := start(t, f.hubAt(t, "a-hub", aAddr, "b-hub", bAddr))
	b := start(t, f.hubAt(t, "b-hub", bAddr, "c-hub", cAddr))
	c := start(t, f.hubAt(t, "c-hub", cAddr, "a-hub", aAddr))
	x := f.memberOf(t, "de-node", "a-hub", aAddr, deEnergie)
	y := f.memberOf(t, "fr-node", "b-hub", bAddr, frSOC)
	// de-node's directory goes a-hub → b-hub → c-hub and comes back to
	// a-hub, which refuses it.
	eventually(t, "a loop refused", func() bool {
		n := 0.0
		for _, h := range []*running{a, b, c} {
			n += refusals(t, h)["loop"]
		}
		return n > 0
	})
	raise(t, x, "de-energie", "green-rule", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.10", Role: "destination"})
	eventually(t, "the warning at FR", func() bool { return len(warned(y, ioc.KindIP, "185.220.101.10")) == 1 })
	if got := received(t, y); len(got) != 1 {
		t.Errorf("FR received %+v", got)
	}
	if got := warned(x, ioc.KindIP, "185.220.101.10"); len(got) != 0 {
		t.Errorf("the warning came back to its origin: %+v", got)
	}
	if n := refusals(t, x)["forged-origin"]; n != 0 {
		t.Errorf("de-node refused %v of its own warnings that came back", n)
	}
}
