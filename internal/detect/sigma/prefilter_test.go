package sigma_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/sigma/sigmabench"
	"github.com/xsoc/xsoc/internal/event"
)

// TestPrefilterAgreesWithDirectEvaluation runs the SigmaHQ
// process-creation rules over generated events, a share of them built to
// match, and checks that the prefiltered Detect raises exactly the rules
// that evaluating every rule directly, leaf by leaf, finds: the gram index
// and the automata may skip work, never a match.
func TestPrefilterAgreesWithDirectEvaluation(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	rs, errs := sigma.Compile(pc, sigma.Options{})
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs[0])
	}
	events := sigmabench.Generate(sigmabench.Config{Events: 3000, Seed: 11, Positives: 0.2, Rules: pc})
	// Mixed case and non-ASCII variants of the same events exercise the
	// folding paths.
	for i, ev := range events[:500] {
		events = append(events, variant(ev, i))
	}
	// Two passes: in the second, every value comes back, so the scans'
	// memos replay what they remembered instead of scanning.
	matched := 0
	for pass := 0; pass < 2; pass++ {
		matched = 0
		for i, ev := range events {
			n, ok := agrees(t, rs, ev, i)
			if !ok {
				return
			}
			if n > 0 {
				matched++
			}
		}
	}
	if matched < len(events)/10 {
		t.Fatalf("only %d of %d events match a rule: the comparison proves little", matched, len(events))
	}
}

// agrees checks that Detect raises exactly the rules direct evaluation
// finds for ev, and returns how many that is.
func agrees(t *testing.T, rs *sigma.RuleSet, ev *event.Event, i int) (int, bool) {
	t.Helper()
	got, want := rs.DetectAndDirect(ev)
	if !slices.Equal(got, want) {
		t.Errorf("event %d: Detect raised %v, direct evaluation %v", i, got, want)
		return 0, false
	}
	return len(want), true
}

// variant copies ev with its process values upper-cased, or with a
// non-ASCII letter appended, alternately.
func variant(ev *event.Event, i int) *event.Event {
	out := &event.Event{}
	ev.Fields(func(k, v string) bool {
		switch {
		case !strings.HasPrefix(k, "process.") && !strings.HasPrefix(k, "winlog.event_data."):
		case i%2 == 0:
			v = upperASCII(v)
		default:
			v += " É"
		}
		out.Set(k, v)
		return true
	})
	return out
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestPrefilterPaths covers the ways the prefilter finds needles (gram
// index for 4 bytes or more, automaton below), and the leaves it leaves
// to direct evaluation (those that are no rule's trigger, such as filters
// under "not"), including needles found in the wrong field or the wrong
// place of the value.
func TestPrefilterPaths(t *testing.T) {
	const cmd, img, hashes = "process.command_line", "process.executable", "winlog.event_data.Hashes"
	long := "sel:\n    CommandLine|contains: 'aaaaaaaaaaXXXXXXXXXXyyyyyyyyyy'\ncondition: sel"
	filtered := "sel:\n    CommandLine|contains: 'sekurlsa'\nfilter:\n    Image|endswith: '\\system32\\cmd.exe'\ncondition: sel and not filter"
	cases := []struct {
		name, detection string
		event           []string
		want            bool
	}{
		{"needle in another field", "sel:\n    CommandLine|contains: 'mimikatz'\ncondition: sel", []string{img, `C:\t\mimikatz.exe`, cmd, "x.exe -run"}, false},
		{"needle in its field", "sel:\n    CommandLine|contains: 'mimikatz'\ncondition: sel", []string{img, `C:\t\x.exe`, cmd, "MiMiKaTz.exe -run"}, true},
		{"gram needle at value start", "sel:\n    CommandLine|startswith: 'rundll32'\ncondition: sel", []string{cmd, "RUNDLL32 x.dll"}, true},
		{"gram needle not at start", "sel:\n    CommandLine|startswith: 'rundll32'\ncondition: sel", []string{cmd, "c:\\rundll32 x.dll"}, false},
		{"gram needle at end", "sel:\n    Image|endswith: '\\evil.exe'\ncondition: sel", []string{img, `C:\x\EVIL.exe`}, true},
		{"gram needle twice, last at end", "sel:\n    Image|endswith: '\\evil.exe'\ncondition: sel", []string{img, `C:\evil.exe\evil.exe`}, true},
		{"gram needle before end", "sel:\n    Image|endswith: '\\evil.exe'\ncondition: sel", []string{img, `C:\evil.exe\x`}, false},
		{"long needle whole", long, []string{cmd, "--aaaaaaaaaaxxxxxxxxxxyyyyyyyyyy--"}, true},
		{"long needle tail only", long, []string{cmd, "--bbbbbbbbbbxxxxxxxxxxyyyyyyyyyy--"}, false},
		{"long needle head only", long, []string{cmd, "--aaaaaaaaaaxxxxxxxxxxzzzzzzzzzz--"}, false},
		{"short needle exact", "sel:\n    CommandLine: 'ab'\ncondition: sel", []string{cmd, "AB"}, true},
		{"short needle exact in longer value", "sel:\n    CommandLine: 'ab'\ncondition: sel", []string{cmd, "abc"}, false},
		{"short needle contains", "sel:\n    CommandLine|contains: ' -e'\ncondition: sel", []string{cmd, "x -E y"}, true},
		{"non-ASCII value", "sel:\n    CommandLine|contains: 'été'\ncondition: sel", []string{cmd, "x ÉTÉ"}, true},
		{"non-ASCII value without needle", "sel:\n    CommandLine|contains: 'été'\ncondition: sel", []string{cmd, "x ÉTA"}, false},
		{"hash needle", "sel:\n    Hashes|contains: 'IMPHASH=5236B60CA9E9C7C488B095590B9ED944'\ncondition: sel", []string{hashes, "SHA1=00,IMPHASH=5236b60ca9e9c7c488b095590b9ed944"}, true},
		{"hash needle off by one", "sel:\n    Hashes|contains: 'IMPHASH=5236B60CA9E9C7C488B095590B9ED944'\ncondition: sel", []string{hashes, "SHA1=00,IMPHASH=5236b60ca9e9c7c488b095590b9ed945"}, false},
		{"filter holds", filtered, []string{img, `C:\Windows\System32\cmd.exe`, cmd, "sekurlsa::logonpasswords"}, false},
		{"filter does not hold", filtered, []string{img, `C:\Temp\cmd.exe`, cmd, "sekurlsa::logonpasswords"}, true},
		{"filter field absent", filtered, []string{cmd, "sekurlsa::logonpasswords"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "title: t\nid: t1\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    " +
				strings.ReplaceAll(tc.detection, "\n", "\n    ") + "\n"
			rules, err := sigma.ParseRule([]byte(src), "t.yml")
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, src)
			}
			rs, errs := sigma.Compile(rules, sigma.Options{})
			if len(errs) > 0 {
				t.Fatalf("compile: %v", errs[0])
			}
			ev := &event.Event{}
			ev.Set("event.module", "sysmon")
			ev.Set("event.code", "1")
			for i := 0; i+1 < len(tc.event); i += 2 {
				ev.Set(tc.event[i], tc.event[i+1])
			}
			if got := len(rs.Detect(ev, nil)) > 0; got != tc.want {
				t.Errorf("Detect = %v, want %v", got, tc.want)
			}
			if direct := len(rs.MatchDirect(ev)) > 0; direct != tc.want {
				t.Errorf("direct evaluation = %v, want %v", direct, tc.want)
			}
		})
	}
}

// TestStridedGramsEveryAlignment checks that a field whose needles are
// all long, scanned in steps of several bytes, finds a needle wherever it
// starts, and only the needle.
func TestStridedGramsEveryAlignment(t *testing.T) {
	const needle = "IMPHASH=5236B60CA9E9C7C488B095590B9ED944"
	src := "title: t\nid: t1\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n" +
		"    sel:\n        Hashes|contains:\n            - '" + needle + "'\n            - 'SHA256=4E24017EAB02A3CADB0BC306ADA9589168840927'\n    condition: sel\n"
	rules, err := sigma.ParseRule([]byte(src), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := sigma.Compile(rules, sigma.Options{})
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	for pad := 0; pad < 48; pad++ {
		for _, tc := range []struct {
			value string
			want  bool
		}{
			{strings.Repeat("0", pad) + strings.ToLower(needle) + ",MD5=00", true},
			{strings.Repeat("0", pad) + needle[:len(needle)-1] + "5", false},
			{strings.Repeat("0", pad) + needle[:20], false},
		} {
			ev := &event.Event{}
			ev.Set("event.module", "sysmon")
			ev.Set("event.code", "1")
			ev.Set("winlog.event_data.Hashes", tc.value)
			if got := len(rs.Detect(ev, nil)) > 0; got != tc.want {
				t.Errorf("Hashes %q: match = %v, want %v", tc.value, got, tc.want)
			}
		}
	}
}

// TestDetectBatchMatchesDetect: DetectBatch appends exactly what Detect
// appends event by event, in the same order, whatever the batch size —
// read-ahead windows split anywhere, batches shorter than a window.
func TestDetectBatchMatchesDetect(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	events := sigmabench.Generate(sigmabench.Config{Events: 1500, Seed: 12, Positives: 0.1, Rules: pc})
	one := sigma.NewEngine(sigma.Options{})
	one.Load(pc)
	var want []string
	for _, ev := range events {
		for _, a := range one.Detect(ev, nil) {
			want = append(want, a.RuleID+"@"+a.EventIDs[0])
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d alerts: the comparison would say little", len(want))
	}
	for _, size := range []int{1, 3, 8, 9, 64, len(events)} {
		batch := sigma.NewEngine(sigma.Options{})
		batch.Load(pc)
		var got []string
		out := []alert.Alert{{RuleID: "kept"}} // DetectBatch appends
		for i := 0; i < len(events); i += size {
			out = batch.DetectBatch(events[i:min(i+size, len(events))], out)
		}
		if out[0].RuleID != "kept" {
			t.Fatalf("batch size %d: DetectBatch overwrote what out held", size)
		}
		for _, a := range out[1:] {
			got = append(got, a.RuleID+"@"+a.EventIDs[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("batch size %d: %d alerts differ from Detect's %d", size, len(got), len(want))
		}
	}
}
