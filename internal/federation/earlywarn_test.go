package federation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

var seHospital = member.Member{ID: "se-hospital", Name: "Sjukhus", Country: "SE", Sector: "health"}

// warningFederation is a hub and three member nodes: DE energy, FR
// national SOC, SE hospital, each with its member's API key.
type warningFederation struct {
	f          *federationFixture
	hub        *running
	de, fr, se *running
	keys       map[string]string
}

func startWarningFederation(t *testing.T) *warningFederation {
	t.Helper()
	wf := &warningFederation{f: newFederation(t), keys: map[string]string{}}
	wf.hub = start(t, wf.f.config(t, "hub", "hub"))
	add := func(name string, m member.Member) *running {
		n := start(t, wf.f.config(t, "member", name))
		_, key, err := n.Members.Add(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		wf.keys[m.ID] = key
		return n
	}
	wf.de = add("de-node", deEnergie)
	wf.fr = add("fr-node", frSOC)
	wf.se = add("se-node", seHospital)
	// The hub forwards to the members the nodes' directories list; a node
	// sends its directory at start and again when its members change, so
	// wait for the directories that list the members added above.
	for node, m := range map[string]string{"de-node": deEnergie.ID, "fr-node": frSOC.ID, "se-node": seHospital.ID} {
		eventually(t, node+"'s directory listing "+m+" at the hub", func() bool {
			var dir string
			err := wf.hub.DB.QueryRow(context.Background(), `SELECT directory FROM federation_nodes WHERE node = ?`, node).Scan(&dir)
			return err == nil && strings.Contains(dir, `"id":"`+m+`"`)
		})
	}
	return wf
}

// warned returns the index hits of a value at n that came in a warning.
func warned(n *running, k ioc.Kind, value string) []ioc.Hit {
	hits, _ := n.IOC.Lookup(k, value)
	var out []ioc.Hit
	for _, h := range hits {
		if h.Indicator.WarnedFrom != "" {
			out = append(out, h)
		}
	}
	return out
}

func received(t *testing.T, n *running) []federation.ReceivedIndicator {
	t.Helper()
	out, err := federation.ListReceived(context.Background(), n.DB, federation.ReceivedFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEarlyWarningReachesEveryMember: the external observables of a
// TLP:GREEN alert at DE become active indicators at FR and SE, and an
// event with one of them at SE raises an alert there that names the
// warning; hosts, users and private addresses never leave, nor does
// anything of RED, AMBER+STRICT, or AMBER without an agreement.
func TestEarlyWarningReachesEveryMember(t *testing.T) {
	wf := startWarningFederation(t)
	raise(t, wf.de, "de-energie", "red-rule", tlp.Red, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.66", Role: "destination"})
	raise(t, wf.de, "de-energie", "strict-rule", tlp.AmberStrict, alert.Observable{Type: "domain-name", Value: "strict.example.org", Role: "query"})
	raise(t, wf.de, "de-energie", "amber-rule", tlp.Amber, alert.Observable{Type: "domain-name", Value: "amber.example.org", Role: "query"})
	raise(t, wf.de, "de-energie", "c2-rule", tlp.Green,
		alert.Observable{Type: "ipv4-addr", Value: "10.20.1.7", Role: "source"},
		alert.Observable{Type: "ipv4-addr", Value: "185.220.101.7", Role: "destination"},
		alert.Observable{Type: "domain-name", Value: "update-check.example.net", Role: "query"},
		alert.Observable{Type: "host", Value: "RTE-WS042", Role: "host"},
		alert.Observable{Type: "user-account", Value: "m.mueller", Role: "user"},
		alert.Observable{Type: "domain-name", Value: "fileserver.corp", Role: "query"})
	for _, n := range []*running{wf.fr, wf.se} {
		eventually(t, "the warning at "+n.Config.Federation.Node, func() bool {
			// The index takes the indicators before the store records them.
			return len(warned(n, ioc.KindIP, "185.220.101.7")) == 1 && len(warned(n, ioc.KindDomain, "update-check.example.net")) == 1 &&
				len(received(t, n)) >= 2
		})
		h := warned(n, ioc.KindIP, "185.220.101.7")[0]
		if h.Indicator.WarnedFrom != "DE" || h.Indicator.TLP != tlp.Green || h.Indicator.Confidence != 80 ||
			h.Indicator.ValidUntil.IsZero() || !strings.HasPrefix(h.Indicator.Owner, "de-node--m") {
			t.Errorf("%s: indicator %+v", n.Config.Federation.Node, h.Indicator)
		}
		got := received(t, n)
		if len(got) != 2 {
			t.Errorf("%s received %d indicators, want 2: %+v", n.Config.Federation.Node, len(got), got)
		}
		for _, r := range got {
			for _, never := range []string{"10.20.1.7", "RTE-WS042", "m.mueller", "fileserver.corp", "185.220.101.66", "strict.example.org", "amber.example.org"} {
				if strings.EqualFold(r.Value, never) {
					t.Errorf("%s received %s", n.Config.Federation.Node, never)
				}
			}
			if r.Country != "DE" || r.Sector != "energy" || r.Sightings != 1 {
				t.Errorf("%s: received %+v", n.Config.Federation.Node, r)
			}
		}
	}
	if got := warned(wf.de, ioc.KindIP, "185.220.101.7"); len(got) != 0 {
		t.Errorf("the warning came back to its origin: %+v", got)
	}

	// FR's status counts what it applied, and the delay.
	frKey, err := wf.fr.EnsureOperatorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opKey, _ := os.ReadFile(frKey)
	req, _ := http.NewRequest(http.MethodGet, wf.fr.URL()+"/api/v1/federation/status", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(opKey)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %v %v", resp, err)
	}
	var st federation.Status
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Role != "member" || st.Links != 1 || st.Warnings.Received != 2 || st.Warnings.Applied != 2 || st.LastApplied.IsZero() || st.LastDelay == "" {
		t.Errorf("FR's status %+v", st)
	}

	// SE's first contact with the address alerts at once.
	line := `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","source":{"ip":"172.20.4.9"},"destination":{"ip":"185.220.101.7","port":443},"host":{"name":"VHS-PC12"}}` + "\n"
	req, _ = http.NewRequest(http.MethodPost, wf.se.URL()+"/api/v1/ingest", strings.NewReader(line))
	req.Header.Set("Authorization", "Bearer "+wf.keys["se-hospital"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	var got alert.Alert
	eventually(t, "an alert at SE", func() bool {
		page, err := wf.se.Alerts.List(context.Background(), alert.Viewer{Member: "se-hospital"}, alert.Filter{Detector: "ioc"})
		if err != nil || len(page.Alerts) == 0 {
			return false
		}
		got = page.Alerts[0]
		return true
	})
	if !strings.Contains(got.RuleTitle, "known from a cross-border warning (detected in DE ") || !(strings.HasSuffix(got.RuleTitle, " ago)") || strings.HasSuffix(got.RuleTitle, "just now)")) {
		t.Errorf("SE alert title %q", got.RuleTitle)
	}
	// SE's alert of a warning it received is not pushed back out.
	time.Sleep(time.Second)
	for _, n := range []*running{wf.de, wf.fr} {
		for _, r := range received(t, n) {
			if r.OriginNode == "se-node" {
				t.Errorf("%s received SE's match of DE's warning: %+v", n.Config.Federation.Node, r)
			}
		}
	}
	fw, err := federation.Forwards(context.Background(), wf.hub.DB, federation.ForwardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fw) != 2 || fw[0].OriginNode != "de-node" || fw[0].OriginMember != "de-energie" || fw[0].TLP != "TLP:GREEN" {
		t.Errorf("forwards %+v", fw)
	}

	// DE revokes the address (a false positive): it leaves every index.
	var id string
	for _, r := range received(t, wf.fr) {
		if r.Value == "185.220.101.7" {
			id = r.ID
		}
	}
	keyFile, err := wf.de.EnsureOperatorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyFile)
	body := `{"member":"de-energie","indicators":["` + id + `"]}`
	req, _ = http.NewRequest(http.MethodPost, wf.de.URL()+"/api/v1/federation/revoke", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, n := range []*running{wf.fr, wf.se} {
		eventually(t, "the revocation at "+n.Config.Federation.Node, func() bool {
			return len(warned(n, ioc.KindIP, "185.220.101.7")) == 0
		})
		if len(warned(n, ioc.KindDomain, "update-check.example.net")) != 1 {
			t.Errorf("%s lost the indicator not revoked", n.Config.Federation.Node)
		}
	}
	// Restarted, SE applies nothing revoked and nothing twice.
	wf.se.stop()
	wf.se = start(t, wf.f.config(t, "member", "se-node"))
	if len(warned(wf.se, ioc.KindIP, "185.220.101.7")) != 0 || len(warned(wf.se, ioc.KindDomain, "update-check.example.net")) != 1 {
		t.Errorf("after a restart SE's index holds %v and %v", warned(wf.se, ioc.KindIP, "185.220.101.7"), warned(wf.se, ioc.KindDomain, "update-check.example.net"))
	}
}

// TestAmberReachesOnlyAgreedPartners: a TLP:AMBER warning of a member
// with an agreement naming FR reaches FR's member, for it alone, and not
// SE; the hub's audit records the forward and why.
func TestAmberReachesOnlyAgreedPartners(t *testing.T) {
	wf := startWarningFederation(t)
	ctx := context.Background()
	ags := &federation.Agreements{DB: wf.de.DB, Members: wf.de.Members}
	p, err := federation.ParsePartner("country:fr")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ags.Add(ctx, "de-energie", p); err != nil {
		t.Fatal(err)
	}
	if _, err := ags.Add(ctx, "nobody", p); err == nil {
		t.Error("an agreement of an unknown member was recorded")
	}
	eventually(t, "the agreement at the hub", func() bool {
		var dir string
		err := wf.hub.DB.QueryRow(ctx, `SELECT directory FROM federation_nodes WHERE node = 'de-node'`).Scan(&dir)
		return err == nil && strings.Contains(dir, `"country","value":"FR"`)
	})
	raise(t, wf.de, "de-energie", "amber-rule", tlp.Amber, alert.Observable{Type: "domain-name", Value: "partners-only.example.org", Role: "query"})
	raise(t, wf.de, "de-energie", "green-rule", tlp.Green, alert.Observable{Type: "domain-name", Value: "everyone.example.org", Role: "query"})
	eventually(t, "the AMBER warning at FR", func() bool { return len(warned(wf.fr, ioc.KindDomain, "partners-only.example.org")) == 1 })
	// The hub forwards in order: once SE has the later GREEN warning, it
	// would have had the AMBER one.
	eventually(t, "the GREEN warning at SE", func() bool { return len(warned(wf.se, ioc.KindDomain, "everyone.example.org")) == 1 })
	if got := warned(wf.se, ioc.KindDomain, "partners-only.example.org"); len(got) != 0 {
		t.Errorf("AMBER reached SE: %+v", got)
	}
	h := warned(wf.fr, ioc.KindDomain, "partners-only.example.org")[0]
	if h.Indicator.TLP != tlp.Amber || len(h.Indicator.Named) != 1 || h.Indicator.Named[0] != "fr-soc" {
		t.Errorf("AMBER indicator at FR: %+v", h.Indicator)
	}
	if hits, _ := wf.fr.IOC.LookupFor("fr-other", ioc.KindDomain, "partners-only.example.org"); len(hits) != 0 {
		t.Errorf("another member of FR's node may use the AMBER indicator: %+v", hits)
	}
	// The hub records a batch's forwards once the inboxes stored them.
	var amber []federation.Forward
	eventually(t, "the AMBER forward in the hub's audit", func() bool {
		fw, err := federation.Forwards(ctx, wf.hub.DB, federation.ForwardFilter{Origin: "de-node"})
		if err != nil {
			t.Fatal(err)
		}
		amber = nil
		for _, f := range fw {
			if f.TLP == "TLP:AMBER" {
				amber = append(amber, f)
			}
		}
		return len(amber) > 0
	})
	if len(amber) != 1 || amber[0].RecipientNode != "fr-node" || len(amber[0].Recipients) != 1 || amber[0].Recipients[0] != "fr-soc" ||
		amber[0].Reason != "TLP:AMBER: agreement of de-node--de-energie with country FR" {
		t.Errorf("AMBER forwards %+v", amber)
	}
}

// identity loads node name's identity from the fixture.
func (f *federationFixture) identity(t *testing.T, name string) *federation.Identity {
	t.Helper()
	dir := filepath.Join(f.dir, name, "pki")
	id, err := federation.LoadIdentity(filepath.Join(dir, federation.NodeCertFile(name)), filepath.Join(dir, federation.NodeKeyFile(name)),
		filepath.Join(dir, federation.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// refusals reads a node's refused-warning counters by reason.
func refusals(t *testing.T, n *running) map[string]float64 {
	t.Helper()
	mfs, err := n.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "xsoc_federation_warnings_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// counter reads a counter (or gauge) of a node's metrics.
func counter(t *testing.T, n *running, name string) float64 {
	t.Helper()
	mfs, err := n.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if g := mf.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestBadWarningsAreRefused: forged, replayed, re-signed, over-TLP,
// malformed and private-address warnings, and warnings that bypass the
// hub, are refused with a reason and a counter at the hub or the
// receiving node, never applied; the links stay up and the next good
// warning arrives.
func TestBadWarningsAreRefused(t *testing.T) {
	wf := startWarningFederation(t)
	ctx := context.Background()
	deID, frID, seID, hubID := wf.f.identity(t, "de-node"), wf.f.identity(t, "fr-node"), wf.f.identity(t, "se-node"), wf.f.identity(t, "hub")
	js, err := jetstream.New(wf.de.Bus.Federation())
	if err != nil {
		t.Fatal(err)
	}
	// Member nodes cannot reach each other's inboxes; what reaches them
	// comes through the hub's account.
	hubJS, err := jetstream.New(wf.hub.Bus.Federation())
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	publish := func(msg *nats.Msg) {
		t.Helper()
		seq++
		via := js
		if strings.HasPrefix(msg.Subject, federation.InboxSubject) {
			via = hubJS
		}
		if _, err := via.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("bad-%d", seq))); err != nil {
			t.Fatalf("publish %s: %v", msg.Subject, err)
		}
	}
	warning := func(id, value string, level tlp.Level) federation.Warning {
		return federation.Warning{ID: id, Node: "de-node", Sender: "mtest", Country: "DE", Sector: "energy", TLP: level,
			Created: time.Now().UTC(), Bundle: federation.Bundle("de-node", level, alert.Observable{Type: "ipv4-addr", Value: value, Role: "destination"})}
	}
	// Another federation's CA issued this de-node certificate.
	otherCA, err := federation.NewCA("other", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := otherCA.Issue("de-node", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if err := nc.Save(otherDir); err != nil {
		t.Fatal(err)
	}
	otherID, err := federation.LoadIdentity(filepath.Join(otherDir, "de-node.crt"), filepath.Join(otherDir, "de-node.key"), filepath.Join(otherDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	// At the hub.
	publish(federation.SealWarning(otherID, warning("w-other-ca", "185.1.1.1", tlp.Green)))
	publish(federation.SealWarning(frID, warning("w-forged", "185.1.1.2", tlp.Green)))
	publish(federation.SealWarning(deID, warning("w-red", "185.1.1.3", tlp.Red)))
	publish(federation.SealWarning(deID, warning("w-strict", "185.1.1.4", tlp.AmberStrict)))
	private := warning("w-private", "185.1.1.5", tlp.Green)
	private.Bundle = json.RawMessage(strings.ReplaceAll(string(private.Bundle), "185.1.1.5", "10.1.2.3"))
	publish(federation.SealWarning(deID, private))
	// A batch of three indicators, one of them for a private address:
	// that one is refused and counted, the two others reach FR and SE.
	batch := warning("w-batch", "185.1.3.1", tlp.Green)
	batch.Bundle = federation.Bundle("de-node", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.1.3.1", Role: "destination"},
		alert.Observable{Type: "ipv4-addr", Value: "185.1.3.2", Role: "destination"}, alert.Observable{Type: "domain-name", Value: "c2.example.org", Role: "destination"})
	batch.Bundle = json.RawMessage(strings.ReplaceAll(string(batch.Bundle), "185.1.3.2", "192.168.3.2"))
	publish(federation.SealWarning(deID, batch))
	badPattern := warning("w-pattern", "185.1.1.6", tlp.Green)
	badPattern.Bundle = json.RawMessage(strings.ReplaceAll(string(badPattern.Bundle), "[ipv4-addr:value = '185.1.1.6']", "[ipv4-addr:value = "))
	publish(federation.SealWarning(deID, badPattern))
	overMarked := warning("w-overmarked", "185.1.1.7", tlp.Green)
	overMarked.Bundle = federation.Bundle("de-node", tlp.Red, alert.Observable{Type: "ipv4-addr", Value: "185.1.1.7", Role: "destination"})
	publish(federation.SealWarning(deID, overMarked))
	unknownTLP, _ := json.Marshal(warning("w-purple", "185.1.1.8", tlp.Green))
	unknownTLP = []byte(strings.Replace(string(unknownTLP), `"TLP:GREEN"`, `"TLP:PURPLE"`, 1))
	publish(federation.SealWarningBody(deID, "xsoc.fed.warn.de-node.mtest", unknownTLP))
	notJSON := federation.SealWarningBody(deID, "xsoc.fed.warn.de-node.mtest", []byte(`{"id":`))
	publish(notJSON)
	good := federation.SealWarning(deID, warning("w-good", "185.1.1.9", tlp.Green))
	publish(good)
	publish(good) // a replay (another message id, so the stream keeps it)

	// Into FR's inbox, without the hub's seal or with another's.
	publish(federation.SealRelay(deID, federation.SealWarning(deID, warning("w-self-relayed", "185.1.2.1", tlp.Green)), "fr-node", ""))
	unsealed := federation.SealRelay(hubID, federation.SealWarning(deID, warning("w-unsealed", "185.1.2.2", tlp.Green)), "fr-node", "")
	unsealed.Header.Del("Xsoc-Relay-Signature")
	publish(unsealed)
	// Re-signed: DE's warning with SE's signature in place of DE's.
	publish(federation.SealRelay(hubID, federation.SealWarning(seID, warning("w-resigned", "185.1.2.3", tlp.Green)), "fr-node", ""))
	// A good forward replayed.
	direct := federation.SealRelay(hubID, federation.SealWarning(deID, warning("w-direct", "185.1.2.4", tlp.Green)), "fr-node", "")
	publish(direct)
	publish(direct)
	// A forward for FR replayed into SE's inbox.
	stolen := federation.SealRelay(hubID, federation.SealWarning(deID, warning("w-misaddressed-2", "185.1.2.5", tlp.Green)), "fr-node", "")
	stolen.Subject = "xsoc.fed.inbox.se-node"
	publish(stolen)
	// AMBER without named recipients.
	publish(federation.SealRelay(hubID, federation.SealWarning(deID, warning("w-amber-unnamed", "185.1.2.6", tlp.Amber)), "fr-node", ""))
	// Detected eight days ago: its indicator (valid seven days) expired
	// on the way — a node that was offline that long applies nothing.
	expired := warning("w-expired", "185.1.2.7", tlp.Green)
	expired.Bundle = federation.BundleAt("de-node", tlp.Green, time.Now().Add(-8*24*time.Hour),
		alert.Observable{Type: "ipv4-addr", Value: "185.1.2.7", Role: "destination"})
	publish(federation.SealRelay(hubID, federation.SealWarning(deID, expired), "fr-node", ""))

	// The link is up: a real warning still arrives, after all of these.
	raise(t, wf.de, "de-energie", "c2-rule", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: "185.220.101.8", Role: "destination"})
	for _, n := range []*running{wf.fr, wf.se} {
		eventually(t, "the good warnings at "+n.Config.Federation.Node, func() bool {
			return len(warned(n, ioc.KindIP, "185.220.101.8")) == 1 && len(warned(n, ioc.KindIP, "185.1.1.9")) == 1 &&
				len(warned(n, ioc.KindIP, "185.1.3.1")) == 1 && len(warned(n, ioc.KindDomain, "c2.example.org")) == 1
		})
	}
	wantHub := map[string]float64{"signature": 1, "forged-origin": 1, "over-tlp": 4, "private-address": 2, "malformed": 2, "replayed": 1}
	eventually(t, "the hub's refusals", func() bool { return maps.Equal(refusals(t, wf.hub), wantHub) })
	wantFR := map[string]float64{"not-from-hub": 2, "forged-origin": 1, "over-tlp": 1, "replayed": 1}
	eventually(t, "FR's refusals", func() bool { return maps.Equal(refusals(t, wf.fr), wantFR) })
	eventually(t, "SE's refusals", func() bool { return maps.Equal(refusals(t, wf.se), map[string]float64{"not-from-hub": 1}) })
	if got := counter(t, wf.fr, "xsoc_federation_warnings_expired_total"); got != 1 {
		t.Errorf("FR counted %v expired indicators, want 1", got)
	}
	for _, n := range []*running{wf.fr, wf.se} {
		for _, r := range received(t, n) {
			if !slices.Contains([]string{"185.220.101.8", "185.1.1.9", "185.1.3.1", "c2.example.org"}, r.Value) && (r.Value != "185.1.2.4" || n != wf.fr) {
				t.Errorf("%s applied %s from warning %s", n.Config.Federation.Node, r.Value, r.Warning)
			}
		}
	}
	st, err := (&federation.API{Role: "member", DB: wf.fr.DB, Bus: wf.fr.Bus}).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Links != 1 {
		t.Errorf("FR's links: %d", st.Links)
	}
	t.Logf("hub refused %v; FR refused %v", refusals(t, wf.hub), refusals(t, wf.fr))
}
