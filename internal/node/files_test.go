package node

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDataFilesAreOwnerOnly: a node's data directory, its JetStream
// directory, the SQLite files and the operator key are the owner's alone,
// even under a permissive umask.
func TestDataFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	cfg := nodeConfig(t)
	n := startNode(t, cfg)
	if _, err := n.EnsureOperatorKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		"":             0o700,
		"jetstream":    0o700,
		"xsoc.db":      0o600,
		"xsoc.db-wal":  0o600,
		"operator.key": 0o600,
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(cfg.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%q has mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
}
