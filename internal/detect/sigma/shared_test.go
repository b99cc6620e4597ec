package sigma_test

import (
	"os"
	"path/filepath"
	"testing"
)

// shared finds the read-only test data folder beside the repository root.
func shared(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(filepath.Join(s, "sigma")); err != nil {
				tb.Skipf("test data %s is absent", filepath.Join(s, "sigma"))
			}
			return s
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root not found: cannot locate shared test data")
		}
		dir = parent
	}
}
