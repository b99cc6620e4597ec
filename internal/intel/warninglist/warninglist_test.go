package warninglist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedDir returns the project's read-only test data folder, which lies
// beside the repository root (the folder holding go.mod).
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// loadReal loads the MISP warning lists of the shared test data, or skips.
func loadReal(t testing.TB) *Set {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "misp", "warninglists")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MISP warning lists not found at %s: %v", dir, err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRealLists(t *testing.T) {
	s := loadReal(t)
	if n := len(s.Names()); n < 100 {
		t.Fatalf("loaded %d lists, want the 136 of the test data", n)
	}
	tests := []struct {
		kind, value string
		want        string // a list that must be among the hits; "" for no hit
	}{
		{"ip-dst", "8.8.8.8", "List of known IPv4 public DNS resolvers"},
		{"ip", "10.1.2.3", "List of RFC 1918 CIDR blocks"},
		{"ipv4-addr", "::ffff:192.168.7.7", "List of RFC 1918 CIDR blocks"},
		{"ip-src|port", "172.16.5.4|443", "List of RFC 1918 CIDR blocks"},
		{"domain|ip", "xk3j9q-login-verify.top|8.8.8.8", "List of known IPv4 public DNS resolvers"},
		{"ipv6-addr", "2001:4860:4860::8888", "List of known IPv6 public DNS resolvers"},
		{"domain", "google.com", "Top 1000 websites from Cisco Umbrella"},
		{"domain", "GOOGLE.COM.", "Top 1000 websites from Cisco Umbrella"},
		{"hostname", "mail.google.com", "Top 10K most-used sites from Tranco"},
		{"domain-name", "www.google.ad", "List of known google domains"},
		{"url", "https://www.google.com:443/search?q=x", "Top 10K most-used sites from Tranco"},
		{"md5", "D41D8CD98F00B204E9800998ECF8427E", "List of known hashes for empty files"},
		{"email-src", "abuse@example.org", "Common contact e-mail addresses"},
		{"email", "someone@mailinator.com", "List of disposable email domains"},
		// Not listed.
		{"domain", "xk3j9q-login-verify.top", ""},
		{"hostname", "a.xk3j9q-login-verify.top", ""},
		{"ip-dst", "45.133.1.77", ""},
		{"sha256", strings.Repeat("7f", 32), ""},
		// A list applies only to its attribute types: google.com is not
		// an e-mail address, and 8.8.8.8 is not a hash.
		{"email-src", "google.com", ""},
		{"md5", "8.8.8.8", ""},
		{"ip-dst", "not an address", ""},
		{"", "8.8.8.8", ""},
	}
	for _, tt := range tests {
		all := s.CheckAll(tt.kind, tt.value)
		name, hit := s.Check(tt.kind, tt.value)
		if tt.want == "" {
			if hit || len(all) != 0 {
				t.Errorf("Check(%q, %q) = %q (all: %v), want no hit", tt.kind, tt.value, name, all)
			}
			continue
		}
		if !slices.Contains(all, tt.want) {
			t.Errorf("CheckAll(%q, %q) = %v, want it to include %q", tt.kind, tt.value, all, tt.want)
		}
		if !hit || len(all) == 0 || name != all[0] {
			t.Errorf("Check(%q, %q) = %q, %v; want the first of %v", tt.kind, tt.value, name, hit, all)
		}
	}
	// The regex lists compile with Go's RE2, but a few PCRE entries may not;
	// each skipped entry must say which list and why.
	for _, sk := range s.Skipped() {
		if !strings.Contains(sk, ":") {
			t.Errorf("skipped entry without a reason: %q", sk)
		}
	}
}

func TestListTypes(t *testing.T) {
	attrs := []string{"domain", "hostname", "url", "email-src", "ip-dst", "md5"}
	s, err := NewSet(
		List{Name: "exact", Type: TypeString, MatchingAttributes: attrs, List: []string{"Exact.Example", ".dotted.example", "d41d8cd98f00b204e9800998ecf8427e"}},
		List{Name: "hosts", Type: TypeHostname, MatchingAttributes: attrs, List: []string{"host.example."}},
		List{Name: "subs", Type: TypeSubstring, MatchingAttributes: attrs, List: []string{"tracker", "zz"}},
		List{Name: "nets", Type: TypeCIDR, MatchingAttributes: attrs, List: []string{"192.0.2.0/24", "2001:db8::1", "bogus/99"}},
		List{Name: "re", Type: TypeRegex, MatchingAttributes: attrs, List: []string{`/^noc@.*$/i`, `/(?<=x)y/`, `/a/x`}},
		List{Name: "onlyip", Type: TypeString, MatchingAttributes: []string{"ip-src"}, List: []string{"host.example"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, value, want string
	}{
		{"domain", "exact.example", "exact"},
		{"domain", "www.exact.example", ""},
		{"domain", "dotted.example", "exact"},
		{"domain", "a.dotted.example", "exact"},
		{"hostname", "host.example", "hosts"},
		{"hostname", "a.b.HOST.example.", "hosts"},
		{"hostname", "badhost.example", ""},
		{"url", "http://a.host.example/x", "hosts"},
		{"url", "http://user@[2001:db8::1]:8080/", "nets"},
		{"domain", "my-tracker.example", "subs"},
		{"domain", "buzz.example", "subs"},
		{"ip-dst", "192.0.2.200", "nets"},
		{"ip-dst", "2001:db8::1", "nets"},
		{"ip-dst", "2001:db8::2", ""},
		{"email-src", "NOC@corp.example", "re"},
		{"md5", "D41D8CD98F00B204E9800998ECF8427E", "exact"},
		{"ip-src", "host.example", "onlyip"},
	}
	for _, tt := range tests {
		name, hit := s.Check(tt.kind, tt.value)
		if name != tt.want || hit != (tt.want != "") {
			t.Errorf("Check(%q, %q) = %q, %v; want %q", tt.kind, tt.value, name, hit, tt.want)
		}
	}
	// The CIDR entry that does not parse and the regular expressions Go
	// cannot run are skipped, and said so.
	if got := len(s.Skipped()); got != 3 {
		t.Errorf("Skipped() = %q, want 3 entries", s.Skipped())
	}
}

func TestDefault(t *testing.T) {
	s := Default()
	if len(s.Skipped()) != 0 {
		t.Fatalf("built-in lists have unusable entries: %v", s.Skipped())
	}
	tests := []struct {
		value string
		want  string
	}{
		{"10.1.2.3", "Built-in: private networks (RFC 1918, RFC 4193)"},
		{"192.168.0.1", "Built-in: private networks (RFC 1918, RFC 4193)"},
		{"fd00::1", "Built-in: private networks (RFC 1918, RFC 4193)"},
		{"127.0.0.1", "Built-in: loopback and unspecified addresses"},
		{"::1", "Built-in: loopback and unspecified addresses"},
		{"169.254.1.1", "Built-in: link-local addresses"},
		{"fe80::1%eth0", "Built-in: link-local addresses"},
		{"239.1.1.1", "Built-in: multicast and broadcast addresses"},
		{"192.0.2.10", "Built-in: documentation ranges (RFC 5737, RFC 3849)"},
		{"2001:db8::5", "Built-in: documentation ranges (RFC 5737, RFC 3849)"},
		{"100.64.1.1", "Built-in: shared, benchmarking and reserved ranges (RFC 6598, RFC 2544, RFC 1112)"},
		{"8.8.8.8", ""},
		{"172.32.0.1", ""},
		{"2a00:1450::1", ""},
	}
	for _, tt := range tests {
		name, hit := s.Check("ip", tt.value)
		if name != tt.want || hit != (tt.want != "") {
			t.Errorf("Check(ip, %q) = %q, %v; want %q", tt.value, name, hit, tt.want)
		}
	}
	if _, hit := s.Check("domain", "10.1.2.3"); hit {
		t.Error("an address list matched a domain")
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"valid", `{"name":"n","type":"cidr","list":["10.0.0.0/8"],"matching_attributes":["ip-src"]}`, true},
		{"no name", `{"type":"cidr","list":[],"matching_attributes":["ip-src"]}`, false},
		{"unknown type", `{"name":"n","type":"glob","list":[],"matching_attributes":["ip-src"]}`, false},
		{"no attributes", `{"name":"n","type":"string","list":["a"]}`, false},
		{"not JSON", `{"name":`, false},
		{"list of numbers", `{"name":"n","type":"string","list":[1],"matching_attributes":["domain"]}`, false},
	}
	for _, tt := range tests {
		if _, err := ParseList([]byte(tt.doc)); (err == nil) != tt.ok {
			t.Errorf("%s: ParseList error = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); err == nil {
		t.Error("Load of a folder without lists succeeded")
	}
	bad := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bad, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "broken", "list.json"), []byte(`{"name":"x","type":"nope"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Load of a broken list: %v, want an error naming its file", err)
	}
}

// FuzzParseList checks that no list document makes parsing or compiling
// panic, and that a compiled set answers checks.
func FuzzParseList(f *testing.F) {
	f.Add([]byte(`{"name":"n","type":"cidr","list":["10.0.0.0/8","::1","x"],"matching_attributes":["ip-src"]}`), "ip-src", "10.1.1.1")
	f.Add([]byte(`{"name":"n","type":"regex","list":["/a(b/","/^x$/gi"],"matching_attributes":["domain"]}`), "domain", "X")
	f.Add([]byte(`{"name":"n","type":"substring","list":["","a","abc"],"matching_attributes":["url"]}`), "url", "http://abc/")
	f.Add([]byte(`{"name":"n","type":"hostname","list":[".","..a.."],"matching_attributes":["domain|ip"]}`), "domain|ip", "a|1.2.3.4")
	f.Fuzz(func(t *testing.T, doc []byte, kind, value string) {
		l, err := ParseList(doc)
		if err != nil {
			return
		}
		s, err := NewSet(l)
		if err != nil {
			return
		}
		name, hit := s.Check(kind, value)
		if hit != (name == l.Name) {
			t.Fatalf("Check = %q, %v with one list named %q", name, hit, l.Name)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	s := loadReal(b)
	queries := []struct{ kind, value string }{
		{"ip-dst", "8.8.8.8"}, {"ip-dst", "45.133.1.77"}, {"domain", "xk3j9q-login-verify.top"},
		{"domain", "google.com"}, {"url", "https://a.b.example.net/x"}, {"sha256", strings.Repeat("7f", 32)},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		s.Check(q.kind, q.value)
		i++
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(sharedDir(b), "misp", "warninglists")
	if _, err := os.Stat(dir); err != nil {
		b.Skip("MISP warning lists not found")
	}
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
