package correlate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
)

func TestGlobal(t *testing.T) {
	tests := []struct {
		typ, role, value string
		global           bool
	}{
		{"ipv4-addr", "destination", "203.0.113.9", true},
		{"ipv4-addr", "source", "10.1.2.3", false},
		{"ipv4-addr", "source", "127.0.0.1", false},
		{"ipv6-addr", "destination", "fe80::1", false},
		{"ipv4-addr", "destination", "198.51.100.0/24", true},
		{"ipv4-addr", "destination", "not-an-address", false},
		{"domain-name", "query", "evil.example", true},
		{"file:hashes.'SHA-256'", "file", strings.Repeat("ab", 32), true},
		{"host", "host", "web01", false},
		{"user-account", "user", "alice", false},
		{"domain-name", "host", "web01.corp.example", false},
		{"process", "", "powershell.exe", false},
		// Pseudonyms of public addresses, whatever their role.
		{"public-ipv4-addr", "source", "0f3a9c", true},
		{"public-ipv6-addr", "host", "0f3a9c", true},
	}
	for _, tt := range tests {
		if got := correlate.Global(alert.Observable{Type: tt.typ, Role: tt.role, Value: tt.value}); got != tt.global {
			t.Errorf("Global(%s, %s, %s) = %v", tt.typ, tt.role, tt.value, got)
		}
	}
}

func TestEvidenceNames(t *testing.T) {
	hosts, users := correlate.EvidenceNames([]string{
		`{"host.name":"WS042","user.name":"alice"}`,
		`not json`,
		`{"host.name":"ws042","process.name":"cmd.exe"}`,
		`{"user.name":"bob","host.name":"srv01"}`,
	})
	if !slices.Equal(hosts, []string{"WS042", "srv01"}) || !slices.Equal(users, []string{"alice", "bob"}) {
		t.Errorf("hosts %q, users %q", hosts, users)
	}
}
