package respond

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		typ, value       string
		wantTyp, wantVal string
		wantErr          string
	}{
		{"ipv4-addr", " 203.0.113.7 ", TypeIP, "203.0.113.7", ""},
		{"ip", "::ffff:203.0.113.7", TypeIP, "203.0.113.7", ""},
		{"ipv6-addr", "2001:DB8::1", TypeIP, "2001:db8::1", ""},
		{"ipv4-addr", "198.51.100.77/24", TypeCIDR, "198.51.100.0/24", ""},
		{"cidr", "198.51.100.7/32", TypeIP, "198.51.100.7", ""},
		{"cidr", "::ffff:10.0.0.0/104", TypeCIDR, "10.0.0.0/8", ""},
		{"ip", "fe80::1%eth0", "", "", "zoned"},
		{"ip", "300.1.1.1", "", "", "ip"},
		{"domain-name", "Evil.Example.", TypeDomain, "evil.example", ""},
		{"domain", "a_b.example", TypeDomain, "a_b.example", ""},
		{"domain", "com", "", "", "top-level"},
		{"domain", "-a.example", "", "", "starts or ends"},
		{"domain", "a..example", "", "", "label length"},
		{"domain", "évil.example", "", "", "punycode"},
		{"domain", "evil.example\nx CNAME .", "", "", "not allowed"},
		{"domain", "1.2.3.4", "", "", "not a domain"},
		{"url", "HTTP://Evil.Example/Path?q=1#frag", TypeURL, "http://evil.example/Path?q=1", ""},
		{"url", "https://[2001:db8::1]:8443/x", TypeURL, "https://[2001:db8::1]:8443/x", ""},
		{"url", "https://198.51.100.1/x", TypeURL, "https://198.51.100.1/x", ""},
		{"url", "ftp://evil.example/", "", "", "scheme"},
		{"url", "http://user:pw@evil.example/", "", "", "credentials"},
		{"url", `http://evil.example/"quoted"`, "", "", "percent-encode"},
		{"url", "http://evil.example/a b", "", "", "percent-encode"},
		{"file:hashes.'SHA-256'", strings.Repeat("AB", 32), TypeHash, strings.Repeat("ab", 32), ""},
		{"md5", strings.Repeat("0", 32), TypeHash, strings.Repeat("0", 32), ""},
		{"hash", strings.Repeat("g", 32), "", "", "hexadecimal"},
		{"hash", "abc", "", "", "length"},
		{"mac-addr", "00:11:22:33:44:55", "", "", "unsupported"},
	}
	for _, tt := range tests {
		typ, val, err := Normalize(tt.typ, tt.value)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Normalize(%q, %q) error = %v, want %q", tt.typ, tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || typ != tt.wantTyp || val != tt.wantVal {
			t.Errorf("Normalize(%q, %q) = %q, %q, %v; want %q, %q", tt.typ, tt.value, typ, val, err, tt.wantTyp, tt.wantVal)
		}
	}
}

func TestRoutable(t *testing.T) {
	tests := []struct {
		typ, value string
		want       bool
	}{
		{TypeIP, "203.0.113.7", true},
		{TypeIP, "10.1.2.3", false},
		{TypeIP, "127.0.0.1", false},
		{TypeIP, "fe80::1", false},
		{TypeIP, "224.0.0.1", false},
		{TypeCIDR, "192.168.0.0/16", false},
		{TypeCIDR, "198.51.100.0/24", true},
		{TypeDomain, "evil.example", true},
	}
	for _, tt := range tests {
		if got := routable(tt.typ, tt.value); got != tt.want {
			t.Errorf("routable(%s %s) = %v, want %v", tt.typ, tt.value, got, tt.want)
		}
	}
}

// FuzzNormalize checks that accepted values are canonical (normalising
// again changes nothing) and can never break out of the feed syntaxes
// they are written into.
func FuzzNormalize(f *testing.F) {
	f.Add("ip", "203.0.113.7")
	f.Add("cidr", "2001:db8::/32")
	f.Add("domain", "Evil.Example.")
	f.Add("url", "http://evil.example/a?b=c;d")
	f.Add("hash", strings.Repeat("a", 40))
	f.Add("url", "http://[::1]:80/")
	f.Fuzz(func(t *testing.T, typ, value string) {
		nt, nv, err := Normalize(typ, value)
		if err != nil {
			return
		}
		if strings.ContainsAny(nv, " \t\r\n\"'\\") {
			t.Fatalf("Normalize(%q, %q) = %q holds a character unsafe in feeds", typ, value, nv)
		}
		t2, v2, err := Normalize(nt, nv)
		if err != nil || t2 != nt || v2 != nv {
			t.Fatalf("not canonical: %q %q -> %q %q -> %q %q %v", typ, value, nt, nv, t2, v2, err)
		}
	})
}
