package federation

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// SecretSize is the size of a pseudonymisation secret in bytes.
const SecretSize = 32

// pseudonymVersion is mixed into every pseudonym, so that a future change
// of the canonical forms cannot make two schemes' pseudonyms collide.
const pseudonymVersion = "xsoc-pseudonym-v1"

// Pseudonymiser turns observable values into pseudonyms: HMAC-SHA256
// under a secret the member nodes share, over the observable's type and
// canonical value, truncated to 128 bits and written as 32 hex digits.
// Equal values of the same type get equal pseudonyms on every member
// node, so the hub correlates them; without the secret the hub cannot
// compute a pseudonym, so it cannot test guesses of the values either.
type Pseudonymiser struct {
	secret []byte
}

// NewPseudonymiser returns a Pseudonymiser keyed with secret, which must
// be at least SecretSize bytes.
func NewPseudonymiser(secret []byte) (*Pseudonymiser, error) {
	if len(secret) < SecretSize {
		return nil, fmt.Errorf("federation: pseudonymisation secret has %d bytes, want at least %d", len(secret), SecretSize)
	}
	return &Pseudonymiser{secret: append([]byte(nil), secret...)}, nil
}

// NewSecret returns a fresh random secret, hex-encoded as secret files
// hold it.
func NewSecret() string {
	b := make([]byte, SecretSize)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteSecret writes a fresh secret to path, readable by the owner only.
// It refuses to overwrite a secret: replacing it changes every pseudonym
// and so breaks correlation with earlier alerts.
func WriteSecret(path string) error {
	return writeNew(path, []byte(NewSecret()+"\n"))
}

// LoadSecret reads a secret file: hex digits (at least 2*SecretSize),
// surrounding white space ignored.
func LoadSecret(path string) (*Pseudonymiser, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("federation: secret: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("federation: secret %s: want hex digits (xsoc federation secret writes one)", path)
	}
	return NewPseudonymiser(secret)
}

// Pseudonym returns the pseudonym of value as an observable of type typ,
// and the type it was computed for (an address's family follows the
// value: an IPv4 address written as IPv4-mapped IPv6 is an IPv4 address).
func (p *Pseudonymiser) Pseudonym(typ, value string) (string, string) {
	typ, value = canonical(typ, value)
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte(pseudonymVersion))
	mac.Write([]byte{0})
	mac.Write([]byte(typ))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil)[:16]), typ
}

// canonical returns the form of an observable that two nodes seeing the
// same thing agree on: addresses in their shortest form, CIDR ranges
// masked, and everything else trimmed and in lower case (the correlator
// compares values case-insensitively too).
func canonical(typ, value string) (string, string) {
	value = strings.TrimSpace(value)
	switch typ {
	case "ipv4-addr", "ipv6-addr":
		if ip, err := netip.ParseAddr(value); err == nil {
			ip = ip.Unmap()
			return addrType(ip), ip.String()
		}
		if pfx, err := netip.ParsePrefix(value); err == nil {
			pfx = pfx.Masked()
			if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			return addrType(pfx.Addr()), pfx.String()
		}
	}
	return typ, strings.ToLower(value)
}

func addrType(ip netip.Addr) string {
	if ip.Is4() {
		return "ipv4-addr"
	}
	return "ipv6-addr"
}
