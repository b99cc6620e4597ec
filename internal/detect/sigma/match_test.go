package sigma

import (
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// newEvent builds a Sysmon process-creation event with extra fields given
// as name, value pairs.
func newEvent(kv ...string) *event.Event {
	ev := &event.Event{ID: "ev1", Member: "m1", Time: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	ev.Set("event.module", "sysmon")
	ev.Set("event.code", "1")
	ev.Set("host.name", "ws1")
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i], kv[i+1])
	}
	return ev
}

// ruleYAML wraps a detection section in a process-creation rule.
func ruleYAML(detection string) string {
	return "title: test rule\nid: 11111111-1111-1111-1111-111111111111\nlevel: high\n" +
		"tags: [attack.execution, attack.t1059.001]\n" +
		"logsource:\n    product: windows\n    category: process_creation\n" +
		"detection:\n" + indent(detection) + "\n"
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// compileOne parses and compiles a rule, failing the test on any error.
func compileOne(t *testing.T, src string, opts Options) *RuleSet {
	t.Helper()
	rules, err := ParseRule([]byte(src), "test.yml")
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	rs, errs := Compile(rules, opts)
	if len(errs) > 0 {
		t.Fatalf("compile: %v\n%s", errs, src)
	}
	return rs
}

type matchCase struct {
	name      string
	detection string
	event     []string
	want      bool
}

func runMatchCases(t *testing.T, cases []matchCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := compileOne(t, ruleYAML(tc.detection), opts)
			got := len(rs.Detect(newEvent(tc.event...), nil)) > 0
			if got != tc.want {
				t.Errorf("match = %v, want %v\ndetection:\n%s\nevent: %q", got, tc.want, tc.detection, tc.event)
			}
			// Explain must agree with Detect.
			rules, _ := ParseRule([]byte(ruleYAML(tc.detection)), "test.yml")
			if m, why := Explain(rules[0], newEvent(tc.event...), opts); m != tc.want {
				t.Errorf("Explain = %v, want %v: %s", m, tc.want, strings.Join(why, "\n"))
			}
		})
	}
}

const cmd = "process.command_line"
const img = "process.executable"

func TestModifiers(t *testing.T) {
	cases := []matchCase{
		{"exact case-insensitive", "sel:\n    Image: 'C:\\Windows\\System32\\whoami.exe'\ncondition: sel", []string{img, `c:\windows\system32\WHOAMI.EXE`}, true},
		{"exact needs whole value", "sel:\n    Image: 'whoami.exe'\ncondition: sel", []string{img, `c:\windows\system32\whoami.exe`}, false},
		{"contains", "sel:\n    CommandLine|contains: 'IEX'\ncondition: sel", []string{cmd, "powershell iex(new-object)"}, true},
		{"contains miss", "sel:\n    CommandLine|contains: 'IEX'\ncondition: sel", []string{cmd, "powershell get-item"}, false},
		{"startswith", "sel:\n    CommandLine|startswith: 'cmd /c'\ncondition: sel", []string{cmd, "CMD /C dir"}, true},
		{"non-ASCII already lower", "sel:\n    CommandLine|contains: 'WINDOWS® OPERATING'\ncondition: sel", []string{cmd, "Microsoft® Windows® Operating System"}, true},
		{"non-ASCII upper folded", "sel:\n    CommandLine|contains: 'ärger'\ncondition: sel", []string{cmd, "x ÄRGER y ®"}, true},
		{"non-ASCII lower, needle upper", "sel:\n    CommandLine|contains: 'ÄRGER'\ncondition: sel", []string{cmd, "x ärger y ®"}, true},
		{"Kelvin sign folds to k", "sel:\n    CommandLine|contains: 'kelvin'\ncondition: sel", []string{cmd, "\u212aELVIN ®"}, true},
		{"non-ASCII miss", "sel:\n    CommandLine|contains: 'ärger'\ncondition: sel", []string{cmd, "x arger y ®"}, false},
		{"startswith not at start", "sel:\n    CommandLine|startswith: 'cmd /c'\ncondition: sel", []string{cmd, "x cmd /c dir"}, false},
		{"endswith", "sel:\n    Image|endswith: '\\cmd.exe'\ncondition: sel", []string{img, `C:\Windows\System32\cmd.exe`}, true},
		{"endswith not at end", "sel:\n    Image|endswith: '\\cmd.exe'\ncondition: sel", []string{img, `C:\Windows\System32\cmd.exe.bak`}, false},
		{"list is or", "sel:\n    Image|endswith:\n        - '\\a.exe'\n        - '\\b.exe'\ncondition: sel", []string{img, `C:\b.exe`}, true},
		{"all is and", "sel:\n    CommandLine|contains|all:\n        - 'net'\n        - 'user'\ncondition: sel", []string{cmd, "net user x /add"}, true},
		{"all needs every value", "sel:\n    CommandLine|contains|all:\n        - 'net'\n        - 'group'\ncondition: sel", []string{cmd, "net user x /add"}, false},
		{"map is and", "sel:\n    Image|endswith: '\\net.exe'\n    CommandLine|contains: 'user'\ncondition: sel", []string{img, `C:\net.exe`, cmd, "net group"}, false},
		{"list of maps is or", "sel:\n    - Image|endswith: '\\net.exe'\n    - CommandLine|contains: 'user'\ncondition: sel", []string{img, `C:\x.exe`, cmd, "net user"}, true},
		{"re case-sensitive", "sel:\n    CommandLine|re: 'Invoke-[A-Z]\\w+'\ncondition: sel", []string{cmd, "invoke-mimikatz"}, false},
		{"re match", "sel:\n    CommandLine|re: 'Invoke-[A-Z]\\w+'\ncondition: sel", []string{cmd, "x Invoke-Mimikatz"}, true},
		{"re i", "sel:\n    CommandLine|re|i: 'invoke-[a-z]+'\ncondition: sel", []string{cmd, "INVOKE-MIMIKATZ"}, true},
		{"re m", "sel:\n    CommandLine|re|m: '^second$'\ncondition: sel", []string{cmd, "first\nsecond\nthird"}, true},
		{"re without m", "sel:\n    CommandLine|re: '^second$'\ncondition: sel", []string{cmd, "first\nsecond\nthird"}, false},
		{"re s", "sel:\n    CommandLine|re|s: 'a.b'\ncondition: sel", []string{cmd, "a\nb"}, true},
		{"re without s", "sel:\n    CommandLine|re: 'a.b'\ncondition: sel", []string{cmd, "a\nb"}, false},
		{"re nested quantifier is linear", "sel:\n    CommandLine|re: '(a+)+$'\ncondition: sel", []string{cmd, strings.Repeat("a", 5000) + "!"}, false},
		{"cidr v4", "sel:\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel", []string{"destination.ip", "10.1.2.3"}, true},
		{"cidr v4 miss", "sel:\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel", []string{"destination.ip", "11.1.2.3"}, false},
		{"cidr v6", "sel:\n    DestinationIp|cidr: 'fe80::/10'\ncondition: sel", []string{"destination.ip", "fe80::1"}, true},
		{"cidr not an ip", "sel:\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel", []string{"destination.ip", "host.example"}, false},
		{"base64", "sel:\n    CommandLine|base64|contains: 'cmd'\ncondition: sel", []string{cmd, "x Y21k y"}, true},
		{"base64 is case-sensitive", "sel:\n    CommandLine|base64|contains: 'cmd'\ncondition: sel", []string{cmd, "x y21K y"}, false},
		{"base64offset 0", "sel:\n    CommandLine|base64offset|contains: 'http://'\ncondition: sel", []string{cmd, "-e aHR0cDovL2V2aWw="}, true},
		{"base64offset 1", "sel:\n    CommandLine|base64offset|contains: 'http://'\ncondition: sel", []string{cmd, "-e eGh0dHA6Ly9ldmls"}, true},
		{"base64offset 2", "sel:\n    CommandLine|base64offset|contains: 'http://'\ncondition: sel", []string{cmd, "-e eHhodHRwOi8vZXZpbA=="}, true},
		{"base64offset miss", "sel:\n    CommandLine|base64offset|contains: 'http://'\ncondition: sel", []string{cmd, "-e ZnRwOi8v"}, false},
		{"wide base64offset", "sel:\n    CommandLine|wide|base64offset|contains: 'iex'\ncondition: sel", []string{cmd, "-enc aQBlAHgA"}, true},
		{"utf16le", "sel:\n    CommandLine|utf16le|contains: 'ab'\ncondition: sel", []string{cmd, "xa\x00b\x00y"}, true},
		{"utf16be", "sel:\n    CommandLine|utf16be|contains: 'ab'\ncondition: sel", []string{cmd, "x\x00a\x00by"}, true},
		{"utf16 bom", "sel:\n    CommandLine|utf16|startswith: 'ab'\ncondition: sel", []string{cmd, "\xff\xfea\x00b\x00"}, true},
		{"windash dash", "sel:\n    CommandLine|contains|windash: ' -enc '\ncondition: sel", []string{cmd, "powershell -enc AAA"}, true},
		{"windash slash", "sel:\n    CommandLine|contains|windash: ' -enc '\ncondition: sel", []string{cmd, "powershell /enc AAA"}, true},
		{"windash en dash", "sel:\n    CommandLine|contains|windash: ' -enc '\ncondition: sel", []string{cmd, "powershell \u2013enc AAA"}, true},
		{"windash miss", "sel:\n    CommandLine|contains|windash: ' -enc '\ncondition: sel", []string{cmd, "powershell +enc AAA"}, false},
		{"exists true", "sel:\n    CommandLine|exists: true\ncondition: sel", []string{cmd, "x"}, true},
		{"exists true absent", "sel:\n    CommandLine|exists: true\ncondition: sel", nil, false},
		{"exists false", "sel:\n    CommandLine|exists: false\ncondition: sel", nil, true},
		{"fieldref equal", "sel:\n    Image|fieldref: ParentImage\ncondition: sel", []string{img, `C:\a.exe`, "process.parent.executable", `c:\A.EXE`}, true},
		{"fieldref differ", "sel:\n    Image|fieldref: ParentImage\ncondition: sel", []string{img, `C:\a.exe`, "process.parent.executable", `c:\b.exe`}, false},
		{"fieldref absent", "sel:\n    Image|fieldref: ParentImage\ncondition: sel", []string{img, `C:\a.exe`}, false},
		{"gt", "sel:\n    TerminalSessionId|gt: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "6"}, true},
		{"gt equal", "sel:\n    TerminalSessionId|gt: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "5"}, false},
		{"gte", "sel:\n    TerminalSessionId|gte: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "5"}, true},
		{"lt", "sel:\n    TerminalSessionId|lt: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "4.5"}, true},
		{"lte", "sel:\n    TerminalSessionId|lte: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "6"}, false},
		{"lt not a number", "sel:\n    TerminalSessionId|lt: 5\ncondition: sel", []string{"winlog.event_data.TerminalSessionId", "abc"}, false},
		{"hex number", "sel:\n    LogonId|gt: 0x3e6\ncondition: sel", []string{"winlog.event_data.LogonId", "0x3e7"}, true},
		{"cased", "sel:\n    CommandLine|cased|contains: 'EvIl'\ncondition: sel", []string{cmd, "x EvIl y"}, true},
		{"cased miss", "sel:\n    CommandLine|cased|contains: 'EvIl'\ncondition: sel", []string{cmd, "x evil y"}, false},
		{"cased exact", "sel:\n    CommandLine|cased: 'ABC'\ncondition: sel", []string{cmd, "abc"}, false},
		{"neq", "sel:\n    IntegrityLevel|neq: 'System'\ncondition: sel", []string{"process.integrity_level", "High"}, true},
		{"neq same", "sel:\n    IntegrityLevel|neq: 'System'\ncondition: sel", []string{"process.integrity_level", "system"}, false},
		{"hour", "sel:\n    UtcTime|hour: 5\ncondition: sel", []string{"winlog.event_data.UtcTime", "2026-03-04 05:06:07.000"}, true},
		{"hour gt", "sel:\n    UtcTime|hour|gt: 5\ncondition: sel", []string{"winlog.event_data.UtcTime", "2026-03-04 05:06:07.000"}, false},
		{"year", "sel:\n    UtcTime|year: 2026\ncondition: sel", []string{"winlog.event_data.UtcTime", "2026-03-04 05:06:07.000"}, true},
		{"null matches absent", "sel:\n    Image|endswith: '\\a.exe'\nfilter:\n    OriginalFileName: null\ncondition: sel and filter", []string{img, `C:\a.exe`}, true},
		{"null fails present", "sel:\n    Image|endswith: '\\a.exe'\nfilter:\n    OriginalFileName: null\ncondition: sel and filter", []string{img, `C:\a.exe`, "process.original_file_name", "a.exe"}, false},
		{"not null filter on missing field", "sel:\n    Image|endswith: '\\a.exe'\nfilter:\n    OriginalFileName: 'b.exe'\ncondition: sel and not filter", []string{img, `C:\a.exe`}, true},
		{"empty string matches absent", "sel:\n    Image|endswith: '\\a.exe'\n    Description: ''\ncondition: sel", []string{img, `C:\a.exe`}, true},
		{"empty string fails present", "sel:\n    Image|endswith: '\\a.exe'\n    Description: ''\ncondition: sel", []string{img, `C:\a.exe`, "process.pe.description", "d"}, false},
		{"number value", "sel:\n    EventID: 1\ncondition: sel", nil, true},
	}
	runMatchCases(t, cases, Options{})
}

func TestExpand(t *testing.T) {
	opts := Options{Placeholders: map[string][]string{"Admins": {"adm_*", "root"}}}
	runMatchCases(t, []matchCase{
		{"placeholder wildcard", "sel:\n    User|expand: '%Admins%'\ncondition: sel", []string{"winlog.event_data.User", "ADM_bob"}, true},
		{"placeholder literal", "sel:\n    User|expand: '%Admins%'\ncondition: sel", []string{"winlog.event_data.User", "root"}, true},
		{"placeholder miss", "sel:\n    User|expand: '%Admins%'\ncondition: sel", []string{"winlog.event_data.User", "bob"}, false},
		{"escaped percent", "sel:\n    CommandLine|expand|contains: '\\%x%Admins%'\ncondition: sel", []string{cmd, "echo %xroot"}, true},
		{"no expand keeps percent", "sel:\n    CommandLine|contains: '%Admins%'\ncondition: sel", []string{cmd, "echo %admins%"}, true},
	}, opts)
}

func TestWildcards(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"star inside", "sel:\n    Image: 'C:\\\\*\\cmd.exe'\ncondition: sel", []string{img, `C:\Windows\System32\cmd.exe`}, true},
		{"star inside miss", "sel:\n    Image: 'C:\\\\*\\cmd.exe'\ncondition: sel", []string{img, `D:\Windows\cmd.exe`}, false},
		{"backslash star is a literal star", "sel:\n    Image: 'C:\\*\\cmd.exe'\ncondition: sel", []string{img, `C:*\cmd.exe`}, true},
		{"question mark", "sel:\n    Image|endswith: '\\prog?.exe'\ncondition: sel", []string{img, `C:\progA.exe`}, true},
		{"question mark needs one char", "sel:\n    Image|endswith: '\\prog?.exe'\ncondition: sel", []string{img, `C:\prog.exe`}, false},
		{"question mark multibyte", "sel:\n    Image|endswith: '\\prog?.exe'\ncondition: sel", []string{img, `C:\progé.exe`}, true},
		{"escaped star is literal", "sel:\n    CommandLine|contains: 'a\\*b'\ncondition: sel", []string{cmd, "xa*by"}, true},
		{"escaped star no wildcard", "sel:\n    CommandLine|contains: 'a\\*b'\ncondition: sel", []string{cmd, "xaZZby"}, false},
		{"escaped question", "sel:\n    CommandLine|endswith: 'why\\?'\ncondition: sel", []string{cmd, "why?"}, true},
		{"escaped question no wildcard", "sel:\n    CommandLine|endswith: 'why\\?'\ncondition: sel", []string{cmd, "whyX"}, false},
		{"double backslash is one", "sel:\n    CommandLine: 'a\\\\b'\ncondition: sel", []string{cmd, `a\b`}, true},
		{"plain backslash", "sel:\n    CommandLine: 'a\\b'\ncondition: sel", []string{cmd, `a\b`}, true},
		{"backslash then wildcard", "sel:\n    CommandLine: 'a\\\\*'\ncondition: sel", []string{cmd, `a\anything`}, true},
		{"three backslashes and star", "sel:\n    CommandLine: 'a\\\\\\*'\ncondition: sel", []string{cmd, `a\*`}, true},
		{"three backslashes star literal", "sel:\n    CommandLine: 'a\\\\\\*'\ncondition: sel", []string{cmd, `a\x`}, false},
		{"four backslashes", "sel:\n    CommandLine: 'a\\\\\\\\b'\ncondition: sel", []string{cmd, `a\\b`}, true},
		{"star alone needs a value", "sel:\n    Description: '*'\ncondition: sel", nil, false},
		{"star alone", "sel:\n    Description: '*'\ncondition: sel", []string{"process.pe.description", "x"}, true},
		{"unicode fold", "sel:\n    CommandLine|contains: 'ÄRGER'\ncondition: sel", []string{cmd, "x ärger y"}, true},
	}, Options{})
}

// TestKeywordsInOriginal: keywords search a raw original line, but not a
// JSON original, whose values are fields already and whose names are not
// log content.
func TestKeywordsInOriginal(t *testing.T) {
	rs := compileOne(t, ruleYAML("keywords:\n    - 'password'\n    - 'mimikatz'\ncondition: keywords"), Options{})
	for _, tc := range []struct {
		original string
		fields   []string
		want     bool
	}{
		{`<13>Nov 24 10:00:00 ws1 tool: running MIMIKATZ now`, nil, true},
		{`CEF:0|Acme|EDR|1|100|Mimikatz seen|9|src=10.0.0.1`, nil, true},
		{`{"user":{"name":"bob"},"password":""}`, []string{"user.name", "bob"}, false},
		{`  {"process":{"command_line":"mimikatz.exe"}}`, []string{cmd, "mimikatz.exe"}, true},
		{`{"process":{"command_line":"notepad"}}`, []string{cmd, "notepad"}, false},
	} {
		ev := newEvent(tc.fields...)
		ev.Original = []byte(tc.original)
		if got := len(rs.Detect(ev, nil)) > 0; got != tc.want {
			t.Errorf("original %s: match %v, want %v", tc.original, got, tc.want)
		}
		rules, _ := ParseRule([]byte(ruleYAML("keywords:\n    - 'password'\n    - 'mimikatz'\ncondition: keywords")), "test.yml")
		if m, _ := Explain(rules[0], ev, Options{}); m != tc.want {
			t.Errorf("original %s: Explain %v, want %v", tc.original, m, tc.want)
		}
	}
}

func TestKeywords(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"keyword in any field", "keywords:\n    - 'mimikatz'\n    - 'sekurlsa'\ncondition: keywords", []string{"process.pe.description", "The MIMIKATZ tool"}, true},
		{"keyword miss", "keywords:\n    - 'mimikatz'\ncondition: keywords", []string{cmd, "notepad"}, false},
		{"keyword all", "keywords:\n    '|all':\n        - 'oab'\n        - 'externalurl'\ncondition: keywords", []string{cmd, "Set-OabVirtualDirectory -ExternalUrl x"}, true},
		{"keyword all miss", "keywords:\n    '|all':\n        - 'oab'\n        - 'internal'\ncondition: keywords", []string{cmd, "Set-OabVirtualDirectory -ExternalUrl x"}, false},
		{"keyword in original", "keywords:\n    - 'secret'\ncondition: keywords", []string{"event.original", "raw SECRET line"}, true},
	}, Options{})
}

func TestConditions(t *testing.T) {
	sels := "a:\n    CommandLine|contains: 'aaa'\nb:\n    CommandLine|contains: 'bbb'\nc:\n    CommandLine|contains: 'ccc'\n_x:\n    CommandLine|contains: 'xxx'\n"
	cases := []struct {
		cond string
		cmd  string
		want bool
	}{
		{"a", "aaa", true},
		{"a and b", "aaa", false},
		{"a and b", "aaa bbb", true},
		{"a or b", "bbb", true},
		{"not a", "bbb", true},
		{"not a", "aaa", false},
		{"a or b and c", "aaa", true},       // or binds loosest
		{"a or b and c", "bbb", false},      // b and c
		{"(a or b) and c", "aaa", false},    // parentheses
		{"(a or b) and c", "aaa ccc", true}, //
		{"not a and b", "bbb", true},        // not binds tighter than and
		{"not a and b", "aaa bbb", false},
		{"not (a and b)", "aaa", true},
		{"not not a", "aaa", true},
		{"1 of them", "ccc", true},
		{"1 of them", "xxx", false}, // _x is not part of them
		{"all of them", "aaa bbb ccc", true},
		{"all of them", "aaa bbb", false},
		{"1 of a*", "aaa", true},
		{"all of ?", "aaa", false},
		{"2 of them", "aaa ccc", true},
		{"2 of them", "aaa", false},
		{"any of them", "bbb", true},
		{"1 of _*", "xxx", true},
		{"a AND NOT b", "aaa", true},
		{"1 of them and not c", "aaa ccc", false},
	}
	for _, tc := range cases {
		t.Run(tc.cond+"/"+tc.cmd, func(t *testing.T) {
			if strings.Contains(tc.cond, "?") {
				// '?' is no wildcard in identifier patterns: it names nothing.
				rules, err := ParseRule([]byte(ruleYAML(sels+"condition: "+tc.cond)), "t.yml")
				if err != nil {
					t.Fatal(err)
				}
				if _, errs := Compile(rules, Options{}); len(errs) == 0 {
					t.Fatalf("%q compiled, want an error", tc.cond)
				}
				return
			}
			rs := compileOne(t, ruleYAML(sels+"condition: "+tc.cond), Options{})
			got := len(rs.Detect(newEvent(cmd, tc.cmd), nil)) > 0
			if got != tc.want {
				t.Errorf("%q on %q = %v, want %v", tc.cond, tc.cmd, got, tc.want)
			}
		})
	}
}

func TestConditionList(t *testing.T) {
	src := ruleYAML("a:\n    CommandLine|contains: 'aaa'\nb:\n    CommandLine|contains: 'bbb'\ncondition:\n    - a\n    - b")
	rs := compileOne(t, src, Options{})
	for _, c := range []struct {
		cmd  string
		want bool
	}{{"aaa", true}, {"bbb", true}, {"ccc", false}} {
		if got := len(rs.Detect(newEvent(cmd, c.cmd), nil)) > 0; got != c.want {
			t.Errorf("%q: got %v, want %v", c.cmd, got, c.want)
		}
	}
}
