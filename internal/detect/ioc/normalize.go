package ioc

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The longest values the index accepts. A DNS name has at most 253
// characters (RFC 1035) and an e-mail address 254 (RFC 5321); URLs are
// bounded only so that a key's length fits the string table's slot.
const (
	maxDomainLen = 253
	maxEmailLen  = 254
	maxURLLen    = 1<<16 - 1
)

// Normalize returns the canonical form of an indicator value of kind k, the
// form the index stores and compares:
//
//   - ip: the address (IPv4-mapped IPv6 unmapped to IPv4, zone dropped), or
//     the masked CIDR range; a /32 or /128 range is the address itself.
//   - domain: ASCII letters lowercased, one trailing dot and a leading "*."
//     removed. Internationalised names are compared byte for byte, so give
//     them in punycode (xn--...), as DNS carries them.
//   - url: scheme and host lowercased, the scheme's default port removed,
//     the fragment dropped, percent-escapes of unreserved characters
//     decoded and the others upper-cased, and an empty path written "/".
//   - email: lowercased.
//   - md5, sha1, sha256: lowercase hex of the right length.
func Normalize(k Kind, value string) (string, error) {
	value = strings.TrimSpace(value)
	switch k {
	case KindIP:
		p, err := parseRange(value)
		if err != nil {
			return "", err
		}
		if p.IsSingleIP() {
			return p.Addr().String(), nil
		}
		return p.String(), nil
	case KindDomain:
		b, err := appendDomainStrict(nil, value)
		return string(b), err
	case KindURL:
		b, err := appendURL(nil, value)
		if err == nil && len(b) > maxURLLen {
			err = fmt.Errorf("ioc: url longer than %d bytes", maxURLLen)
		}
		return string(b), err
	case KindEmail:
		b, err := appendEmailStrict(nil, value)
		return string(b), err
	case KindMD5, KindSHA1, KindSHA256:
		var h [32]byte
		n, ok := decodeHex(&h, value)
		if !ok || n != hashLen(k) {
			return "", fmt.Errorf("ioc: %q is not a %s hash (%d hex digits)", value, k, 2*hashLen(k))
		}
		return strings.ToLower(value), nil
	}
	return "", fmt.Errorf("ioc: invalid kind %d", uint8(k))
}

// hashLen returns the byte length of a hash kind's digest.
func hashLen(k Kind) int {
	switch k {
	case KindMD5:
		return 16
	case KindSHA1:
		return 20
	case KindSHA256:
		return 32
	}
	return 0
}

// parseAddr reads an address the way events carry it: an optional zone is
// ignored (it names a local interface, not a host) and IPv4-mapped IPv6 is
// unmapped. It does not allocate.
func parseAddr(s string) (netip.Addr, bool) {
	if a, ok := parseIPv4(s); ok {
		return netip.AddrFrom4(a), true
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseRange reads an address or CIDR range indicator, returning a masked
// prefix. An IPv4-mapped IPv6 range of at least /96 becomes the IPv4 range
// it maps.
func parseRange(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, ok := parseAddr(s)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("ioc: %q is not an IP address", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ioc: %q is not a CIDR range: %v", s, err)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// appendLowerASCII appends s to dst with ASCII letters lowercased; other
// bytes, including UTF-8 sequences, are copied unchanged.
func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendDomainStrict normalises and validates a domain indicator.
func appendDomainStrict(dst []byte, s string) ([]byte, error) {
	name := strings.TrimPrefix(s, "*.")
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return dst, errors.New("ioc: empty domain")
	}
	if len(name) > maxDomainLen {
		return dst, fmt.Errorf("ioc: domain %.40q... longer than %d bytes", name, maxDomainLen)
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return dst, fmt.Errorf("ioc: domain %q has an empty label", s)
			}
			label = 0
			continue
		case c <= ' ' || c == 0x7f || strings.IndexByte(`/\@:?#[]<>"'|,;*`, c) >= 0:
			return dst, fmt.Errorf("ioc: domain %q contains %q", s, c)
		}
		label++
		if label > 63 {
			return dst, fmt.Errorf("ioc: domain %q has a label longer than 63 bytes", s)
		}
	}
	if label == 0 {
		return dst, fmt.Errorf("ioc: domain %q has an empty label", s)
	}
	return appendLowerASCII(dst, name), nil
}

// appendEmail appends the matching-time form of an address: lowercased.
func appendEmail(dst []byte, s string) ([]byte, bool) {
	if s == "" || len(s) > maxEmailLen {
		return dst, false
	}
	return appendLowerASCII(dst, s), true
}

// appendEmailStrict normalises and validates an e-mail indicator.
func appendEmailStrict(dst []byte, s string) ([]byte, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return dst, fmt.Errorf("ioc: %q is not an e-mail address", s)
	}
	if len(s) > maxEmailLen {
		return dst, fmt.Errorf("ioc: e-mail address longer than %d bytes", maxEmailLen)
	}
	if strings.ContainsAny(s, " \t\r\n<>") {
		return dst, fmt.Errorf("ioc: e-mail address %q contains white space or angle brackets", s)
	}
	return appendLowerASCII(dst, s), nil
}

// hexValue maps a byte to its hex digit value, or to 0xff if it is not a
// hex digit. It is never modified.
var hexValue = func() (t [256]byte) {
	for i := range t {
		v, ok := fromHex(byte(i))
		if !ok {
			v = 0xff
		}
		t[i] = v
	}
	return t
}()

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperHex = "0123456789ABCDEF"

// defaultPorts lists the port each common scheme implies.
var defaultPorts = map[string]string{
	"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21",
}

// appendURL appends the normalised form of the absolute URL s to dst (see
// Normalize), or explains why s is not one.
func appendURL(dst []byte, s string) ([]byte, error) {
	b, reason := normURL(dst, s)
	if reason != "" {
		return b, fmt.Errorf("ioc: url %.60q %s", s, reason)
	}
	return b, nil
}

// normURL appends the normalised form of the absolute URL s to dst. It
// needs "scheme://" and a non-empty host; everything else is kept, because
// a URL indicator is compared as a whole. On failure it returns dst
// unchanged and a reason; it allocates nothing either way, for matching.
func normURL(dst []byte, s string) ([]byte, string) {
	s = strings.TrimSpace(s)
	sep := strings.Index(s, "://")
	if sep <= 0 {
		return dst, "has no scheme://"
	}
	scheme := s[:sep]
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return dst, "has an invalid scheme"
		}
	}
	rest := s[sep+3:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostport := "", authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, hostport = authority[:at+1], authority[at+1:]
	}
	host, port := splitHostPort(hostport)
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return dst, "has no host"
	}

	start := len(dst)
	dst = appendLowerASCII(dst, scheme)
	defPort := defaultPorts[string(dst[start:])] // map index: no allocation
	dst = append(dst, "://"...)
	dst = append(dst, userinfo...)
	dst = appendLowerASCII(dst, host)
	port = strings.TrimLeft(port, "0")
	if port != "" && port != defPort {
		dst = append(dst, ':')
		dst = append(dst, port...)
	}
	if tail == "" || tail[0] == '?' {
		dst = append(dst, '/')
	}
	return appendPercentNormal(dst, tail), ""
}

// splitHostPort splits "host:port" and "[v6]:port"; the port is empty when
// absent. Unlike net.SplitHostPort it accepts a missing port.
// urlHost returns the host of a URL (a name, or an address without its
// brackets), or "" when s has none. It allocates nothing.
func urlHost(s string) string {
	s = strings.TrimSpace(s)
	sep := strings.Index(s, "://")
	if sep <= 0 {
		return ""
	}
	rest := s[sep+3:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	host, _ := splitHostPort(rest)
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
}

func splitHostPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i >= 0 {
			host, rest := hp[:i+1], hp[i+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
		return hp, ""
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}

// appendPercentNormal copies s, decoding percent-escapes of unreserved
// characters (RFC 3986 section 2.3) and upper-casing the hex digits of the
// others; a '%' not followed by two hex digits is copied as is.
func appendPercentNormal(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) {
			dst = append(dst, c)
			continue
		}
		hi, ok1 := fromHex(s[i+1])
		lo, ok2 := fromHex(s[i+2])
		if !ok1 || !ok2 {
			dst = append(dst, c)
			continue
		}
		if d := hi<<4 | lo; isUnreserved(d) {
			dst = append(dst, d)
		} else {
			dst = append(dst, '%', upperHex[hi], upperHex[lo])
		}
		i += 2
	}
	return dst
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}
