package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoFederation runs "xsoc demo --federation --exit" as a user
// would: a hub and four member nodes as separate processes, the scenario's
// two hours replayed in 18 s. The victims are hit minutes apart, a second
// or more here: as fast as the nodes take it (--speed 0), a node's
// detection falls behind its backlog and the warning may arrive after the
// next victim's contact, which is a race, not what the test asks. It
// requires a cross-border incident at the hub, a member node alerted by
// the early warning from the first victim's country, and no node left
// running afterwards.
func TestDemoFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five nodes and replays a whole scenario")
	}
	bin := buildXsoc(t)
	dataDir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(bin, "demo", "--federation", "--exit", "--speed", "400", "--data-dir", dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xsoc demo --federation: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`\*\*\* cross-border incident at the hub eu-hub after [0-9.]+s`).Match(out) {
		t.Errorf("no cross-border incident announced at the hub:\n%s", out)
	}
	// The national SOC's indicators are on its node only: the other
	// victims' nodes learn the campaign's infrastructure from its early
	// warning, which raises their alerts on it.
	if !regexp.MustCompile(`fr-node +fr-soc +\S+ \S+: detected with its own intel, pushed to the other member nodes`).Match(out) ||
		!regexp.MustCompile(`alerted at once, known from the cross-border warning from FR \(active here \S+ after FR detected it`).Match(out) {
		t.Errorf("the early warning's summary does not show the campaign detected at FR and another node alerted by its warning:\n%s", out)
	}
	m := regexp.MustCompile(`the hub holds (\d+) alerts, \d+ incidents, (\d+) cross-border`).FindSubmatch(out)
	if m == nil || string(m[1]) == "0" || string(m[2]) == "0" {
		t.Errorf("summary does not report the hub's alerts and cross-border incident:\n%s", out)
	}
	// Every node stopped with the demonstration.
	data, err := os.ReadFile(filepath.Join(dataDir, "federation", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]struct{ URL string }
	if err := json.Unmarshal(data, &keys); err != nil || len(keys) != 5 {
		t.Fatalf("keys.json: %v %s", err, data)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for name, k := range keys {
		if resp, err := client.Get(k.URL + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("node %s still serves at %s after the demonstration ended", name, k.URL)
		}
	}
}

// TestDemoFederationRefusesNodeFlags: with --federation the nodes get
// their configuration from the demonstration; node flags it would ignore
// are refused before anything starts.
func TestDemoFederationRefusesNodeFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--config", filepath.Join(dir, "xsoc.yaml")},
		{"--rules", dir, "--warninglists", dir},
		{"--playbooks", dir},
	} {
		var out bytes.Buffer
		args = append([]string{"demo", "--federation", "--exit", "--data-dir", dir}, args...)
		code := mainExit(args, &out, &out)
		if code != 1 || !strings.Contains(out.String(), "takes only --data-dir, not "+args[5]) {
			t.Errorf("xsoc %v: exit %d, %q; want exit 1 naming %s", args, code, out.String(), args[5])
		}
	}
}

// TestDemoFederationReportsFailure: a federation demo that cannot start
// exits 1 with the reason (its error was once dropped, exiting 0).
func TestDemoFederationReportsFailure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := mainExit([]string{"demo", "--federation", "--exit", "--data-dir", filepath.Join(file, "data")}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "not a directory") {
		t.Errorf("exit %d, %q; want exit 1 saying the data directory is not a directory", code, out.String())
	}
}
