package scenario

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// flow is one network connection as the member's sensors see it. Each
// sensor (Zeek, Suricata, proxy, firewall) renders it in its own format.
type flow struct {
	start        time.Time
	src, dst     netip.Addr
	sport, dport uint16
	proto        string // "tcp" or "udp"
	service      string // Zeek's service: ssl, http, dns, smb, krb, ldap, smtp
	dur          time.Duration
	up, down     int64  // payload bytes from and to the originator
	state        string // Zeek conn_state
	domain       string // the name the client asked for (query, SNI, Host)
	user         string // proxy-authenticated user, if any
	inbound      bool   // from the internet into the member
	blocked      bool   // denied by the firewall
	proxied      bool   // web traffic that went through the Squid proxy

	dns  *dnsInfo
	tls  *tlsInfo
	http *httpInfo
	smtp *smtpInfo
	// alerts are Suricata signatures that fire on this flow.
	alerts []sigAlert

	uid    string // Zeek uid
	flowID int64  // Suricata flow_id
}

type dnsInfo struct {
	query   string
	qtype   string
	rcode   string // NOERROR, NXDOMAIN
	answers []netip.Addr
	ttl     int
}

type tlsInfo struct {
	version string // Zeek spelling: TLSv12, TLSv13
	cipher  string
	ja3     string // hash
	ja3Str  string
	ja3s    string
	subject string
	issuer  string
}

type httpInfo struct {
	method, uri, ua, referrer, mime string
	status                          int
	reqLen, respLen                 int64
}

type smtpInfo struct {
	helo, from, to, subject string
	attachment              string
}

// sigAlert is a Suricata rule match.
type sigAlert struct {
	sid      int
	rev      int
	sig      string
	category string
	severity int
}

const (
	zeekSensorSuffix     = "-zeek01"
	suricataSensorSuffix = "-ids01"
	suricataTS           = "2006-01-02T15:04:05.000000-0700"
)

// network renders f on every network sensor the member runs.
func (e *emitter) network(f *flow) {
	tel := e.s.m.Telemetry
	if f.uid == "" {
		f.uid = zeekUID(e.r)
		f.flowID = int64(e.r.Uint64() >> 13)
	}
	if f.blocked {
		// Denied traffic never reaches the inside sensors.
		if tel.Firewall {
			e.firewall(f)
		}
		return
	}
	if tel.Zeek {
		e.zeek(f)
	}
	if tel.Suricata {
		e.suricata(f)
	}
	if tel.Proxy && f.proxied {
		e.squid(f)
	}
	if tel.Firewall && (f.inbound || isPublic(f.dst)) {
		e.firewall(f)
	}
}

// isPublic reports whether a is a global unicast, non-private address.
func isPublic(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate()
}

// communityID computes the Community ID v1 flow hash (seed 0) that Zeek
// and Suricata both log, so records of one flow can be joined.
func communityID(f *flow) string {
	s, d := f.src.As4(), f.dst.As4()
	sp, dp := f.sport, f.dport
	if less := compare4(s, d); less > 0 || (less == 0 && sp > dp) {
		s, d, sp, dp = d, s, dp, sp
	}
	proto := byte(6)
	if f.proto == "udp" {
		proto = 17
	}
	var buf [2 + 4 + 4 + 2 + 2 + 2]byte
	copy(buf[2:6], s[:])
	copy(buf[6:10], d[:])
	buf[10] = proto
	binary.BigEndian.PutUint16(buf[12:14], sp)
	binary.BigEndian.PutUint16(buf[14:16], dp)
	sum := sha1.Sum(buf[:])
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func compare4(a, b [4]byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// packets estimates a packet count for a byte count.
func packets(n int64) int64 {
	return 1 + n/1200
}

// zeek writes conn.log and the application log of f.
func (e *emitter) zeek(f *flow) {
	sensor := lower(e.s.m.HostPrefix) + zeekSensorSuffix
	e.zeekConn(f, sensor)
	switch {
	case f.dns != nil:
		e.zeekDNS(f, sensor)
	case f.tls != nil:
		e.zeekSSL(f, sensor)
	case f.http != nil:
		e.zeekHTTP(f, sensor)
	case f.smtp != nil:
		e.zeekSMTP(f, sensor)
	}
}

// zeekHead writes the fields every Zeek log shares.
func (e *emitter) zeekHead(w *jsonw, path string, t time.Time, f *flow) {
	w.begin()
	w.str("_path", path)
	w.float("ts", float64(t.UnixMicro())/1e6, 6)
	w.str("uid", f.uid)
	w.str("id.orig_h", f.src.String())
	w.int("id.orig_p", int64(f.sport))
	w.str("id.resp_h", f.dst.String())
	w.int("id.resp_p", int64(f.dport))
}

func (e *emitter) zeekConn(f *flow, sensor string) {
	w := e.buf()
	e.zeekHead(w, "conn", f.start, f)
	w.str("proto", f.proto)
	w.strOpt("service", f.service)
	if f.state != "S0" && f.state != "REJ" {
		w.float("duration", f.dur.Seconds(), 6)
		w.int("orig_bytes", f.up)
		w.int("resp_bytes", f.down)
	}
	w.str("conn_state", f.state)
	w.bool("local_orig", !f.inbound)
	w.bool("local_resp", !isPublic(f.dst))
	w.int("missed_bytes", 0)
	w.str("history", connHistory(f))
	w.int("orig_pkts", packets(f.up)+2)
	w.int("orig_ip_bytes", f.up+40*(packets(f.up)+2))
	w.int("resp_pkts", packets(f.down)+1)
	w.int("resp_ip_bytes", f.down+40*(packets(f.down)+1))
	w.str("community_id", communityID(f))
	w.end()
	e.emit(FormatZeek, f.start, w.b, sensor)
}

// connHistory is a plausible Zeek history string for the state.
func connHistory(f *flow) string {
	switch {
	case f.proto == "udp":
		return "Dd"
	case f.state == "S0":
		return "S"
	case f.state == "REJ":
		return "Sr"
	case f.state == "RSTO":
		return "ShADadR"
	}
	return "ShADadFf"
}

func (e *emitter) zeekDNS(f *flow, sensor string) {
	d := f.dns
	w := e.buf()
	e.zeekHead(w, "dns", f.start, f)
	w.str("proto", f.proto)
	w.int("trans_id", int64(e.r.IntN(65536)))
	w.float("rtt", f.dur.Seconds(), 6)
	w.str("query", d.query)
	w.int("qclass", 1)
	w.str("qclass_name", "C_INTERNET")
	w.int("qtype", qtypeNum(d.qtype))
	w.str("qtype_name", d.qtype)
	rcode := int64(0)
	if d.rcode == "NXDOMAIN" {
		rcode = 3
	}
	w.int("rcode", rcode)
	w.str("rcode_name", d.rcode)
	w.bool("AA", false)
	w.bool("TC", false)
	w.bool("RD", true)
	w.bool("RA", true)
	w.int("Z", 0)
	if len(d.answers) > 0 {
		w.arr("answers")
		for _, a := range d.answers {
			w.elemStr(a.String())
		}
		w.endArr()
		w.arr("TTLs")
		for range d.answers {
			w.sep()
			w.b = strconv.AppendFloat(w.b, float64(d.ttl), 'f', 1, 64)
		}
		w.endArr()
	}
	w.bool("rejected", false)
	w.end()
	e.emit(FormatZeek, f.start, w.b, sensor)
}

func qtypeNum(q string) int64 {
	switch q {
	case "AAAA":
		return 28
	case "SRV":
		return 33
	case "TXT":
		return 16
	case "PTR":
		return 12
	}
	return 1
}

func (e *emitter) zeekSSL(f *flow, sensor string) {
	s := f.tls
	t := f.start.Add(time.Duration(20+e.r.IntN(80)) * time.Millisecond)
	w := e.buf()
	e.zeekHead(w, "ssl", t, f)
	w.str("version", s.version)
	w.str("cipher", s.cipher)
	w.str("curve", "x25519")
	w.strOpt("server_name", f.domain)
	w.bool("resumed", false)
	w.bool("established", f.state == "SF" || f.state == "RSTO")
	if s.version == "TLSv13" {
		w.str("ssl_history", "CsiI")
	} else {
		w.str("ssl_history", "CsxknGIi")
		w.strs("cert_chain_fps", []string{digestOf("cert:" + s.subject).SHA256})
		w.arr("client_cert_chain_fps")
		w.endArr()
		w.bool("sni_matches_cert", true)
	}
	w.str("ja3", s.ja3)
	w.str("ja3s", s.ja3s)
	w.end()
	e.emit(FormatZeek, t, w.b, sensor)
}

func (e *emitter) zeekHTTP(f *flow, sensor string) {
	h := f.http
	t := f.start.Add(time.Duration(5+e.r.IntN(40)) * time.Millisecond)
	w := e.buf()
	e.zeekHead(w, "http", t, f)
	w.int("trans_depth", 1)
	w.str("method", h.method)
	w.str("host", f.domain)
	w.str("uri", h.uri)
	w.strOpt("referrer", h.referrer)
	w.str("version", "1.1")
	w.str("user_agent", h.ua)
	w.int("request_body_len", h.reqLen)
	w.int("response_body_len", h.respLen)
	w.int("status_code", int64(h.status))
	w.str("status_msg", statusText(h.status))
	w.arr("tags")
	w.endArr()
	if h.respLen > 0 {
		w.strs("resp_fuids", []string{fileUID(e.r)})
		w.strs("resp_mime_types", []string{h.mime})
	}
	w.end()
	e.emit(FormatZeek, t, w.b, sensor)
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	}
	return "Unknown"
}

func (e *emitter) zeekSMTP(f *flow, sensor string) {
	m := f.smtp
	t := f.start.Add(time.Duration(300+e.r.IntN(900)) * time.Millisecond)
	w := e.buf()
	e.zeekHead(w, "smtp", t, f)
	w.int("trans_depth", 1)
	w.str("helo", m.helo)
	w.str("mailfrom", m.from)
	w.strs("rcptto", []string{m.to})
	w.time("date", t, time.RFC1123Z)
	w.str("from", m.from)
	w.strs("to", []string{m.to})
	w.str("msg_id", "<"+randHex(e.r, 16)+"@"+m.helo+">")
	w.str("subject", m.subject)
	w.strs("path", []string{f.dst.String(), f.src.String()})
	w.str("user_agent", "Microsoft Outlook 16.0")
	w.bool("tls", false)
	if m.attachment != "" {
		w.strs("fuids", []string{fileUID(e.r)})
	}
	w.bool("is_webmail", false)
	w.end()
	e.emit(FormatZeek, t, w.b, sensor)
}

// suricata writes the EVE records of f: app-layer events, alerts and,
// for TCP, the closing flow record.
func (e *emitter) suricata(f *flow) {
	sensor := lower(e.s.m.HostPrefix) + suricataSensorSuffix
	appProto := suricataApp(f)
	switch {
	case f.dns != nil:
		e.eveDNS(f, sensor, true)
		e.eveDNS(f, sensor, false)
	case f.tls != nil:
		e.eveApp(f, sensor, "tls", appProto, f.start.Add(30*time.Millisecond))
	case f.http != nil:
		e.eveApp(f, sensor, "http", appProto, f.start.Add(10*time.Millisecond))
	case f.smtp != nil:
		e.eveApp(f, sensor, "smtp", appProto, f.start.Add(800*time.Millisecond))
	}
	for i := range f.alerts {
		e.eveAlert(f, sensor, appProto, &f.alerts[i], f.start.Add(time.Duration(40+i)*time.Millisecond))
	}
	if f.proto == "tcp" {
		e.eveFlow(f, sensor, appProto)
	}
}

func suricataApp(f *flow) string {
	switch {
	case f.dns != nil:
		return "dns"
	case f.tls != nil:
		return "tls"
	case f.http != nil:
		return "http"
	case f.smtp != nil:
		return "smtp"
	case f.service == "smb":
		return "smb"
	case f.service == "krb":
		return "krb5"
	}
	return ""
}

// eveHead writes the fields every EVE record shares.
func (e *emitter) eveHead(w *jsonw, t time.Time, f *flow, eventType, sensor string) {
	w.begin()
	w.localTime("timestamp", t.In(e.s.location()), suricataTS)
	w.int("flow_id", f.flowID)
	w.str("in_iface", "ens1f0")
	w.str("event_type", eventType)
	w.str("src_ip", f.src.String())
	w.int("src_port", int64(f.sport))
	w.str("dest_ip", f.dst.String())
	w.int("dest_port", int64(f.dport))
	w.str("proto", strings.ToUpper(f.proto))
	w.str("host", sensor)
	w.str("community_id", communityID(f))
}

func (e *emitter) eveDNS(f *flow, sensor string, query bool) {
	d := f.dns
	t := f.start
	if !query {
		t = t.Add(f.dur)
	}
	w := e.buf()
	e.eveHead(w, t, f, "dns", sensor)
	w.obj("dns")
	id := int64(binary.BigEndian.Uint16([]byte(f.uid[1:3])))
	if query {
		w.str("type", "query")
		w.int("id", id)
		w.str("rrname", d.query)
		w.str("rrtype", d.qtype)
		w.int("tx_id", 0)
		w.str("opcode", "0")
	} else {
		w.int("version", 2)
		w.str("type", "answer")
		w.int("id", id)
		if d.rcode == "NXDOMAIN" {
			w.str("flags", "8183")
		} else {
			w.str("flags", "8180")
		}
		w.bool("qr", true)
		w.bool("rd", true)
		w.bool("ra", true)
		w.str("opcode", "0")
		w.str("rrname", d.query)
		w.str("rrtype", d.qtype)
		w.str("rcode", d.rcode)
		if len(d.answers) > 0 {
			w.arr("answers")
			for _, a := range d.answers {
				w.elemObj()
				w.str("rrname", d.query)
				w.str("rrtype", "A")
				w.int("ttl", int64(d.ttl))
				w.str("rdata", a.String())
				w.end()
			}
			w.endArr()
			w.obj("grouped")
			w.strs("A", addrStrings(d.answers))
			w.end()
		}
	}
	w.end()
	w.end()
	e.emit(FormatSuricata, t, w.b, sensor)
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// eveApp writes a tls, http or smtp EVE record.
func (e *emitter) eveApp(f *flow, sensor, eventType, appProto string, t time.Time) {
	w := e.buf()
	e.eveHead(w, t, f, eventType, sensor)
	w.str("pkt_src", "wire/pcap")
	e.eveAppObj(w, f, eventType, t)
	if eventType != "tls" {
		w.str("app_proto", appProto)
	}
	w.end()
	e.emit(FormatSuricata, t, w.b, sensor)
}

// eveAppObj writes the application-layer object of f.
func (e *emitter) eveAppObj(w *jsonw, f *flow, kind string, t time.Time) {
	switch kind {
	case "tls":
		s := f.tls
		w.obj("tls")
		w.str("subject", s.subject)
		w.str("issuerdn", s.issuer)
		w.str("serial", strings.ToUpper(digestOf("serial:" + s.subject).MD5[:16]))
		w.str("fingerprint", colonHex(digestOf("cert:"+s.subject).SHA1))
		w.strOpt("sni", f.domain)
		w.str("version", map[string]string{"TLSv13": "TLS 1.3", "TLSv12": "TLS 1.2"}[s.version])
		w.time("notbefore", t.Add(-40*24*time.Hour).Truncate(24*time.Hour), "2006-01-02T15:04:05")
		w.time("notafter", t.Add(50*24*time.Hour).Truncate(24*time.Hour), "2006-01-02T15:04:05")
		w.obj("ja3")
		w.str("hash", s.ja3)
		w.str("string", s.ja3Str)
		w.end()
		w.obj("ja3s")
		w.str("hash", s.ja3s)
		w.str("string", ja3sString(s))
		w.end()
		w.end()
	case "http":
		h := f.http
		w.obj("http")
		w.str("hostname", f.domain)
		w.str("url", h.uri)
		w.str("http_user_agent", h.ua)
		w.strOpt("http_content_type", h.mime)
		w.strOpt("http_refer", h.referrer)
		w.str("http_method", h.method)
		w.str("protocol", "HTTP/1.1")
		w.int("status", int64(h.status))
		w.int("length", h.respLen)
		w.end()
	case "smtp":
		m := f.smtp
		w.obj("smtp")
		w.str("helo", m.helo)
		w.str("mail_from", "<"+m.from+">")
		w.strs("rcpt_to", []string{"<" + m.to + ">"})
		w.end()
		w.obj("email")
		w.str("status", "PARSE_DONE")
		w.str("from", m.from)
		w.strs("to", []string{m.to})
		if m.attachment != "" {
			w.strs("attachment", []string{m.attachment})
		}
		w.end()
	}
}

// ja3sString is the server's JA3S string, derived from the negotiated
// version and cipher.
func ja3sString(s *tlsInfo) string {
	if s.version == "TLSv13" {
		return "771,4865,43-51"
	}
	return "771,49199,65281-0-11-35-23"
}

// colonHex formats a hex digest as colon-separated byte pairs, the way
// Suricata prints certificate fingerprints.
func colonHex(h string) string {
	var b strings.Builder
	for i := 0; i+1 < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func (e *emitter) eveAlert(f *flow, sensor, appProto string, a *sigAlert, t time.Time) {
	w := e.buf()
	e.eveHead(w, t, f, "alert", sensor)
	w.str("pkt_src", "wire/pcap")
	w.int("tx_id", 0)
	w.obj("alert")
	w.str("action", "allowed")
	w.int("gid", 1)
	w.int("signature_id", int64(a.sid))
	w.int("rev", int64(a.rev))
	w.str("signature", a.sig)
	w.str("category", a.category)
	w.int("severity", int64(a.severity))
	w.end()
	if appProto == "tls" || appProto == "http" || appProto == "smtp" {
		e.eveAppObj(w, f, appProto, t)
	}
	if f.dns != nil {
		// Alerts on DNS carry the query that matched.
		w.obj("dns")
		w.arr("query")
		w.elemObj()
		w.str("type", "query")
		w.int("id", int64(binary.BigEndian.Uint16([]byte(f.uid[1:3]))))
		w.str("rrname", f.dns.query)
		w.str("rrtype", f.dns.qtype)
		w.int("tx_id", 0)
		w.end()
		w.endArr()
		w.end()
	}
	w.strOpt("app_proto", appProto)
	w.str("direction", "to_server")
	w.obj("flow")
	w.int("pkts_toserver", packets(f.up)+2)
	w.int("pkts_toclient", packets(f.down)+1)
	w.int("bytes_toserver", f.up+60)
	w.int("bytes_toclient", f.down+60)
	w.localTime("start", f.start.In(e.s.location()), suricataTS)
	w.str("src_ip", f.src.String())
	w.str("dest_ip", f.dst.String())
	w.int("src_port", int64(f.sport))
	w.int("dest_port", int64(f.dport))
	w.end()
	w.end()
	e.emit(FormatSuricata, t, w.b, sensor)
}

func (e *emitter) eveFlow(f *flow, sensor, appProto string) {
	end := f.start.Add(f.dur)
	w := e.buf()
	e.eveHead(w, end, f, "flow", sensor)
	w.strOpt("app_proto", appProto)
	w.obj("flow")
	w.int("pkts_toserver", packets(f.up)+2)
	w.int("pkts_toclient", packets(f.down)+1)
	w.int("bytes_toserver", f.up+40*(packets(f.up)+2))
	w.int("bytes_toclient", f.down+40*(packets(f.down)+1))
	w.localTime("start", f.start.In(e.s.location()), suricataTS)
	w.localTime("end", end.In(e.s.location()), suricataTS)
	w.int("age", int64(f.dur/time.Second))
	state, reason := "closed", "timeout"
	if f.state == "S0" || f.state == "REJ" {
		state = "new"
	}
	w.str("state", state)
	w.str("reason", reason)
	w.bool("alerted", len(f.alerts) > 0)
	w.end()
	w.obj("tcp")
	w.str("tcp_flags", "1b")
	w.str("tcp_flags_ts", "1b")
	w.str("tcp_flags_tc", "1b")
	w.bool("syn", true)
	w.bool("fin", f.state == "SF")
	w.bool("psh", true)
	w.bool("ack", true)
	w.str("state", "closed")
	w.end()
	w.end()
	e.emit(FormatSuricata, end, w.b, sensor)
}
