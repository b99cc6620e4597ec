package federation_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/tlp"
)

var operator = alert.Viewer{Operator: true}

// federationFixture is a federation's PKI and secret in a temporary
// directory, and the hub's leaf node address.
type federationFixture struct {
	dir, hubAddr, secret string
	ca                   *federation.CA
}

func newFederation(t *testing.T) *federationFixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := federation.NewCA("test federation", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &federationFixture{dir: dir, ca: ca, secret: filepath.Join(dir, "secret")}
	if err := federation.WriteSecret(f.secret); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.hubAddr = l.Addr().String()
	l.Close()
	return f
}

// config returns the configuration of node name in role, with its
// certificate issued on first use and its data in dir/<name>/data.
func (f *federationFixture) config(t *testing.T, role, name string) config.Config {
	t.Helper()
	certDir := filepath.Join(f.dir, name, "pki")
	if _, err := federation.LoadIdentity(filepath.Join(certDir, federation.NodeCertFile(name)),
		filepath.Join(certDir, federation.NodeKeyFile(name)), filepath.Join(certDir, federation.CACertFile)); err != nil {
		nc, err := f.ca.Issue(name, []string{"127.0.0.1"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Save(certDir); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(f.dir, name, "data")
	cfg.Listen = "127.0.0.1:0"
	cfg.Federation = config.Federation{Role: role, Node: name,
		Cert: filepath.Join(certDir, federation.NodeCertFile(name)), Key: filepath.Join(certDir, federation.NodeKeyFile(name)),
		CA: filepath.Join(certDir, federation.CACertFile)}
	if role == "hub" {
		cfg.Federation.LeafListen = f.hubAddr
	} else {
		cfg.Federation.Hub, cfg.Federation.HubName, cfg.Federation.SecretFile = "tls://"+f.hubAddr, "hub", f.secret
	}
	return cfg
}

// running is a node started in-process; stop ends it.
type running struct {
	*node.Node
	stop func()
}

var quiet = slog.New(slog.DiscardHandler)

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.Open(ctx, cfg, quiet)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	stopped := false
	r := &running{Node: n, stop: func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}}
	t.Cleanup(r.stop)
	return r
}

// startMember starts member node name with one member organisation.
func startMember(t *testing.T, f *federationFixture, name string, m member.Member) *running {
	t.Helper()
	n := start(t, f.config(t, "member", name))
	if _, _, err := n.Members.Add(context.Background(), m); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	return n
}

var (
	deEnergie = member.Member{ID: "de-energie", Name: "Rheintal Energie", Country: "DE", Sector: "energy"}
	frSOC     = member.Member{ID: "fr-soc", Name: "COSI", Country: "FR", Sector: "public-administration", Public: true}
)

// raise raises one detection at n.
func raise(t *testing.T, n *running, memberID, rule string, l tlp.Level, obs ...alert.Observable) alert.Alert {
	t.Helper()
	out, err := n.Alerts.Raise(context.Background(), []alert.Alert{{
		Member: memberID, EventTime: time.Now().Add(-time.Minute), Detector: "sigma", RuleID: rule, RuleTitle: "rule " + rule,
		Severity: alert.High, Techniques: []string{"T1071.001"}, TLP: l, Observables: obs,
		EventIDs: []string{rule + "-" + memberID},
	}})
	if err != nil || len(out) != 1 {
		t.Fatalf("raise: %v %v", out, err)
	}
	return out[0]
}

// eventually polls cond until it holds; the deadline only keeps a broken
// test from hanging.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hubAlerts lists the hub's alerts of a rule.
func hubAlerts(t *testing.T, hub *running, rule string) []alert.Alert {
	t.Helper()
	page, err := hub.Alerts.List(context.Background(), operator, alert.Filter{RuleID: rule, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Alerts
}

// streamMsgs counts the messages in the hub's federated alert stream.
func streamMsgs(t *testing.T, hub *running) uint64 {
	t.Helper()
	_, st := fedStream(t, hub, federation.AlertStream)
	return st.Msgs
}

// fedStream returns a stream of n's federation account and its state.
func fedStream(t *testing.T, n *running, name string) (jetstream.Stream, jetstream.StreamState) {
	t.Helper()
	js, _ := jetstream.New(n.Bus.Federation())
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, info.State
}

// TestAmberStaysHome: of two alerts of a member, the TLP:AMBER one never
// reaches the hub while the TLP:GREEN one raised after it does.
func TestAmberStaysHome(t *testing.T) {
	f := newFederation(t)
	hub := start(t, f.config(t, "hub", "hub"))
	de := startMember(t, f, "de-node", deEnergie)
	raise(t, de, "de-energie", "amber-rule", tlp.Amber)
	raise(t, de, "de-energie", "red-rule", tlp.Red)
	raise(t, de, "de-energie", "green-rule", tlp.Green)
	// The exporter reads the alert stream in order: once the GREEN alert
	// is at the hub, the two before it were decided.
	eventually(t, "the GREEN alert at the hub", func() bool { return len(hubAlerts(t, hub, "green-rule")) == 1 })
	for _, rule := range []string{"amber-rule", "red-rule"} {
		if got := hubAlerts(t, hub, rule); len(got) != 0 {
			t.Errorf("%s reached the hub: %+v", rule, got)
		}
	}
	if n := streamMsgs(t, hub); n != 1 {
		t.Errorf("hub stream holds %d messages, want 1", n)
	}
	got := hubAlerts(t, hub, "green-rule")[0]
	if got.Member != "de-node--de-energie" || got.TLP != tlp.Green {
		t.Errorf("hub alert %+v", got)
	}
	m, err := hub.Members.Get(context.Background(), "de-node--de-energie")
	if err != nil || m.Country != "DE" || m.Sector != "energy" {
		t.Errorf("remote member at the hub: %+v, %v", m, err)
	}
}

// TestAlertsWaitForHub: an alert raised while the hub is down arrives
// once it is up, once.
func TestAlertsWaitForHub(t *testing.T) {
	f := newFederation(t)
	de := startMember(t, f, "de-node", deEnergie)
	raise(t, de, "de-energie", "early-rule", tlp.Green)
	hub := start(t, f.config(t, "hub", "hub"))
	eventually(t, "the early alert at the hub", func() bool { return len(hubAlerts(t, hub, "early-rule")) == 1 })
	if n := streamMsgs(t, hub); n != 1 {
		t.Errorf("hub stream holds %d messages, want 1", n)
	}
}

// TestHubFormsCrossBorderIncident: alerts of members of two nodes in two
// countries sharing a public indicator form a cross-border incident at
// the hub, which names neither the indicator nor the hosts. Taking every
// message in again (the hub's consumer lost), and sending every alert
// again (a member's consumer lost), changes nothing.
func TestHubFormsCrossBorderIncident(t *testing.T) {
	f := newFederation(t)
	hub := start(t, f.config(t, "hub", "hub"))
	de := startMember(t, f, "de-node", deEnergie)
	fr := startMember(t, f, "fr-node", frSOC)
	c2 := alert.Observable{Type: "domain-name", Value: "evil-c2.example", Role: "query"}
	raise(t, de, "de-energie", "c2-rule", tlp.Green, c2, alert.Observable{Type: "host", Value: "RTE-WS042", Role: "host"})
	raise(t, fr, "fr-soc", "c2-rule", tlp.Green, c2, alert.Observable{Type: "host", Value: "PAR-WS007", Role: "host"})
	incident := func() *correlate.Incident {
		page, err := hub.Correlator.Incidents(context.Background(), operator, correlate.Filter{CrossBorder: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Incidents) == 0 {
			return nil
		}
		return &page.Incidents[0]
	}
	eventually(t, "a cross-border incident at the hub", func() bool { return incident() != nil })
	in := incident()
	if !slices.Equal(in.Countries, []string{"DE", "FR"}) || !slices.Equal(in.Members, []string{"de-node--de-energie", "fr-node--fr-soc"}) {
		t.Errorf("incident countries %v, members %v", in.Countries, in.Members)
	}
	doc, _ := json.Marshal(in)
	for _, raw := range []string{"evil-c2.example", "RTE-WS042", "PAR-WS007"} {
		if strings.Contains(strings.ToLower(string(doc)), strings.ToLower(raw)) {
			t.Errorf("the hub's incident names %q: %s", raw, doc)
		}
	}
	// Each member node is told that its alert joined the incident.
	for _, n := range []*running{de, fr} {
		eventually(t, "a notice on the member node", func() bool {
			page, err := n.Alerts.List(context.Background(), operator, alert.Filter{Detector: federation.NoticeDetector})
			if err != nil || len(page.Alerts) != 1 {
				return false
			}
			a := page.Alerts[0]
			return a.RuleID == federation.NoticeRule && strings.Contains(a.RuleTitle, "hub hub (DE, FR, 2 members)") && a.Incident != ""
		})
	}
	before := hubAlerts(t, hub, "c2-rule")
	msgs := streamMsgs(t, hub)

	// The hub loses its consumer: everything comes again.
	hubJS, _ := jetstream.New(hub.Bus.Federation())
	if err := hubJS.DeleteConsumer(context.Background(), federation.AlertStream, "xsoc-hub"); err != nil {
		t.Fatal(err)
	}
	hub.stop()
	hub = start(t, f.config(t, "hub", "hub"))
	hubJS, _ = jetstream.New(hub.Bus.Federation())
	eventually(t, "the hub to take everything in again", func() bool { return drained(hubJS, federation.AlertStream, "xsoc-hub") })
	// A member loses its consumer: it sends everything again.
	if err := de.Bus.JetStream().DeleteConsumer(context.Background(), bus.AlertStream, "xsoc-federation-export"); err != nil {
		t.Fatal(err)
	}
	de.stop()
	de = start(t, f.config(t, "member", "de-node"))
	eventually(t, "de-node to send everything again", func() bool { return drained(de.Bus.JetStream(), bus.AlertStream, "xsoc-federation-export") })
	eventually(t, "the hub to take it in", func() bool { return drained(hubJS, federation.AlertStream, "xsoc-hub") })

	after := hubAlerts(t, hub, "c2-rule")
	if len(after) != len(before) || streamMsgs(t, hub) != msgs {
		t.Errorf("after redelivery: %d alerts (was %d), %d stream messages (was %d)", len(after), len(before), streamMsgs(t, hub), msgs)
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Count != before[i].Count {
			t.Errorf("alert %s count %d, was %s count %d", after[i].ID, after[i].Count, before[i].ID, before[i].Count)
		}
	}
	page, _ := hub.Correlator.Incidents(context.Background(), operator, correlate.Filter{CrossBorder: true})
	if len(page.Incidents) != 1 {
		t.Errorf("%d cross-border incidents after redelivery", len(page.Incidents))
	}
}

// drained reports whether a consumer exists and has delivered and seen
// acknowledged everything in its stream.
func drained(js jetstream.JetStream, stream, consumer string) bool {
	c, err := js.Consumer(context.Background(), stream, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}
