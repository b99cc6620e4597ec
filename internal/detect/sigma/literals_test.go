package sigma

import (
	"regexp/syntax"
	"slices"
	"testing"
)

// TestRequiredLiterals checks which literals prefilter a regular
// expression: every match must contain one of them, and among the
// candidates the longest, then the rarest, are chosen.
func TestRequiredLiterals(t *testing.T) {
	cases := []struct {
		re   string
		want []string // nil: no prefilter
	}{
		{`Invoke-Mimikatz`, []string{"invoke-mimikatz"}},
		{`\s-\s*<`, []string{"<"}},
		{`-enc\s+[A-Za-z0-9+/=]{20,}`, []string{"-enc"}},
		{`(foo|barbaz)\d+`, []string{"foo", "barbaz"}},
		{`a|\d`, nil},
		{`x*`, nil},
		{`(?:abc){2}def`, []string{"abcabc"}},
	}
	for _, tc := range cases {
		re, err := syntax.Parse(tc.re, syntax.Perl)
		if err != nil {
			t.Fatalf("%s: %v", tc.re, err)
		}
		got, ok := requiredLiterals(re.Simplify())
		if !ok {
			got = nil
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", tc.re, got, tc.want)
		}
	}
}
