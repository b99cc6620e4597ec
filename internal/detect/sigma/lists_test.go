package sigma

import (
	"strings"
	"testing"
)

// TestListValuesMatch: a slotted field holding a list (DNS answers,
// several hashes) matches a rule on any of its values, as a non-slotted
// list always did; Explain agrees, and a value in no element still
// does not match.
func TestListValuesMatch(t *testing.T) {
	tests := []struct {
		detection string
		values    []string // added to dns.answers.data / process.hash.sha256 in order
		field     string
		want      bool
	}{
		{"selection:\n  dns.answers.data: '198.51.100.7'\ncondition: selection", []string{"203.0.113.1", "198.51.100.7"}, "dns.answers.data", true},
		{"selection:\n  dns.answers.data|cidr: '198.51.100.0/24'\ncondition: selection", []string{"203.0.113.1", "198.51.100.7"}, "dns.answers.data", true},
		{"selection:\n  dns.answers.data: '198.51.100.8'\ncondition: selection", []string{"203.0.113.1", "198.51.100.7"}, "dns.answers.data", false},
		{"selection:\n  process.hash.sha256|startswith: '4BAC2739'\ncondition: selection",
			[]string{"b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"}, "process.hash.sha256", true},
	}
	for _, tt := range tests {
		rs := compileOne(t, ruleYAML(tt.detection), Options{})
		ev := newEvent()
		for _, v := range tt.values {
			ev.Add(tt.field, v)
		}
		if got := len(rs.Detect(ev, nil)) > 0; got != tt.want {
			t.Errorf("%s on %v: match %v, want %v", tt.detection, tt.values, got, tt.want)
		}
		rules, _ := ParseRule([]byte(ruleYAML(tt.detection)), "test.yml")
		if m, why := Explain(rules[0], ev, Options{}); m != tt.want {
			t.Errorf("%s: Explain %v, want %v: %s", tt.detection, m, tt.want, strings.Join(why, "\n"))
		}
	}
}
