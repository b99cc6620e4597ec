package taxii

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestInteropOASISClient drives the server with the OASIS reference TAXII
// 2.1 client (Python taxii2-client): discovery, collections, add objects
// and status, paging with limit/next, manifest, added_after, versions, get
// and delete. testdata/interop/install.sh installs what it needs.
func TestInteropOASISClient(t *testing.T) {
	env := os.Environ()
	if p := os.Getenv("XSOC_TAXII2CLIENT_PATH"); p != "" {
		env = append(env, "PYTHONPATH="+p)
	}
	python, why := findPython(env)
	if python == "" {
		t.Skipf("the OASIS taxii2-client is not importable (%s): run internal/intel/taxii/testdata/interop/install.sh "+
			"or set XSOC_TAXII2CLIENT_PATH to its source", why)
	}
	e := newEnv(t, storetest.SQLite(t, intel.Schema(), Schema()), 0, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "interop", "check_taxii2client.py"),
		e.srv.URL+"/taxii2/", "cert-a", testMembers["cert-a"].key, e.coll)
	cmd.Env = env
	out, err := cmd.Output()
	var summary struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Posted int    `json:"posted"`
		Paged  int    `json:"paged"`
		Pages  int    `json:"pages"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); jerr != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("client run failed: %v\n%s\n%s", err, out, stderr)
	}
	if !summary.OK || err != nil {
		t.Fatalf("OASIS client: %s (%v)", summary.Error, err)
	}
	if summary.Posted != 5 || summary.Paged != 5 || summary.Pages != 3 {
		t.Fatalf("summary %+v: want 5 posted, 5 read in 3 pages of 2", summary)
	}
	t.Logf("OASIS taxii2-client (%s): %+v", python, summary)
}

// findPython returns the first Python 3 that can import taxii2client: the
// one named by XSOC_PYTHON, the one on PATH, then the system's (where
// install.sh puts the Debian dependencies). why says what went wrong when
// none can.
func findPython(env []string) (python, why string) {
	candidates := []string{os.Getenv("XSOC_PYTHON"), "python3", "/usr/bin/python3"}
	why = "no python3 found"
	for _, c := range candidates {
		if c == "" {
			continue
		}
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		probe := exec.Command(path, "-c", "import taxii2client.v21")
		probe.Env = env
		out, err := probe.CombinedOutput()
		if err == nil {
			return path, ""
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		why = path + ": " + lines[len(lines)-1]
	}
	return "", why
}
