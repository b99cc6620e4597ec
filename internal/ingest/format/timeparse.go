package format

import (
	"fmt"
	"math"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// parseTimestamp parses the timestamp forms found in the supported formats:
// RFC 3339 / ISO 8601 with a T or a space, any fraction and any zone form
// (Z, +hh:mm, +hhmm, +hh or none, meaning UTC); Unix epoch seconds with a
// fraction, milliseconds, microseconds or nanoseconds; and the
// "/Date(ms)/" form of .NET's JSON serialiser. The common forms are parsed
// without allocating; the rest go to event.ParseTime. The result is in UTC.
// A time outside the range of event times is an error.
func parseTimestamp(b []byte) (time.Time, error) {
	t, ok := parseISO(b)
	if !ok {
		t, ok = parseEpoch(b)
	}
	if !ok {
		t, ok = parseDotNetDate(b)
	}
	if !ok {
		var err error
		if t, err = event.ParseTime(string(b)); err != nil {
			return time.Time{}, fmt.Errorf("unrecognised timestamp %q", b)
		}
	}
	return t, checkTime(t, b)
}

// checkTime refuses a time outside the range of event times: from the Unix
// epoch, 1970-01-01T00:00:00Z, to the last instant int64 nanoseconds since
// it hold, 2262-04-11T23:47:16.854775807Z. Events are stored, ordered and
// filtered by that number; a time outside it would wrap around. src is
// the time as written, quoted in the error.
func checkTime(t time.Time, src []byte) error {
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) {
		return fmt.Errorf("timestamp %q is outside the range of event times, 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z", src)
	}
	return nil
}

// parseISO parses YYYY-MM-DD[T ]hh:mm[:ss[.fraction]][zone].
func parseISO(b []byte) (time.Time, bool) {
	if len(b) < 16 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	rest := b[16:]
	sec, nsec := 0, 0
	if len(rest) > 0 && rest[0] == ':' {
		if len(rest) < 3 {
			return time.Time{}, false
		}
		var ok bool
		if sec, ok = digits(rest[1:3]); !ok {
			return time.Time{}, false
		}
		rest = rest[3:]
		if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
			n, used := fraction(rest[1:])
			if used == 0 {
				return time.Time{}, false
			}
			nsec = n
			rest = rest[1+used:]
		}
	}
	offset, ok := zoneOffset(rest)
	if !ok || !validClock(month, day, hour, minute, sec) || day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	// The instant by arithmetic: time.Date (twice, with daysIn) was most
	// of the cost of a Windows record's timestamp. A second of 60 rolls
	// over into the next minute, as time.Date does.
	secs := unixDays(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return time.Unix(secs, int64(nsec)).UTC(), true
}

// unixDays returns the number of days from 1970-01-01 to the given date
// of the proleptic Gregorian calendar (negative before it), which must be
// valid. It is Howard Hinnant's days_from_civil: years are counted from
// March, so that the leap day ends a year, in eras of 400 years.
func unixDays(year, month, day int) int64 {
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400                     // year of the era, 0 to 399
	mp := (month + 9) % 12                 // month counted from March, 0 to 11
	doy := (153*mp+2)/5 + day - 1          // day of the year from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy // day of the era
	return int64(era)*146097 + int64(doe) - 719468
}

// zoneOffset parses a zone suffix into seconds east of UTC: "" (UTC), Z,
// UTC, GMT, +hh:mm, +hhmm or +hh, optionally after a space.
func zoneOffset(b []byte) (int, bool) {
	if len(b) > 1 && b[0] == ' ' {
		b = b[1:]
	}
	switch {
	case string(b) == "UTC" || string(b) == "GMT":
		return 0, true
	case len(b) == 0:
		return 0, true
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
		return 0, true
	case b[0] != '+' && b[0] != '-':
		return 0, false
	}
	sign := 1
	if b[0] == '-' {
		sign = -1
	}
	b = b[1:]
	var hh, mm int
	var ok bool
	switch {
	case len(b) == 2:
		hh, ok = digits(b)
	case len(b) == 4:
		hh, ok = digits(b[:2])
		if ok {
			mm, ok = digits(b[2:])
		}
	case len(b) == 5 && b[2] == ':':
		hh, ok = digits(b[:2])
		if ok {
			mm, ok = digits(b[3:])
		}
	}
	if !ok || hh > 23 || mm > 59 {
		return 0, false
	}
	return sign * (hh*3600 + mm*60), true
}

// parseEpoch parses Unix epoch time: seconds with an optional fraction, or
// a whole number of milliseconds, microseconds or nanoseconds, told apart
// by magnitude (seconds stay below 10^11 until the year 5138).
func parseEpoch(b []byte) (time.Time, bool) {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == 0 || i > 19 {
		return time.Time{}, false
	}
	var whole int64
	for _, c := range b[:i] {
		whole = whole*10 + int64(c-'0')
	}
	if i == len(b) {
		switch {
		case whole < 1e11:
			return time.Unix(whole, 0).UTC(), true
		case whole < 1e14:
			return time.UnixMilli(whole).UTC(), true
		case whole < 1e17:
			return time.UnixMicro(whole).UTC(), true
		}
		return time.Unix(0, whole).UTC(), true
	}
	if b[i] != '.' || whole >= 1e11 {
		return time.Time{}, false
	}
	nsec, used := fraction(b[i+1:])
	if used == 0 || i+1+used != len(b) {
		return time.Time{}, false
	}
	return time.Unix(whole, int64(nsec)).UTC(), true
}

// parseDotNetDate parses "/Date(1600000000000)/", optionally with a zone
// suffix inside the parentheses, which does not change the instant.
func parseDotNetDate(b []byte) (time.Time, bool) {
	const pre, post = "/Date(", ")/"
	if len(b) < len(pre)+len(post)+1 || string(b[:len(pre)]) != pre || string(b[len(b)-len(post):]) != post {
		return time.Time{}, false
	}
	b = b[len(pre) : len(b)-len(post)]
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
	}
	var ms int64
	i := 0
	for ; i < len(b) && isDigit(b[i]) && i < 18; i++ {
		ms = ms*10 + int64(b[i]-'0')
	}
	if i == 0 || (i < len(b) && b[i] != '+' && b[i] != '-') {
		return time.Time{}, false
	}
	if neg {
		ms = -ms
	}
	return time.UnixMilli(ms).UTC(), true
}

// fraction parses up to nine significant fraction digits into nanoseconds,
// ignoring any further digits, and returns how many bytes it used.
func fraction(b []byte) (nsec, used int) {
	scale := 100_000_000
	for used < len(b) && isDigit(b[used]) {
		if scale > 0 {
			nsec += int(b[used]-'0') * scale
			scale /= 10
		}
		used++
	}
	return nsec, used
}

// digits parses a run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func validClock(month, day, hour, minute, sec int) bool {
	return month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && sec <= 60
}

// daysIn returns the number of days of month m (1 to 12) in year, by
// table rather than by time.Date, which cost several times more.
func daysIn(m time.Month, year int) int {
	if m < time.January || m > time.December {
		return 0
	}
	if m == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return int(monthDays[m-1])
}

// monthDays is the length of each month in a common year.
var monthDays = [12]uint8{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// monthIndex maps a three-letter English month abbreviation, in any case,
// to its number, or returns 0.
func monthIndex(b []byte) int {
	if len(b) != 3 {
		return 0
	}
	m := [3]byte{lower(b[0]), lower(b[1]), lower(b[2])}
	for i, name := range monthNames {
		if string(m[:]) == name {
			return i + 1
		}
	}
	return 0
}

var monthNames = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
