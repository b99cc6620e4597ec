package sigma

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sharedDir finds the read-only test data folder: "shared" beside the
// repository root (the directory holding go.mod).
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(filepath.Join(shared, "sigma")); err != nil {
				t.Skipf("test data %s is absent", filepath.Join(shared, "sigma"))
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found: cannot locate shared test data")
		}
		dir = parent
	}
}

// corpusPlaceholders gives every placeholder used under dir a value, as an
// operator would in Options.Placeholders.
func corpusPlaceholders(t testing.TB, dir string) map[string][]string {
	ph := map[string][]string{}
	re := regexp.MustCompile(`%([A-Za-z0-9_-]+)%`)
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			ph[m[1]] = []string{"placeholder-" + strings.ToLower(m[1])}
		}
		return nil
	})
	return ph
}

// allowedUnsupported lists the constructs of the corpus xsoc reports as
// unsupported rather than loading, each with why. Every other load error
// fails the test.
var allowedUnsupported = map[string]string{}

func TestCorpusLoads(t *testing.T) {
	shared := sharedDir(t)
	for _, sub := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"} {
		t.Run(sub, func(t *testing.T) {
			dir := filepath.Join(shared, "sigma", sub)
			opts := Options{Placeholders: corpusPlaceholders(t, dir)}
			rules, errs := LoadDir(dir, opts)
			var bad []string
			unsup := map[string]int{}
			for _, e := range errs {
				if e.Unsupported {
					unsup[e.Reason]++
					continue
				}
				bad = append(bad, e.Error())
			}
			sort.Strings(bad)
			for _, b := range bad {
				t.Errorf("load error: %s", b)
			}
			t.Logf("%s: %d rules loaded, %d errors, %d unsupported", sub, len(rules), len(bad), len(errs)-len(bad))
			for r, n := range unsup {
				t.Logf("  unsupported x%d: %s", n, r)
			}
		})
	}
}
