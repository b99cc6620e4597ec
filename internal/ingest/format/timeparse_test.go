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

// TestCalendarArithmetic checks unixDays and daysIn, which replace
// time.Date in parseISO, against time.Date on every day of four
// centuries around the range of event times and on the years whose
// leap rules differ.
func TestCalendarArithmetic(t *testing.T) {
	years := []int{0, 1, 4, 99, 100, 399, 400, 401, 1600, 1700, 1900, 2000, 2100, 2400, 9999}
	for y := 1900; y <= 2300; y++ {
		years = append(years, y)
	}
	for _, y := range years {
		for m := time.January; m <= time.December; m++ {
			want := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if got := daysIn(m, y); got != want {
				t.Fatalf("daysIn(%v, %d) = %d, want %d", m, y, got, want)
			}
			for d := 1; d <= want; d++ {
				if got, want := unixDays(y, int(m), d)*86400, time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(); got != want {
					t.Fatalf("unixDays(%d, %d, %d) = %d days, want %d", y, m, d, got/86400, want/86400)
				}
			}
		}
	}
	if daysIn(0, 2024) != 0 || daysIn(13, 2024) != 0 {
		t.Fatal("daysIn of a month out of range is not 0")
	}
}

// TestParseISOMatchesTimeDate checks parseISO's result, as a time.Time,
// against what time.Date makes of the same fields: the same instant, in
// UTC, with no monotonic reading (== compares all of it), on leap days,
// leap seconds and zones that move the date.
func TestParseISOMatchesTimeDate(t *testing.T) {
	cases := []struct {
		in                             string
		y, mo, d, h, mi, s, ns, offset int
	}{
		{"2026-12-07T17:58:56.123456789Z", 2026, 12, 7, 17, 58, 56, 123456789, 0},
		{"2024-02-29T23:59:60Z", 2024, 2, 29, 23, 59, 60, 0, 0},
		{"2000-03-01T00:30:00+01:00", 2000, 3, 1, 0, 30, 0, 0, 3600},
		{"1970-01-01 00:00", 1970, 1, 1, 0, 0, 0, 0, 0},
		{"0000-01-01T00:00:00-23:59", 0, 1, 1, 0, 0, 0, 0, -(23*3600 + 59*60)},
		{"9999-12-31T23:59:59.999999999Z", 9999, 12, 31, 23, 59, 59, 999999999, 0},
	}
	for _, c := range cases {
		got, ok := parseISO([]byte(c.in))
		want := time.Date(c.y, time.Month(c.mo), c.d, c.h, c.mi, c.s, c.ns, time.UTC).Add(-time.Duration(c.offset) * time.Second)
		if !ok || got != want {
			t.Errorf("parseISO(%q) = %v, %v; want %v", c.in, got, ok, want)
		}
	}
}

// BenchmarkParseTimestamp is the timestamp of every record of `xsoc bench
// e2e`, the form winlogbeat writes.
func BenchmarkParseTimestamp(b *testing.B) {
	v := []byte("2026-12-07T17:58:56.123456789Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTimestamp(v); err != nil {
			b.Fatal(err)
		}
	}
}
