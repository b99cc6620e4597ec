package format

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// errMissingPRI is the reason given for a syslog record that does not start
// with <PRI>. It is the usual symptom of sending plain text as syslog.
var errMissingPRI = errors.New("syslog: missing PRI: a syslog message starts with <PRI>, e.g. <34>")

// parseSyslog parses an RFC 5424 or RFC 3164 message. Every value is a
// span of the line, which is copied into the builder's buffer once.
func (p *Parser) parseSyslog(line []byte) error {
	b := &p.b
	base := b.add(line).lo
	s := line
	if len(s) == 0 || s[0] != '<' {
		return errMissingPRI
	}
	end := 1
	for end < len(s) && end <= 3 && isDigit(s[end]) {
		end++
	}
	if end == 1 || end >= len(s) || s[end] != '>' {
		return errors.New("syslog: bad PRI: want 1 to 3 digits between < and >")
	}
	pri, _ := digits(s[1:end])
	if pri > 191 {
		return fmt.Errorf("syslog: bad PRI %d: the largest is 191 (facility 23, severity 7)", pri)
	}
	b.keyLit(event.EventModule, "syslog")
	b.keyLit(event.EventDataset, "syslog")
	b.namedLit("log.syslog.priority", smallDecimal[pri])
	b.namedLit("log.syslog.facility.code", smallDecimal[pri/8])
	b.namedLit("log.syslog.severity.code", smallDecimal[pri%8])
	b.namedLit("log.syslog.facility.name", facilityNames[pri/8])
	b.namedLit("log.syslog.severity.name", severityNames[pri%8])
	i := end + 1
	if i+1 < len(s) && s[i] == '1' && s[i+1] == ' ' {
		return p.parse5424(s, base, i)
	}
	return p.parse3164(s, base, i)
}

// rfc5424Fields names the header fields in order, for errors.
var rfc5424Fields = [...]string{"VERSION", "TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"}

// parse5424 parses the part of an RFC 5424 message after PRI, at s[i].
func (p *Parser) parse5424(s []byte, base, i int) error {
	b := &p.b
	var f [len(rfc5424Fields)]span // spans of s
	for n := range f {
		if i >= len(s) {
			return fmt.Errorf("syslog: RFC 5424 header ends after %s; want VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA", rfc5424Fields[n-1])
		}
		lo := i
		for i < len(s) && s[i] != ' ' {
			i++
		}
		if i == lo {
			return fmt.Errorf("syslog: RFC 5424 %s is empty (two spaces in the header)", rfc5424Fields[n])
		}
		f[n] = span{lo, i}
		i++ // the space
	}
	if i >= len(s) {
		return errors.New("syslog: RFC 5424 header ends after MSGID; want STRUCTURED-DATA (- if none)")
	}
	at := func(sp span) span { return span{base + sp.lo, base + sp.hi} }
	nil5424 := func(sp span) bool { return sp.hi-sp.lo == 1 && s[sp.lo] == '-' }
	b.named("log.syslog.version", at(f[0]))
	if ts := f[1]; !nil5424(ts) {
		t, ok := parseISO(s[ts.lo:ts.hi])
		if !ok {
			return fmt.Errorf("syslog: invalid RFC 5424 TIMESTAMP %q", s[ts.lo:ts.hi])
		}
		if err := checkTime(t, s[ts.lo:ts.hi]); err != nil {
			return fmt.Errorf("syslog: RFC 5424 TIMESTAMP: %w", err)
		}
		b.time = t
	}
	if h := f[2]; !nil5424(h) {
		b.key(event.HostHostname, at(h))
		b.key(event.HostName, at(h))
		b.named("log.syslog.hostname", at(h))
	}
	if a := f[3]; !nil5424(a) {
		b.key(event.ProcessName, at(a))
		b.named("log.syslog.appname", at(a))
	}
	if pid := f[4]; !nil5424(pid) {
		b.named("log.syslog.procid", at(pid))
		if _, ok := digits(s[pid.lo:pid.hi]); ok {
			b.key(event.ProcessPid, at(pid))
		}
	}
	if m := f[5]; !nil5424(m) {
		b.key(event.EventCode, at(m))
		b.named("log.syslog.msgid", at(m))
	}
	var err error
	switch s[i] {
	case '-':
		i++
	case '[':
		if i, err = p.structuredData(s, base, i); err != nil {
			return err
		}
	default:
		return fmt.Errorf("syslog: STRUCTURED-DATA must be - or start with [, found %q", s[i])
	}
	if i >= len(s) {
		return nil
	}
	if s[i] != ' ' {
		return fmt.Errorf("syslog: want a space between STRUCTURED-DATA and MSG, found %q", s[i])
	}
	msg := bytes.TrimPrefix(s[i+1:], []byte("\xEF\xBB\xBF"))
	return p.syslogMessage(msg, base+len(s)-len(msg))
}

// maxSDName is the longest SD-ID and PARAM-NAME, from RFC 5424's ABNF.
// Enforcing it also keeps the field names (which repeat the SD-ID for
// every parameter) proportional to the message.
const maxSDName = 32

// structuredData parses the SD-ELEMENTs at s[i] and stores each parameter
// as syslog.sd.<SD-ID>.<PARAM-NAME>. It returns the index after them.
func (p *Parser) structuredData(s []byte, base, i int) (int, error) {
	b := &p.b
	params := 0
	for i < len(s) && s[i] == '[' {
		i++
		idLo := i
		for i < len(s) && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == idLo || i >= len(s) || s[i] == '=' || s[i] == '"' {
			return i, errors.New("syslog: STRUCTURED-DATA: an element must start with an SD-ID")
		}
		id := s[idLo:i]
		if len(id) > maxSDName {
			return i, fmt.Errorf("syslog: STRUCTURED-DATA: SD-ID %.32q... is longer than %d characters", id, maxSDName)
		}
		for i < len(s) && s[i] == ' ' {
			i++
			nameLo := i
			for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != ']' && s[i] != '"' {
				i++
			}
			if i == nameLo || i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return i, fmt.Errorf("syslog: STRUCTURED-DATA [%s: want PARAM-NAME=\"value\"", id)
			}
			name := s[nameLo:i]
			if params++; params > maxFields {
				return i, fmt.Errorf("syslog: more than %d STRUCTURED-DATA parameters", maxFields)
			}
			if len(name) > maxSDName {
				return i, fmt.Errorf("syslog: STRUCTURED-DATA [%s: PARAM-NAME %.32q... is longer than %d characters", id, name, maxSDName)
			}
			i += 2
			valLo, escaped := i, false
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(s) {
				return i, fmt.Errorf("syslog: STRUCTURED-DATA [%s %s: unterminated value", id, name)
			}
			val := span{base + valLo, base + i}
			if escaped {
				val = b.sdUnescape(s[valLo:i])
			}
			i++ // the closing quote
			lo := len(b.names)
			b.names = append(b.names, "syslog.sd."...)
			b.names = append(b.names, id...)
			b.names = append(b.names, '.')
			b.names = append(b.names, name...)
			b.dynamic(span{lo, len(b.names)}, val)
		}
		if i >= len(s) || s[i] != ']' {
			return i, fmt.Errorf("syslog: STRUCTURED-DATA [%s: missing ]", id)
		}
		i++
	}
	return i, nil
}

// sdUnescape appends a PARAM-VALUE with its escapes (\" \\ \]) resolved;
// any other backslash is kept, as RFC 5424 says.
func (b *builder) sdUnescape(v []byte) span {
	lo := b.mark()
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
		}
		b.buf = append(b.buf, v[i])
	}
	return b.since(lo)
}

// parse3164 parses the part of an RFC 3164 ("BSD") message after PRI, at
// s[i]: an optional "Mmm dd hh:mm:ss" or RFC 3339 timestamp, then (after a
// timestamp) the host name, then an optional TAG[pid]: and the message.
func (p *Parser) parse3164(s []byte, base, i int) error {
	b := &p.b
	hadTime := false
	if t, n, ok := p.bsdTime(s[i:]); ok {
		b.time, hadTime = t, true
		i += n
	} else if j := tokenEnd(s, i); j > i {
		if t, ok := parseISO(s[i:j]); ok {
			if err := checkTime(t, s[i:j]); err != nil {
				return fmt.Errorf("syslog: RFC 3164 timestamp: %w", err)
			}
			b.time, hadTime = t, true
			i = j
		}
	}
	if hadTime {
		if i < len(s) && s[i] != ' ' {
			return fmt.Errorf("syslog: want a space after the RFC 3164 timestamp, found %q", s[i])
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if j := tokenEnd(s, i); j > i && !looksLikeTag(s[i:j]) && !bytes.HasPrefix(s[i:], []byte("CEF:")) {
			host := span{base + i, base + j}
			b.key(event.HostHostname, host)
			b.key(event.HostName, host)
			i = j
			for i < len(s) && s[i] == ' ' {
				i++
			}
		}
	}
	if bytes.HasPrefix(s[i:], []byte("CEF:")) {
		return p.syslogMessage(s[i:], base+i)
	}
	if tagEnd, pidLo, pidHi, msg := splitTag(s, i); tagEnd > i {
		b.key(event.ProcessName, span{base + i, base + tagEnd})
		b.named("log.syslog.appname", span{base + i, base + tagEnd})
		if pidHi > pidLo {
			b.named("log.syslog.procid", span{base + pidLo, base + pidHi})
			if _, ok := digits(s[pidLo:pidHi]); ok {
				b.key(event.ProcessPid, span{base + pidLo, base + pidHi})
			}
		}
		i = msg
	}
	return p.syslogMessage(s[i:], base+i)
}

// syslogMessage stores MSG, which starts at base in the buffer, and parses
// it as CEF if it is CEF. A malformed CEF message keeps the syslog event
// and says what is wrong in error.message.
func (p *Parser) syslogMessage(msg []byte, base int) error {
	b := &p.b
	msg = bytes.TrimRight(msg, "\r\n\x00")
	b.key(event.Message, span{base, base + len(msg)})
	if !bytes.HasPrefix(msg, []byte("CEF:")) {
		return nil
	}
	cp := b.checkpoint()
	if err := p.cefBody(msg, base); err != nil {
		b.rollback(cp)
		b.namedLit("error.message", err.Error())
	}
	return nil
}

// tokenEnd returns the index of the first space at or after s[i], or len(s).
func tokenEnd(s []byte, i int) int {
	for i < len(s) && s[i] != ' ' {
		i++
	}
	return i
}

// looksLikeTag reports whether a word after the timestamp is a TAG rather
// than a host name: senders often omit the host, and a tag ends with a
// colon or carries a [pid].
func looksLikeTag(w []byte) bool {
	return w[len(w)-1] == ':' || bytes.IndexByte(w, '[') >= 0
}

// splitTag finds TAG[pid]: at s[i]. It returns the end of the tag (i if
// there is none), the pid's bounds (equal if none) and where the message
// starts.
func splitTag(s []byte, i int) (tagEnd, pidLo, pidHi, msg int) {
	const maxTag = 64 // RFC 3164 says 32; real tags (postfix/smtpd) run longer
	j := i
	for j < len(s) && j-i <= maxTag && s[j] != ' ' && s[j] != ':' && s[j] != '[' {
		j++
	}
	if j == i || j >= len(s) || j-i > maxTag {
		return i, 0, 0, i
	}
	k := j
	if s[k] == '[' {
		end := bytes.IndexByte(s[k:], ']')
		if end < 0 {
			return i, 0, 0, i
		}
		pidLo, pidHi = k+1, k+end
		k += end + 1
	}
	if k >= len(s) || s[k] != ':' {
		if pidHi > pidLo && (k >= len(s) || s[k] == ' ') {
			// "sshd[42] message": a tag with a pid but no colon.
			return j, pidLo, pidHi, skipOneSpace(s, k)
		}
		return i, 0, 0, i
	}
	return j, pidLo, pidHi, skipOneSpace(s, k+1)
}

func skipOneSpace(s []byte, i int) int {
	if i < len(s) && s[i] == ' ' {
		return i + 1
	}
	return i
}

// bsdTime parses an RFC 3164 timestamp, "Mmm dd hh:mm:ss" (the day may be
// space-padded; a fraction and a year after the day are tolerated), and
// returns it with the number of bytes used. Without a year, the year is
// the latest that does not put the time more than a day in the future (a
// day allows for senders in other time zones). The time is taken as UTC.
func (p *Parser) bsdTime(s []byte) (time.Time, int, bool) {
	c, n, ok := parseMonthDayClock(s)
	if !ok {
		return time.Time{}, 0, false
	}
	if c.year == 0 {
		t, ok := inferYear(p.now(), c)
		return t, n, ok
	}
	if c.day > daysIn(time.Month(c.month), c.year) {
		return time.Time{}, 0, false
	}
	return c.time(c.year), n, true
}

// clock is a calendar time without a zone, as parsed from "Mmm dd ...".
type clock struct {
	year, month, day, hour, minute, sec, nsec int
}

func (c clock) time(year int) time.Time {
	return time.Date(year, time.Month(c.month), c.day, c.hour, c.minute, c.sec, c.nsec, time.UTC)
}

// parseMonthDayClock parses "Mmm dd [yyyy ]hh:mm:ss[.fraction]", with the
// day one or two digits, optionally space-padded. It returns the bytes used.
func parseMonthDayClock(s []byte) (clock, int, bool) {
	var c clock
	if len(s) < 14 || s[3] != ' ' {
		return c, 0, false
	}
	if c.month = monthIndex(s[:3]); c.month == 0 {
		return c, 0, false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	j := i
	for j < len(s) && j-i < 2 && isDigit(s[j]) {
		j++
	}
	c.day, _ = digits(s[i:j])
	if j == i || j >= len(s) || s[j] != ' ' {
		return c, 0, false
	}
	i = j + 1
	if i+5 <= len(s) && s[i+4] == ' ' {
		if y, ok := digits(s[i : i+4]); ok {
			c.year, i = y, i+5
		}
	}
	if i+8 > len(s) || s[i+2] != ':' || s[i+5] != ':' {
		return c, 0, false
	}
	var ok1, ok2, ok3 bool
	c.hour, ok1 = digits(s[i : i+2])
	c.minute, ok2 = digits(s[i+3 : i+5])
	c.sec, ok3 = digits(s[i+6 : i+8])
	i += 8
	if !(ok1 && ok2 && ok3) || !validClock(c.month, c.day, c.hour, c.minute, c.sec) || c.day > 31 {
		return c, 0, false
	}
	if i < len(s) && s[i] == '.' {
		nsec, used := fraction(s[i+1:])
		if used > 0 {
			c.nsec, i = nsec, i+1+used
		}
	}
	return c, i, true
}

// inferYear gives a year-less time the latest year, from next year back,
// that does not put it more than a day after now, skipping years where the
// date does not exist (29 February).
func inferYear(now time.Time, c clock) (time.Time, bool) {
	limit := now.Add(24 * time.Hour)
	y := now.UTC().Year() + 1
	for k := 0; k < 9; k++ {
		if c.day <= daysIn(time.Month(c.month), y-k) {
			if t := c.time(y - k); !t.After(limit) {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// smallDecimal holds the decimal strings of 0 to 191, the PRI range.
var smallDecimal = func() (t [192]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// facilityNames are the syslog facility keywords, by code.
var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// severityNames are the syslog severities, by code, as ECS writes them.
var severityNames = [8]string{
	"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
}
