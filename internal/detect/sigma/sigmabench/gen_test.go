package sigmabench

import (
	"testing"

	"github.com/xsoc/xsoc/internal/detect/sigma"
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
