package sigmabench

import (
	"maps"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
)

const rule = `title: Whoami
id: 1
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
        CommandLine|contains|all: ['/priv', '/all']
    filter:
        User: 'CORP\svc'
    condition: selection and not filter
`

func TestGenerate(t *testing.T) {
	rules, err := sigma.ParseRule([]byte(rule), "r.yml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		positives float64
		min, max  int // matching events out of 1,000
	}{
		{"no positives", 0, 0, 0},
		{"all positives", 1, 1000, 1000},
		{"some positives", 0.1, 50, 150},
	}
	eng := sigma.NewEngine(sigma.Options{})
	eng.Load(rules)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Events: 1000, Seed: 9, Positives: c.positives, Rules: rules}
			a, b := Generate(cfg), Generate(cfg)
			matched := 0
			for i := range a {
				if string(a[i].AppendJSON(nil)) != string(b[i].AppendJSON(nil)) {
					t.Fatalf("event %d differs between runs with one seed", i)
				}
				if len(eng.Detect(a[i], nil)) > 0 {
					matched++
				}
			}
			if matched < c.min || matched > c.max {
				t.Errorf("%d of 1000 events match, want %d..%d", matched, c.min, c.max)
			}
		})
	}
}

func TestNDJSONRoundTrip(t *testing.T) {
	events := Generate(Config{Events: 50, Seed: 2})
	var buf strings.Builder
	if err := WriteNDJSON(&buf, events); err != nil {
		t.Fatal(err)
	}
	back, err := ReadNDJSON(strings.NewReader(buf.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(events) {
		t.Fatalf("read %d events, wrote %d", len(back), len(events))
	}
	fields := func(ev *event.Event) map[string]string {
		m := map[string]string{"id": ev.ID, "member": ev.Member, "time": ev.Time.String()}
		ev.Fields(func(k, v string) bool { m[k] += v + "\n"; return true })
		return m
	}
	for i := range events {
		if a, b := fields(events[i]), fields(back[i]); !maps.Equal(a, b) {
			t.Fatalf("event %d:\n%v\n%v", i, a, b)
		}
	}
	if _, err := ReadNDJSON(strings.NewReader("{}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err = %v, want one naming line 2", err)
	}
}
