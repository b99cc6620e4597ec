package ioc

import (
	"fmt"
	"strings"
)

// Kind is the type of value an indicator names.
type Kind uint8

// The indicator kinds. The zero Kind is invalid.
const (
	// KindIP is an IPv4 or IPv6 address or CIDR range. IPv4-mapped IPv6
	// addresses (::ffff:192.0.2.1) are the IPv4 address they map.
	KindIP Kind = iota + 1
	// KindDomain is a DNS name. It matches itself and, unless the entry is
	// exact-only, every name below it: evil.example matches a.b.evil.example.
	KindDomain
	// KindURL is an absolute URL with a scheme, compared after
	// normalisation (see Normalize).
	KindURL
	// KindEmail is an e-mail address, compared case-insensitively.
	KindEmail
	// KindMD5 is an MD5 file hash.
	KindMD5
	// KindSHA1 is a SHA-1 file hash.
	KindSHA1
	// KindSHA256 is a SHA-256 file hash.
	KindSHA256

	numKinds // one past the last kind
)

var kindNames = [numKinds]string{
	KindIP:     "ip",
	KindDomain: "domain",
	KindURL:    "url",
	KindEmail:  "email",
	KindMD5:    "md5",
	KindSHA1:   "sha1",
	KindSHA256: "sha256",
}

// String returns the kind's short name ("ip", "domain", "sha256", ...), the
// form ParseKind reads back.
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// kindAliases maps the names other vocabularies use to a Kind: STIX 2.1
// cyber-observable types and hash names, and MISP attribute types.
var kindAliases = map[string]Kind{
	"ip": KindIP, "ipv4-addr": KindIP, "ipv6-addr": KindIP, "ip-src": KindIP, "ip-dst": KindIP, "cidr": KindIP,
	"domain": KindDomain, "domain-name": KindDomain, "hostname": KindDomain,
	"url": KindURL, "uri": KindURL,
	"email": KindEmail, "email-addr": KindEmail, "email-src": KindEmail, "email-dst": KindEmail,
	"md5":  KindMD5,
	"sha1": KindSHA1, "sha-1": KindSHA1,
	"sha256": KindSHA256, "sha-256": KindSHA256,
}

// ParseKind reads a kind by its short name or by a STIX 2.1 observable type
// or MISP attribute type naming the same thing ("ipv4-addr", "domain-name",
// "ip-dst", "SHA-256", ...). Case does not matter.
func ParseKind(s string) (Kind, error) {
	if k, ok := kindAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return k, nil
	}
	return 0, fmt.Errorf("ioc: unknown indicator kind %q", s)
}

// MarshalText encodes k as its short name.
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 || k >= numKinds {
		return nil, fmt.Errorf("ioc: invalid kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText accepts every name ParseKind does.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// observableType returns the STIX cyber-observable type alerts use for a
// value of kind k (see alert.Observable).
func (k Kind) observableType(isIPv6 bool) string {
	switch k {
	case KindIP:
		if isIPv6 {
			return "ipv6-addr"
		}
		return "ipv4-addr"
	case KindDomain:
		return "domain-name"
	case KindURL:
		return "url"
	case KindEmail:
		return "email-addr"
	case KindMD5:
		return "file:hashes.MD5"
	case KindSHA1:
		return "file:hashes.'SHA-1'"
	case KindSHA256:
		return "file:hashes.'SHA-256'"
	}
	return "unknown"
}
