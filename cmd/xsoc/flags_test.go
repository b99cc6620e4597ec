package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestConfigPrecedence: defaults, then the file, then the environment,
// then flags given on the command line.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "xsoc.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nworkers: 3\nlog_level: debug\ndata_dir: /from/file\n"), 0o600)
	t.Setenv("XSOC_LOG_LEVEL", "warn")
	t.Setenv("XSOC_DATA_DIR", "/from/env")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	load := configFlags(fs)
	if err := parse(fs, []string{"--config", file, "--data-dir", "/from/flag", "--workers", "5"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" || cfg.LogLevel != "warn" || cfg.DataDir != "/from/flag" || cfg.Workers != 5 || cfg.Sync != "interval" {
		t.Errorf("cfg = %+v", cfg)
	}
}

// TestFederationFlags: the federation block follows the same precedence;
// a flag overrides the environment field by field.
func TestFederationFlags(t *testing.T) {
	t.Setenv("XSOC_FEDERATION_ROLE", "member")
	t.Setenv("XSOC_FEDERATION_NODE", "from-env")
	t.Setenv("XSOC_FEDERATION_HUB", "tls://hub:7422")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	load := configFlags(fs)
	if err := parse(fs, []string{"--federation-node", "de-node", "--federation-hub-name", "hub", "--federation-cert", "c",
		"--federation-key", "k", "--federation-ca", "ca", "--federation-secret", "s"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Federation
	if f.Role != "member" || f.Node != "de-node" || f.Hub != "tls://hub:7422" || f.HubName != "hub" || f.SecretFile != "s" || f.CA != "ca" {
		t.Errorf("federation %+v", f)
	}
}
