package archive

import (
	"strings"
	"testing"
)

func TestFieldHashFoldsCase(t *testing.T) {
	for _, v := range []string{"", "a", "WS-3082.CORP.example", "ÄÖ@[`{Zz09", "C:\\WINDOWS\\system32\\CMD.exe /c whoami"} {
		if fieldHash("f", v) != fieldHash("f", strings.ToLower(v)) && v != "ÄÖ@[`{Zz09" {
			t.Errorf("%q", v)
		}
	}
	for _, c := range []string{"@", "[", "`", "{", "\x80", "\xc1", "\xda"} {
		if fieldHash("f", c) == fieldHash("f", string(c[0]+0x20)) {
			t.Errorf("%q folded", c)
		}
	}
	if fieldHash("f", "ab") == fieldHash("f", "ab\x00") || fieldHash("ab", "c") == fieldHash("a", "bc") {
		t.Error("lengths not mixed in")
	}
}
