package respond

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// The blocklist entry types. An "ip" is a single address, a "cidr" a
// network; hashes are MD5, SHA-1, SHA-256 or SHA-512 in hex.
const (
	TypeIP     = "ip"
	TypeCIDR   = "cidr"
	TypeDomain = "domain"
	TypeURL    = "url"
	TypeHash   = "hash"
)

// Indicator is a value another source (threat intelligence) says the
// member may block. Type is one of the Type constants or a STIX
// cyber-observable type name (ipv4-addr, domain-name, url,
// file:hashes.'SHA-256'...). A zero Expires never expires.
type Indicator struct {
	Type    string
	Value   string
	Expires time.Time
	TLP     tlp.Level
	Source  string
	ID      string
	// Created is when the source first knew the indicator, if it says;
	// STIX feeds use it for the indicator's created and valid_from.
	Created time.Time
}

// IndicatorSource supplies indicators a member may use in its feeds. The
// source applies TLP itself: it returns only what member may receive.
type IndicatorSource interface {
	ActiveIndicators(ctx context.Context, member string) ([]Indicator, error)
}

// entryTypeOf maps a blocklist type or a STIX observable type name to the
// blocklist type. ipv4-addr and ipv6-addr map to "ip"; Normalize turns an
// "ip" holding a network into a "cidr".
func entryTypeOf(t string) (string, bool) {
	t = strings.ToLower(strings.TrimSpace(t))
	switch t {
	case TypeIP, "ipv4-addr", "ipv6-addr", "ipv4", "ipv6":
		return TypeIP, true
	case TypeCIDR:
		return TypeCIDR, true
	case TypeDomain, "domain-name", "hostname", "fqdn":
		return TypeDomain, true
	case TypeURL, "uri":
		return TypeURL, true
	case TypeHash, "md5", "sha1", "sha-1", "sha256", "sha-256", "sha512", "sha-512":
		return TypeHash, true
	}
	if strings.HasPrefix(t, "file:hashes") {
		return TypeHash, true
	}
	return "", false
}

// Normalize checks an indicator and returns its blocklist type and
// canonical value: addresses in netip form, networks masked, domains in
// lower case without a trailing dot, URLs with a lower-case scheme and
// host, hashes in lower-case hex. Anything it cannot vouch for is an error:
// feed formats embed these values in rule and zone syntax, so a value with
// a quote or a newline must never get that far.
func Normalize(typ, value string) (string, string, error) {
	t, ok := entryTypeOf(typ)
	if !ok {
		return "", "", fmt.Errorf("respond: unsupported indicator type %q", typ)
	}
	v := strings.TrimSpace(value)
	kind := t // for the error: t changes when an "ip" turns out a network
	var err error
	switch t {
	case TypeIP, TypeCIDR:
		t, v, err = normalizeIP(v)
	case TypeDomain:
		v, err = normalizeDomain(v)
	case TypeURL:
		v, err = normalizeURL(v)
	case TypeHash:
		v, err = normalizeHash(v)
	}
	if err != nil {
		return "", "", fmt.Errorf("respond: %s %q: %w", kind, value, err)
	}
	return t, v, nil
}

func normalizeIP(v string) (string, string, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", "", err
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
		if p.IsSingleIP() {
			return TypeIP, p.Addr().String(), nil
		}
		return TypeCIDR, p.String(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", "", err
	}
	if a.Zone() != "" {
		return "", "", fmt.Errorf("zoned address")
	}
	return TypeIP, a.Unmap().String(), nil
}

// unmapBits is how many prefix bits an IPv4-mapped IPv6 address loses when
// unmapped.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func normalizeDomain(v string) (string, error) {
	v = strings.TrimSuffix(strings.ToLower(v), ".")
	if len(v) == 0 || len(v) > 253 {
		return "", fmt.Errorf("length must be 1 to 253")
	}
	labels := strings.Split(v, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("a single label is a top-level domain; refusing to block it")
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return "", fmt.Errorf("label length must be 1 to 63")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("character %q not allowed (write internationalised names in punycode)", c)
			}
		}
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return "", fmt.Errorf("an IP address is not a domain")
	}
	return v, nil
}

func normalizeURL(v string) (string, error) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '\\' {
			return "", fmt.Errorf("character %q not allowed (percent-encode it)", c)
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme must be http or https")
	}
	if u.User != nil {
		return "", fmt.Errorf("credentials in URL")
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("zoned address")
		}
		a = a.Unmap()
		host = a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
	} else if host, err = normalizeDomain(host); err != nil {
		return "", fmt.Errorf("host: %w", err)
	}
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

func normalizeHash(v string) (string, error) {
	v = strings.ToLower(v)
	switch len(v) {
	case 32, 40, 64, 128:
	default:
		return "", fmt.Errorf("length %d is not MD5, SHA-1, SHA-256 or SHA-512 hex", len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("not hexadecimal")
		}
	}
	return v, nil
}

// routable reports whether an ip or cidr value lies in public address
// space: playbooks do not put private, loopback, link-local or multicast
// addresses on a blocklist unless told to, since those are usually the
// member's own hosts.
func routable(typ, value string) bool {
	var a netip.Addr
	switch typ {
	case TypeIP:
		a, _ = netip.ParseAddr(value)
	case TypeCIDR:
		p, _ := netip.ParsePrefix(value)
		a = p.Addr()
	default:
		return true
	}
	return a.IsValid() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!a.IsLinkLocalMulticast() && !a.IsMulticast() && !a.IsUnspecified()
}
