package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
