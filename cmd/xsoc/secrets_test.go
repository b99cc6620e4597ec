package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpNeverPrintsSecrets: with every secret-carrying environment
// variable set, no command's or subcommand's -h shows its value, while the
// flags that read them are still listed.
func TestHelpNeverPrintsSecrets(t *testing.T) {
	const secret = "s3cr3t-must-not-show"
	for _, env := range []string{"XSOC_API_KEY", "XSOC_TAXII_TOKEN", "XSOC_TAXII_PASSWORD"} {
		t.Setenv(env, secret)
	}
	subs := []string{"", "list", "show", "add", "rotate-key", "set-tlp", "pull", "push", "import", "export-misp",
		"ingest", "pipeline", "sigma", "ioc", "validate", "test", "enable", "disable", "update", "ack", "close",
		"merge", "split", "significant", "metrics", "nis2", "ca", "cert", "secret", "passwd", "remove"}
	listed := map[string]bool{}
	for name := range commands() {
		for _, sub := range subs {
			args := []string{name, "-h"}
			if sub != "" {
				args = []string{name, sub, "-h"}
			}
			var out bytes.Buffer
			mainExit(args, &out, &out)
			if strings.Contains(out.String(), secret) {
				t.Errorf("xsoc %s prints a secret from the environment:\n%s", strings.Join(args, " "), out.String())
			}
			for _, flag := range []string{"-key", "-token", "-password"} {
				if strings.Contains(out.String(), "  "+flag+" ") || strings.Contains(out.String(), "  "+flag+"\n") {
					listed[flag] = true
				}
			}
		}
	}
	for _, flag := range []string{"-key", "-token", "-password"} {
		if !listed[flag] {
			t.Errorf("no help lists %s: the test no longer reaches the flags that read secrets", flag)
		}
	}
}

// TestSecretFlagReadsTheEnvironment: the environment gives the value when
// the flag is absent; the flag wins when given, even empty.
func TestSecretFlagReadsTheEnvironment(t *testing.T) {
	t.Setenv("XSOC_TEST_SECRET", "from-env")
	for _, tt := range []struct {
		args []string
		want string
	}{{nil, "from-env"}, {[]string{"--key", "from-flag"}, "from-flag"}, {[]string{"--key", ""}, ""}} {
		fs := newFlagSetForTest()
		get := secretFlag(fs, "key", "XSOC_TEST_SECRET", "a key")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if got := get(); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.args, got, tt.want)
		}
	}
}
