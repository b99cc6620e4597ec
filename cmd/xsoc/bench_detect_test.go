package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchSigmaReportsFreshAndFromMemory runs "xsoc bench sigma" on a
// small rule directory and an events file: one row per rule count, with
// both rates measured and the planted event matched.
func TestBenchSigmaReportsFreshAndFromMemory(t *testing.T) {
	dir := t.TempDir()
	rule := `title: Whoami
id: 8d3e2b1a-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\whoami.exe'}
  condition: sel
level: medium
`
	if err := os.WriteFile(filepath.Join(dir, "whoami.yml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.ndjson")
	lines := `{"event":{"category":"process","type":"start"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1},"process":{"executable":"C:\\Windows\\System32\\whoami.exe"}}
{"event":{"category":"process","type":"start"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1},"process":{"executable":"C:\\Windows\\notepad.exe"}}
`
	if err := os.WriteFile(events, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := mainExit([]string{"bench", "sigma", "--rules", dir, "--events", events, "--duration", "20ms"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	// rules, fresh, from memory, events/s, allocs, matched events, alerts.
	row := regexp.MustCompile(`(?m)^\s+1\s+([1-9]\d*)\s+([1-9]\d*)\s+([1-9]\d*)\s+[\d.]+\s+1\s+1\s*$`)
	if !row.MatchString(out.String()) {
		t.Errorf("no row for 1 rule with both rates and 1 matched event:\n%s", out.String())
	}

	if err := os.WriteFile(events, []byte(lines+"\n<13>not json\n{\"broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := mainExit([]string{"bench", "sigma", "--rules", dir, "--events", events}, &out, &out); code != 1 || !strings.Contains(out.String(), "events.ndjson:5:") {
		t.Errorf("bad line: exit %d, output %q; want exit 1 naming line 5", code, out.String())
	}
}
