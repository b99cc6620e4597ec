package federation_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// ingestAt sends one event of a member to node n and returns the IOC
// alerts of that member by matched value, once they name every value
// expected (the node raises an event's alerts together).
func ingestAt(t *testing.T, n *running, key, memberID, line string, values ...string) map[string][]alert.Alert {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/ingest", strings.NewReader(line+"\n"))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	var got map[string][]alert.Alert
	eventually(t, "the IOC alerts of "+memberID, func() bool {
		got = ingestedAlerts(t, n, memberID)
		for _, v := range values {
			if len(got[v]) == 0 {
				return false
			}
		}
		return true
	})
	return got
}

// ingestedAlerts returns the IOC alerts of a member at node n by matched
// value.
func ingestedAlerts(t *testing.T, n *running, memberID string) map[string][]alert.Alert {
	t.Helper()
	page, err := n.Alerts.List(context.Background(), alert.Viewer{Member: memberID}, alert.Filter{Detector: "ioc", Members: []string{memberID}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]alert.Alert{}
	for _, a := range page.Alerts {
		out[a.Key] = append(out[a.Key], a)
	}
	return out
}

// revokeAt withdraws, at origin node n, the indicator its member pushed
// for value, as the receiving node rcv lists it.
func revokeAt(t *testing.T, n, rcv *running, memberID, value string) {
	t.Helper()
	id := ""
	for _, r := range received(t, rcv) {
		if r.Value == value && r.OriginNode == n.Config.Federation.Node {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("%s holds no indicator of %s for %s", rcv.Config.Federation.Node, n.Config.Federation.Node, value)
	}
	keyFile, err := n.EnsureOperatorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyFile)
	body := `{"member":"` + memberID + `","indicators":["` + id + `"]}`
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/federation/revoke", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
}

// contact is an event of a member at SE with a connection to ip and a
// DNS query for name.
func contact(ip, name string) string {
	return `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","source":{"ip":"172.20.4.9"},"destination":{"ip":"` + ip +
		`","port":443},"dns":{"question":{"name":"` + name + `"}},"host":{"name":"VHS-PC12"}}`
}

// TestWarningOfTwoOrigins: DE and FR push the same address; SE indexes
// one indicator holding both origins, and an event with it raises one
// alert naming both. An AMBER origin is named only to the member its
// agreement names. When DE revokes, the address still matches, naming FR
// alone (the next event folds into the alert and gives it that title);
// when FR revokes too, it is gone — and after a restart, what stands is
// as it was.
func TestWarningOfTwoOrigins(t *testing.T) {
	wf := startWarningFederation(t)
	ctx := context.Background()
	// se-other shares its alerts at TLP:GREEN: an alert of it is AMBER
	// only if it names an AMBER origin. (se-hospital keeps the default,
	// AMBER.)
	green := tlp.Green
	seOther := member.Member{ID: "se-other", Name: "Vårdcentral", Country: "SE", Sector: "health", AlertTLP: &green}
	_, otherKey, err := wf.se.Members.Add(ctx, seOther)
	if err != nil {
		t.Fatal(err)
	}
	ags := &federation.Agreements{DB: wf.de.DB, Members: wf.de.Members}
	p, err := federation.ParsePartner("member:se-node--se-hospital")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ags.Add(ctx, "de-energie", p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DE's agreement at the hub", func() bool {
		var dir string
		err := wf.hub.DB.QueryRow(ctx, `SELECT directory FROM federation_nodes WHERE node = 'de-node'`).Scan(&dir)
		return err == nil && strings.Contains(dir, "se-node--se-hospital")
	})
	const ip, name = "185.220.101.44", "shared-c2.example.net"
	dst := alert.Observable{Type: "ipv4-addr", Value: ip, Role: "destination"}
	query := alert.Observable{Type: "domain-name", Value: name, Role: "query"}
	raise(t, wf.de, "de-energie", "c2-de", tlp.Green, dst)
	raise(t, wf.de, "de-energie", "dns-de", tlp.Amber, query)
	raise(t, wf.fr, "fr-soc", "c2-fr", tlp.Green, dst, query)
	eventually(t, "both origins at SE", func() bool {
		return len(warned(wf.se, ioc.KindIP, ip)) == 2 && len(warned(wf.se, ioc.KindDomain, name)) == 2 && len(received(t, wf.se)) == 4
	})
	want := federation.ReceivedID(ioc.KindIP, ip)
	for _, h := range warned(wf.se, ioc.KindIP, ip) {
		if h.ID != want {
			t.Errorf("SE indexes %s from %s as %s, want one indicator %s", ip, h.WarnedFrom, h.ID, want)
		}
	}
	countries := map[string]string{}
	for _, r := range received(t, wf.se) {
		if r.Value == ip {
			countries[r.Country] = r.Indicator
		}
	}
	if len(countries) != 2 || countries["DE"] != want || countries["FR"] != want {
		t.Errorf("SE lists the origins of %s as %v, want DE and FR under %s", ip, countries, want)
	}

	// One event, one alert per value: both origins of the address; of
	// the name, DE's AMBER one only for the member its agreement names.
	hospital := ingestAt(t, wf.se, wf.keys["se-hospital"], "se-hospital", contact(ip, name), ip, name)
	other := ingestAt(t, wf.se, otherKey, "se-other", contact(ip, name), ip, name)
	both := "known from cross-border warnings (detected in DE "
	for _, tc := range []struct {
		member string
		alerts []alert.Alert
		want   string
		level  tlp.Level
	}{
		{"se-hospital", hospital[ip], both, tlp.Amber},
		{"se-hospital", hospital[name], both, tlp.Amber},
		{"se-other", other[ip], both, tlp.Green},
		{"se-other", other[name], "known from a cross-border warning (detected in FR ", tlp.Green},
	} {
		if len(tc.alerts) != 1 || !strings.Contains(tc.alerts[0].RuleTitle, tc.want) || tc.alerts[0].TLP != tc.level {
			t.Errorf("%s: alerts %+v, want one at %v whose title says %q", tc.member, tc.alerts, tc.level, tc.want)
			continue
		}
		a := tc.alerts[0]
		if tc.want == both && !strings.Contains(a.RuleTitle, ", FR ") {
			t.Errorf("%s's alert does not name FR: %q", tc.member, a.RuleTitle)
		}
		if tc.want != both && (strings.Contains(a.RuleTitle, "DE") || strings.Contains(strings.Join(a.Evidence, ""), "DE")) {
			t.Errorf("%s's alert names DE's AMBER origin: %+v", tc.member, a)
		}
	}

	// DE revokes the address: FR's origin stays.
	revokeAt(t, wf.de, wf.se, "de-energie", ip)
	eventually(t, "DE's revocation at SE", func() bool { return len(warned(wf.se, ioc.KindIP, ip)) == 1 })
	if h := warned(wf.se, ioc.KindIP, ip)[0]; h.WarnedFrom != "FR" || h.ID != want {
		t.Errorf("after DE revoked, SE holds %+v", h.Indicator)
	}
	// se-hospital's next contact folds into its alert, which now names
	// FR alone.
	ingestAt(t, wf.se, wf.keys["se-hospital"], "se-hospital", contact(ip, "unrelated.example.org"), ip)
	var after []alert.Alert
	eventually(t, "the repeat folded at se-hospital", func() bool {
		after = ingestedAlerts(t, wf.se, "se-hospital")[ip]
		return len(after) == 1 && after[0].Count == 2
	})
	if !strings.Contains(after[0].RuleTitle, "known from a cross-border warning (detected in FR ") || strings.Contains(after[0].RuleTitle, "DE") {
		t.Errorf("after DE revoked: %+v", after[0])
	}

	// FR revokes it too: it is gone, and the name stays with both origins.
	revokeAt(t, wf.fr, wf.se, "fr-soc", ip)
	eventually(t, "FR's revocation at SE", func() bool { return len(warned(wf.se, ioc.KindIP, ip)) == 0 })
	if got := len(warned(wf.se, ioc.KindDomain, name)); got != 2 {
		t.Errorf("the name holds %d origins at SE, want 2", got)
	}
	wf.se.stop()
	wf.se = start(t, wf.f.config(t, "member", "se-node"))
	if len(warned(wf.se, ioc.KindIP, ip)) != 0 || len(warned(wf.se, ioc.KindDomain, name)) != 2 {
		t.Errorf("after a restart SE's index holds %+v and %+v", warned(wf.se, ioc.KindIP, ip), warned(wf.se, ioc.KindDomain, name))
	}
	if hits, _ := wf.se.IOC.LookupFor("se-other", ioc.KindDomain, name); len(hits) != 1 || hits[0].WarnedFrom != "FR" {
		t.Errorf("after a restart se-other may use %+v, want FR's origin alone", hits)
	}
}
