package respond

import (
	"regexp"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		when string
		edit func(a *alert.Alert)
		want bool
	}{
		{"empty matches all", "{}", nil, true},
		{"null when matches all", "", func(a *alert.Alert) { a.TLP = tlp.Red }, true},
		{"member in list", "{members: [nl-ncsc, be-ccb]}", nil, true},
		{"member not in list", "{members: [nl-ncsc]}", nil, false},
		{"detector", "{detectors: ioc}", nil, false},
		{"rule glob", "{rules: ['proc_creation_win_*']}", nil, true},
		{"rule glob miss", "{rules: ['net_*', 'file_*']}", nil, false},
		{"rule glob question mark", "{rules: ['proc?creation*enc']}", nil, true},
		{"severity at least high", "{severity: high}", nil, true},
		{"severity at least critical", "{severity: critical}", nil, false},
		{"technique prefix", "{techniques: [T1059]}", nil, true},
		{"technique exact sub", "{techniques: [t1059.001]}", nil, true},
		{"technique other sub", "{techniques: [T1059.003]}", nil, false},
		{"technique no false prefix", "{techniques: [T1059]}", func(a *alert.Alert) { a.Techniques = []string{"T10590"} }, false},
		{"tlp at most amber", "{tlp: amber}", nil, true},
		{"tlp at most green", "{tlp: green}", nil, false},
		{"tlp red alert, no condition", "{}", func(a *alert.Alert) { a.TLP = tlp.Red }, true},
		{"observable type", "{observable_types: [domain-name]}", nil, true},
		{"observable type miss", "{observable_types: [url]}", nil, false},
		{"field equals through list", "{fields: [{path: observables.role, equals: query}]}", nil, true},
		{"field equals miss", "{fields: [{path: observables.role, equals: file}]}", nil, false},
		{"field in", "{fields: [{path: member, in: [x, be-ccb]}]}", nil, true},
		{"field glob", "{fields: [{path: rule_title, glob: '*PowerShell'}]}", nil, true},
		{"field number", "{fields: [{path: count, equals: 1}]}", nil, true},
		{"field missing path", "{fields: [{path: cross_border, equals: 'true'}]}", nil, false},
		{"field all must hold", "{fields: [{path: member, equals: be-ccb}, {path: detector, equals: ml}]}", nil, false},
		{"all conditions", "{members: be-ccb, detectors: sigma, severity: medium, techniques: T1059, tlp: red}", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: x\nwhen: " + tt.when + "\nactions: [raise_to_hub]\n"
			pbs, errs := parsePlaybooks("m.yaml", []byte(src))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			a := testAlert("a1")
			if tt.edit != nil {
				tt.edit(&a)
			}
			if got := pbs[0].when.matches(&alertView{a: &a}); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*.exe", "x.exe.bak", false},
		{"*.exe*", "x.exe.bak", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"**a", "bba", true},
		{"*a*b*c*", "xaybzc", true},
		{"*a*b*c*", "xaycbz", false},
		{"[a]", "[a]", true}, // no character classes: brackets are literal
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// FuzzGlob checks the glob matcher against a regular expression built
// from the same pattern.
func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "axxbyc")
	f.Add("*", "")
	f.Add("**?*", "ab")
	f.Add("x*y*z", "xyyz")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for i := 0; i < len(pattern); i++ {
			switch c := pattern[i]; c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		ascii := true
		for i := 0; i < len(pattern+s); i++ {
			if (pattern + s)[i] >= 0x80 {
				ascii = false
			}
		}
		got := glob(pattern, s)
		if !ascii {
			return // '?' is one byte here and one rune in regexp; only check for panics
		}
		if want := regexp.MustCompile(re.String()).MatchString(s); got != want {
			t.Fatalf("glob(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}
