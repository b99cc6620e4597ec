package format

import (
	"bytes"
	"fmt"

	"github.com/xsoc/xsoc/internal/event"
)

// suricataRecord holds the EVE values that are mapped only once the whole
// record has been seen.
type suricataRecord struct {
	ts, eventType, action span
	host, url, port       span
}

// parseSuricata maps a Suricata EVE JSON record. Every field is kept under
// suricata.eve.<path>; the common ones are mapped to ECS as well.
func (p *Parser) parseSuricata(line []byte) error {
	if err := p.decodeJSON(line); err != nil {
		return err
	}
	return p.mapSuricata()
}

// mapSuricata maps the decoded leaves of an EVE record.
func (p *Parser) mapSuricata() error {
	b := &p.b
	var r suricataRecord
	for _, l := range p.leaves {
		path := p.paths[l.path.lo:l.path.hi]
		b.dynamic(p.leafName("suricata.eve.", nil, l), l.val)
		p.suricataField(path, l.val, &r)
	}
	if r.eventType.empty() {
		return fmt.Errorf("suricata: record has no event_type")
	}
	if !r.ts.empty() {
		t, err := parseTimestamp(b.bytes(r.ts))
		if err != nil {
			return fmt.Errorf("suricata: timestamp: %w", err)
		}
		b.time = t
	}
	b.keyLit(event.EventModule, "suricata")
	b.keyLit(event.EventDataset, "suricata.eve")
	et := b.bytes(r.eventType)
	switch string(et) {
	case "alert":
		b.keyLit(event.EventKind, "alert")
		b.keyLit(event.EventCategory, "intrusion_detection")
		switch string(b.bytes(r.action)) {
		case "allowed":
			b.keyLit(event.EventType, "allowed")
		case "blocked":
			b.keyLit(event.EventType, "denied")
		default:
			b.keyLit(event.EventType, "info")
		}
	case "flow", "netflow":
		b.keyLit(event.EventKind, "event")
		b.keyLit(event.EventCategory, "network")
		b.keyLit(event.EventType, "connection")
	case "fileinfo":
		b.keyLit(event.EventKind, "event")
		b.keyLit(event.EventCategory, "file")
		b.keyLit(event.EventType, "info")
	case "anomaly", "stats":
		b.keyLit(event.EventKind, "event")
		b.keyLit(event.EventCategory, "network")
		b.keyLit(event.EventType, "info")
	default: // dns, http, tls, ssh, smtp and the other protocol logs
		b.keyLit(event.EventKind, "event")
		b.keyLit(event.EventCategory, "network")
		b.keyLit(event.EventType, "protocol")
		if !b.has[event.NetworkProtocol] {
			b.key(event.NetworkProtocol, r.eventType)
		}
	}
	if !r.url.empty() {
		p.httpURL(r.host, r.port, r.url)
	}
	return nil
}

// suricataField maps one EVE leaf to ECS.
func (p *Parser) suricataField(path []byte, v span, r *suricataRecord) {
	b := &p.b
	switch string(path) {
	case "timestamp":
		r.ts = v
	case "event_type":
		r.eventType = v
	case "src_ip":
		b.key(event.SourceIp, v)
	case "src_port":
		b.key(event.SourcePort, v)
	case "dest_ip":
		b.key(event.DestinationIp, v)
	case "dest_port":
		b.key(event.DestinationPort, v)
	case "proto":
		b.key(event.NetworkTransport, b.lowered(v))
	case "app_proto":
		if s := b.bytes(v); string(s) != "failed" && string(s) != "unknown" {
			b.key(event.NetworkProtocol, b.lowered(v))
		}
	case "community_id":
		b.key(event.NetworkCommunityId, v)
	case "host":
		b.key(event.ObserverName, v)
	case "in_iface":
		b.named("observer.ingress.interface.name", v)
	case "alert.signature":
		b.key(event.RuleName, v)
		b.key(event.Message, v)
	case "alert.signature_id":
		b.named("rule.id", v)
	case "alert.category":
		b.named("rule.category", v)
	case "alert.severity":
		b.key(event.EventSeverity, v)
	case "alert.action":
		r.action = v
	case "alert.metadata.mitre_technique_id":
		b.keyOnce(event.ThreatTechniqueId, v)
	case "dns.rrname", "dns.queries.rrname":
		b.keyOnce(event.DnsQuestionName, v)
	case "dns.rrtype", "dns.queries.rrtype":
		b.keyOnce(event.DnsQuestionType, v)
	case "dns.rcode":
		b.key(event.DnsResponseCode, v)
	case "dns.rdata", "dns.answers.rdata":
		b.keyOnce(event.DnsAnswersData, v)
	case "dns.id":
		b.named("dns.id", v)
	case "dns.type":
		b.named("dns.type", v)
	case "http.hostname":
		b.key(event.UrlDomain, v)
		r.host = v
	case "http.url":
		r.url = v
	case "http.http_port":
		r.port = v
	case "http.http_method":
		b.key(event.HttpRequestMethod, v)
	case "http.status":
		b.key(event.HttpResponseStatusCode, v)
	case "http.http_user_agent":
		b.key(event.UserAgentOriginal, v)
	case "http.http_refer":
		b.key(event.HttpRequestReferrer, v)
	case "http.protocol":
		b.named("http.version", trimPrefixSpan(b, v, "HTTP/"))
	case "http.length":
		b.named("http.response.body.bytes", v)
	case "http.http_content_type":
		b.named("http.response.mime_type", v)
	case "tls.sni":
		b.key(event.TlsServerSni, v)
	case "tls.ja3.hash":
		b.key(event.TlsClientJa3, v)
	case "tls.ja3s.hash":
		b.key(event.TlsServerJa3s, v)
	case "tls.version":
		p.tlsVersion(v)
	case "tls.subject":
		p.tlsSubject(v)
	case "tls.issuerdn":
		b.named("tls.server.issuer", v)
	case "tls.fingerprint":
		b.named("tls.server.hash.sha1", b.hexFingerprint(v))
	case "tls.notbefore":
		b.named("tls.server.not_before", v)
	case "tls.notafter":
		b.named("tls.server.not_after", v)
	case "fileinfo.filename":
		b.key(event.FilePath, v)
		b.key(event.FileName, basename(b, v, '/'))
	case "fileinfo.sha256":
		b.key(event.FileHashSha256, v)
	case "fileinfo.md5":
		b.key(event.FileHashMd5, v)
	case "fileinfo.sha1":
		b.key(event.FileHashSha1, v)
	case "fileinfo.size":
		b.named("file.size", v)
	case "flow.bytes_toserver":
		b.key(event.SourceBytes, v)
	case "flow.bytes_toclient":
		b.key(event.DestinationBytes, v)
	case "flow.pkts_toserver":
		b.named("source.packets", v)
	case "flow.pkts_toclient":
		b.named("destination.packets", v)
	case "flow.start":
		b.named("event.start", v)
	case "flow.end":
		b.named("event.end", v)
	case "email.from":
		b.keyOnce(event.EmailFromAddress, v)
	case "email.to":
		b.keyOnce(event.EmailToAddress, v)
	case "email.subject":
		b.key(event.EmailSubject, v)
	}
}

// httpURL maps an HTTP request target to url.original, url.path,
// url.query and url.full (http://host[:port]target when the target is not
// already absolute).
func (p *Parser) httpURL(host, port, target span) {
	b := &p.b
	t := b.bytes(target)
	b.named("url.original", target)
	if bytes.HasPrefix(t, []byte("http://")) || bytes.HasPrefix(t, []byte("https://")) {
		b.key(event.UrlFull, target)
		return
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		b.key(event.UrlPath, span{target.lo, target.lo + q})
		b.named("url.query", span{target.lo + q + 1, target.hi})
	} else {
		b.key(event.UrlPath, target)
	}
	if host.empty() {
		return
	}
	lo := b.mark()
	b.buf = append(b.buf, "http://"...)
	b.buf = append(b.buf, b.bytes(host)...)
	if ps := b.bytes(port); len(ps) > 0 && string(ps) != "80" && bytes.IndexByte(b.bytes(host), ':') < 0 {
		b.buf = append(b.buf, ':')
		b.buf = append(b.buf, ps...)
	}
	b.buf = append(b.buf, t...)
	b.key(event.UrlFull, b.since(lo))
}

// tlsVersion maps a protocol version as Suricata ("TLS 1.2", "SSLv3") or
// Zeek ("TLSv12", "DTLSv12") write it to tls.version ("1.2") and
// tls.version_protocol ("tls"). Unknown forms are kept as tls.version.
func (p *Parser) tlsVersion(v span) {
	b := &p.b
	s := b.bytes(v)
	proto := ""
	switch {
	case len(s) >= 4 && bytes.EqualFold(s[:4], []byte("dtls")):
		proto, s = "dtls", s[4:]
	case len(s) >= 3 && bytes.EqualFold(s[:3], []byte("tls")):
		proto, s = "tls", s[3:]
	case len(s) >= 3 && bytes.EqualFold(s[:3], []byte("ssl")):
		proto, s = "ssl", s[3:]
	}
	s = bytes.TrimLeft(s, " vV")
	ver := ""
	switch string(s) {
	case "1", "10", "1.0":
		ver = "1.0"
	case "11", "1.1":
		ver = "1.1"
	case "12", "1.2":
		ver = "1.2"
	case "13", "1.3":
		ver = "1.3"
	case "2", "2.0":
		ver = "2.0"
	case "3", "3.0":
		ver = "3.0"
	}
	if proto == "" || ver == "" {
		b.key(event.TlsVersion, v)
		return
	}
	b.keyLit(event.TlsVersion, ver)
	b.namedLit("tls.version_protocol", proto)
}

// tlsSubject maps a certificate subject to tls.server.subject and its
// common name to tls.server.x509.subject.common_name.
func (p *Parser) tlsSubject(v span) {
	b := &p.b
	b.named("tls.server.subject", v)
	b.key(event.TlsServerX509SubjectCommonName, commonName(b, v))
}

// commonName returns the CN of a distinguished name ("C=US, O=X, CN=a.b"
// or "CN=a.b,O=X") as a span of it, or an empty span.
func commonName(b *builder, dn span) span {
	s := b.bytes(dn)
	for i := 0; i+3 <= len(s); i++ {
		if (i == 0 || s[i-1] == ',' || s[i-1] == ' ' || s[i-1] == '/') && (s[i] == 'C' || s[i] == 'c') && (s[i+1] == 'N' || s[i+1] == 'n') && s[i+2] == '=' {
			end := i + 3
			for end < len(s) && s[end] != ',' && s[end] != '/' {
				end++
			}
			return span{dn.lo + i + 3, dn.lo + end}
		}
	}
	return span{}
}

// hexFingerprint turns "8d:66:a1:..." into "8D66A1...", the form of ECS
// hashes.
func (b *builder) hexFingerprint(v span) span {
	lo := b.mark()
	for i := v.lo; i < v.hi; i++ {
		c := b.buf[i]
		if c == ':' {
			continue
		}
		if 'a' <= c && c <= 'f' {
			c -= 'a' - 'A'
		}
		b.buf = append(b.buf, c)
	}
	return b.since(lo)
}

// basename returns the part of the path at v after the last sep.
func basename(b *builder, v span, sep byte) span {
	if i := bytes.LastIndexByte(b.bytes(v), sep); i >= 0 {
		return span{v.lo + i + 1, v.hi}
	}
	return v
}

// trimPrefixSpan returns v without prefix.
func trimPrefixSpan(b *builder, v span, prefix string) span {
	if bytes.HasPrefix(b.bytes(v), []byte(prefix)) {
		return span{v.lo + len(prefix), v.hi}
	}
	return v
}
