package sigma

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePlaceholders(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want map[string][]string
		err  string // substring of the error, with its line
	}{
		{"lists and single values", "Admins: [adm_*, root]\nDomainControllers: dc01\n",
			map[string][]string{"Admins": {"adm_*", "root"}, "DomainControllers": {"dc01"}}, ""},
		{"a pySigma pipeline's vars", "name: site\npriority: 10\nvars:\n  Admins:\n    - adm_*\ntransformations:\n  - type: field_name_prefix\n    prefix: x.\n",
			map[string][]string{"Admins": {"adm_*"}}, ""},
		{"a pipeline without vars", "name: site\ntransformations: []\n", map[string][]string{}, ""},
		{"empty file", "", map[string][]string{}, ""},
		{"not a mapping", "- a\n- b\n", nil, "p.yml:1: placeholders: want a mapping"},
		{"nested list", "Admins:\n  - [a, b]\n", nil, "p.yml:2: placeholder Admins must be a list of values"},
		{"no values", "Admins: []\n", nil, `p.yml:1: placeholder "Admins" has no values`},
		{"name with percent signs", "'%Admins%': [a]\n", nil, `p.yml:1: placeholder name "%Admins%"`},
		{"given twice", "A: [x]\nB: [y]\nA: [z]\n", nil, `p.yml:3: placeholder "A" is given twice`},
		{"YAML syntax", "A: [x\n", nil, "p.yml:1: YAML syntax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePlaceholders([]byte(c.src), "p.yml")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestPlaceholderValues checks the order: file, then each override, a
// name given later replacing the values given before.
func TestPlaceholderValues(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.yml")
	os.WriteFile(file, []byte("A: [file]\nB: [file]\n"), 0o600)
	got, err := PlaceholderValues(file, map[string][]string{"B": {"config"}, "C": {"config"}}, map[string][]string{"C": {"flag1", "flag2"}})
	want := map[string][]string{"A": {"file"}, "B": {"config"}, "C": {"flag1", "flag2"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if _, err := PlaceholderValues(filepath.Join(t.TempDir(), "absent.yml")); err == nil {
		t.Error("a missing file is no error")
	}
}
