package format

import (
	"strings"
	"testing"
)

// plainRunByByte is the definition plainRun implements eight bytes at a
// time.
func plainRunByByte(s []byte, i int, stopHigh bool) int {
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 || (stopHigh && c >= 0x80) {
			break
		}
	}
	return i
}

func TestPlainRun(t *testing.T) {
	long := strings.Repeat("abcdefgh", 5)
	cases := []struct {
		in               string
		from, all, ascii int
	}{
		{``, 0, 0, 0},
		{`abc`, 0, 3, 3},
		{long, 0, 40, 40},
		{long + `"`, 0, 40, 40},
		{long + `\n`, 3, 40, 40},
		{`abcdefg"hijklmnop`, 0, 7, 7},
		{`abcdefgh"`, 0, 8, 8},
		{"abc\x1fdefghijk", 0, 3, 3},
		{"abcdefghij\x7f\x20\x21!", 0, 14, 14},
		{"héllo wörld, long enough\"", 0, 26, 1},
		{"!#[]~\x80\xff\"", 0, 7, 5},
		// A quote right after a byte that borrows: only the first mark counts.
		{"\x00\"abcdefgh", 0, 0, 0},
		{"a\x21\x22\x23", 0, 2, 2},
		{`xxxxxxxx\`, 8, 8, 8},
	}
	for _, c := range cases {
		if got := PlainJSONRun([]byte(c.in), c.from); got != c.all {
			t.Errorf("PlainJSONRun(%q, %d) = %d, want %d", c.in, c.from, got, c.all)
		}
		if got := plainASCIIRun([]byte(c.in), c.from); got != c.ascii {
			t.Errorf("plainASCIIRun(%q, %d) = %d, want %d", c.in, c.from, got, c.ascii)
		}
	}
}

// FuzzPlainRun checks the word-at-a-time scan against the byte-at-a-time
// definition from every starting point.
func FuzzPlainRun(f *testing.F) {
	for _, s := range []string{"abcdefghijkl\"", "\x00\x01\"\\\x80\xff", "é\"", strings.Repeat("\x1f", 17), "xxxxxxx\x7f\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		for i := 0; i <= len(s); i++ {
			if got, want := PlainJSONRun(s, i), plainRunByByte(s, i, false); got != want {
				t.Fatalf("PlainJSONRun(%q, %d) = %d, want %d", s, i, got, want)
			}
			if got, want := plainASCIIRun(s, i), plainRunByByte(s, i, true); got != want {
				t.Fatalf("plainASCIIRun(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	})
}
