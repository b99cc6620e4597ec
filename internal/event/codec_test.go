package event

import (
	"encoding/json"
	"strings"
	"testing"
)

// appendJSONStringByByte is AppendJSONString without the eight-byte
// skipping: the reference the fast path must agree with.
func appendJSONStringByByte(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == badRune && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var jsonStringCases = []string{
	"", "a", "plain ascii text longer than eight bytes",
	`C:\Windows\System32\cmd.exe /c "whoami"`,
	"tab\there\nnewline\rcr", "\x00\x01\x1f\x7f", "quote\" at 6", `0123456"`, `01234567"`, `\\\\\\\\\\`,
	"ünïcødé текст 漢字 🎧", "bad \xff utf8 \xc3\x28 here", "\xe2\x80\xa8 line separator",
	strings.Repeat("x", 7) + "\x80", strings.Repeat("y", 64) + "\n" + strings.Repeat("z", 9),
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStringCases {
		checkJSONString(t, s)
		for cut := 1; cut < len(s); cut++ { // every alignment
			checkJSONString(t, s[cut:])
		}
	}
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	got := string(AppendJSONString([]byte("x"), s))
	want := string(appendJSONStringByByte([]byte("x"), s))
	if got != want {
		t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got, want)
	}
	var back string
	if err := json.Unmarshal([]byte(got[1:]), &back); err != nil {
		t.Fatalf("AppendJSONString(%q) = %s: not JSON: %v", s, got, err)
	}
	if strings.ToValidUTF8(s, "") == s && back != s {
		t.Fatalf("AppendJSONString(%q) decodes to %q", s, back)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}
