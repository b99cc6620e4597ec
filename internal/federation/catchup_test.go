package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// receivedFrom returns the indicator with value v that n received.
func receivedFrom(t *testing.T, n *running, v string) (federation.ReceivedIndicator, bool) {
	t.Helper()
	for _, r := range received(t, n) {
		if r.Value == v {
			return r, true
		}
	}
	return federation.ReceivedIndicator{}, false
}

// inboxOrder lists the warning ids in n's inbox stream, in the order
// they were stored.
func inboxOrder(t *testing.T, n *running) []string {
	t.Helper()
	s, st := fedStream(t, n, federation.InboxStream)
	var out []string
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		var w struct{ ID string }
		if err := json.Unmarshal(m.Data, &w); err != nil {
			t.Fatal(err)
		}
		out = append(out, w.ID)
	}
	return out
}

// forwardsTo lists the hub's audited forwards to node, by warning.
func forwardsTo(t *testing.T, hub *running, node string) map[string]federation.Forward {
	t.Helper()
	fw, err := federation.Forwards(context.Background(), hub.DB, federation.ForwardFilter{Recipient: node})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]federation.Forward{}
	for _, f := range fw {
		out[f.Warning] = f
	}
	return out
}

// TestCatchUp: se-node joins the federation after DE's warnings were
// forwarded to FR. It receives the TLP:GREEN ones still valid, in the
// order the hub took them — without the indicator DE revoked meanwhile,
// and without the one that expired; once members are added to it, the
// TLP:AMBER warning reaches the member DE's agreement names (a sector)
// and not the other, and again, for both, when a second member of that
// sector joins. Each forward is audited as a catch-up; after a restart
// of the hub nothing is sent or applied twice.
func TestCatchUp(t *testing.T) {
	f := newFederation(t)
	ctx := context.Background()
	hub := start(t, f.config(t, "hub", "hub"))
	de := startMember(t, f, "de-node", deEnergie)
	fr := startMember(t, f, "fr-node", frSOC)
	partner, err := federation.ParsePartner("sector:banking")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&federation.Agreements{DB: de.DB, Members: de.Members}).Add(ctx, "de-energie", partner); err != nil {
		t.Fatal(err)
	}

	// A warning whose indicator expires in seconds, as DE would sign it.
	detected := time.Now().Add(-7*24*time.Hour + 3*time.Second)
	expiring := federation.Warning{ID: "expiring-1", Node: "de-node", Sender: "mtest", Country: "DE", Sector: "energy",
		TLP: tlp.Green, Created: time.Now().UTC(),
		Bundle: federation.BundleAt("de-node", tlp.Green, detected, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.20", Role: "destination"})}
	hubJS, _ := jetstream.New(hub.Bus.Federation())
	if _, err := hubJS.PublishMsg(ctx, federation.SealWarning(f.identity(t, "de-node"), expiring)); err != nil {
		t.Fatal(err)
	}
	raise(t, de, "de-energie", "g1", tlp.Green,
		alert.Observable{Type: "ipv4-addr", Value: "185.220.101.21", Role: "destination"},
		alert.Observable{Type: "domain-name", Value: "g1.example.org", Role: "query"})
	// Each alert below is a warning of its own: the sender batches a
	// member's alerts of one level that it reads together.
	eventually(t, "g1 at FR", func() bool { _, ok := receivedFrom(t, fr, "g1.example.org"); return ok })
	raise(t, de, "de-energie", "a1", tlp.Amber, alert.Observable{Type: "domain-name", Value: "named.example.org", Role: "query"})
	raise(t, de, "de-energie", "g2", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.22", Role: "destination"})
	eventually(t, "DE's warnings at FR", func() bool {
		_, g1 := receivedFrom(t, fr, "185.220.101.21")
		_, g2 := receivedFrom(t, fr, "185.220.101.22")
		return g1 && g2
	})
	// The expiring one is held too (whether FR got it in time or not).
	eventually(t, "the expiring warning held", func() bool {
		var n int
		return hub.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_held WHERE warning = ?`, expiring.ID).Scan(&n) == nil && n == 1
	})
	// DE revokes g1's address: FR drops it; nobody gets it from now on.
	revoked, _ := receivedFrom(t, fr, "185.220.101.21")
	if code := operatorCall(t, de, http.MethodPost, "/api/v1/federation/revoke",
		`{"member":"de-energie","indicators":["`+revoked.ID+`"]}`, nil); code != http.StatusAccepted {
		t.Fatalf("revoke: %d", code)
	}
	eventually(t, "the revocation at FR", func() bool { return len(warned(fr, ioc.KindIP, "185.220.101.21")) == 0 })
	eventually(t, "the expiring indicator to expire", func() bool { return time.Now().After(detected.Add(7*24*time.Hour + time.Second)) })

	se := startMember(t, f, "se-node", seHospital)
	g1, _ := receivedFrom(t, fr, "g1.example.org")
	g2, _ := receivedFrom(t, fr, "185.220.101.22")
	eventually(t, "DE's GREEN warnings at SE", func() bool {
		_, a := receivedFrom(t, se, "g1.example.org")
		_, b := receivedFrom(t, se, "185.220.101.22")
		return a && b
	})
	addMembers := func(ms ...member.Member) {
		for _, m := range ms {
			if _, _, err := se.Members.Add(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	amberFor := func(id string) bool {
		hits, _ := se.IOC.LookupFor(id, ioc.KindDomain, "named.example.org")
		return len(hits) == 1 && hits[0].Indicator.TLP == tlp.Amber
	}
	addMembers(member.Member{ID: "se-bank", Name: "Bank", Country: "SE", Sector: "banking"},
		member.Member{ID: "se-other", Name: "Other", Country: "SE", Sector: "health"})
	eventually(t, "the AMBER warning at SE's bank", func() bool { return amberFor("se-bank") })
	if amberFor("se-other") || amberFor("se-hospital") {
		t.Error("a member no agreement names may use the AMBER indicator")
	}
	for _, v := range []string{"185.220.101.20", "185.220.101.21"} {
		if got := warned(se, ioc.KindIP, v); len(got) != 0 {
			t.Errorf("%s reached SE: %+v", v, got)
		}
	}

	// Another bank joins SE's node: it is sent the AMBER warning again,
	// for both banks.
	addMembers(member.Member{ID: "se-bank2", Name: "Bank 2", Country: "SE", Sector: "banking"})
	eventually(t, "the AMBER warning at SE's second bank", func() bool { return amberFor("se-bank2") })
	if !amberFor("se-bank") || amberFor("se-other") {
		t.Error("the AMBER indicator at SE after the second bank joined")
	}

	// In order, each once, audited as a catch-up; neither the expired
	// warning nor the revocation (SE never had the address) was sent.
	order := inboxOrder(t, se)
	if len(order) != 4 || order[0] != g1.Warning || order[1] != g2.Warning || order[3] != order[2] {
		t.Errorf("SE's inbox %v, want %s, %s, then the AMBER warning twice", order, g1.Warning, g2.Warning)
	}
	fw := forwardsTo(t, hub, "se-node")
	if len(fw) != 3 {
		t.Errorf("forwards to SE: %+v", fw)
	}
	for _, f := range fw {
		if !strings.HasPrefix(f.Reason, "catch-up: ") {
			t.Errorf("forward %+v", f)
		}
	}
	if a, ok := fw[order[len(order)-1]]; !ok || a.TLP != "TLP:AMBER" || !slices.Equal(a.Recipients, []string{"se-bank", "se-bank2"}) {
		t.Errorf("AMBER forward %+v", a)
	}
	if n := counter(t, se, "xsoc_federation_warnings_expired_total"); n != 0 {
		t.Errorf("SE was sent %v expired indicators", n)
	}

	// The hub restarts: it catches every node up again, and sends
	// nothing twice; a new warning reaches both.
	hub.stop()
	hub = start(t, f.config(t, "hub", "hub"))
	raise(t, de, "de-energie", "g3", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.23", Role: "destination"})
	for _, n := range []*running{fr, se} {
		eventually(t, "g3 at "+n.Config.Federation.Node, func() bool { return len(warned(n, ioc.KindIP, "185.220.101.23")) == 1 })
	}
	eventually(t, "g3's forwards", func() bool { return counter(t, hub, "xsoc_federation_warnings_forwarded_total") == 2 })
	if got := inboxOrder(t, se); len(got) != 5 {
		t.Errorf("SE's inbox after the hub's restart: %v", got)
	}
	if got := counter(t, se, "xsoc_federation_warnings_received_total"); got != 5 {
		t.Errorf("SE received %v indicators, want 5 (the AMBER one twice)", got)
	}
	if got := refusals(t, se); len(got) != 0 {
		t.Errorf("SE refused %v", got)
	}
}
