package intel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir returns a folder of the read-only test data beside the
// repository, skipping the test when it is absent.
func sharedDir(t testing.TB, parts ...string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(append([]string{filepath.Dir(dir), "shared"}, parts...)...)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("test data %s absent: %v", p, err)
			}
			return p
		}
		if dir == filepath.Dir(dir) {
			t.Skip("repository root (go.mod) not found above the working directory")
		}
	}
}

// readBundles reads every STIX bundle under dir, returning each file's
// objects.
func readBundles(t testing.TB, dir string) map[string][]json.RawMessage {
	t.Helper()
	out := map[string][]json.RawMessage{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var bundle struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[filepath.Base(path)] = bundle.Objects
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
