package sigma

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRule feeds arbitrary YAML through parsing, compilation,
// detection and Explain: none may panic.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte(whoamiRule))
	f.Add([]byte(ruleYAML("sel:\n    CommandLine|contains|windash: ' -enc '\nfilter:\n    Image: null\ncondition: sel and not 1 of filter*")))
	f.Add([]byte(ruleYAML("sel:\n    CommandLine|wide|base64offset|contains: 'iex'\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: all of them")))
	f.Add([]byte(ruleYAML("keywords:\n    '|all':\n        - 'a*b'\n        - 'c?d'\ncondition: keywords")))
	f.Add([]byte(corr("correlation:\n    type: temporal\n    rules: [failed_login, successful_login]\n    group-by: [TargetUserName]\n    timespan: 5m\n")))
	f.Add([]byte("title: x\ndetection: [a\n"))
	f.Add([]byte("action: global\n---\n- a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _ := ParseRule(data, "fuzz.yml")
		e := NewEngine(Options{Placeholders: map[string][]string{"x": {"y*"}}})
		e.Load(rules)
		ev := newEvent(cmd, "powershell -enc aQBlAHgA a*b c?d", img, `C:\x.exe`, "destination.ip", "10.1.1.1")
		e.Detect(ev, nil)
		for _, r := range rules {
			Explain(r, ev)
		}
	})
}

// FuzzCondition checks that the condition parser never panics and that
// what it accepts renders back to an expression it parses the same way.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"a and not (b or c)", "1 of sel* and not all of filter_*", "not not a", "((a)", "a or", "2 of them", "x |count() > 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseCondition(s)
		if err != nil {
			return
		}
		again, err := parseCondition(e.String())
		if err != nil {
			t.Fatalf("%q rendered as %q, which does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() {
			t.Fatalf("%q: %q then %q", s, e.String(), again.String())
		}
	})
}

// naiveHits lists needle i at end offset e for every occurrence.
func naiveHits(needles []string, text string) []string {
	var out []string
	for id, n := range needles {
		if n == "" {
			continue
		}
		for i := 0; i+len(n) <= len(text); i++ {
			if text[i:i+len(n)] == n {
				out = append(out, string(rune('a'+id%26))+":"+itoa(i+len(n)-1))
			}
		}
	}
	sort.Strings(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func acHits(a *automaton, needles []string, text string) []string {
	var out []string
	code := uint32(0)
	for i := 0; i < len(text); i++ {
		d := a.next(code, a.class[text[i]])
		code = d >> 1
		st := a.stateOf(code)
		has := a.outStart[st] != a.outStart[st+1]
		if has != (d&1 == 1) {
			panic("output flag disagrees with outputs")
		}
		for _, p := range a.outs[a.outStart[st]:a.outStart[st+1]] {
			out = append(out, string(rune('a'+int(p)%26))+":"+itoa(i))
		}
	}
	sort.Strings(out)
	return out
}

// FuzzAutomaton compares the automaton with a brute-force search.
func FuzzAutomaton(f *testing.F) {
	f.Add("he,she,his,hers", "ushers and his shell")
	f.Add("a,aa,aaa", "aaaaaa")
	f.Add("\\cmd.exe,cmd,.exe", "c:\\windows\\cmd.exe")
	f.Add("x\x00y,\xff", "x\x00y\xffx\x00y")
	f.Fuzz(func(t *testing.T, list, text string) {
		if len(list) > 200 || len(text) > 300 {
			return
		}
		needles := strings.Split(strings.ToLower(list), ",")
		text = strings.ToLower(text)
		a := buildAutomaton(needles)
		if got, want := acHits(a, needles, text), naiveHits(needles, text); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("needles %q text %q:\n got %v\nwant %v", needles, text, got, want)
		}
	})
}

// FuzzGlob compares globMatch with the equivalent regular expression.
func FuzzGlob(f *testing.F) {
	f.Add(`c:\\*\\cmd.exe`, `c:\windows\cmd.exe`)
	f.Add("a?c*", "abcdef")
	f.Add(`a\*b`, "a*b")
	f.Add("*.*.*", "x.y")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // the regexp oracle needs valid UTF-8
		}
		p := parseWildcards(pattern)
		var re strings.Builder
		re.WriteString("(?s)^")
		for _, tk := range p {
			switch tk.wild {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(tk.lit))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := globMatch(p, s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, regexp %s says %v", pattern, s, got, re.String(), want)
		}
	})
}

// FuzzPrefilter compiles rules looking for the needles of list (contains,
// startswith, endswith and exact, one rule each) and checks that Detect,
// with its gram index and automata, raises the same rules as evaluating
// every rule directly on an event whose command line is text.
func FuzzPrefilter(f *testing.F) {
	f.Add("cmd.exe,\\system32\\,-enc", `C:\Windows\System32\CMD.EXE /c powershell -ENC abc`)
	f.Add("abcd,bcde,cd,d", "xABCDE")
	f.Add("aaaa,aaaaa,aa", "aaaaaa")
	f.Add("été,\xc3\x89t\xc3\xa9", "ÉTÉ à l'école")
	f.Add("long needle well past twenty bytes,ty bytes", "a long needle well past twenty bytes")
	f.Add("imphash=5236b60ca9e9c7c488b095590b9ed944,sha1=7e6353cbe6a11ae8", "SHA1=7E6353CBE6A11AE8,IMPHASH=5236B60CA9E9C7C488B095590B9ED944")
	f.Add("0123456789abcdefghij,9abcdefghijklmnopq", "x0123456789abcdefghijklmnopq")
	f.Fuzz(func(t *testing.T, list, text string) {
		if len(list) > 200 || len(text) > 300 || strings.ContainsAny(list+text, "\r\n\t'\x00") {
			return
		}
		var src strings.Builder
		for i, mod := range []string{"|contains", "|startswith", "|endswith", ""} {
			fmt.Fprintf(&src, "title: r%d\nid: r%d\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        CommandLine%s:\n", i, i, mod)
			for _, n := range strings.Split(list, ",") {
				if n == "" {
					continue
				}
				fmt.Fprintf(&src, "            - '%s'\n", n)
			}
			src.WriteString("    condition: sel\n---\n")
		}
		rules, err := ParseRule([]byte(src.String()), "fuzz.yml")
		if err != nil {
			return
		}
		rs, errs := Compile(rules, Options{})
		if len(errs) > 0 {
			return
		}
		ev := newEvent("process.command_line", text)
		if got, want := rs.DetectAndDirect(ev); !slices.Equal(got, want) {
			t.Fatalf("needles %q text %q: Detect %v, direct %v", list, text, got, want)
		}
	})
}

// FuzzFoldedASCII compares matching an ASCII value without folding it
// with matching its folded copy, for every literal match kind.
func FuzzFoldedASCII(f *testing.F) {
	f.Add("C:\\Windows\\CMD.exe", "\\cmd.exe")
	f.Add("abcABC", "cab")
	f.Add("x", "")
	f.Add("Straße", "SS")
	f.Fuzz(func(t *testing.T, v, lit string) {
		if !isASCII(v) || len(v) > 200 || len(lit) > 50 {
			return
		}
		lit = foldString(lit)
		for _, kind := range []matchKind{matchExact, matchPrefix, matchSuffix, matchContains} {
			spec := &leafSpec{kind: leafMatch, match: kind, lit: lit}
			if got, want := matchFoldedASCII(spec, v), matchString(spec, foldString(v)); got != want {
				t.Fatalf("kind %d, value %q, literal %q: %v without folding, %v folded", kind, v, lit, got, want)
			}
		}
	})
}

// FuzzParsePlaceholders checks that any placeholders file either parses
// into names with values or is refused with a line, without panicking.
func FuzzParsePlaceholders(f *testing.F) {
	for _, s := range []string{"Admins: [adm_*, root]\nDC: dc01\n", "name: p\nvars:\n  A: [x]\ntransformations: []\n", "- a\n", "A: &x [1]\nB: *x\n", "A: []\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ph, err := ParsePlaceholders(data, "p.yml")
		if err != nil {
			return
		}
		for name, vals := range ph {
			if name == "" || len(vals) == 0 {
				t.Fatalf("placeholder %q with values %v accepted", name, vals)
			}
		}
	})
}
