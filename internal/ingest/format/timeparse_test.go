package format

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	cases := []struct {
		in, want string // want "" means an error
	}{
		{"2024-03-14T09:26:53Z", "2024-03-14T09:26:53Z"},
		{"2024-03-14T09:26:53.589Z", "2024-03-14T09:26:53.589Z"},
		{"2009-11-24T21:27:09.534255+0100", "2009-11-24T20:27:09.534255Z"},
		{"2009-11-24T21:27:09.534255-01:30", "2009-11-24T22:57:09.534255Z"},
		{"2019-07-21T17:08:23.9471282+00:00", "2019-07-21T17:08:23.9471282Z"},
		{"2024-03-14 09:26:53.123", "2024-03-14T09:26:53.123Z"},
		{"2024-03-14 09:26:53 UTC", "2024-03-14T09:26:53Z"},
		{"2024-03-14T09:26", "2024-03-14T09:26:00Z"},
		{"2024-03-14T09:26:53.1234567891234Z", "2024-03-14T09:26:53.123456789Z"},
		{"2024-03-14T09:26:53+05", "2024-03-14T04:26:53Z"},
		{"1591367999.430166", "2020-06-05T14:39:59.430166Z"},
		{"1591367999", "2020-06-05T14:39:59Z"},
		{"1591367999430", "2020-06-05T14:39:59.43Z"},
		{"1591367999430166", "2020-06-05T14:39:59.430166Z"},
		{"1591367999430166123", "2020-06-05T14:39:59.430166123Z"},
		{"/Date(1704164645000)/", "2024-01-02T03:04:05Z"},
		{"/Date(1704164645000+0100)/", "2024-01-02T03:04:05Z"},
		{"2024-02-30T00:00:00Z", ""},
		{"2024-13-01T00:00:00Z", ""},
		{"2024-03-14T25:00:00Z", ""},
		{"2024-03-14T09:26:53+2a00", ""},
		{"2024-03-14T09:26:53.Z", ""},
		{"noon", ""},
		{"", ""},
		{"1.2.3", ""},
		{"/Date()/", ""},
	}
	for _, tc := range cases {
		got, err := parseTimestamp([]byte(tc.in))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseTimestamp(%q) = %s, want an error", tc.in, got.Format(time.RFC3339Nano))
		case tc.want != "" && err != nil:
			t.Errorf("parseTimestamp(%q): %v", tc.in, err)
		case tc.want != "" && got.Format(time.RFC3339Nano) != tc.want:
			t.Errorf("parseTimestamp(%q) = %s, want %s", tc.in, got.Format(time.RFC3339Nano), tc.want)
		}
	}
}

// FuzzParseTimestamp checks the fast timestamp parser against the standard
// library: whatever time.Parse reads as RFC 3339 within the range of event
// times, parseTimestamp reads as the same instant, and outside it refuses
// with the range; it never panics on anything else.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2024-03-14T09:26:53Z", "2009-11-24T21:27:09.534255+01:00", "1591367999.43", "/Date(1)/", "2024-03-14 09:26:53", "9999-12-31T23:59:60Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimestamp([]byte(s))
		want, stdErr := time.Parse(time.RFC3339Nano, s)
		if stdErr == nil && checkTime(want, nil) != nil {
			if err == nil || !strings.Contains(err.Error(), "outside the range of event times") {
				t.Fatalf("%q: time.Parse reads %v, out of range, parseTimestamp: %v, %v", s, want, got, err)
			}
			return
		}
		if stdErr == nil {
			if err != nil {
				t.Fatalf("%q: time.Parse reads %v, parseTimestamp fails: %v", s, want, err)
			}
			if !got.Equal(want) {
				t.Fatalf("%q: %v, time.Parse %v", s, got, want)
			}
		}
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("%q: result not in UTC", s)
		}
	})
}
