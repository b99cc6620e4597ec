package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
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

var deWasser = member.Member{ID: "de-wasser", Name: "Stadtwerke Wasser", Country: "DE", Sector: "drinking-water"}

// operatorCall makes an API call to n with its operator key and decodes
// the answer into out (if not nil); it returns the status code.
func operatorCall(t *testing.T, n *running, method, path, body string, out any) int {
	t.Helper()
	if _, err := n.EnsureOperatorKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(n.Config.DataDir, "operator.key"))
	req, _ := http.NewRequest(method, n.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// corroboration reads a node's corroboration status over its API.
func corroboration(t *testing.T, n *running) federation.CorroborationStatus {
	t.Helper()
	var st federation.Status
	if code := operatorCall(t, n, http.MethodGet, "/api/v1/federation/status", "", &st); code != http.StatusOK || st.Corroboration == nil {
		t.Fatalf("status: %d %+v", code, st)
	}
	return *st.Corroboration
}

// fromNode returns what n received from origin with value v.
func fromNode(t *testing.T, n *running, origin, v string) []federation.ReceivedIndicator {
	var out []federation.ReceivedIndicator
	for _, r := range received(t, n) {
		if r.OriginNode == origin && r.Value == v {
			out = append(out, r)
		}
	}
	return out
}

// TestCorroboratedRelease: members in corroborated mode send pseudonyms
// only. Two DE members seeing the same address is not enough (one
// country): nothing reaches FR or SE, the hub and DE's node show the
// pending values. Once SE sees it too, the hub asks DE and SE to release
// it, and FR receives it from both; a value only DE saw stays home.
func TestCorroboratedRelease(t *testing.T) {
	wf := startWarningFederation(t)
	ctx := context.Background()
	if _, _, err := wf.de.Members.Add(ctx, deWasser); err != nil {
		t.Fatal(err)
	}
	eventually(t, "de-wasser in the hub's directory", func() bool {
		var dir string
		err := wf.hub.DB.QueryRow(ctx, `SELECT directory FROM federation_nodes WHERE node = 'de-node'`).Scan(&dir)
		return err == nil && strings.Contains(dir, `"de-wasser"`)
	})
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"member":"de-energie","share":"corroborated"}`, http.StatusOK},
		{`{"member":"de-wasser","share":"corroborated"}`, http.StatusOK},
		{`{"member":"de-wasser","share":"sometimes"}`, http.StatusBadRequest},
		{`{"member":"nobody","share":"corroborated"}`, http.StatusBadRequest},
	} {
		if code := operatorCall(t, wf.de, http.MethodPut, "/api/v1/federation/sharing", tc.body, nil); code != tc.code {
			t.Errorf("PUT sharing %s: %d, want %d", tc.body, code, tc.code)
		}
	}
	// A member's own key may not change how it shares: operators decide.
	req, _ := http.NewRequest(http.MethodPut, wf.de.URL()+"/api/v1/federation/sharing", strings.NewReader(`{"member":"de-energie","share":"immediate"}`))
	req.Header.Set("Authorization", "Bearer "+wf.keys["de-energie"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a member key set its sharing mode: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	var list struct{ Sharing []federation.SharingMode }
	operatorCall(t, wf.de, http.MethodGet, "/api/v1/federation/sharing", "", &list)
	if len(list.Sharing) != 2 || list.Sharing[0].Share != "corroborated" || list.Sharing[1].Share != "corroborated" {
		t.Errorf("DE's sharing modes %+v", list.Sharing)
	}
	if _, err := (&federation.Sharing{DB: wf.se.DB, Members: wf.se.Members}).Set(ctx, "se-hospital", federation.ShareCorroborated); err != nil {
		t.Fatal(err)
	}

	const x, y = "185.220.101.50", "only-de.example.net"
	raise(t, wf.de, "de-energie", "c2-rule", tlp.Green,
		alert.Observable{Type: "ipv4-addr", Value: x, Role: "destination"},
		alert.Observable{Type: "domain-name", Value: y, Role: "query"})
	raise(t, wf.de, "de-wasser", "c2-rule", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: x, Role: "destination"})

	// The hub recorded the three pseudonymised observables: two members,
	// one country — nothing is corroborated, nothing forwarded.
	eventually(t, "DE's reports at the hub", func() bool { return corroboration(t, wf.hub).Reported == 3 })
	hub := corroboration(t, wf.hub)
	if hub.Pending != 2 || hub.Reached != 0 || hub.Requested != 0 || hub.Members != 2 {
		t.Errorf("hub before corroboration: %+v", hub)
	}
	de := corroboration(t, wf.de)
	if de.Pending != 3 || de.Reported != 3 || de.Released != 0 || de.Corroborated != 2 {
		t.Errorf("DE before corroboration: %+v", de)
	}
	for _, n := range []*running{wf.fr, wf.se} {
		if got := received(t, n); len(got) != 0 {
			t.Errorf("%s received before corroboration: %+v", n.Config.Federation.Node, got)
		}
	}
	if fw, _ := federation.Forwards(ctx, wf.hub.DB, federation.ForwardFilter{}); len(fw) != 0 {
		t.Errorf("the hub forwarded before corroboration: %+v", fw)
	}

	// SE, another country, sees the address: it is released by DE (both
	// members) and by SE, and FR receives it from both nodes.
	raise(t, wf.se, "se-hospital", "c2-rule", tlp.Green, alert.Observable{Type: "ipv4-addr", Value: x, Role: "destination"})
	eventually(t, "the address at FR from DE and SE", func() bool {
		return len(fromNode(t, wf.fr, "de-node", x)) == 1 && len(fromNode(t, wf.fr, "se-node", x)) == 1
	})
	eventually(t, "DE's address at SE", func() bool { return len(fromNode(t, wf.se, "de-node", x)) == 1 })
	if h := warned(wf.fr, ioc.KindIP, x); len(h) != 2 || h[0].Indicator.TLP != tlp.Green {
		t.Errorf("FR's index holds %+v", h)
	}
	eventually(t, "the releases counted", func() bool {
		return corroboration(t, wf.de).Released == 2 && corroboration(t, wf.se).Released == 1
	})
	// The hub marks a node asked only once its inbox stored the request,
	// and a node counts a release before recording it: by then the
	// values may have arrived, so wait for the pending counts to follow.
	eventually(t, "the pending values after corroboration", func() bool {
		hub = corroboration(t, wf.hub)
		return hub.Pending == 1 && corroboration(t, wf.de).Pending == 1 && counter(t, wf.hub, "xsoc_federation_corroborations_pending") == 1
	})
	if hub.Reached != 1 || hub.Requested != 2 {
		t.Errorf("hub after corroboration: %+v", hub)
	}
	// The domain only DE saw never left.
	for _, n := range []*running{wf.fr, wf.se} {
		for _, r := range received(t, n) {
			if r.Value == y {
				t.Errorf("%s received %s, which only DE saw", n.Config.Federation.Node, y)
			}
		}
	}
	if got := counter(t, wf.de, "xsoc_federation_values_released_total"); got != 2 {
		t.Errorf("DE's release counter %v", got)
	}
	eventually(t, "DE's pending gauge", func() bool { return counter(t, wf.de, "xsoc_federation_corroborations_pending") == 1 })
}

// reportOf is a report of a member in corroborated mode: pseudonyms only.
func reportOf(id, node, sender, country string, sighted ...federation.Sighted) federation.Warning {
	return federation.Warning{ID: id, Node: node, Sender: sender, Country: country, TLP: tlp.Green,
		Created: time.Now().UTC(), Pseudonyms: sighted}
}

// TestRotationOverlap: with a key that rotates daily and an hour of
// overlap, a value DE saw ten minutes before a switch and FR ten minutes
// after it is corroborated at the hub (FR gives the previous epoch's
// pseudonym too); one FR saw two hours after the switch is not.
func TestRotationOverlap(t *testing.T) {
	wf := startWarningFederation(t)
	ctx := context.Background()
	secret := make([]byte, federation.SecretSize)
	copy(secret, "a secret the member nodes share")
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := federation.NewRotatingPseudonymiser(secret, federation.Schedule{Every: 24 * time.Hour, Overlap: time.Hour, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	boundary := since.Add(40 * 24 * time.Hour)
	sighted := func(at time.Time, value string) federation.Sighted {
		ps, typ := p.PseudonymsAt(at, "ipv4-addr", value)
		return federation.Sighted{Type: typ, Pseudonyms: ps}
	}
	const a, b = "185.220.102.1", "185.220.102.2"
	before, within, after := boundary.Add(-10*time.Minute), boundary.Add(10*time.Minute), boundary.Add(2*time.Hour)
	if n := len(sighted(within, a).Pseudonyms); n != 2 {
		t.Fatalf("%d pseudonyms within the overlap", n)
	}
	publish := func(n *running, w federation.Warning) {
		t.Helper()
		js, err := jetstream.New(n.Bus.Federation())
		if err != nil {
			t.Fatal(err)
		}
		msg := federation.SealWarning(wf.f.identity(t, w.Node), w)
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(w.ID)); err != nil {
			t.Fatal(err)
		}
	}
	publish(wf.de, reportOf("de-node.r1", "de-node", "mde", "DE", sighted(before, a), sighted(before, b)))
	publish(wf.fr, reportOf("fr-node.r1", "fr-node", "mfr", "FR", sighted(within, a)))
	publish(wf.fr, reportOf("fr-node.r2", "fr-node", "mfr", "FR", sighted(after, b)))
	eventually(t, "the reports at the hub", func() bool { return corroboration(t, wf.hub).Reported == 5 })
	hub := corroboration(t, wf.hub)
	if hub.Reached != 1 || hub.Requested != 2 || hub.Epoch.N != 41 {
		t.Errorf("hub: %+v", hub)
	}
	corroborated := func(s federation.Sighted) bool {
		var n int
		if err := wf.hub.DB.QueryRow(ctx, `SELECT COUNT(*) FROM federation_corroborated WHERE pseudonym = ?`, s.Pseudonyms[0].Value).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !corroborated(sighted(before, a)) {
		t.Error("a value seen on both sides of the switch, within the overlap, was not corroborated")
	}
	if corroborated(sighted(before, b)) || corroborated(sighted(after, b)) {
		t.Error("a value seen before the switch and after the overlap was corroborated")
	}
	// The release requests reached DE and FR, which hold nothing behind
	// these pseudonyms: nothing refused, nothing sent.
	for _, n := range []*running{wf.de, wf.fr} {
		if r := refusals(t, n); len(r) != 0 {
			t.Errorf("%s refused %v", n.Config.Federation.Node, r)
		}
	}
	// A release request not sealed by the hub is refused.
	js, err := jetstream.New(wf.hub.Bus.Federation())
	if err != nil {
		t.Fatal(err)
	}
	forged := &nats.Msg{Subject: federation.InboxSubject + ".de-node", Header: nats.Header{},
		Data: []byte(`{"id":"release.x","node":"de-node","pseudonyms":["` + sighted(before, a).Pseudonyms[0].Value + `"],"created":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)}
	forged.Header.Set("Xsoc-Kind", "release")
	if _, err := js.PublishMsg(ctx, forged, jetstream.WithMsgID("forged-release")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the forged release request refused", func() bool { return refusals(t, wf.de)["not-from-hub"] == 1 })
}
