package main

import (
	"bytes"
	"flag"
	"os"
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
		{[]string{"members", "frob"}, 2, `xsoc members: unknown subcommand "frob"`},
		{[]string{"incidents", "frob"}, 2, `xsoc incidents: unknown subcommand "frob"`},
		{[]string{"intel", "frob"}, 2, `xsoc intel: unknown subcommand "frob"`},
		{[]string{"members", "add", "--data-dir", dir, "--id", "x2", "--name", "X", "--sector", "energy"}, 1, "country is required"},
		{[]string{"members", "add", "--data-dir", dir, "--id", "x3", "--name", "X", "--country", "DE", "--sector", "energy", "--client-of", "nobody"}, 1, `client of "nobody": no such member`},
		{[]string{"incidents", "show", "--key", "k"}, 2, "wrong number of arguments"},
		{[]string{"alerts", "ack", "--key", "k"}, 2, "takes one alert id"},
		{[]string{"incidents", "--key", "k", "--url", "127.0.0.1:8080", "list"}, 1, "want the node's URL with its scheme"},
		{[]string{"incidents", "list", "--help"}, 2, "-cross-border"},
		{[]string{"intel", "import", "--data-dir", dir, "--member", "x1", "/work/shared/misp/events/sharing_groups.json"}, 1, "the file is a list of 2 MISP sharing groups"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := mainExit(tt.args, &out, &out)
		if code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("xsoc %v: exit %d, output %q; want exit %d and %q", tt.args, code, out.String(), tt.code, tt.want)
		}
	}
}

// TestReadOnlyCommandsCreateNothing: commands that only read a node's
// store, ask for help or name no subcommand leave no database and no
// directory behind.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"members", "list", "--data-dir", dir},
		{"members", "rotate-key", "x1", "--data-dir", dir},
		{"intel", "collections", "--data-dir", dir},
		{"intel", "export-misp", "--member", "m", "--data-dir", dir, filepath.Join(dir, "out")},
		{"intel", "--help"},
		{"intel", "import", "--help"},
		{"members", "--data-dir", dir},
		{"members", "nosuch", "--data-dir", dir},
	} {
		var out bytes.Buffer
		code := mainExit(args, &out, &out)
		if code == 0 {
			t.Errorf("xsoc %v: exit 0", args)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("xsoc %v created %s:\n%s", args, dir, out.String())
		}
	}
	var out bytes.Buffer
	mainExit([]string{"members", "list", "--data-dir", dir}, &out, &out)
	if !strings.Contains(out.String(), "no node data in "+dir) {
		t.Errorf("members list without a store: %q", out.String())
	}
}

// TestSubcommandHelpListsItsOwnFlags: a subcommand's help names the flags
// it takes and none of its siblings'.
func TestSubcommandHelpListsItsOwnFlags(t *testing.T) {
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"incidents", "list", "-h"}, []string{"-cross-border", "-status", "-url"}, []string{"-title", "-comment"}},
		{[]string{"incidents", "update", "-h"}, []string{"-title", "-comment"}, []string{"-cross-border", "-kind"}},
		{[]string{"members", "list", "-h"}, []string{"-data-dir", "-json"}, []string{"-listen", "-federation-role", "-country"}},
		{[]string{"intel", "export-misp", "-h"}, []string{"-member", "-data-dir"}, []string{"-taxii", "-token", "-listen"}},
		{[]string{"alerts", "metrics", "-h"}, []string{"-from", "-to"}, []string{"-severity", "-cursor"}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		mainExit(tt.args, &out, &out)
		for _, w := range tt.want {
			if !strings.Contains(out.String(), "  "+w+" ") && !strings.Contains(out.String(), "  "+w+"\n") {
				t.Errorf("xsoc %v: help lacks %s:\n%s", tt.args, w, out.String())
			}
		}
		for _, n := range tt.not {
			if strings.Contains(out.String(), "  "+n+" ") || strings.Contains(out.String(), "  "+n+"\n") {
				t.Errorf("xsoc %v: help lists %s:\n%s", tt.args, n, out.String())
			}
		}
	}
}

func TestSplitSubTakesFlagsBeforeTheSubcommand(t *testing.T) {
	tests := []struct {
		args []string
		sub  string
		rest string
	}{
		{[]string{"list", "--key", "K"}, "list", "--key K"},
		{[]string{"--key", "K", "list", "--json"}, "list", "--key K --json"},
		{[]string{"--json", "show", "ID"}, "show", "--json ID"},
		{[]string{"--key=K", "show", "ID"}, "show", "--key=K ID"},
		{[]string{"--key", "K"}, "", "--key K"},
	}
	for _, tt := range tests {
		sub, rest := splitSub(tt.args, "json")
		if sub != tt.sub || strings.Join(rest, " ") != tt.rest {
			t.Errorf("splitSub(%v) = %q, %v; want %q, %s", tt.args, sub, rest, tt.sub, tt.rest)
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
