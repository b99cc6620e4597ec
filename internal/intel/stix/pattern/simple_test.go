package pattern

import (
	"reflect"
	"testing"
)

func TestSimple(t *testing.T) {
	type obs = []Observable
	tests := []struct {
		in   string
		want obs // nil: not simple
	}{
		{"[ipv4-addr:value = '198.51.100.7']", obs{{TypeIPv4, "198.51.100.7"}}},
		{"[ipv4-addr:value = '112.64.0.0/15']", obs{{TypeIPv4, "112.64.0.0/15"}}},
		{"[ipv4-addr:value = '10.1.2.3/8']", obs{{TypeIPv4, "10.0.0.0/8"}}},
		{"[ipv4-addr:value = '10.1.2.3/32']", obs{{TypeIPv4, "10.1.2.3"}}},
		{"[ipv4-addr:value ISSUBSET '10.0.0.0/8']", obs{{TypeIPv4, "10.0.0.0/8"}}},
		{"[ipv6-addr:value = '2001:DB8::1']", obs{{TypeIPv6, "2001:db8::1"}}},
		{"[ipv6-addr:value ISSUBSET '2001:db8::/32']", obs{{TypeIPv6, "2001:db8::/32"}}},
		{"[domain-name:value = 'Evil.Example.']", obs{{TypeDomain, "evil.example"}}},
		{"[url:value = 'http://a.example/x?y=1']", obs{{TypeURL, "http://a.example/x?y=1"}}},
		{"[email-addr:value = 'Bad@Example.org']", obs{{TypeEmail, "bad@example.org"}}},
		{"[file:hashes.MD5 = '0749BAE92CA336A02C83D126E04EC628']", obs{{TypeFileMD5, "0749bae92ca336a02c83d126e04ec628"}}},
		{"[file:hashes.md5 = '001dd76872d80801692ff942308c64e6']", obs{{TypeFileMD5, "001dd76872d80801692ff942308c64e6"}}},
		{"[file:hashes.'SHA-1' = '77b0c41b7d340b8a3d903f21347bbf06aa766b5b']", obs{{TypeFileSHA1, "77b0c41b7d340b8a3d903f21347bbf06aa766b5b"}}},
		{"[file:hashes.SHA1 = '77b0c41b7d340b8a3d903f21347bbf06aa766b5b']", obs{{TypeFileSHA1, "77b0c41b7d340b8a3d903f21347bbf06aa766b5b"}}},
		{"[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']", obs{{TypeFileSHA256, "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"}}},
		{"[file:hashes.sha256 = 'EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C']", obs{{TypeFileSHA256, "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"}}},
		{"[domain-name:value = 'a.example' OR ipv4-addr:value = '60.10.1.120']", obs{{TypeDomain, "a.example"}, {TypeIPv4, "60.10.1.120"}}},
		{"[domain-name:value IN ('a.example', 'b.example')]", obs{{TypeDomain, "a.example"}, {TypeDomain, "b.example"}}},
		// Not simple.
		{"[domain-name:value = 'a.example' AND ipv4-addr:value = '1.2.3.4']", nil},
		{"[domain-name:value != 'a.example']", nil},
		{"[domain-name:value NOT = 'a.example']", nil},
		{"[domain-name:value LIKE '%.example']", nil},
		{"[domain-name:value ISSUBSET 'a.example']", nil},
		{"[ipv4-addr:value ISSUBSET '10.0.0.1']", nil},
		{"[ipv4-addr:value = 'not-an-ip']", nil},
		{"[ipv4-addr:value = '2001:db8::1']", nil},
		{"[file:hashes.MD5 LIKE 'abc%']", nil},
		{"[file:name = 'a.exe']", nil},
		{"[ipv4-addr:value = 1]", nil},
		{"[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '1.2.3.5']", nil},
		{"[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", nil},
		{"[ipv4-addr:value IN ('1.2.3.4', 'x')]", nil},
		{"[EXISTS ipv4-addr:value]", nil},
	}
	for _, tt := range tests {
		got, ok := Simple(MustParse(tt.in))
		if ok != (tt.want != nil) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Simple(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}

func TestSimpleExamples(t *testing.T) {
	// Every example indicator made of IPs, domains and hashes is simple;
	// those with file names, x509 fields or MATCHES are not.
	simple := 0
	for _, src := range examplePatterns(t) {
		p := MustParse(src)
		if _, ok := Simple(p); ok {
			simple++
		}
	}
	if simple == 0 {
		t.Error("no example pattern is simple")
	}
}

func TestHashName(t *testing.T) {
	tests := map[string]string{
		"md5": "MD5", "SHA-1": "SHA-1", "sha1": "SHA-1", "SHA256": "SHA-256", "sha-256": "SHA-256",
		"SHA_512": "SHA-512", "sha3-256": "SHA3-256", "ssdeep": "SSDEEP",
	}
	for in, want := range tests {
		if got := HashName(in); got != want {
			t.Errorf("HashName(%q) = %q, want %q", in, got, want)
		}
	}
}
