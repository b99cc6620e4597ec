package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFederationValidation(t *testing.T) {
	certs := Federation{Node: "de-node", Cert: "n.crt", Key: "n.key", CA: "ca.crt"}
	with := func(edit func(*Federation)) Federation {
		f := certs
		edit(&f)
		return f
	}
	tests := []struct {
		name string
		fed  Federation
		nats string
		want string // "" for valid
	}{
		{"off", Federation{}, "", ""},
		{"hub", with(func(f *Federation) { f.Role = "hub"; f.LeafListen = "0.0.0.0:7422" }), "", ""},
		{"member", with(func(f *Federation) {
			f.Role = "member"
			f.Hub = "tls://hub:7422"
			f.HubName = "hub"
			f.SecretFile = "s"
		}), "", ""},
		{"unknown role", with(func(f *Federation) { f.Role = "spoke" }), "", `"hub" or "member"`},
		{"member without certificates", Federation{Role: "member", Node: "de-node", Hub: "tls://hub:7422", HubName: "hub", SecretFile: "s"}, "", "needs cert, key, ca"},
		{"member without hub", with(func(f *Federation) { f.Role = "member"; f.SecretFile = "s" }), "", "needs hub, hub_name"},
		{"member without secret", with(func(f *Federation) { f.Role = "member"; f.Hub = "tls://hub:7422"; f.HubName = "hub" }), "", "needs secret_file"},
		{"hub without listener", with(func(f *Federation) { f.Role = "hub" }), "", "needs leaf_listen"},
		{"hub under a hub", with(func(f *Federation) {
			f.Role, f.LeafListen, f.Hub, f.HubName = "hub", ":7422", "tls://eu-hub:7422", "eu-hub"
		}), "", ""},
		{"hub with half an upstream", with(func(f *Federation) { f.Role, f.LeafListen, f.Hub = "hub", ":7422", "tls://eu-hub:7422" }), "", "needs hub_name"},
		{"hub with the secret", with(func(f *Federation) { f.Role = "hub"; f.LeafListen = ":7422"; f.SecretFile = "s" }), "", "must not hold"},
		{"external NATS", with(func(f *Federation) { f.Role = "hub"; f.LeafListen = ":7422" }), "nats://x:4222", "embedded NATS"},
	}
	for _, tt := range tests {
		c := Default()
		c.Federation, c.NATSURL = tt.fed, tt.nats
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestFederationFromFileAndEnvironment: the block is read from the file,
// and XSOC_FEDERATION_<NAME> overrides its fields.
func TestFederationFromFileAndEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xsoc.yaml")
	os.WriteFile(path, []byte("federation:\n  role: member\n  node: de-node\n  hub: tls://hub:7422\n  hub_name: hub\n"), 0o600)
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XSOC_FEDERATION_NODE": "fr-node", "XSOC_FEDERATION_SECRET_FILE": "/s", "XSOC_WORKERS": "3"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	f := c.Federation
	if f.Role != "member" || f.Node != "fr-node" || f.Hub != "tls://hub:7422" || f.HubName != "hub" || f.SecretFile != "/s" || c.Workers != 3 {
		t.Errorf("config %+v", c)
	}
	env = map[string]string{"XSOC_SYSLOG": "x"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Error("XSOC_SYSLOG accepted")
	}
}

func TestLimitsFromFileAndEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xsoc.yaml")
	os.WriteFile(path, []byte("limits:\n  ingest_max_body: 16MiB\n  memory_budget: 268435456\n"), 0o600)
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XSOC_LIMITS_KEY_MEMORY": "64 MiB"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.IngestMaxBody != 16<<20 || l.MemoryBudget != 256<<20 || l.KeyMemory != 64<<20 || l.IngestConcurrency != 256 {
		t.Errorf("limits %+v", l)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c.Limits.KeyMemory = 8 << 20
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "key_memory 8MiB") {
		t.Errorf("key memory under the body size: %v", err)
	}
	env = map[string]string{"XSOC_LIMITS_MEMORY_BUDGET": "lots"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Error("a size of \"lots\" accepted")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "512": 512, "4KiB": 4096, "64MiB": 64 << 20, "1 GiB": 1 << 30, "2GB": 2 << 30, "10B": 10} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1TiB", "x", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(64 << 20).String(); s != "64MiB" {
		t.Errorf("String = %s", s)
	}
}

func TestLimitsRatesAndRangeFromEnvironment(t *testing.T) {
	c := Default()
	env := map[string]string{"XSOC_LIMITS_API_RATE": "2.5", "XSOC_LIMITS_MAX_RANGE": "72h"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Limits.APIRate != 2.5 || c.Limits.MaxRange != 72*time.Hour {
		t.Errorf("limits %+v", c.Limits)
	}
	c.Limits.APIBurst = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "api_burst") {
		t.Errorf("burst 0 with a rate: %v", err)
	}
	env = map[string]string{"XSOC_LIMITS_MAX_RANGE": "a month"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Error("a range of \"a month\" accepted")
	}
}

// TestIngestCompression: the setting takes s2, none or nothing (the
// default by bus), from the file or XSOC_INGEST_COMPRESSION, and refuses
// anything else with the allowed values.
func TestIngestCompression(t *testing.T) {
	tests := []struct {
		value string
		want  string // "" for valid
	}{
		{"", ""},
		{"s2", ""},
		{"none", ""},
		{"zstd", `"s2" or "none"`},
		{"S2", `"s2" or "none"`},
	}
	for _, tt := range tests {
		c := Default()
		env := map[string]string{"XSOC_INGEST_COMPRESSION": tt.value}
		if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" }); err != nil {
			t.Fatal(err)
		}
		if c.IngestCompression != tt.value {
			t.Errorf("%q: read %q from the environment", tt.value, c.IngestCompression)
		}
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%q: err = %v, want %q", tt.value, err, tt.want)
		}
	}
}
