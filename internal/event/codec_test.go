package event

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

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

// checkJSONString holds AppendJSONString to encoding/json: the output is
// valid JSON and valid UTF-8, follows what b held, and decodes to what
// json.Marshal's encoding of s decodes to (invalid UTF-8 replaced by
// U+FFFD byte by byte).
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	got := AppendJSONString([]byte("x"), s)
	if got[0] != 'x' || !json.Valid(got[1:]) || !utf8.Valid(got) {
		t.Fatalf("AppendJSONString(%q) = %s: not x followed by valid JSON in UTF-8", s, got)
	}
	ref, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back, want string
	if err := json.Unmarshal(got[1:], &back); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	if back != want {
		t.Fatalf("AppendJSONString(%q) = %s decodes to %q, want %q", s, got, back, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}
