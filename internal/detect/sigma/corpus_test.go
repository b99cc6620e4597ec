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

// TestCorpusLoads loads the SigmaHQ corpus (rules, emerging threats,
// threat hunting, placeholder and compliance rules): every rule must parse
// and compile. The corpus uses no construct xsoc reports as unsupported,
// so any error fails the test.
func TestCorpusLoads(t *testing.T) {
	total := 0
	defer func() { t.Logf("corpus: %d rules loaded", total) }()
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
			total += len(rules)
			if len(errs) > len(bad) {
				t.Errorf("%d rules reported unsupported", len(errs)-len(bad))
			}
			t.Logf("%s: %d rules loaded, %d errors, %d unsupported", sub, len(rules), len(bad), len(errs)-len(bad))
			for r, n := range unsup {
				t.Logf("  unsupported x%d: %s", n, r)
			}
		})
	}
}

// TestCorpusUnsupported loads the rules SigmaHQ's own tooling cannot
// convert and the deprecated ones: each failure must be a clear reason,
// and legacy constructs must be flagged as unsupported.
func TestCorpusUnsupported(t *testing.T) {
	shared := sharedDir(t)
	for _, sub := range []string{"unsupported", "deprecated"} {
		t.Run(sub, func(t *testing.T) {
			rules, errs := LoadDir(filepath.Join(shared, "sigma", sub), Options{})
			reasons := Unsupported(errs)
			broken := 0
			for _, e := range errs {
				if e.Reason == "" || e.File == "" {
					t.Errorf("load error without file or reason: %+v", e)
				}
				if !e.Unsupported {
					broken++
					t.Logf("error: %s", e.Error())
				}
			}
			t.Logf("%s: %d rules loaded, %d unsupported, %d errors", sub, len(rules), len(errs)-broken, broken)
			if sub == "unsupported" {
				for _, want := range []string{"legacy timeframe aggregation", "legacy aggregation in condition (count, sum, near)", "legacy rule collection"} {
					if reasons[want] == 0 {
						t.Errorf("no rule reported as %q (got %v)", want, reasons)
					}
				}
			}
			for r, n := range reasons {
				t.Logf("  unsupported x%d: %s", n, r)
			}
		})
	}
}
