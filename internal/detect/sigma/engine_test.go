package sigma

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

func mustParse(t *testing.T, src string) []*Rule {
	t.Helper()
	rules, err := ParseRule([]byte(src), "test.yml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return rules
}

const whoamiRule = `title: Whoami
id: 0001
level: high
tags: [attack.discovery, attack.t1033]
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
`

func TestAlertFields(t *testing.T) {
	e := NewEngine(Options{})
	if errs := e.Load(mustParse(t, whoamiRule)); len(errs) > 0 {
		t.Fatal(errs)
	}
	ev := newEvent(img, `C:\Windows\System32\whoami.exe`, "source.ip", "10.0.0.1", "destination.ip", "::1", "user.name", "alice", "dns.question.name", "evil.example")
	out := e.Detect(ev, nil)
	if len(out) != 1 {
		t.Fatalf("got %d alerts, want 1", len(out))
	}
	a := out[0]
	checks := []struct{ name, got, want string }{
		{"Detector", a.Detector, "sigma"},
		{"RuleID", a.RuleID, "0001"},
		{"RuleTitle", a.RuleTitle, "Whoami"},
		{"Severity", a.Severity.String(), "high"},
		{"Member", a.Member, "m1"},
		{"Key", a.Key, "ws1"},
		{"Techniques", strings.Join(a.Techniques, ","), "T1033"},
		{"EventIDs", strings.Join(a.EventIDs, ","), "ev1"},
		{"EventTime", a.EventTime.Format(time.RFC3339), "2026-03-04T05:06:07Z"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(a.Evidence) != 1 || !strings.Contains(a.Evidence[0], `whoami.exe`) {
		t.Errorf("Evidence = %q, want the event JSON", a.Evidence)
	}
	want := map[string]string{"10.0.0.1": "ipv4-addr", "::1": "ipv6-addr", "alice": "user-account", "evil.example": "domain-name", "ws1": "host"}
	got := map[string]string{}
	for _, o := range a.Observables {
		got[o.Value] = o.Type
	}
	for v, typ := range want {
		if got[v] != typ {
			t.Errorf("observable %q type %q, want %q (all: %v)", v, got[v], typ, a.Observables)
		}
	}
}

func TestRouting(t *testing.T) {
	e := NewEngine(Options{})
	rules := mustParse(t, whoamiRule+`---
title: Zeek DNS
id: 0002
logsource:
    product: zeek
    service: dns
detection:
    selection:
        query|endswith: '.evil.example'
    condition: selection
---
title: Security log clear
id: 0003
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 1102
    condition: selection
---
title: SQL keywords
id: 0005
logsource:
    category: database
detection:
    keywords: ['drop table']
    condition: keywords
---
title: AV hack tool
id: 0006
logsource:
    category: antivirus
detection:
    selection:
        Signature|contains: 'HackTool'
    condition: selection
---
title: Unknown product
id: 0004
logsource:
    product: acme
    service: gateway
detection:
    selection:
        action: 'deny'
    condition: selection
`)
	if errs := e.Load(rules); len(errs) > 0 {
		t.Fatal(errs)
	}
	mk := func(kv ...string) *event.Event {
		ev := &event.Event{ID: "x"}
		for i := 0; i+1 < len(kv); i += 2 {
			ev.Set(kv[i], kv[i+1])
		}
		return ev
	}
	cases := []struct {
		name string
		ev   *event.Event
		want string
	}{
		{"sysmon process creation", mk("event.module", "sysmon", "event.code", "1", img, `C:\x\whoami.exe`), "0001"},
		{"security 4688", mk("event.module", "security", "event.code", "4688", img, `C:\x\whoami.exe`), "0001"},
		{"plain ECS process start", mk("event.category", "process", "event.type", "start", "host.os.type", "windows", img, `C:\x\whoami.exe`), "0001"},
		{"verbatim field only", mk("event.module", "sysmon", "event.code", "1", "winlog.event_data.Image", `C:\x\whoami.exe`), "0001"},
		{"sysmon network event is not process creation", mk("event.module", "sysmon", "event.code", "3", img, `C:\x\whoami.exe`), ""},
		{"sysmon channel and event id", mk("winlog.channel", "Microsoft-Windows-Sysmon/Operational", "winlog.event_id", "1", img, `C:\x\whoami.exe`), "0001"},
		{"module and code in capitals", mk("event.module", "SYSMON", "event.code", "1", img, `C:\x\whoami.exe`), "0001"},
		{"sysmon without an event id", mk("event.module", "sysmon", img, `C:\x\whoami.exe`), ""},
		{"sysmon channel, other event id", mk("winlog.channel", "Microsoft-Windows-Sysmon/Operational", "winlog.event_id", "11", img, `C:\x\whoami.exe`), ""},
		{"linux process start is not windows", mk("event.category", "process", "event.type", "start", "host.os.type", "linux", img, `/x/whoami.exe`), ""},
		{"zeek dns via zeek field", mk("event.module", "zeek", "event.dataset", "zeek.dns", "zeek.dns.query", "a.evil.example"), "0002"},
		{"zeek dns via ECS", mk("event.module", "zeek", "event.dataset", "zeek.dns", "dns.question.name", "a.EVIL.example"), "0002"},
		{"zeek http is not dns", mk("event.module", "zeek", "event.dataset", "zeek.http", "zeek.http.query", "a.evil.example"), ""},
		{"security channel", mk("winlog.channel", "Security", "winlog.event_id", "1102"), "0003"},
		{"security module", mk("event.module", "security", "event.code", "1102"), "0003"},
		{"unknown logsource by dataset", mk("event.dataset", "acme.gateway", "action", "DENY"), "0004"},
		{"unknown logsource other dataset", mk("event.dataset", "other.gateway", "action", "deny"), ""},
		{"database query log", mk("event.category", "database", "event.module", "postgresql", "message", "DROP TABLE users"), "0005"},
		{"process creation is not a database log", mk("event.module", "sysmon", "event.code", "1", "process.command_line", "psql -c 'drop table x'"), ""},
		{"antivirus detection", mk("event.category", "malware", "Signature", "HackTool:Win32/Mimikatz"), "0006"},
		{"defender channel", mk("winlog.channel", "Microsoft-Windows-Windows Defender/Operational", "Signature", "HackTool:Win64/x"), "0006"},
		{"process creation is not an antivirus result", mk("event.module", "sysmon", "event.code", "1", "Signature", "HackTool"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ids []string
			for _, a := range e.Detect(c.ev, nil) {
				ids = append(ids, a.RuleID)
			}
			if got := strings.Join(ids, ","); got != c.want {
				t.Errorf("alerts %q, want %q", got, c.want)
			}
		})
	}
}

func TestEnableAndReload(t *testing.T) {
	e := NewEngine(Options{})
	e.Load(mustParse(t, whoamiRule))
	ev := newEvent(img, `C:\whoami.exe`)
	if err := e.SetEnabled("0001", false); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Detect(ev, nil)); n != 0 {
		t.Errorf("disabled rule raised %d alerts", n)
	}
	if err := e.SetEnabled("nope", false); err == nil {
		t.Error("SetEnabled of an unknown id succeeded")
	}
	e.Load(mustParse(t, whoamiRule)) // reload keeps it disabled
	infos := e.Rules()
	if len(infos) != 1 || infos[0].Enabled || infos[0].ID != "0001" || infos[0].Logsource.Category != "process_creation" {
		t.Errorf("Rules() = %+v", infos)
	}
	if n := len(e.Detect(ev, nil)); n != 0 {
		t.Errorf("rule disabled before reload raised %d alerts", n)
	}
	e.SetEnabled("0001", true)
	if n := len(e.Detect(ev, nil)); n != 1 {
		t.Errorf("re-enabled rule raised %d alerts, want 1", n)
	}
}

// TestConcurrentDetectAndLoad runs Detect on several goroutines while the
// rule set is swapped (run with -race).
func TestConcurrentDetectAndLoad(t *testing.T) {
	e := NewEngine(Options{})
	rules := mustParse(t, whoamiRule)
	e.Load(rules)
	ev := newEvent(img, `C:\whoami.exe`)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]alert.Alert, 0, 4)
			for i := 0; i < 500; i++ {
				out = e.Detect(ev, out[:0])
				if len(out) != 1 {
					t.Errorf("got %d alerts, want 1", len(out))
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		e.Load(rules)
	}
	wg.Wait()
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
		unsupported     bool
	}{
		{"yaml syntax", "title: x\ndetection: [a\n", "YAML syntax", false},
		{"no title", "logsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n", "missing title", false},
		{"no condition", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n", "no condition", false},
		{"unknown modifier", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|contain: b\n  condition: s\n", `unknown modifier "contain"`, false},
		{"missing selection", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s and t\n", `search identifier "t"`, false},
		{"of matches nothing", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: 1 of f*\n", "matches no search identifier", false},
		{"unbalanced parenthesis", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: (s\n", "missing ')'", false},
		{"dangling operator", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s and\n", "condition ends", false},
		{"bad regex", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|re: '(?<=x)y'\n  condition: s\n", "regular expression", false},
		{"huge regex", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|re: '" + strings.Repeat("(a|b)", 5000) + "'\n  condition: s\n", "regular expression", false},
		{"bad cidr", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|cidr: '10.0.0.300/8'\n  condition: s\n", "not a CIDR", false},
		{"bad number", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|gt: ten\n  condition: s\n", "needs a number", false},
		{"unresolved placeholder", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|expand: '%nope%'\n  condition: s\n", "placeholder %nope%", false},
		{"base64 of wildcard", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|base64: 'a*b'\n  condition: s\n", "wildcards", false},
		{"null with modifier", "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a|contains: null\n  condition: s\n", "null", false},
		{"bad level", "title: x\nlevel: urgent\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n", "unknown level", false},
		{"legacy aggregation", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s | count() > 5\n", "legacy aggregation", true},
		{"legacy collection", "action: global\ntitle: x\n", "legacy rule collection", true},
		{"percentile", "title: x\ncorrelation:\n  type: value_percentile\n  rules: [r]\n  timespan: 1h\n  condition: {field: x, lte: 1}\n", "value_percentile", true},
		{"correlation missing rule", "title: x\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1h\n  condition: {gte: 1}\n", "not loaded: nope", false},
		{"bad timespan", "title: x\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1y\n  condition: {gte: 1}\n", "timespan", false},
		{"filter of unknown rule", "title: x\nlogsource: {product: windows}\nfilter:\n  rules: [nope]\n  s: {a: b}\n  condition: s\n", `rule "nope"`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, err := ParseRule([]byte(c.src), "bad.yml")
			var errs []LoadError
			errs = append(errs, parseErrors("bad.yml", err)...)
			_, cerrs := Compile(rules, Options{})
			errs = append(errs, cerrs...)
			if len(errs) == 0 {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			msg := errs[0].Error()
			if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "bad.yml") {
				t.Errorf("error %q, want one naming bad.yml and containing %q", msg, c.want)
			}
			if errs[0].Unsupported != c.unsupported {
				t.Errorf("Unsupported = %v, want %v (%s)", errs[0].Unsupported, c.unsupported, msg)
			}
		})
	}
}

// TestBrokenRuleDoesNotStopOthers loads a good rule next to a broken one.
func TestBrokenRuleDoesNotStopOthers(t *testing.T) {
	src := whoamiRule + "---\ntitle: broken\nlogsource: {product: windows}\ndetection:\n  s:\n    a|bogus: b\n  condition: s\n"
	rules := mustParse(t, src)
	e := NewEngine(Options{})
	errs := e.Load(rules)
	if len(errs) != 1 || errs[0].Title != "broken" || errs[0].Line != 17 {
		t.Fatalf("errors %v, want one for the broken rule at line 17, its bad modifier", errs)
	}
	if n := len(e.Detect(newEvent(img, `C:\whoami.exe`), nil)); n != 1 {
		t.Errorf("good rule raised %d alerts, want 1", n)
	}
}

func TestFilters(t *testing.T) {
	src := whoamiRule + `---
title: Ignore admins
logsource:
    product: windows
    category: process_creation
filter:
    rules:
        - 0001
    selection:
        User|startswith: 'CORP\adm_'
    condition: selection
`
	e := NewEngine(Options{})
	if errs := e.Load(mustParse(t, src)); len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		user string
		want int
	}{{`CORP\adm_bob`, 0}, {`CORP\bob`, 1}, {"", 1}}
	for _, c := range cases {
		ev := newEvent(img, `C:\whoami.exe`, "winlog.event_data.User", c.user)
		if n := len(e.Detect(ev, nil)); n != c.want {
			t.Errorf("user %q: %d alerts, want %d", c.user, n, c.want)
		}
	}
	if f := e.Rules()[0].Filters; len(f) != 1 || f[0] != "Ignore admins" {
		t.Errorf("Filters = %v", f)
	}
}

func TestExplainText(t *testing.T) {
	rules := mustParse(t, whoamiRule)
	ok, why := Explain(rules[0], newEvent(img, `C:\Windows\whoami.exe`))
	text := strings.Join(why, "\n")
	if !ok {
		t.Fatalf("Explain = false:\n%s", text)
	}
	for _, want := range []string{"event accepted", `Image|endswith "\\whoami.exe" on process.executable="C:\\Windows\\whoami.exe": true`, "search selection: true", "result: true"} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	ok, why = Explain(rules[0], &event.Event{})
	if ok || !strings.Contains(strings.Join(why, "\n"), "absent") {
		t.Errorf("Explain on an empty event = %v, %q", ok, why)
	}
}

func ExampleExplain() {
	rules, _ := ParseRule([]byte(whoamiRule), "whoami.yml")
	ev := &event.Event{}
	ev.Set("event.module", "sysmon")
	ev.Set("event.code", "1")
	ev.Set("process.executable", `C:\Windows\System32\whoami.exe`)
	matched, why := Explain(rules[0], ev)
	fmt.Println(matched)
	fmt.Println(why[len(why)-1])
	// Output:
	// true
	// result: true
}

// TestEvidenceSharedPerEvent checks that the alerts of one event carry
// that event's own JSON as evidence (shared by the rules it matched),
// that an event matching nothing leaves nothing behind, and that the
// next event's alerts do not inherit the previous event's evidence.
func TestEvidenceSharedPerEvent(t *testing.T) {
	const second = `title: Whoami by name
id: 0002
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|contains: 'whoami'
    condition: selection
`
	e := NewEngine(Options{})
	if errs := e.Load(append(mustParse(t, whoamiRule), mustParse(t, second)...)); len(errs) > 0 {
		t.Fatal(errs)
	}
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name   string
		ev     *event.Event
		alerts int
	}{
		{"both rules", newEvent(img, `C:\Windows\System32\whoami.exe`, "process.command_line", "whoami /all"), 2},
		{"no match", newEvent(img, `C:\Windows\System32\cmd.exe`), 0},
		{"one rule, other event", newEvent(img, `C:\tools\whoami-x.exe`, "process.command_line", long, "note", "é\"\\\n"), 1},
		{"both rules, escapes", newEvent(img, `C:\Temp\"quoted"\whoami.exe`, "winlog.event_data.User", `CORP\bob`), 2},
	}
	for _, tt := range tests {
		out := e.Detect(tt.ev, nil)
		if len(out) != tt.alerts {
			t.Fatalf("%s: %d alerts, want %d", tt.name, len(out), tt.alerts)
		}
		want := string(tt.ev.AppendJSON(nil))
		for _, a := range out {
			if len(a.Evidence) != 1 || a.Evidence[0] != want {
				t.Errorf("%s: rule %s evidence = %.80q..., want the event's JSON %.80q...", tt.name, a.RuleID, a.Evidence, want)
			}
		}
	}
}

// TestLoadErrorLines checks that a rule that parses but does not compile
// is reported at the line at fault, not at the rule's first line.
func TestLoadErrorLines(t *testing.T) {
	const head = "title: t\nid: r1\nlogsource: {product: windows}\ndetection:\n" // lines 1-4
	cases := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"unknown modifier", head + "  sel:\n    Image: a\n    CommandLine|bogus: b\n  condition: sel\n", 7, `search "sel": field "CommandLine": unknown modifier "bogus"`},
		{"condition names a missing search", head + "  sel:\n    Image: a\n  condition: sel and not filter\n", 7, `condition "sel and not filter": names search identifier "filter", which the detection does not define`},
		{"condition that does not parse", head + "  sel:\n    Image: a\n  condition: sel and (\n", 7, `sel and (`},
		{"bad regular expression", head + "  sel:\n    Image: a\n  other:\n    CommandLine|re: '(unclosed'\n  condition: sel or other\n", 8, `search "other": field "CommandLine"`},
		{"placeholder without a value", head + "  sel:\n    - User|expand: '%admins%'\n  condition: sel\n", 6, `placeholder %admins% has no value`},
		{"unknown correlation type", "title: c\nid: c1\ncorrelation:\n  type: sometimes\n  rules: [r1]\n  timespan: 1m\n", 4, `unknown correlation type "sometimes"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, err := ParseRule([]byte(c.src), "r.yml")
			if err != nil {
				t.Fatal(err)
			}
			_, errs := Compile(rules, Options{})
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			if errs[0].Line != c.line || !strings.Contains(errs[0].Reason, c.want) {
				t.Errorf("error %q at line %d, want line %d and %q", errs[0].Error(), errs[0].Line, c.line, c.want)
			}
		})
	}
}
