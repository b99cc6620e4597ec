package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/user"
)

const testRule = `title: Encoded PowerShell
id: 6b1e7f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
logsource: {category: process_creation, product: windows}
detection:
  sel: {process.command_line|contains: ' -enc '}
  condition: sel
level: high
`

func TestRulesTest(t *testing.T) {
	f := newFixture(t, sqlite(t), user.Options{})
	b := newBrowser(t, f.srv.URL)
	b.login("vic@fr-soc", testPassword)
	events := `{"@timestamp":"2026-12-01T10:00:00Z","event":{"category":"process","type":"start"},"host":{"os":{"type":"windows"}},"process":{"command_line":"powershell -enc SQBFAFgA"}}
{"@timestamp":"2026-12-01T10:00:01Z","event":{"category":"process","type":"start"},"host":{"os":{"type":"windows"}},"process":{"command_line":"notepad.exe"}}
not an event`
	body, _ := json.Marshal(map[string]string{"rule": testRule, "events": events})
	code, out := b.call("POST", "/web/rules/test", string(body))
	if code != 200 {
		t.Fatalf("test: %d %s", code, out)
	}
	var res struct {
		Results []ruleVerdict `json:"results"`
		Bad     []string      `json:"not_events"`
	}
	json.Unmarshal([]byte(out), &res)
	if len(res.Results) != 2 || !res.Results[0].Matched || res.Results[1].Matched || len(res.Bad) != 1 || len(res.Results[0].Why) == 0 {
		t.Fatalf("results %+v", res)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"rule":""}`, "paste a Sigma rule"},
		{`{"rule":"title: [unclosed"}`, "does not load"},
		{`{"rule":` + jsonString(testRule) + `,"format":"nosuch"}`, "format"},
	} {
		if code, out := b.call("POST", "/web/rules/test", tc.body); code != 400 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %d %s", tc.body, code, out)
		}
	}
	if code, _ := b.call("POST", "/web/rules/test", ""); code != 400 {
		t.Errorf("empty body: %d", code)
	}
	b.csrf = "forged"
	if code, _ := b.call("POST", "/web/rules/test", string(body)); code != 403 {
		t.Errorf("forged CSRF token: %d", code)
	}
}
