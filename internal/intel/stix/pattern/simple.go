package pattern

import (
	"net/netip"
	"strings"
)

// The observable types Simple extracts. They name what a fast exact-match
// index keys on; the hash types flatten file:hashes.<algorithm>.
const (
	TypeIPv4       = "ipv4-addr"
	TypeIPv6       = "ipv6-addr"
	TypeDomain     = "domain-name"
	TypeURL        = "url"
	TypeFileMD5    = "file-md5"
	TypeFileSHA1   = "file-sha1"
	TypeFileSHA256 = "file-sha256"
	TypeEmail      = "email-addr"
)

// Observable is one value a simple pattern matches exactly.
type Observable struct {
	// Type is one of the Type... constants.
	Type string
	// Value is normalised: IPs in netip form (a CIDR prefix is masked and
	// written "10.0.0.0/8"; a /32 or /128 prefix becomes the address),
	// domains and e-mail addresses in lower case without a trailing dot,
	// hashes in lower-case hex. URLs are kept as written.
	Value string
}

// Simple reports whether p is a simple indicator that an exact-match index
// can serve, and if so returns its observables. A simple pattern is a
// single observation without qualifiers whose comparison is one test, or
// tests joined by OR, each of them:
//
//	ipv4-addr:value / ipv6-addr:value   = or IN (address or CIDR), ISSUBSET (CIDR)
//	domain-name:value, url:value, email-addr:value   = or IN
//	file:hashes.MD5 / SHA-1 / SHA-256 (any spelling, quoted or not)   = or IN
//
// Anything else (AND, NOT, other paths or operators, qualifiers, several
// observations) needs the Matcher, and Simple returns false.
func Simple(p *Pattern) ([]Observable, bool) {
	if p == nil {
		return nil, false
	}
	obs, ok := p.Root.(*Observation)
	if !ok {
		return nil, false
	}
	var out []Observable
	if !simpleComparison(obs.Comparison, &out) || len(out) == 0 {
		return nil, false
	}
	return out, true
}

func simpleComparison(c Comparison, out *[]Observable) bool {
	switch c := c.(type) {
	case *BoolOp:
		return !c.And && simpleComparison(c.Left, out) && simpleComparison(c.Right, out)
	case *Test:
		if c.Not {
			return false
		}
		typ, ok := simpleType(c.Path)
		if !ok {
			return false
		}
		switch c.Op {
		case Equal:
			return appendSimple(typ, c.Value, false, out)
		case IsSubset:
			return (typ == TypeIPv4 || typ == TypeIPv6) && appendSimple(typ, c.Value, true, out)
		case In:
			for _, v := range c.Value.Set {
				if !appendSimple(typ, v, false, out) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// simpleType maps the object paths an exact-match index handles.
func simpleType(p Path) (string, bool) {
	prop := p.Property()
	switch p.Type {
	case "ipv4-addr":
		return TypeIPv4, prop == "value"
	case "ipv6-addr":
		return TypeIPv6, prop == "value"
	case "domain-name":
		return TypeDomain, prop == "value"
	case "url":
		return TypeURL, prop == "value"
	case "email-addr":
		return TypeEmail, prop == "value"
	case "file":
		if len(p.Steps) != 2 || p.Steps[0].Key != "hashes" || p.Steps[1].IsIndex {
			return "", false
		}
		switch HashName(p.Steps[1].Key) {
		case "MD5":
			return TypeFileMD5, true
		case "SHA-1":
			return TypeFileSHA1, true
		case "SHA-256":
			return TypeFileSHA256, true
		}
	}
	return "", false
}

// HashName returns the STIX hash algorithm name for the spellings found in
// the field: "sha256", "SHA256", "Sha-256" all become "SHA-256". Unknown
// names are returned upper-cased.
func HashName(s string) string {
	u := strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(s, "-", ""), "_", ""))
	switch u {
	case "MD5":
		return "MD5"
	case "SHA1":
		return "SHA-1"
	case "SHA224":
		return "SHA-224"
	case "SHA256":
		return "SHA-256"
	case "SHA384":
		return "SHA-384"
	case "SHA512":
		return "SHA-512"
	case "SHA3256":
		return "SHA3-256"
	case "SHA3512":
		return "SHA3-512"
	}
	return strings.ToUpper(s)
}

// appendSimple normalises one literal for typ and appends it; it fails on
// values that do not fit the type, leaving such patterns to the Matcher.
func appendSimple(typ string, l Literal, cidrOnly bool, out *[]Observable) bool {
	if l.Kind != StringLit {
		return false
	}
	v, ok := Normalize(typ, l.Str)
	if !ok || cidrOnly && !strings.Contains(v, "/") && !strings.Contains(l.Str, "/") {
		return false
	}
	*out = append(*out, Observable{Type: typ, Value: v})
	return true
}

// Normalize returns value in the canonical form of an Observable of type
// typ, and false if the value is not valid for the type.
func Normalize(typ, value string) (string, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", false
	}
	switch typ {
	case TypeIPv4, TypeIPv6:
		return normalizeIP(typ, value)
	case TypeDomain:
		d := strings.ToLower(strings.TrimSuffix(value, "."))
		return d, d != "" && !strings.ContainsAny(d, " /\\@")
	case TypeEmail:
		e := strings.ToLower(value)
		at := strings.LastIndexByte(e, '@')
		return e, at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " ")
	case TypeURL:
		return value, true
	case TypeFileMD5:
		return normalizeHex(value, 32)
	case TypeFileSHA1:
		return normalizeHex(value, 40)
	case TypeFileSHA256:
		return normalizeHex(value, 64)
	}
	return "", false
}

func normalizeIP(typ, value string) (string, bool) {
	want4 := typ == TypeIPv4
	if strings.Contains(value, "/") {
		pfx, err := netip.ParsePrefix(value)
		if err != nil || pfx.Addr().Is4() != want4 || pfx.Addr().Zone() != "" {
			return "", false
		}
		pfx = pfx.Masked()
		if pfx.IsSingleIP() {
			return pfx.Addr().String(), true
		}
		return pfx.String(), true
	}
	a, err := netip.ParseAddr(value)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	a = a.Unmap()
	if a.Is4() != want4 {
		return "", false
	}
	return a.String(), true
}

func normalizeHex(value string, n int) (string, bool) {
	if len(value) != n {
		return "", false
	}
	v := strings.ToLower(value)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return v, true
}
