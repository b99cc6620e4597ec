package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestAlertsListSorts lists a running node's alerts with --sort and
// --order, follows the "more:" line from page to page, and checks that a
// bad sort is refused with the allowed keys.
func TestAlertsListSorts(t *testing.T) {
	n, keys := startNode(t, "de-energie")
	key := keys["de-energie"]
	var batch []alert.Alert
	for i := range 7 {
		batch = append(batch, alert.Alert{Member: "de-energie", EventTime: time.Now(), Detector: "sigma",
			RuleID: fmt.Sprintf("r%d", i), RuleTitle: fmt.Sprintf("Rule %d", i), Severity: alert.Severity(i % 5),
			TLP: tlp.Amber, Key: fmt.Sprint(i), EventIDs: []string{fmt.Sprint(i)}})
	}
	if _, err := n.Alerts.Raise(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := mainExit(append(append([]string{"alerts", "list"}, args...), "--url", n.URL(), "--key", key), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	severities := listPages(t, run, []string{"--sort", "severity", "--order", "asc"}, "3", 4)
	want := "informational informational low low medium high critical"
	if got := strings.Join(severities, " "); got != want {
		t.Fatalf("severity ascending over pages: %s, want %s", got, want)
	}
	for _, bad := range [][]string{{"--sort", "rule"}, {"--order", "up"}} {
		_, errOut, code := run(bad...)
		if code == 0 || !strings.Contains(errOut, "400") {
			t.Errorf("alerts list %v: exit %d, %q; want a 400", bad, code, errOut)
		}
	}
	if _, errOut, _ := run("--sort", "rule"); !strings.Contains(errOut, "detected, last_seen, severity, count, status") {
		t.Errorf("a bad sort does not name the allowed keys: %q", errOut)
	}
}

// startNode opens and runs a node in a temporary directory with the
// members ids (in DE, energy sector) and returns it with their API keys;
// it stops when the test ends.
func startNode(t *testing.T, ids ...string) (*node.Node, map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = filepath.Join(t.TempDir(), "data"), "127.0.0.1:0"
	n, err := node.Open(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, id := range ids {
		_, key, err := n.Members.Add(ctx, member.Member{ID: id, Name: id, Country: "DE", Sector: "energy"})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		keys[id] = key
	}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n, keys
}

// TestIncidentsListSorts lists a running node's incidents with --sort,
// --order and --limit, follows the "more:" line from page to page, and
// checks that a bad sort is refused with the allowed keys.
func TestIncidentsListSorts(t *testing.T) {
	n, keys := startNode(t, "de-energie")
	key := keys["de-energie"]
	var batch []alert.Alert
	for i := range 5 {
		// One host each: every alert opens a local incident of its own.
		batch = append(batch, alert.Alert{Member: "de-energie", EventTime: time.Now(), Detector: "sigma",
			RuleID: fmt.Sprintf("r%d", i), RuleTitle: fmt.Sprintf("Rule %d", i), Severity: alert.Severity(i),
			TLP: tlp.Amber, Key: fmt.Sprint(i), EventIDs: []string{fmt.Sprint(i)},
			Observables: []alert.Observable{{Type: "host", Value: fmt.Sprintf("host-%d", i)}}})
	}
	raised, err := n.Alerts.Raise(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Correlator.Process(t.Context(), raised); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := mainExit(append(append([]string{"incidents", "list"}, args...), "--url", n.URL(), "--key", key), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	severities := listPages(t, run, []string{"--sort", "severity", "--order", "asc"}, "2", 3)
	want := "informational low medium high critical"
	if got := strings.Join(severities, " "); got != want {
		t.Fatalf("severity ascending over pages: %s, want %s", got, want)
	}
	if _, errOut, code := run("--sort", "rule"); code == 0 || !strings.Contains(errOut, "400") || !strings.Contains(errOut, "severity") {
		t.Errorf("incidents list --sort rule: exit %d, %q; want a 400 naming the allowed keys", code, errOut)
	}
}

// listPages runs a list command page by page, limit rows a page,
// following each page's "more:" line, and returns the column-th field
// of every row.
func listPages(t *testing.T, run func(...string) (string, string, int), args []string, limit string, column int) []string {
	t.Helper()
	var values []string
	args = append(args, "--limit", limit)
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("paging does not end: %v", values)
		}
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("list %v: exit %d: %s", args, code, errOut)
		}
		var more string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if rest, ok := strings.CutPrefix(l, "more: "); ok {
				more = rest
				continue
			}
			values = append(values, strings.Fields(l)[column])
		}
		if more == "" {
			return values
		}
		args = append(strings.Fields(more), "--limit", limit)
	}
}
