package stixpattern

import (
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// TestListValuesMatch: a pattern tests every value of a field holding a
// list: a domain whose second DNS answer is the address of the pattern
// matches, one whose answers hold no such address does not.
func TestListValuesMatch(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "fast flux", level: tlp.Green,
		pattern: "[domain-name:value = 'evil.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.7']"}))
	d := synced(t, repo, Options{})
	at := base.Add(time.Hour)
	for _, tt := range []struct {
		answers []string
		want    int
	}{
		{[]string{"203.0.113.1", "198.51.100.7"}, 1},
		{[]string{"203.0.113.1", "203.0.113.2"}, 0},
	} {
		e := ev("e1", nlBank, at, "dns.question.name", "evil.example")
		for _, a := range tt.answers {
			e.Add("dns.answers.data", a)
		}
		if got := d.Detect(e, nil); len(got) != tt.want {
			t.Errorf("answers %v: %d alerts, want %d", tt.answers, len(got), tt.want)
		}
	}
}
