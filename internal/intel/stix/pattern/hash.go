package pattern

import (
	"fmt"
	"regexp"
	"strings"
)

// qualifierNames name the qualifiers in errors.
var qualifierNames = [...]string{Within: "WITHIN", Repeats: "REPEATS", StartStop: "START ... STOP"}

// hexDigits is the length of the hex digests of the hash algorithms of
// the STIX 2.1 hashing-algorithm-ov vocabulary (section 10.11), as its
// JSON schema checks them; encodedHashes are the other two's encodings.
// Algorithms outside the vocabulary (custom names) are not checked.
var (
	hexDigits = map[string]int{
		"MD5": 32, "SHA-1": 40, "SHA-224": 56, "SHA-256": 64, "SHA-384": 96, "SHA-512": 128,
		"SHA3-224": 56, "SHA3-256": 64, "SHA3-384": 96, "SHA3-512": 128,
	}
	encodedHashes = map[string]struct {
		format *regexp.Regexp
		says   string
	}{
		"SSDEEP": {regexp.MustCompile(`^[0-9]{1,20}:[a-zA-Z0-9/+]{0,64}:[a-zA-Z0-9/+]{0,64}$`), "blocksize:hash:hash in base64 characters"},
		"TLSH":   {regexp.MustCompile(`^(T1)?[a-fA-F0-9]{70}$`), "70 hex digits, optionally after T1"},
	}
)

// hashAlgorithm returns the algorithm a path's last step names under
// "hashes" ("file:hashes.'SHA-256'" → "SHA-256"), or "".
func hashAlgorithm(path Path) string {
	n := len(path.Steps)
	if n < 2 || path.Steps[n-2].Key != "hashes" || path.Steps[n-1].IsIndex {
		return ""
	}
	name := HashName(path.Steps[n-1].Key)
	if name == "SHA3224" || name == "SHA3384" {
		name = strings.Replace(name, "SHA3", "SHA3-", 1)
	}
	return name
}

// checkHashValue refuses a test of a hash against a value that cannot be
// one of its algorithm: "file:hashes.'SHA-256' = 'f00'" can never match
// and betrays a broken indicator. Tests by pattern (LIKE, MATCHES) and
// order are left alone.
func checkHashValue(t *Test) error {
	if t.Op != Equal && t.Op != NotEqual && t.Op != In {
		return nil
	}
	alg := hashAlgorithm(t.Path)
	digits, hex := hexDigits[alg]
	enc, encoded := encodedHashes[alg]
	if !hex && !encoded {
		return nil
	}
	values := []Literal{t.Value}
	if t.Value.Kind == SetLit {
		values = t.Value.Set
	}
	for _, v := range values {
		switch {
		case v.Kind != StringLit:
			return fmt.Errorf("%s value must be a string, not %s", alg, v)
		case hex && (len(v.Str) != digits || !isHex(v.Str)):
			return fmt.Errorf("%q is not a %s hash (%d hex digits)", v.Str, alg, digits)
		case encoded && !enc.format.MatchString(v.Str):
			return fmt.Errorf("%q is not a %s hash (%s)", v.Str, alg, enc.says)
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
