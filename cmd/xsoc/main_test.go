package main

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := mainExit([]string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name, c := range commands() {
		if !strings.Contains(out.String(), name) || !strings.Contains(out.String(), c.summary) {
			t.Errorf("help does not list %s", name)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nosuch"}, 2, "unknown command"},
		{[]string{"members"}, 2, "usage: xsoc members"},
		{[]string{"members", "add", "--data-dir", dir, "--id", "x1", "--name", "X", "--country", "US", "--sector", "energy"}, 1, "not an EU member state"},
		{[]string{"members", "rotate-key", "--data-dir", dir, "nobody"}, 1, "no such member"},
		{[]string{"rules", "validate", filepath.Join(dir, "missing")}, 1, ""},
		{[]string{"alerts", "list", "--key", ""}, 1, "no API key"},
		{[]string{"federation"}, 2, "usage: xsoc federation"},
		{[]string{"federation", "cert", "--ca", dir}, 1, "--name NODE and --out DIR are required"},
		{[]string{"federation", "cert", "--ca", dir, "--name", "n", "--out", dir}, 1, "ca.crt"},
		{[]string{"serve", "--data-dir", dir, "--federation-role", "member", "--federation-node", "de-node"}, 1, "needs cert, key, ca, hub, hub_name, secret_file"},
		{[]string{"serve", "--data-dir", dir, "--federation-role", "spoke"}, 1, `"hub" or "member"`},
		{[]string{"scenario"}, 1, "--out DIR is required"},
		{[]string{"scenario", "--out", dir, "--profile", "week"}, 1, "unknown profile"},
		{[]string{"serve", "--sync", "sometimes", "--data-dir", dir}, 1, "sync must be"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := mainExit(tt.args, &out, &out)
		if code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("xsoc %v: exit %d, output %q; want exit %d and %q", tt.args, code, out.String(), tt.code, tt.want)
		}
	}
}

func TestParseAcceptsFlagsAfterArguments(t *testing.T) {
	fs := newFlagSetForTest()
	q := fs.Bool("q", false, "")
	n := fs.Int("n", 0, "")
	var out bytes.Buffer
	if err := parse(fs, []string{"dir", "-q", "--n", "3", "other", "--", "-literal"}, &out); err != nil {
		t.Fatal(err)
	}
	if !*q || *n != 3 || strings.Join(fs.Args(), " ") != "dir other -literal" {
		t.Errorf("q=%v n=%d args=%v", *q, *n, fs.Args())
	}
}

func newFlagSetForTest() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }
