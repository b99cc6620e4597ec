package format

import (
	"bytes"
	"fmt"

	"github.com/xsoc/xsoc/internal/event"
)

// zeekLog is a Zeek log type with a dedicated mapping.
type zeekLog uint8

const (
	zeekOther zeekLog = iota
	zeekConn
	zeekDNS
	zeekHTTP
	zeekSSL
	zeekFiles
	zeekNotice
	zeekX509
)

// zeekLogNames are the _path values of the logs with a mapping.
var zeekLogNames = [...]string{
	zeekConn:   "conn",
	zeekDNS:    "dns",
	zeekHTTP:   "http",
	zeekSSL:    "ssl",
	zeekFiles:  "files",
	zeekNotice: "notice",
	zeekX509:   "x509",
}

// zeekRecord holds the values mapped once the whole record has been seen.
type zeekRecord struct {
	log             zeekLog
	ts              span
	host, uri, port span
}

// parseZeek maps a Zeek JSON log record. The log comes from _path, or from
// its characteristic fields when the writer left _path out. Every field is
// kept under zeek.<log>.<field>; the common ones are mapped to ECS too.
func (p *Parser) parseZeek(line []byte) error {
	if err := p.decodeJSON(line); err != nil {
		return err
	}
	return p.mapZeek()
}

// mapZeek maps the decoded leaves of a Zeek record.
func (p *Parser) mapZeek() error {
	b := &p.b
	r := zeekRecord{log: p.zeekLogOf()}
	p.zeekPrefix(r.log)
	dataset := b.add(p.prefix[:len(p.prefix)-1])
	for _, l := range p.leaves {
		path := p.paths[l.path.lo:l.path.hi]
		b.dynamic(p.leafName("", p.prefix, l), l.val)
		p.zeekField(path, l.val, &r)
	}
	if !r.ts.empty() {
		t, err := parseTimestamp(b.bytes(r.ts))
		if err != nil {
			return fmt.Errorf("zeek: ts: %w", err)
		}
		b.time = t
	}
	b.keyLit(event.EventModule, "zeek")
	b.key(event.EventDataset, dataset)
	kind, category, typ, proto := "event", "network", "", ""
	switch r.log {
	case zeekConn:
		typ = "connection"
	case zeekDNS:
		typ, proto = "protocol", "dns"
	case zeekHTTP:
		typ, proto = "protocol", "http"
	case zeekSSL:
		typ, proto = "protocol", "tls"
	case zeekFiles:
		category, typ = "file", "info"
	case zeekNotice:
		kind, category, typ = "alert", "intrusion_detection", "info"
	default:
		category = ""
	}
	b.keyLit(event.EventKind, kind)
	b.keyLit(event.EventCategory, category)
	b.keyLit(event.EventType, typ)
	if proto != "" && !b.has[event.NetworkProtocol] {
		b.keyLit(event.NetworkProtocol, proto)
	}
	if r.log == zeekHTTP && !r.uri.empty() {
		p.httpURL(r.host, r.port, r.uri)
	}
	return nil
}

// zeekLogOf decides which log a record comes from: its _path, or else the
// fields only that log has.
func (p *Parser) zeekLogOf() zeekLog {
	var query, qtype, method, host, uri, serverName, cipher, proto, connState, fuid, mime, note, msg, cert bool
	for _, l := range p.leaves {
		switch string(p.paths[l.path.lo:l.path.hi]) {
		case "_path":
			return zeekLogByName(p.b.bytes(l.val))
		case "query":
			query = true
		case "qtype", "qtype_name":
			qtype = true
		case "method":
			method = true
		case "host":
			host = true
		case "uri":
			uri = true
		case "server_name":
			serverName = true
		case "cipher":
			cipher = true
		case "proto":
			proto = true
		case "conn_state":
			connState = true
		case "fuid":
			fuid = true
		case "mime_type", "tx_hosts":
			mime = true
		case "note":
			note = true
		case "msg":
			msg = true
		case "certificate.subject", "certificate.version":
			cert = true
		}
	}
	switch {
	case query && qtype:
		return zeekDNS
	case method && uri || host && uri:
		return zeekHTTP
	case serverName || cipher:
		return zeekSSL
	case proto && connState:
		return zeekConn
	case note && msg:
		return zeekNotice
	case fuid && mime:
		return zeekFiles
	case cert:
		return zeekX509
	}
	return zeekOther
}

func zeekLogByName(name []byte) zeekLog {
	for l, n := range zeekLogNames {
		if n != "" && string(name) == n {
			return zeekLog(l)
		}
	}
	return zeekOther
}

// zeekPrefix sets p.prefix to "zeek.<log>.", the prefix of the record's
// field names and (without the dot) its dataset. The log is named by its
// own name, or for other logs by the record's _path when that is a plain
// word, or else "unknown".
func (p *Parser) zeekPrefix(l zeekLog) {
	p.prefix = append(p.prefix[:0], "zeek."...)
	switch {
	case l != zeekOther:
		p.prefix = append(p.prefix, zeekLogNames[l]...)
	default:
		name := []byte(nil)
		for _, lf := range p.leaves {
			if string(p.paths[lf.path.lo:lf.path.hi]) == "_path" {
				name = p.b.bytes(lf.val)
				break
			}
		}
		if plainWord(name) {
			p.prefix = append(p.prefix, name...)
		} else {
			p.prefix = append(p.prefix, "unknown"...)
		}
	}
	p.prefix = append(p.prefix, '.')
}

// plainWord reports whether s is a short, non-empty run of letters,
// digits, _ and -, safe inside a dotted field name (and short, since every
// field name of the record repeats it).
func plainWord(s []byte) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return len(s) > 0
}

// zeekField maps one leaf to ECS.
func (p *Parser) zeekField(path []byte, v span, r *zeekRecord) {
	b := &p.b
	switch string(path) {
	case "ts":
		r.ts = v
		return
	case "uid":
		b.named("zeek.session_id", v)
		return
	case "id.orig_h":
		b.key(event.SourceIp, v)
		return
	case "id.orig_p":
		b.key(event.SourcePort, v)
		return
	case "id.resp_h":
		b.key(event.DestinationIp, v)
		return
	case "id.resp_p":
		b.key(event.DestinationPort, v)
		r.port = v
		return
	case "proto":
		b.key(event.NetworkTransport, b.lowered(v))
		return
	case "community_id":
		b.key(event.NetworkCommunityId, v)
		return
	}
	switch r.log {
	case zeekConn:
		p.zeekConnField(path, v)
	case zeekDNS:
		p.zeekDNSField(path, v)
	case zeekHTTP:
		p.zeekHTTPField(path, v, r)
	case zeekSSL:
		p.zeekSSLField(path, v)
	case zeekFiles:
		p.zeekFilesField(path, v)
	case zeekNotice:
		p.zeekNoticeField(path, v)
	case zeekX509:
		p.zeekX509Field(path, v)
	}
}

func (p *Parser) zeekConnField(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "service":
		// "ssl,http" when several analysers matched: the first is the
		// outer protocol.
		s := b.bytes(v)
		if i := bytes.IndexByte(s, ','); i >= 0 {
			v.hi = v.lo + i
		}
		b.key(event.NetworkProtocol, v)
	case "orig_bytes":
		b.key(event.SourceBytes, v)
	case "resp_bytes":
		b.key(event.DestinationBytes, v)
	case "orig_pkts":
		b.named("source.packets", v)
	case "resp_pkts":
		b.named("destination.packets", v)
	case "duration":
		b.named("event.duration", b.secondsToNanos(v))
	}
}

func (p *Parser) zeekDNSField(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "query":
		b.key(event.DnsQuestionName, v)
	case "qtype_name":
		b.key(event.DnsQuestionType, v)
	case "rcode_name":
		b.key(event.DnsResponseCode, v)
	case "answers":
		b.keyOnce(event.DnsAnswersData, v)
	case "trans_id":
		b.named("dns.id", v)
	}
}

func (p *Parser) zeekHTTPField(path []byte, v span, r *zeekRecord) {
	b := &p.b
	switch string(path) {
	case "method":
		b.key(event.HttpRequestMethod, v)
	case "host":
		b.key(event.UrlDomain, v)
		r.host = v
	case "uri":
		r.uri = v
	case "user_agent":
		b.key(event.UserAgentOriginal, v)
	case "status_code":
		b.key(event.HttpResponseStatusCode, v)
	case "referrer":
		b.key(event.HttpRequestReferrer, v)
	case "version":
		b.named("http.version", v)
	case "request_body_len":
		b.named("http.request.body.bytes", v)
	case "response_body_len":
		b.named("http.response.body.bytes", v)
	}
}

func (p *Parser) zeekSSLField(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "server_name":
		b.key(event.TlsServerSni, v)
	case "version":
		p.tlsVersion(v)
	case "cipher":
		b.named("tls.cipher", v)
	case "curve":
		b.named("tls.curve", v)
	case "established":
		b.named("tls.established", v)
	case "resumed":
		b.named("tls.resumed", v)
	case "next_protocol":
		b.named("tls.next_protocol", v)
	case "ja3":
		b.key(event.TlsClientJa3, v)
	case "ja3s":
		b.key(event.TlsServerJa3s, v)
	case "subject":
		p.tlsSubject(v)
	case "issuer":
		b.named("tls.server.issuer", v)
	}
}

func (p *Parser) zeekFilesField(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "md5":
		b.key(event.FileHashMd5, v)
	case "sha1":
		b.key(event.FileHashSha1, v)
	case "sha256":
		b.key(event.FileHashSha256, v)
	case "filename":
		b.key(event.FileName, v)
	case "mime_type":
		b.named("file.mime_type", v)
	case "total_bytes":
		b.named("file.size", v)
	}
}

func (p *Parser) zeekNoticeField(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "note":
		b.key(event.RuleName, v)
	case "msg":
		b.key(event.Message, v)
	case "src":
		b.key(event.SourceIp, v)
	case "dst":
		b.key(event.DestinationIp, v)
	case "p":
		b.key(event.DestinationPort, v)
	}
}

func (p *Parser) zeekX509Field(path []byte, v span) {
	b := &p.b
	switch string(path) {
	case "certificate.subject":
		b.named("x509.subject.distinguished_name", v)
	case "certificate.issuer":
		b.named("x509.issuer.distinguished_name", v)
	case "certificate.serial":
		b.named("x509.serial_number", v)
	case "san.dns":
		b.named("x509.alternative_names", v)
	}
}

// secondsToNanos converts a decimal number of seconds ("0.012345") into
// whole nanoseconds ("12345000"), the unit of event.duration. Anything else
// yields an empty span.
func (b *builder) secondsToNanos(v span) span {
	s := b.bytes(v)
	whole, frac, _ := bytes.Cut(s, []byte("."))
	if _, ok := digits(whole); !ok || len(whole) > 10 {
		return span{}
	}
	if _, ok := digits(frac); !ok && len(frac) > 0 {
		return span{}
	}
	lo := b.mark()
	b.buf = append(b.buf, whole...)
	for i := 0; i < 9; i++ {
		c := byte('0')
		if i < len(frac) {
			c = frac[i]
		}
		b.buf = append(b.buf, c)
	}
	// Drop leading zeros, keeping one digit.
	n := lo
	for n < len(b.buf)-1 && b.buf[n] == '0' {
		n++
	}
	return span{n, len(b.buf)}
}
