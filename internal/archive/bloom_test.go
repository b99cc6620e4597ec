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

func TestValueHashFoldsCase(t *testing.T) {
	for _, v := range []string{"", "a", "WS-3082.CORP.example", "C:\\WINDOWS\\system32\\CMD.exe /c whoami"} {
		if valueHash(v) != valueHash(strings.ToLower(v)) {
			t.Errorf("%q", v)
		}
	}
	if valueHash("ab") == valueHash("ab\x00") || valueHash("ab") == valueHash("ba") {
		t.Error("lengths or order not mixed in")
	}
}

func TestBloomKeyReadsBothVersions(t *testing.T) {
	var b bloomBuilder
	b.add("WS-7")
	v2 := b.build(16)
	// A version 1 filter: the field name and value hashed together.
	v1 := make([]byte, len(v2)-1)
	h := fieldHash("host.name", "ws-7")
	m := uint64(len(v1) * 8)
	for k := range uint64(bloomHashes) {
		bit := (h + k*(h>>32|h<<32)) % m
		v1[bit/8] |= 1 << (bit % 8)
	}
	cases := []struct {
		name   string
		filter []byte
		key    bloomKey
		want   bool
	}{
		{"v2 holds the value", v2, newBloomKey("host.name", "ws-7"), true},
		{"v2 holds it under any field", v2, newBloomKey("winlog.computer_name", "WS-7"), true},
		{"v2 lacks another value", v2, newBloomKey("host.name", "WS-8"), false},
		{"v1 holds field and value", v1, newBloomKey("host.name", "WS-7"), true},
		{"v1 lacks another field", v1, newBloomKey("user.name", "WS-7"), false},
		{"v1 never held ids", v1, newBloomKey("event.id", "x"), true},
		{"malformed may hold anything", []byte{1, 2, 3}, newBloomKey("host.name", "WS-8"), true},
	}
	for _, c := range cases {
		if got := c.key.mayHave(c.filter); got != c.want {
			t.Errorf("%s: mayHave = %v", c.name, got)
		}
	}
}
