package format

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// scanAll splits stream with ScanSyslog through a bufio.Scanner, as the
// syslog server does, optionally feeding it one byte at a time.
func scanAll(stream []byte, oneByte bool) ([]string, error) {
	var r = bytes.NewReader(stream)
	sc := bufio.NewScanner(r)
	if oneByte {
		sc = bufio.NewScanner(iotest.OneByteReader(r))
	}
	sc.Buffer(make([]byte, 64<<10), MaxRecord+16)
	sc.Split(ScanSyslog)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func TestScanSyslog(t *testing.T) {
	m1 := `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed`
	m2 := `<165>1 2003-10-11T22:14:15.003Z host app - - [a b="multi` + "\n" + `line"] x`
	cases := []struct {
		name   string
		stream string
		want   []string
		err    string
	}{
		{"newline framing", "<13>a\n<13>b\n", []string{"<13>a", "<13>b"}, ""},
		{"CRLF and a last line without LF", "<13>a\r\n<13>b", []string{"<13>a", "<13>b"}, ""},
		{"NUL framing", "<13>a\x00<13>b\x00", []string{"<13>a", "<13>b"}, ""},
		{"empty lines skipped", "\n\n<13>a\n\r\n\x00<13>b\n", []string{"<13>a", "<13>b"}, ""},
		{"octet counting", fmt.Sprintf("%d %s%d %s", len(m1), m1, len(m2), m2), []string{m1, m2}, ""},
		{"octet counting keeps newlines inside", "9 <13>a\nb\nc", []string{"<13>a\nb\nc"}, ""},
		{"octet counting with a trailing LF", "5 <13>a\n5 <13>b\n", []string{"<13>a", "<13>b"}, ""},
		{"mixed framings", "5 <13>a<13>b\n5 <13>c", []string{"<13>a", "<13>b", "<13>c"}, ""},
		{"zero-length frame skipped", "0 5 <13>a", []string{"<13>a"}, ""},
		{"digits without a space are a line", "12345\n123abc\n", []string{"12345", "123abc"}, ""},
		{"digits alone at the end are a line", "42", []string{"42"}, ""},
		{"absurd length", "99999999 <13>a", nil, "octet-counted frame length"},
		{"length over 1 MiB", "1048577 <13>a", nil, "octet-counted frame of 1048577 bytes"},
		{"stream ends inside a frame", "5 <13>a\n50 <13>short", []string{"<13>a"}, "stream ended inside an octet-counted frame: want 50 bytes, have 9"},
	}
	for _, tc := range cases {
		for _, oneByte := range []bool{false, true} {
			got, err := scanAll([]byte(tc.stream), oneByte)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s (one byte %v): got %q, want %q", tc.name, oneByte, got, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("%s (one byte %v): %v", tc.name, oneByte, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("%s (one byte %v): error %v, want %q", tc.name, oneByte, err, tc.err)
			}
		}
	}
}

func TestScanSyslogLimits(t *testing.T) {
	// A frame of exactly MaxRecord bytes passes, in both framings.
	body := "<13>" + strings.Repeat("x", MaxRecord-4)
	for _, stream := range []string{"1048576 " + body, body + "\n"} {
		got, err := scanAll([]byte(stream), false)
		if err != nil || len(got) != 1 || len(got[0]) != MaxRecord {
			t.Errorf("frame of MaxRecord bytes: %d tokens, err %v", len(got), err)
		}
	}
	// A line longer than MaxRecord without LF is an error wrapping
	// ErrTooLong, not a silent cut.
	_, err := scanAll([]byte(body+"yy\n"), false)
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("over-long line: err = %v, want ErrTooLong", err)
	}
	_, err = scanAll([]byte("9999999 <13>a"), false)
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("absurd length: err = %v, want ErrTooLong", err)
	}
}
