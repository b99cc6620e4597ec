package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUsersCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("a password of some length\n"), 0o600)
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := mainExit(append(args, "--data-dir", dir), &out, &out)
		return code, out.String()
	}
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"members", "add", "--id", "fr-cert", "--name", "CERT-FR", "--country", "FR", "--sector", "public-administration"}, 0, "added"},
		{[]string{"users", "add", "--name", "alice@fr-cert", "--member", "fr-cert", "--role", "analyst"}, 0, "password (shown once, store it now): "},
		{[]string{"users", "add", "--name", "bob", "--member", "nobody", "--role", "viewer"}, 1, "no such member"},
		{[]string{"users", "add", "--name", "ops", "--role", "platform-admin", "--password-file", pwFile}, 0, "platform-admin of the platform"},
		{[]string{"users", "add", "--name", "eve", "--member", "fr-cert", "--role", "root"}, 1, "unknown role"},
		{[]string{"users", "add", "--name", "alice@fr-cert", "--member", "fr-cert", "--role", "viewer"}, 1, "already exists"},
		{[]string{"users", "passwd", "alice@fr-cert", "--password-file", pwFile}, 0, "sessions are ended"},
		{[]string{"users", "disable", "alice@fr-cert"}, 0, "user alice@fr-cert disabled"},
		{[]string{"users", "list"}, 0, "alice@fr-cert  fr-cert  analyst"},
		{[]string{"users", "list", "--json", "--member", "fr-cert"}, 0, `"disabled": "`},
		{[]string{"users", "enable", "nobody"}, 1, "no such user"},
		{[]string{"users"}, 2, "usage: xsoc users"},
	}
	for _, s := range steps {
		code, out := run(s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Errorf("xsoc %v: exit %d, output %q; want exit %d and %q", s.args, code, out, s.code, s.want)
		}
	}
	_, out := run("users", "list")
	if !regexp.MustCompile(`(?m)^ops +- +platform-admin .* active$`).MatchString(out) {
		t.Errorf("users list:\n%s", out)
	}
}
