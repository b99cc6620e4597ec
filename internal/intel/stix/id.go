package stix

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// scoNamespace is the UUIDv5 namespace STIX 2.1 fixes for deterministic
// cyber-observable identifiers (section 2.9).
var scoNamespace = [16]byte{0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}

// NewID returns a fresh identifier "<typ>--<random UUIDv4>", the form STIX
// recommends for SDOs, SROs and bundles.
func NewID(typ string) string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic("stix: crypto/rand: " + err.Error())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return typ + "--" + formatUUID(u)
}

// NameID returns the deterministic identifier "<typ>--<UUIDv5>" of name in
// the STIX namespace. STIX uses it for cyber observables (see SCOID);
// xsoc also uses it to give objects derived from external records (a MISP
// attribute without a UUID, say) an identifier that is the same on every
// import.
func NameID(typ, name string) string {
	h := sha1.New()
	h.Write(scoNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return typ + "--" + formatUUID(u)
}

// idContributing lists, per SCO type, the properties that make up its
// deterministic identifier (STIX 2.1, section 6).
var idContributing = map[string][]string{
	"artifact":             {"hashes", "payload_bin"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"email-message":        {"from_ref", "subject", "body"},
	"file":                 {"hashes", "name", "extensions", "parent_directory_ref"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
	"process":              {}, // no contributing properties: random
	"software":             {"name", "cpe", "swid", "vendor", "version"},
	"url":                  {"value"},
	"user-account":         {"account_type", "user_id", "account_login"},
	"windows-registry-key": {"key", "values"},
	"x509-certificate":     {"hashes", "serial_number"},
}

// SCOID returns the identifier of a cyber observable with the given
// properties: a UUIDv5 over the canonical JSON of its ID-contributing
// properties, so that every producer names the same observable alike.
// Types without contributing properties (process, custom types) and
// observables that have none of them set get a random UUIDv4, as the
// specification requires.
func SCOID(typ string, props map[string]any) (string, error) {
	contributing := map[string]any{}
	for _, k := range idContributing[typ] {
		if v, ok := props[k]; ok && v != nil {
			jv, err := toJSONValue(v)
			if err != nil {
				return "", fmt.Errorf("stix: %s.%s: %w", typ, k, err)
			}
			contributing[k] = jv
		}
	}
	if len(contributing) == 0 {
		return NewID(typ), nil
	}
	// encoding/json sorts map keys and writes no insignificant white
	// space; with HTML escaping off this is the RFC 8785 form for the
	// strings, integers and objects contributing properties hold.
	canon, err := marshal(contributing)
	if err != nil {
		return "", err
	}
	return NameID(typ, string(canon)), nil
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// SplitID splits "<type>--<uuid>" and checks both parts: the type as STIX
// spells types, the UUID in RFC 4122 form (versions 1-5, either case).
func SplitID(id string) (typ, uuid string, ok bool) {
	typ, uuid, found := strings.Cut(id, "--")
	if !found || !validType(typ) || !validUUID(uuid) {
		return "", "", false
	}
	return typ, uuid, true
}

func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		if !isHex(c) {
			return false
		}
	}
	if u[14] < '1' || u[14] > '5' {
		return false
	}
	switch u[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validType checks a type name: 3 to 250 characters of a-z, 0-9 and '-',
// starting with a letter, no empty hyphen-separated part.
func validType(t string) bool {
	if len(t) < 3 || len(t) > 250 || t[0] < 'a' || t[0] > 'z' || strings.Contains(t, "--") {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// timeFormat is how xsoc writes STIX timestamps: UTC, millisecond
// precision as created/modified require.
const timeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as a STIX timestamp with millisecond precision, or
// finer when t has sub-millisecond digits.
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
	return t.Format(timeFormat)
}

// ParseTime reads a STIX timestamp: RFC 3339 in UTC with a 'Z', an
// optional fraction of any length.
func ParseTime(s string) (time.Time, error) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[10] != 'T' {
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DDTHH:MM:SS[.s]Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid time", s)
	}
	return t, nil
}
