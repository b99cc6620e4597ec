package tlp

import "testing"

// FuzzParse checks that a level that parses prints as a name that parses
// back to the same level.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"TLP:AMBER+STRICT", "amber_strict", "tlp:white", "TLP-RED", " green ", "CLEAR", "TLP:", "amber+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(l.String())
		if err != nil || back != l {
			t.Fatalf("Parse(%q) = %v, printed %q, read back %v, %v", s, l, l.String(), back, err)
		}
	})
}
