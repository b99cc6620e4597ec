package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestBenchHuntSmall runs xsoc bench hunt on a small day on both engines
// (real PostgreSQL): every query must give the same result on each.
func TestBenchHuntSmall(t *testing.T) {
	backend := "both"
	if os.Getenv("XSOC_TEST_POSTGRES") == "skip" {
		backend = "embedded"
	}
	var out, errs bytes.Buffer
	if err := runBench([]string{"hunt", "--events", "20000", "--backend", backend, "--runs", "1", "--dir", t.TempDir()}, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	results := map[string]map[string]string{} // query → backend → result
	for _, q := range huntQueries(huntDay(), 20000) {
		results[q.name] = map[string]string{}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		for name := range results {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), name)
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			if len(f) < 4 {
				t.Fatalf("short line %q", line)
			}
			results[name][f[0]] = strings.Join(f[1:len(f)-2], " ")
		}
	}
	for name, by := range results {
		if len(by) != len(strings.Split(strings.ReplaceAll(backend, "both", "embedded postgres"), " ")) {
			t.Errorf("%s: results %v\n%s", name, by, out.String())
			continue
		}
		if by["postgres"] != "" && by["postgres"] != by["embedded"] {
			t.Errorf("%s: embedded %q, postgres %q", name, by["embedded"], by["postgres"])
		}
		if strings.HasPrefix(by["embedded"], "refused") || strings.HasPrefix(by["embedded"], "0 ") {
			t.Errorf("%s: %q", name, by["embedded"])
		}
	}
	for _, want := range []string{"eq rare hash (search)  embedded  5 events", "count, whole day  embedded  20000",
		"one minute, no filter (search)  embedded  14 events"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
