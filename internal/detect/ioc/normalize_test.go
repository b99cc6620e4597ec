package ioc

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		want string // "" means an error is expected
	}{
		// IP addresses and ranges.
		{KindIP, "192.0.2.1", "192.0.2.1"},
		{KindIP, " 192.0.2.1 ", "192.0.2.1"},
		{KindIP, "::ffff:192.0.2.1", "192.0.2.1"},
		{KindIP, "2001:DB8::1", "2001:db8::1"},
		{KindIP, "fe80::1%eth0", "fe80::1"},
		{KindIP, "192.0.2.77/24", "192.0.2.0/24"},
		{KindIP, "192.0.2.1/32", "192.0.2.1"},
		{KindIP, "2001:db8::1/128", "2001:db8::1"},
		{KindIP, "::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{KindIP, "2001:db8:ffff::/32", "2001:db8::/32"},
		{KindIP, "300.1.1.1", ""},
		{KindIP, "192.0.2.0/33", ""},
		{KindIP, "evil.example", ""},
		{KindIP, "", ""},
		// Domains.
		{KindDomain, "Evil.EXAMPLE.", "evil.example"},
		{KindDomain, "*.evil.example", "evil.example"},
		{KindDomain, "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{KindDomain, "_dmarc.example", "_dmarc.example"},
		{KindDomain, "a..example", ""},
		{KindDomain, "example..", ""},
		{KindDomain, ".example", ""},
		{KindDomain, "http://evil.example/", ""},
		{KindDomain, "evil example", ""},
		{KindDomain, strings.Repeat("a", 64) + ".example", ""},
		{KindDomain, strings.Repeat("abcdefghi.", 26) + "example", ""},
		{KindDomain, "", ""},
		// URLs.
		{KindURL, "HTTP://Evil.Example:80", "http://evil.example/"},
		{KindURL, "https://evil.example:443/a?b=c#frag", "https://evil.example/a?b=c"},
		{KindURL, "https://evil.example:8443/A/B", "https://evil.example:8443/A/B"},
		{KindURL, "http://evil.example.:/x", "http://evil.example/x"},
		{KindURL, "http://evil.example?q=1", "http://evil.example/?q=1"},
		{KindURL, "http://evil.example/%7euser/%2f%zz%41", "http://evil.example/~user/%2F%zzA"},
		{KindURL, "http://User:Pw@EVIL.example/", "http://User:Pw@evil.example/"},
		{KindURL, "http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"},
		{KindURL, "ftp://files.example:21/x", "ftp://files.example/x"},
		{KindURL, "evil.example/path", ""},
		{KindURL, "http:///path", ""},
		{KindURL, "ht tp://evil.example/", ""},
		// E-mail addresses.
		{KindEmail, "CEO@Evil.Example", "ceo@evil.example"},
		{KindEmail, "no-at-sign", ""},
		{KindEmail, "@evil.example", ""},
		{KindEmail, "ceo@", ""},
		{KindEmail, "ceo @evil.example", ""},
		// Hashes.
		{KindMD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{KindMD5, "da39a3ee5e6b4b0d3255bfef95601890afd80709", ""}, // a SHA-1
		{KindSHA256, "zz" + strings.Repeat("0", 62), ""},
		{0, "x", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.kind, tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Normalize(%v, %q) = %q, want an error", tt.kind, tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%v, %q) = %q, %v; want %q", tt.kind, tt.in, got, err, tt.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
		ok   bool
	}{
		{"ip", KindIP, true}, {"IPv4-Addr", KindIP, true}, {"ip-dst", KindIP, true},
		{"domain-name", KindDomain, true}, {"hostname", KindDomain, true},
		{"url", KindURL, true}, {"email-addr", KindEmail, true},
		{"MD5", KindMD5, true}, {"SHA-1", KindSHA1, true}, {"sha256", KindSHA256, true},
		{"ssdeep", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseKind(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if back, err := ParseKind(got.String()); err != nil || back != got {
				t.Errorf("round trip of %v: %v, %v", got, back, err)
			}
		}
	}
}

// FuzzNormalize checks that normalising never panics, that a normalised
// value is a fixed point, and that matching-time normalisation agrees with
// it.
func FuzzNormalize(f *testing.F) {
	seeds := []struct {
		kind Kind
		v    string
	}{
		{KindIP, "192.0.2.1"}, {KindIP, "::ffff:10.0.0.0/104"}, {KindIP, "fe80::1%eth0"},
		{KindDomain, "Evil.Example."}, {KindDomain, "*.a.b"},
		{KindURL, "HTTP://Evil.Example:80/%7e?q#f"}, {KindURL, "http://[::1]:8080"}, {KindURL, "x://@:/%"},
		{KindEmail, "A@B.C"}, {KindMD5, "D41D8CD98F00B204E9800998ECF8427E"},
		{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, s := range seeds {
		f.Add(uint8(s.kind), s.v)
	}
	f.Fuzz(func(t *testing.T, k uint8, v string) {
		kind := Kind(k % uint8(numKinds+1))
		n, err := Normalize(kind, v)
		if err != nil {
			return
		}
		again, err := Normalize(kind, n)
		if err != nil || again != n {
			t.Fatalf("Normalize(%v, %q) = %q, but normalising that gives %q, %v", kind, v, n, again, err)
		}
		if kind == KindURL {
			var buf [64]byte
			if b, reason := normURL(buf[:0], n); reason != "" || string(b) != n {
				t.Fatalf("matching form of %q is %q (%s)", n, b, reason)
			}
		}
	})
}

// FuzzDetect feeds arbitrary values to every field Detect inspects: it must
// never panic, and every alert it raises must be well formed.
func FuzzDetect(f *testing.F) {
	x := noMatchIndex(f)
	for _, v := range []string{"192.0.2.1", "www.evil.example", "HTTP://EVIL.example:80", "a@evil.example",
		strings.Repeat("a", 32), strings.Repeat("c", 64), "::ffff:198.51.100.7", "..", "%", "http://[::1"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ev := newEvent()
		for i := range fields {
			ev.Set(fields[i].key.Name(), v)
		}
		out := x.Detect(ev, nil)
		for _, a := range out {
			if a.Detector != "ioc" || a.RuleID == "" || a.Key == "" {
				t.Fatalf("malformed alert for %q: %+v", v, a)
			}
		}
	})
}

// FuzzCountFor checks the batched lookup against the one-value path on
// arbitrary values: a batch holding the value as every kind, repeated past
// the matcher's queue depth, must count what LookupFor finds value by
// value, and must never panic.
func FuzzCountFor(f *testing.F) {
	x := noMatchIndex(f)
	for _, v := range []string{"192.0.2.1", "www.evil.example", "HTTP://EVIL.example:80", "a@evil.example",
		strings.Repeat("a", 32), strings.Repeat("c", 64), "::ffff:198.51.100.7", "..", "%", "http://[::1"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var qs []Query
		want := 0
		for len(qs) < 2*maxPending {
			for k := Kind(0); k < numKinds; k++ {
				if k == KindIP && strings.Contains(v, "/") {
					continue // LookupFor takes ranges, CountFor addresses only
				}
				qs = append(qs, Query{Kind: k, Value: v})
				if hits, err := x.LookupFor("member", k, v); err == nil {
					want += len(hits)
				}
			}
		}
		if got := x.CountFor("member", qs); got != want {
			t.Fatalf("CountFor(%q as every kind) = %d, LookupFor found %d", v, got, want)
		}
	})
}

// FuzzParseIPv4 checks the word-at-a-time IPv4 parser against
// netip.ParseAddr: it must accept exactly the IPv4 addresses netip reads
// without a zone, with the same bytes.
func FuzzParseIPv4(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "1.2.3.4", "01.2.3.4", "1.2.3.256",
		"1.2.3", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4.5", "1.2.3.4%eth0", "::1", "1.2.3.0x", "999.1.1.1", "1.2.3.\xb4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIPv4(s)
		want, err := netip.ParseAddr(s)
		wantOK := err == nil && want.Is4()
		if ok != wantOK || ok && got != want.As4() {
			t.Fatalf("parseIPv4(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
	})
}

// FuzzDecodeHex checks decodeHex against encoding/hex for strings of up
// to 64 digits.
func FuzzDecodeHex(f *testing.F) {
	for _, s := range []string{"", "00", "0123456789abcdefABCDEF", strings.Repeat("f", 64), strings.Repeat("a", 66),
		"0g", "Zz", "@`", "GgFf", "/:", "12345678", "1234567\x80", strings.Repeat("9", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var h [32]byte
		n, ok := decodeHex(&h, s)
		want, err := hex.DecodeString(s)
		wantOK := err == nil && s != "" && len(s) <= 64
		if ok != wantOK || ok && (n != len(want) || string(h[:n]) != string(want)) {
			t.Fatalf("decodeHex(%q) = %x, %v; encoding/hex: %x, %v", s, h[:n], ok, want, err)
		}
	})
}

// TestParseIPv4Fields checks parseIPv4 against netip.ParseAddr on every
// address made of four fields from a set of valid and invalid ones, and
// with a fifth.
func TestParseIPv4Fields(t *testing.T) {
	parts := []string{"", "0", "00", "1", "01", "10", "99", "100", "199", "200", "249", "255", "256", "260", "300", "999", "1000", "a", "-1", " 1"}
	check := func(s string) {
		got, ok := parseIPv4(s)
		want, err := netip.ParseAddr(s)
		if wantOK := err == nil && want.Is4(); ok != wantOK || ok && got != want.As4() {
			t.Errorf("parseIPv4(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
	}
	for _, a := range parts {
		for _, b := range parts {
			for _, c := range parts {
				for _, d := range parts {
					check(a + "." + b + "." + c + "." + d)
				}
				check(a + "." + b + "." + c)
				check(a + "." + b + "." + c + ".1.2")
			}
		}
	}
}

// FuzzLowerWords checks the word-at-a-time lowercasing and dot count that
// matching applies to names against a byte loop.
func FuzzLowerWords(f *testing.F) {
	for _, s := range []string{"", "a", "WWW.Example.COM", "a.b.c.d.e.f.g.h.i", "xn--BCHER-kva.example", "@[`{.\xc3\x84.Z", strings.Repeat("Ab.", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		buf := make([]byte, len(s)+8)
		copy(buf, s)
		dots := lowerWords(buf, len(s))
		if want := string(appendLowerASCII(nil, s)); string(buf[:len(s)]) != want || dots != strings.Count(s, ".") {
			t.Fatalf("lowerWords(%q) = %q, %d dots; want %q, %d", s, buf[:len(s)], dots, want, strings.Count(s, "."))
		}
	})
}
