package format

import (
	"bytes"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// cefHeaderFields names the header fields after "CEF:", for errors.
const cefHeaderFields = "Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|"

// parseCEF parses a CEF record, bare or after a syslog header without PRI
// ("Sep 19 08:26:10 host CEF:0|..."), whose time and host are kept.
func (p *Parser) parseCEF(line []byte) error {
	b := &p.b
	base := b.add(line).lo
	s := bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	base += len(line) - len(s)
	start := 0
	if !bytes.HasPrefix(s, []byte("CEF:")) {
		if start = cefAfterHeader(s); start < 0 {
			return fmt.Errorf("cef: missing header: a CEF record starts with CEF:%s", cefHeaderFields)
		}
		p.cefPrefix(s[:start], base)
	}
	return p.cefBody(bytes.TrimRight(s[start:], "\r\n\x00"), base+start)
}

// cefPrefix takes the time and host from a syslog-style header in front of
// CEF, "Mmm dd hh:mm:ss host ", when it has that shape.
func (p *Parser) cefPrefix(h []byte, base int) {
	t, n, ok := p.bsdTime(h)
	if !ok {
		return
	}
	p.b.time = t
	rest := bytes.TrimLeft(h[n:], " ")
	if host := bytes.TrimRight(rest, " "); len(host) > 0 && bytes.IndexByte(host, ' ') < 0 {
		lo := base + len(h) - len(rest)
		p.b.key(event.HostHostname, span{lo, lo + len(host)})
	}
}

// cefBody parses "CEF:..." in s, whose bytes are at base in the buffer.
func (p *Parser) cefBody(s []byte, base int) error {
	b := &p.b
	var hdr [7]span
	i := len("CEF:")
	for f := range hdr {
		j, escaped := i, false
		for j < len(s) && s[j] != '|' {
			if s[j] == '\\' && j+1 < len(s) {
				escaped = true
				j++
			}
			j++
		}
		if j >= len(s) && f < len(hdr)-1 {
			return fmt.Errorf("cef: header has %d of 7 fields; want CEF:%s", f, cefHeaderFields)
		}
		if j > len(s) {
			j = len(s)
		}
		hdr[f] = span{base + i, base + j}
		if escaped {
			hdr[f] = b.unescape(s[i:j], cefHeaderEscape)
		}
		i = j + 1
	}
	version := b.bytes(hdr[0])
	if _, ok := digits(version); !ok {
		return fmt.Errorf("cef: version %q is not a number", version)
	}
	b.keyLit(event.EventModule, "cef")
	b.keyLit(event.EventDataset, "cef")
	b.named("cef.version", hdr[0])
	b.key(event.ObserverVendor, hdr[1])
	b.key(event.ObserverProduct, hdr[2])
	b.named("observer.version", hdr[3])
	b.key(event.EventCode, hdr[4])
	b.key(event.RuleName, hdr[5])
	b.named("cef.severity", hdr[6])
	if sev := cefSeverity(b.bytes(hdr[6])); sev != "" {
		b.keyLit(event.EventSeverity, sev)
	} else if _, ok := digits(b.bytes(hdr[6])); ok {
		b.key(event.EventSeverity, hdr[6])
	}
	if i < len(s) {
		if err := p.cefExtension(s[i:], base+i); err != nil {
			return err
		}
	}
	if !b.has[event.Message] {
		b.key(event.Message, hdr[5])
	}
	return nil
}

// cefSeverity maps the named severities of CEF to numbers within their
// ranges (Low 0-3, Medium 4-6, High 7-8, Very-High 9-10).
func cefSeverity(s []byte) string {
	switch {
	case bytes.EqualFold(s, []byte("low")):
		return "3"
	case bytes.EqualFold(s, []byte("medium")):
		return "6"
	case bytes.EqualFold(s, []byte("high")):
		return "8"
	case bytes.EqualFold(s, []byte("very-high")), bytes.EqualFold(s, []byte("very high")):
		return "10"
	}
	return ""
}

// cefExtension parses the key=value pairs after the header. A value runs
// to the space before the next key=, so values may contain spaces; = in a
// value is escaped as \=.
func (p *Parser) cefExtension(s []byte, base int) error {
	b := &p.b
	p.pairs = p.pairs[:0]
	i := skipSpaces(s, 0)
	for i < len(s) {
		k := i
		for i < len(s) && isCEFKeyChar(s[i]) {
			i++
		}
		if i == k || i >= len(s) || s[i] != '=' {
			// Every parse copies the record to the start of the buffer, so
			// base+k is the offset in the record.
			return fmt.Errorf("cef: extension: want key=value at col %d, found %q", base+k+1, clip(s[k:], 24))
		}
		if len(p.pairs) >= maxFields {
			return fmt.Errorf("cef: more than %d extension fields", maxFields)
		}
		key := s[k:i]
		i++
		v, escaped := i, false
		for i < len(s) {
			if s[i] == '\\' {
				escaped = true
				i += 2
				continue
			}
			if s[i] == ' ' && startsCEFKey(s, i+1) {
				break
			}
			i++
		}
		if i > len(s) {
			i = len(s)
		}
		end := i
		for end > v && s[end-1] == ' ' {
			end--
		}
		val := span{base + v, base + end}
		if escaped {
			val = b.unescape(s[v:end], cefValueEscape)
		}
		p.pairs = append(p.pairs, pair{name: key, val: val})
		i = skipSpaces(s, i)
	}
	for _, kv := range p.pairs {
		if err := p.cefField(kv); err != nil {
			return err
		}
	}
	p.cefLabels()
	return nil
}

// cefField stores one extension pair: verbatim as cef.extensions.<key>,
// and under its ECS name when it has one. A time outside the range of
// event times is an error.
func (p *Parser) cefField(kv pair) error {
	b := &p.b
	b.prefixed("cef.extensions.", kv.name, kv.val)
	t, ok := cefFields[string(kv.name)]
	if !ok {
		return nil
	}
	switch t.how {
	case cefPlain:
		if t.key != noSlot {
			b.key(t.key, kv.val)
		} else {
			b.named(t.name, kv.val)
		}
	case cefLower:
		b.key(t.key, b.lowered(kv.val))
	case cefDeviceHost:
		b.key(event.HostName, kv.val)
		b.named("observer.hostname", kv.val)
	case cefHash:
		switch len(b.bytes(kv.val)) {
		case 32:
			b.key(event.FileHashMd5, kv.val)
		case 40:
			b.key(event.FileHashSha1, kv.val)
		case 64:
			b.key(event.FileHashSha256, kv.val)
		case 128:
			b.named("file.hash.sha512", kv.val)
		}
	case cefTime:
		// rt wins over start, which wins over end; a time that cannot be
		// read is kept verbatim under cef.extensions only.
		if t.rank > b.timeRank {
			if ts, ok := p.cefTime(b.bytes(kv.val)); ok {
				if err := checkTime(ts, b.bytes(kv.val)); err != nil {
					return fmt.Errorf("cef: %s: %w", kv.name, err)
				}
				b.time, b.timeRank = ts, t.rank
			}
		}
	case cefDirection:
		switch string(b.bytes(kv.val)) {
		case "0":
			b.keyLit(event.NetworkDirection, "inbound")
		case "1":
			b.keyLit(event.NetworkDirection, "outbound")
		}
	}
	return nil
}

// Bounds on labelled custom fields. CEF defines about thirty (cs1-6,
// cn1-3, cfp1-4, c6a1-4, flexString1-2, ...); the bounds keep a hostile
// record from pairing every label with every key.
const (
	maxCEFLabels   = 64
	maxCEFLabelLen = 256
)

// cefLabels stores the custom fields (cs1, cn2, flexString1, ...) that
// have a label (cs1Label=...) under cef.extensions.<label>.
func (p *Parser) cefLabels() {
	b := &p.b
	labels := 0
	for _, lab := range p.pairs {
		base, ok := bytes.CutSuffix(lab.name, []byte("Label"))
		if !ok || len(base) == 0 || lab.val.empty() || lab.val.hi-lab.val.lo > maxCEFLabelLen {
			continue
		}
		if labels++; labels > maxCEFLabels {
			return
		}
		for _, kv := range p.pairs {
			if bytes.Equal(kv.name, base) {
				b.prefixed("cef.extensions.", b.bytes(lab.val), kv.val)
				break
			}
		}
	}
}

// cefTime parses the time forms CEF allows: epoch milliseconds and
// "MMM dd [yyyy] HH:mm:ss[.SSS][ zone]", plus RFC 3339. A zone other than
// an offset, Z, UTC or GMT is ignored and the time taken as UTC.
func (p *Parser) cefTime(v []byte) (time.Time, bool) {
	if t, ok := parseEpoch(v); ok {
		return t, true
	}
	if t, ok := parseISO(v); ok {
		return t, true
	}
	c, n, ok := parseMonthDayClock(v)
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	if c.year == 0 {
		if t, ok = inferYear(p.now(), c); !ok {
			return time.Time{}, false
		}
	} else {
		if c.day > daysIn(time.Month(c.month), c.year) {
			return time.Time{}, false
		}
		t = c.time(c.year)
	}
	if off, ok := zoneOffset(v[n:]); ok {
		t = t.Add(-time.Duration(off) * time.Second)
	}
	return t, true
}

// How a CEF extension key maps to ECS.
type cefHow uint8

const (
	cefPlain      cefHow = iota // the value as is
	cefLower                    // lowercased (protocol names)
	cefDeviceHost               // host.name and observer.hostname
	cefHash                     // file.hash.* by the hash's length
	cefTime                     // the event's time
	cefDirection                // 0 inbound, 1 outbound
)

type cefTarget struct {
	how  cefHow
	key  event.Key // slot, or noSlot
	name string    // field name when key is noSlot
	rank int       // for cefTime: higher wins
}

func cefSlot(k event.Key) cefTarget       { return cefTarget{key: k} }
func cefName(name string) cefTarget       { return cefTarget{key: noSlot, name: name} }
func cefLowerSlot(k event.Key) cefTarget  { return cefTarget{how: cefLower, key: k} }
func cefTimeRanked(rank int) cefTarget    { return cefTarget{how: cefTime, rank: rank} }
func cefSpecial(how cefHow) cefTarget     { return cefTarget{how: how, key: noSlot} }
func cefBoth(short, long string) []string { return []string{short, long} }

// cefFields maps CEF extension keys, short and full names, to ECS. It is
// built once and never modified.
var cefFields = func() map[string]cefTarget {
	m := make(map[string]cefTarget, 80)
	add := func(names []string, t cefTarget) {
		for _, n := range names {
			m[n] = t
		}
	}
	add(cefBoth("src", "sourceAddress"), cefSlot(event.SourceIp))
	add(cefBoth("dst", "destinationAddress"), cefSlot(event.DestinationIp))
	add(cefBoth("spt", "sourcePort"), cefSlot(event.SourcePort))
	add(cefBoth("dpt", "destinationPort"), cefSlot(event.DestinationPort))
	add(cefBoth("smac", "sourceMacAddress"), cefSlot(event.SourceMac))
	add(cefBoth("dmac", "destinationMacAddress"), cefName("destination.mac"))
	add(cefBoth("shost", "sourceHostName"), cefSlot(event.SourceDomain))
	add(cefBoth("dhost", "destinationHostName"), cefSlot(event.DestinationDomain))
	add(cefBoth("suser", "sourceUserName"), cefSlot(event.UserName))
	add(cefBoth("suid", "sourceUserId"), cefSlot(event.UserId))
	add(cefBoth("sntdom", "sourceNtDomain"), cefSlot(event.UserDomain))
	add(cefBoth("duser", "destinationUserName"), cefSlot(event.UserTargetName))
	add(cefBoth("duid", "destinationUserId"), cefName("user.target.id"))
	add(cefBoth("dntdom", "destinationNtDomain"), cefSlot(event.UserTargetDomain))
	add(cefBoth("dvchost", "deviceHostName"), cefSpecial(cefDeviceHost))
	add(cefBoth("dvc", "deviceAddress"), cefName("observer.ip"))
	add(cefBoth("request", "requestUrl"), cefSlot(event.UrlFull))
	add([]string{"requestMethod"}, cefSlot(event.HttpRequestMethod))
	add([]string{"requestClientApplication"}, cefSlot(event.UserAgentOriginal))
	add(cefBoth("fname", "fileName"), cefSlot(event.FileName))
	add([]string{"filePath"}, cefSlot(event.FilePath))
	add(cefBoth("fsize", "fileSize"), cefName("file.size"))
	add([]string{"fileHash"}, cefSpecial(cefHash))
	add(cefBoth("act", "deviceAction"), cefSlot(event.EventAction))
	add([]string{"outcome"}, cefSlot(event.EventOutcome))
	add(cefBoth("app", "applicationProtocol"), cefLowerSlot(event.NetworkProtocol))
	add(cefBoth("proto", "transportProtocol"), cefLowerSlot(event.NetworkTransport))
	add([]string{"deviceDirection"}, cefSpecial(cefDirection))
	add(cefBoth("in", "bytesIn"), cefSlot(event.SourceBytes))
	add(cefBoth("out", "bytesOut"), cefSlot(event.DestinationBytes))
	add(cefBoth("msg", "message"), cefSlot(event.Message))
	add(cefBoth("dproc", "destinationProcessName"), cefSlot(event.ProcessName))
	add(cefBoth("dpid", "destinationProcessId"), cefSlot(event.ProcessPid))
	add(cefBoth("rt", "deviceReceiptTime"), cefTimeRanked(3))
	add(cefBoth("start", "startTime"), cefTimeRanked(2))
	add(cefBoth("end", "endTime"), cefTimeRanked(1))
	return m
}()

// The escapes of CEF: the header escapes \| and \\; extension values
// escape \= and \\ and write line breaks as \n and \r (\| is tolerated).
type cefEscapes uint8

const (
	cefHeaderEscape cefEscapes = iota
	cefValueEscape
)

// unescape appends v with its CEF escapes resolved and returns its span.
// A backslash before any other character is kept.
func (b *builder) unescape(v []byte, which cefEscapes) span {
	lo := b.mark()
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			switch n := v[i+1]; {
			case n == '\\' || n == '|':
				c = n
				i++
			case which == cefValueEscape && n == '=':
				c = n
				i++
			case which == cefValueEscape && n == 'n':
				c = '\n'
				i++
			case which == cefValueEscape && n == 'r':
				c = '\r'
				i++
			}
		}
		b.buf = append(b.buf, c)
	}
	return b.since(lo)
}

// lowered appends the ASCII-lowercased value at v and returns its span, or
// returns v itself when it has no upper case.
func (b *builder) lowered(v span) span {
	hasUpper := false
	for _, c := range b.buf[v.lo:v.hi] {
		if 'A' <= c && c <= 'Z' {
			hasUpper = true
			break
		}
	}
	if !hasUpper {
		return v
	}
	lo := b.mark()
	for i := v.lo; i < v.hi; i++ {
		b.buf = append(b.buf, lower(b.buf[i]))
	}
	return b.since(lo)
}

// isCEFKeyChar reports whether c may appear in an extension key.
func isCEFKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

// startsCEFKey reports whether s[i:] starts with key=.
func startsCEFKey(s []byte, i int) bool {
	j := i
	for j < len(s) && isCEFKeyChar(s[j]) {
		j++
	}
	return j > i && j < len(s) && s[j] == '='
}

func skipSpaces(s []byte, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// clip shortens s for an error message.
func clip(s []byte, n int) []byte {
	if len(s) > n {
		return s[:n]
	}
	return s
}
