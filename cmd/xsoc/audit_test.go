package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/node"
)

// TestMemberCommandsAreAudited: members add, rotate-key and set-tlp run on
// the store directly and leave an audit entry naming the local user.
func TestMemberCommandsAreAudited(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"members", "add", "--data-dir", dir, "--id", "de-energie", "--name", "Energie", "--country", "DE", "--sector", "energy"},
		{"members", "rotate-key", "--data-dir", dir, "de-energie"},
		{"members", "set-tlp", "--data-dir", dir, "de-energie", "green"},
	} {
		var out bytes.Buffer
		if code := mainExit(args, &out, &out); code != 0 {
			t.Fatalf("xsoc %v: exit %d: %s", args, code, out.String())
		}
	}
	cfg := config.Default()
	cfg.DataDir = dir
	db, err := node.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := audit.New(db).List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Via != "cli" || !strings.Contains(e.Actor, "@") || e.Target != "de-energie" {
			t.Errorf("entry %+v", e)
		}
		got = append(got, e.Action+" "+e.Detail)
	}
	want := "POST members/{id}/alert-tlp TLP:GREEN|POST members/{id}/rotate-key |POST members "
	if strings.Join(got, "|") != want {
		t.Errorf("entries %q, want %q", strings.Join(got, "|"), want)
	}
}
