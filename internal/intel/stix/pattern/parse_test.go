package pattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCanonicalForm(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"[ipv4-addr:value = '198.51.100.1']", "[ipv4-addr:value = '198.51.100.1']"},
		{"[ ipv4-addr:value == '10.0.0.0' ]", "[ipv4-addr:value = '10.0.0.0']"},
		{"[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']", "[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']"},
		{"[file:hashes.MD5 != 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb']", "[file:hashes.MD5 != 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb']"},
		{"[file:name <> 'a']", "[file:name != 'a']"},
		{"[file:size < 10]", "[file:size < 10]"},
		{"[file:size <= +10]", "[file:size <= 10]"},
		{"[file:size > -1]", "[file:size > -1]"},
		{"[file:size >= 1.5]", "[file:size >= 1.5]"},
		{"[file:size >= .5]", "[file:size >= 0.5]"},
		{"[file:x = -.25]", "[file:x = -0.25]"},
		{"[network-traffic:dst_port IN (80, 443)]", "[network-traffic:dst_port IN (80, 443)]"},
		{"[network-traffic:dst_port NOT IN ()]", "[network-traffic:dst_port NOT IN ()]"},
		{"[file:name LIKE 'a%.exe']", "[file:name LIKE 'a%.exe']"},
		{"[file:name NOT MATCHES '^a\\\\.exe$']", "[file:name NOT MATCHES '^a\\\\.exe$']"},
		{"[ipv4-addr:value ISSUBSET '10.0.0.0/8']", "[ipv4-addr:value ISSUBSET '10.0.0.0/8']"},
		{"[ipv4-addr:value ISSUPERSET '10.1.0.0/16']", "[ipv4-addr:value ISSUPERSET '10.1.0.0/16']"},
		{"[file:name = 'it\\'s']", "[file:name = 'it\\'s']"},
		{"[x:b = true AND x:c = false]", "[(x:b = true AND x:c = false)]"},
		{"[x:t = t'2020-01-01T00:00:00Z']", "[x:t = t'2020-01-01T00:00:00Z']"},
		{"[x:t = t'2020-01-01T00:00:00.123Z']", "[x:t = t'2020-01-01T00:00:00.123Z']"},
		{"[x:h = h'DEADbeef']", "[x:h = h'deadbeef']"},
		{"[x:b = b'aGVsbG8=']", "[x:b = b'aGVsbG8=']"},
		{"[EXISTS x:a]", "[EXISTS x:a]"},
		{"[NOT EXISTS x:a]", "[NOT EXISTS x:a]"},
		{"[network-traffic:protocols[*] = 'tcp']", "[network-traffic:protocols[*] = 'tcp']"},
		{"[email-message:body_multipart[0].body_raw_ref.name = 'a']", "[email-message:body_multipart[0].body_raw_ref.name = 'a']"},
		{"[x:list[-1] = 'a']", "[x:list[-1] = 'a']"},
		{"[x:'odd key'.y = 'a']", "[x:'odd key'.y = 'a']"},
		{"[x-custom-type:x_field = 'a']", "[x-custom-type:x_field = 'a']"},
		// Precedence inside brackets: AND binds tighter than OR.
		{"[x:a = 1 OR x:b = 2 AND x:c = 3]", "[(x:a = 1 OR (x:b = 2 AND x:c = 3))]"},
		{"[(x:a = 1 OR x:b = 2) AND x:c = 3]", "[((x:a = 1 OR x:b = 2) AND x:c = 3)]"},
		// Between observations: AND, then OR, then FOLLOWEDBY.
		{"[x:a = 1] AND [x:b = 2] OR [x:c = 3]", "(([x:a = 1] AND [x:b = 2]) OR [x:c = 3])"},
		{"[x:a = 1] FOLLOWEDBY [x:b = 2] OR [x:c = 3]", "([x:a = 1] FOLLOWEDBY ([x:b = 2] OR [x:c = 3]))"},
		{"[x:a = 1] FOLLOWEDBY [x:b = 2] FOLLOWEDBY [x:c = 3]", "(([x:a = 1] FOLLOWEDBY [x:b = 2]) FOLLOWEDBY [x:c = 3])"},
		{"([x:a = 1] OR [x:b = 2]) AND [x:c = 3]", "(([x:a = 1] OR [x:b = 2]) AND [x:c = 3])"},
		// Qualifiers are postfix and stack.
		{"[x:a = 1] REPEATS 5 TIMES WITHIN 60 SECONDS", "[x:a = 1] REPEATS 5 TIMES WITHIN 60 SECONDS"},
		{"([x:a = 1] AND [x:b = 2]) WITHIN 1.5 SECONDS", "([x:a = 1] AND [x:b = 2]) WITHIN 1.5 SECONDS"},
		{"[x:a = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
			"[x:a = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'"},
		{"/* c */ [x:a = 1] // trailing", "[x:a = 1]"},
		{"[x:a\t=\n1]", "[x:a = 1]"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		// The canonical form is a fixed point.
		again, err := Parse(p.String())
		if err != nil || again.String() != p.String() {
			t.Errorf("canonical form of %q does not re-parse: %v %q", tt.in, err, again)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "expected '[' or '('"},
		{"[", 1, "expected an object path"},
		{"[ipv4-addr:value = '1.2.3.4'", 28, "expected ']'"},
		{"[ipv4-addr:value = '1.2.3.4]", 19, "unterminated string"},
		{"[ipv4-addr:value '1']", 17, "expected a comparison operator"},
		{"[ipv4-addr = '1']", 11, "expected ':'"},
		{"[file:hashes.SHA-256 = 'a']", 13, "must be quoted"},
		{"[file:name = 'a\\n']", 15, "invalid escape"},
		// Qualifiers of one kind apply once to an expression (STIX 2.1
		// section 9.5; the OASIS pattern validator refuses repeats).
		{"[x:a = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", 27, "WITHIN qualifier repeated"},
		{"[x:a = 1] REPEATS 2 TIMES REPEATS 3 TIMES", 26, "REPEATS qualifier repeated"},
		{"[x:a = 1] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z' START t'2020-01-01T00:00:00Z' STOP t'2020-01-03T00:00:00Z'", 69, "START ... STOP qualifier repeated"},
		// Hash values fit their algorithm (hashing-algorithm-ov, section 10.11).
		{"[file:hashes.'SHA-256' = 'f00']", 1, `"f00" is not a SHA-256 hash (64 hex digits)`},
		{"[file:hashes.MD5 = 'zz" + strings.Repeat("0", 30) + "']", 1, "is not a MD5 hash (32 hex digits)"},
		{"[file:hashes.'SHA-1' IN ('" + strings.Repeat("a", 40) + "', 'x')]", 1, `"x" is not a SHA-1 hash`},
		{"[file:hashes.'SHA-512' != '" + strings.Repeat("a", 64) + "']", 1, "SHA-512 hash (128 hex digits)"},
		{"[process:image_ref.hashes.'SHA-256' = 'abc']", 1, "not a SHA-256 hash"},
		{"[file:hashes.SSDEEP = 'not ssdeep']", 1, "not a SSDEEP hash"},
		{"[file:hashes.MD5 = 5]", 1, "MD5 value must be a string"},
		{"[x:a = 01]", 7, "leading zero"},
		{"[x:a < true]", 7, "cannot be ordered"},
		{"[x:a LIKE 1]", 10, "LIKE needs a string"},
		{"[x:a IN 'a']", 8, "expected '('"},
		{"[x:a IN (1,]", 11, "expected a literal"},
		{"[x:a = h'abc']", 7, "pairs of hex digits"},
		{"[x:a = b'abc']", 7, "padded base64"},
		{"[x:a = t'2020-13-01T00:00:00Z']", 7, "not a valid UTC time"},
		{"[x:a = t'2020-01-01T00:00:00+01:00']", 7, "not YYYY"},
		{"[x:a = 1] WITHIN 0 SECONDS", 17, "positive number"},
		{"[x:a = 1] WITHIN -5 SECONDS", 17, "positive number"},
		{"[x:a = 1] WITHIN 5", 18, "expected SECONDS"},
		{"[x:a = 1] REPEATS 0 TIMES", 18, "count from 1"},
		{"[x:a = 1] REPEATS 1.5 TIMES", 18, "positive integer"},
		{"[x:a = 1] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", 10, "later than START"},
		{"[x:a = 1] [x:b = 2]", 10, "expected AND, OR, FOLLOWEDBY"},
		{"[x:a = 1] AND", 13, "expected '[' or '('"},
		{"[x:a[x] = 1]", 5, "list index"},
		{"[x:a = 1] /* open", 10, "unterminated comment"},
		{"[x:a = 1 $]", 9, "unexpected character"},
		{"[x:a = 99999999999999999999]", 7, "out of range"},
		{"[NOT x:a = 1]", 5, "expected EXISTS"},
		{strings.Repeat("(", 200) + "[x:a = 1]" + strings.Repeat(")", 200), 100, "nesting deeper"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q) error = %v, want offset %d and %q", tt.in, err, tt.offset, tt.msg)
		}
	}
}

func TestParseLiteralValues(t *testing.T) {
	tests := []struct {
		in   string
		want Literal
	}{
		{"[x:a = 'a\\\\b\\'c']", Literal{Kind: StringLit, Str: `a\b'c`}},
		{"[x:a = 42]", Literal{Kind: IntLit, Int: 42}},
		{"[x:a = -42]", Literal{Kind: IntLit, Int: -42}},
		{"[x:a = 2.5]", Literal{Kind: FloatLit, Float: 2.5}},
		{"[x:a = true]", Literal{Kind: BoolLit, Bool: true}},
		{"[x:a = h'00ff']", Literal{Kind: HexLit, Bytes: []byte{0, 0xff}}},
		{"[x:a = b'AAE=']", Literal{Kind: BinaryLit, Bytes: []byte{0, 1}}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		got := p.Root.(*Observation).Comparison.(*Test).Value
		if got.String() != tt.want.String() || got.Kind != tt.want.Kind {
			t.Errorf("%q: literal %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// sharedDir finds the read-only test data beside the repository.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(shared); err != nil {
				t.Skipf("shared test data not found at %s", shared)
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}

// examplePatterns returns every indicator pattern in the STIX examples.
func examplePatterns(t testing.TB) []string {
	dir := filepath.Join(sharedDir(t), "stix", "examples")
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc struct {
			Objects []struct {
				Pattern string `json:"pattern"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil // not a bundle
		}
		for _, o := range doc.Objects {
			if o.Pattern != "" {
				out = append(out, o.Pattern)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Skip("no example patterns found")
	}
	return out
}

func TestParseExamplePatterns(t *testing.T) {
	for _, src := range examplePatterns(t) {
		p, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if again, err := Parse(p.String()); err != nil || again.String() != p.String() {
			t.Errorf("canonical form %q of %q does not re-parse: %v", p, src, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"[ipv4-addr:value = '198.51.100.1']",
		"[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' OR file:name LIKE '%.exe']",
		"[x:a IN (1, 2.5, 'x', true, h'00', b'AA==', t'2020-01-01T00:00:00Z')]",
		"([x:a = 1] AND [x:b = 2]) REPEATS 2 TIMES WITHIN 5 SECONDS FOLLOWEDBY [x:c = 3]",
		"[NOT EXISTS x:a[*].b.'c d'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
		"/* c */ [x:a MATCHES '^a\\\\.b$'] // x",
		"[x:a = 'unterminated",
		"[[[[",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, not *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Parse(%q): offset %d outside the input", src, se.Offset)
			}
			return
		}
		canon := p.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.String())
		}
		Simple(p)
		NewMatcher().Add("fuzz", p)
	})
}
