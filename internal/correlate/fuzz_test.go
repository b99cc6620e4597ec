package correlate

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
)

// FuzzEntities feeds arbitrary evidence and observables to the entity and
// campaign-key extraction, which parses both.
func FuzzEntities(f *testing.F) {
	f.Add(`{"host.name":"h1","user.name":"alice"}`, "ipv4-addr", "203.0.113.1/32")
	f.Add(`{"host":{"name":"x"}}`, "ipv6-addr", "fe80::1")
	f.Add(`{`, "domain-name", "")
	f.Add(`[]`, "ipv4-addr", "not an ip")
	f.Add(`{"user.name":["a","b"]}`, "host", "WEB01")
	f.Fuzz(func(t *testing.T, evidence, typ, value string) {
		a := alert.Alert{Member: "m", Detector: "d", RuleID: "r", Evidence: []string{evidence},
			Observables: []alert.Observable{{Type: typ, Value: value}}, Techniques: []string{value}}
		e := entitiesOf(&a)
		for _, k := range localKeys(&a) {
			if !strings.HasPrefix(k, "host|m|") && !strings.HasPrefix(k, "user|m|") && !strings.HasPrefix(k, "obs|m|") {
				t.Fatalf("local key %q escapes the member", k)
			}
		}
		for _, k := range campaignKeys(&a, ByAll) {
			if describeKey(k) == "" {
				t.Fatalf("key %q has no description", k)
			}
			// Observable types (STIX names) never hold the key separator.
			if strongKey(k) && !strings.Contains(typ, "|") && (keyRank(k) > 4 || shortKey(k) != strings.ToLower(value)) {
				t.Fatalf("indicator key %q: rank %d, short form %q", k, keyRank(k), shortKey(k))
			}
		}
		if len(e.Hosts)+len(e.Users)+len(e.Observables) > 3 {
			t.Fatalf("one observable and one document gave %+v", e)
		}
	})
}

func FuzzParseStatusAndReport(f *testing.F) {
	for _, s := range []string{"new", " Triage ", "CLOSED", "done", "", "early-warning", "Final-Report", "notification "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if st, err := ParseStatus(s); err == nil {
			if _, ok := transitions[st]; !ok {
				t.Fatalf("ParseStatus(%q) = %q, not a status", s, st)
			}
		}
		if r, err := ParseReport(s); err == nil && r != EarlyWarning && r != Notification && r != FinalReport {
			t.Fatalf("ParseReport(%q) = %q", s, r)
		}
	})
}
