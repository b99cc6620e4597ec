package federation

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

func testPseudonymiser(t testing.TB, secret string) *Pseudonymiser {
	t.Helper()
	p, err := NewPseudonymiser([]byte(strings.Repeat(secret, SecretSize)[:SecretSize]))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPseudonymsAgreeAcrossNodes: two nodes holding the same secret give
// equal values equal pseudonyms (after canonicalisation), different
// values or types different ones; a pseudonym is 32 hex digits, not the
// value (not even a value that is itself 32 hex digits, an MD5 hash),
// and another secret gives another.
func TestPseudonymsAgreeAcrossNodes(t *testing.T) {
	de, fr := testPseudonymiser(t, "s"), testPseudonymiser(t, "s")
	other := testPseudonymiser(t, "x")
	tests := []struct {
		typA, valA, typB, valB string
		equal                  bool
	}{
		{"domain-name", "evil.example", "domain-name", "evil.example", true},
		{"domain-name", "Evil.Example ", "domain-name", "evil.example", true},
		{"ipv4-addr", "203.0.113.9", "ipv4-addr", "203.0.113.9", true},
		{"ipv6-addr", "::ffff:203.0.113.9", "ipv4-addr", "203.0.113.9", true},
		{"ipv6-addr", "2001:DB8:0::1", "ipv6-addr", "2001:db8::1", true},
		{"ipv4-addr", "203.0.113.7/24", "ipv4-addr", "203.0.113.0/24", true},
		{"domain-name", "evil.example", "domain-name", "evil.example.org", false},
		{"domain-name", "evil.example", "url", "evil.example", false},
		{"host", "web01", "user-account", "web01", false},
		{"file:hashes.MD5", "D41D8CD98F00B204E9800998ECF8427E", "file:hashes.MD5", "d41d8cd98f00b204e9800998ecf8427e", true},
	}
	for _, tt := range tests {
		a, ta := de.Pseudonym(tt.typA, tt.valA)
		b, tb := fr.Pseudonym(tt.typB, tt.valB)
		if (a == b && ta == tb) != tt.equal {
			t.Errorf("%s %q → %s %s; %s %q → %s %s; want equal = %v", tt.typA, tt.valA, ta, a, tt.typB, tt.valB, tb, b, tt.equal)
		}
		if _, err := hex.DecodeString(a); err != nil || len(a) != 32 || a == strings.ToLower(strings.TrimSpace(tt.valA)) {
			t.Errorf("pseudonym %q of %q", a, tt.valA)
		}
		if o, _ := other.Pseudonym(tt.typA, tt.valA); o == a {
			t.Errorf("another secret gives %q the same pseudonym", tt.valA)
		}
	}
}

func TestSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := WriteSecret(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecret(path); err == nil {
		t.Error("WriteSecret replaced a secret")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if _, err := LoadSecret(path); err != nil {
		t.Error(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	if _, err := LoadSecret(short); err == nil {
		t.Error("a 2-byte secret was accepted")
	}
}

// sampleAlert is an alert as a member node's alert service holds it,
// with raw values in observables, title, key and evidence.
func sampleAlert() alert.Alert {
	at := time.Date(2026, 3, 11, 9, 40, 0, 0, time.UTC)
	return alert.Alert{
		ID: alert.NewID(at), Member: "de-energie", EventTime: at, LastSeen: at.Add(time.Minute), Detected: at.Add(time.Second),
		Detector: "ioc", RuleID: "indicator--0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8",
		RuleTitle: "IOC match: domain-name evil-c2.example (source fr-soc)", Severity: alert.High,
		Techniques: []string{"T1071.001"}, TLP: tlp.Green, Key: "evil-c2.example", Count: 3,
		Observables: []alert.Observable{
			{Type: "domain-name", Value: "evil-c2.example", Role: "query"},
			{Type: "ipv4-addr", Value: "203.0.113.66", Role: "destination"},
			{Type: "ipv4-addr", Value: "10.20.1.7", Role: "source"},
		},
		Evidence: []string{`{"@timestamp":"2026-03-11T09:40:00Z","host.name":"RTE-WS042","user.name":"k.mueller","dns.question.name":"evil-c2.example","process.command_line":"secret-cmd"}`},
		EventIDs: []string{"ev-1"},
	}
}

// TestDescribeLeavesNoRawValue: nothing of what leaves the node contains
// an observable's value, the host or user of the evidence, the raw event
// or the title quoting the match; the rest of the alert does leave.
func TestDescribeLeavesNoRawValue(t *testing.T) {
	a := sampleAlert()
	out := Describe("de-node", &a, "DE", "energy", testPseudonymiser(t, "s"))
	data, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"evil-c2.example", "203.0.113.66", "10.20.1.7", "RTE-WS042", "rte-ws042", "k.mueller", "secret-cmd", "ev-1"} {
		if bytes.Contains(data, []byte(raw)) {
			t.Errorf("%q leaves the node: %s", raw, data)
		}
	}
	if out.Node != "de-node" || out.Member != "de-energie" || out.Country != "DE" || out.Sector != "energy" ||
		out.Count != 3 || out.RuleID != a.RuleID || out.Severity != alert.High || out.TLP != tlp.Green || !out.EventTime.Equal(a.EventTime) {
		t.Errorf("described as %+v", out)
	}
	types := map[string]bool{}
	for _, o := range out.Observables {
		types[o.Type+"/"+o.Role] = o.Global
	}
	want := map[string]bool{"domain-name/query": true, "ipv4-addr/destination": true, "ipv4-addr/source": false,
		"host/host": false, "user-account/user": false}
	if len(types) != len(want) {
		t.Errorf("observables %v, want %v", types, want)
	}
	for k, g := range want {
		if got, ok := types[k]; !ok || got != g {
			t.Errorf("observable %s: global %v (present %v), want %v", k, got, ok, g)
		}
	}
	// A Sigma title is the rule's name and leaves as it is.
	a.Detector, a.RuleTitle = "sigma", "Suspicious PowerShell download cradle"
	if got := Describe("de-node", &a, "DE", "energy", testPseudonymiser(t, "s")).RuleTitle; got != a.RuleTitle {
		t.Errorf("sigma title %q", got)
	}
}

func TestMayLeave(t *testing.T) {
	for l := tlp.Clear; l <= tlp.Red; l++ {
		a := alert.Alert{Detector: "sigma", TLP: l}
		if got, want := MayLeave(&a), l <= tlp.Green; got != want {
			t.Errorf("%v: MayLeave = %v", l, got)
		}
	}
	notice := alert.Alert{Detector: NoticeDetector, TLP: tlp.Clear}
	if MayLeave(&notice) {
		t.Error("a notice from the hub would go back to it")
	}
}

func TestRemoteMemberID(t *testing.T) {
	long := strings.Repeat("m", 63)
	tests := []struct{ node, member, want string }{
		{"de-node", "de-energie", "de-node--de-energie"},
		{"de", "x-y", "de--x-y"},
		{"de-x", "y", "de-x--y"},
	}
	for _, tt := range tests {
		if got := RemoteMemberID(tt.node, tt.member); got != tt.want {
			t.Errorf("RemoteMemberID(%s, %s) = %s", tt.node, tt.member, got)
		}
	}
	a, b := RemoteMemberID("node", long), RemoteMemberID("node", long[:62]+"n")
	if len(a) > 63 || a == b || !strings.HasPrefix(a, "node--") {
		t.Errorf("long ids: %s, %s", a, b)
	}
}
