package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadFile checks that any configuration file is read or refused with
// an error, and that validating what was read never panics.
func FuzzLoadFile(f *testing.F) {
	for _, s := range []string{
		"data_dir: /var/lib/xsoc\nworkers: 4\nsync: always\n",
		"limits:\n  ingest_max_body: 64MiB\n  memory_budget: 1GiB\n  key_memory: 256MiB\n",
		"syslog:\n  - member: m1\n    udp: 127.0.0.1:5514\n",
		"taxii_feeds:\n  - name: f\n    url: https://x/taxii2/api/\n    collection: c\n    member: m1\n    interval: 5m\n",
		"sigma_placeholders:\n  Admins: [adm_*]\n",
		"federation:\n  role: member\n  node: de-node\n",
		"unknown_key: 1\n", "", "[", "workers: many\n",
	} {
		f.Add(s)
	}
	path := filepath.Join(f.TempDir(), "xsoc.yml")
	f.Fuzz(func(t *testing.T, data string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		if err := c.LoadFile(path); err != nil {
			return
		}
		c.Validate()
	})
}

// FuzzParseSize checks that a size that parses prints as a size that
// parses to the same number of bytes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64MiB", "1GiB", "512KiB", "10MB", "123", "0B", " 2 GiB ", "-1", "9223372036854775807GiB", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := ParseSize(s)
		if err != nil {
			return
		}
		if z < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, z)
		}
		back, err := ParseSize(z.String())
		if err != nil || back != z {
			t.Fatalf("ParseSize(%q) = %d, printed %q, read back %d, %v", s, z, z.String(), back, err)
		}
	})
}
