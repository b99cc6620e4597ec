package federation_test

import (
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/federation"
)

// TestPushable covers which observables of an alert leave as early
// warnings: external values do; a running process's hash only when
// intelligence raised the alert, since behavioural rules fire on system
// binaries whose hashes name no threat.
func TestPushable(t *testing.T) {
	const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	procHash := alert.Observable{Type: "file:hashes.'SHA-256'", Value: sha, Role: "process"}
	fileHash := alert.Observable{Type: "file:hashes.'SHA-256'", Value: sha, Role: "file"}
	domain := alert.Observable{Type: "domain-name", Value: "c2.example.org", Role: "query"}
	private := alert.Observable{Type: "ipv4-addr", Value: "10.1.2.3", Role: "destination"}
	host := alert.Observable{Type: "domain-name", Value: "ws-0042.example.org", Role: "host"}
	cases := []struct {
		detector string
		o        alert.Observable
		want     bool
	}{
		{"sigma", procHash, false},
		{"ml-anomaly", procHash, false},
		{"ioc", procHash, true},
		{"stix-pattern", procHash, true},
		{"sigma", fileHash, true},
		{"sigma", domain, true},
		{"ioc", domain, true},
		{"ioc", private, false},
		{"sigma", host, false},
	}
	for _, tc := range cases {
		a := &alert.Alert{Detector: tc.detector}
		if got := federation.Pushable(a, tc.o); got != tc.want {
			t.Errorf("%s alert, %s %s (%s): pushable %v, want %v", tc.detector, tc.o.Type, tc.o.Value, tc.o.Role, got, tc.want)
		}
	}
}
