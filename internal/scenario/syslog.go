package scenario

import (
	"strconv"
	"strings"
	"time"
)

// Syslog facilities and severities used in PRI = facility*8 + severity.
const (
	facilityLocal4 = 20 // Squid's access_log syslog default
	facilityLocal7 = 23 // nginx's access_log syslog default
	severityInfo   = 6
	rfc5424Time    = "2006-01-02T15:04:05.000000-07:00"
)

// rfc5424 starts an RFC 5424 line: <PRI>1 TIMESTAMP HOSTNAME APP PROCID
// MSGID SD, followed by a space for the message.
func rfc5424(b []byte, pri int, t time.Time, host, app string, pid int) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, ">1 "...)
	b = t.AppendFormat(b, rfc5424Time)
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, app...)
	b = append(b, ' ')
	if pid > 0 {
		b = strconv.AppendInt(b, int64(pid), 10)
	} else {
		b = append(b, '-')
	}
	return append(b, " - - "...)
}

// squid writes the proxy's native access.log line for f over syslog.
func (e *emitter) squid(f *flow) {
	host := e.s.proxy
	end := f.start.Add(f.dur)
	b := rfc5424(e.buf().b, facilityLocal4*8+severityInfo, end.In(e.s.location()), host.name, "squid", 1800+int(host.recordBase%4000))
	// %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
	ms := end.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	b = appendPad(b, ms%1000, 3, '0')
	b = append(b, ' ')
	b = appendPad(b, f.dur.Milliseconds(), 6, ' ')
	b = append(b, ' ')
	b = append(b, f.src.String()...)
	method, url, code, mime := "CONNECT", f.domain+":"+strconv.Itoa(int(f.dport)), "TCP_TUNNEL/200", "-"
	if f.http != nil {
		method, url = f.http.method, "http://"+f.domain+f.http.uri
		code, mime = "TCP_MISS/"+strconv.Itoa(f.http.status), orDash(f.http.mime)
	}
	b = append(b, ' ')
	b = append(b, code...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, f.down+f.up/50+300, 10)
	b = append(b, ' ')
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, url...)
	b = append(b, ' ')
	b = append(b, orDash(f.user)...)
	b = append(b, " HIER_DIRECT/"...)
	b = append(b, f.dst.String()...)
	b = append(b, ' ')
	b = append(b, mime...)
	e.emit(FormatSyslog, end, b, host.name)
}

// appendPad appends n right-aligned in width characters padded with pad.
func appendPad(b []byte, n int64, width int, pad byte) []byte {
	s := strconv.FormatInt(n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, pad)
	}
	return append(b, s...)
}

// nginxAccess is one request to the member's public web server.
type nginxAccess struct {
	client               string
	method, uri, ua, ref string
	status               int
	bytes                int64
}

// nginx writes an nginx "combined" access-log line over syslog.
func (e *emitter) nginx(t time.Time, a *nginxAccess) {
	host := e.s.web
	local := t.In(e.s.location())
	b := rfc5424(e.buf().b, facilityLocal7*8+severityInfo, local, host.name, "nginx", 0)
	b = append(b, a.client...)
	b = append(b, " - - ["...)
	b = local.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, a.method...)
	b = append(b, ' ')
	b = append(b, a.uri...)
	b = append(b, ` HTTP/1.1" `...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, a.bytes, 10)
	b = append(b, " \""...)
	b = append(b, orDash(a.ref)...)
	b = append(b, `" "`...)
	b = append(b, a.ua...)
	b = append(b, '"')
	e.emit(FormatSyslog, t, b, host.name)
}

// cefHeader escapes a CEF header field.
func cefHeader(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '|')
}

// cefExt appends one extension key=value with CEF escaping.
func cefExt(b []byte, k, v string) []byte {
	if len(b) > 0 && b[len(b)-1] != '|' {
		b = append(b, ' ')
	}
	b = append(b, k...)
	b = append(b, '=')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '=':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

// firewall writes the perimeter firewall's CEF traffic log for f. Members
// run either a FortiGate or a PAN-OS firewall; the choice is fixed per
// member.
func (e *emitter) firewall(f *flow) {
	if strHash(e.s.m.ID)%2 == 0 {
		e.fortigate(f)
	} else {
		e.panos(f)
	}
}

func protoNum(p string) string {
	if p == "udp" {
		return "17"
	}
	return "6"
}

func (e *emitter) fwName() string { return e.s.m.HostPrefix + "-FW01" }

func (e *emitter) fortigate(f *flow) {
	end := f.start.Add(f.dur)
	act, name, sev := "close", "traffic:forward close", "3"
	if f.blocked {
		act, name, sev = "deny", "traffic:forward deny", "4"
		end = f.start
	}
	b := append(e.buf().b, "CEF:0|"...)
	b = cefHeader(b, "Fortinet")
	b = cefHeader(b, "Fortigate")
	b = cefHeader(b, "v7.2.7")
	b = cefHeader(b, "0000000013")
	b = cefHeader(b, name)
	b = cefHeader(b, sev)
	b = cefExt(b, "deviceExternalId", "FG200FT9229"+strconv.FormatUint(strHash(e.s.m.ID)%100000, 10))
	b = cefExt(b, "dvchost", e.fwName())
	b = cefExt(b, "rt", strconv.FormatInt(end.UnixMilli(), 10))
	b = cefExt(b, "cat", "traffic:forward")
	b = cefExt(b, "FTNTFGTsubtype", "forward")
	b = cefExt(b, "FTNTFGTlevel", "notice")
	b = cefExt(b, "FTNTFGTvd", "root")
	b = cefExt(b, "src", f.src.String())
	b = cefExt(b, "spt", strconv.Itoa(int(f.sport)))
	b = cefExt(b, "deviceInboundInterface", inIface(f, "port2", "wan1"))
	b = cefExt(b, "dst", f.dst.String())
	b = cefExt(b, "dpt", strconv.Itoa(int(f.dport)))
	b = cefExt(b, "deviceOutboundInterface", inIface(f, "wan1", "port2"))
	b = cefExt(b, "externalId", strconv.FormatInt(f.flowID%100000000, 10))
	b = cefExt(b, "proto", protoNum(f.proto))
	b = cefExt(b, "act", act)
	b = cefExt(b, "FTNTFGTpolicyid", inIface(f, "12", "3"))
	b = cefExt(b, "app", appName(f))
	if !f.inbound && !f.blocked {
		b = cefExt(b, "FTNTFGTtrandisp", "snat")
		b = cefExt(b, "sourceTranslatedAddress", e.s.m.Egress.String())
		b = cefExt(b, "sourceTranslatedPort", strconv.Itoa(int(f.sport)))
	}
	if f.domain != "" {
		b = cefExt(b, "dhost", f.domain)
	}
	if f.user != "" {
		b = cefExt(b, "suser", f.user)
	}
	b = cefExt(b, "FTNTFGTduration", strconv.FormatInt(int64(f.dur/time.Second), 10))
	b = cefExt(b, "out", strconv.FormatInt(f.up, 10))
	b = cefExt(b, "in", strconv.FormatInt(f.down, 10))
	e.emit(FormatCEF, end, b, e.fwName())
}

// inIface returns a for outbound and b for inbound traffic.
func inIface(f *flow, a, b string) string {
	if f.inbound {
		return b
	}
	return a
}

// appName is the firewall's application name for f.
func appName(f *flow) string {
	switch {
	case f.tls != nil:
		return "HTTPS"
	case f.http != nil:
		return "HTTP"
	case f.dns != nil:
		return "DNS"
	case f.smtp != nil:
		return "SMTP"
	}
	return strings.ToUpper(orDash(f.service))
}

func (e *emitter) panos(f *flow) {
	end := f.start.Add(f.dur)
	act, sub := "allow", "end"
	if f.blocked {
		act, sub = "deny", "deny"
		end = f.start
	}
	const panTime = "Jan 02 2006 15:04:05 MST"
	b := append(e.buf().b, "CEF:0|"...)
	b = cefHeader(b, "Palo Alto Networks")
	b = cefHeader(b, "PAN-OS")
	b = cefHeader(b, "10.2.7")
	b = cefHeader(b, sub)
	b = cefHeader(b, "TRAFFIC")
	b = cefHeader(b, "1")
	b = cefExt(b, "rt", end.UTC().Format(panTime))
	b = cefExt(b, "deviceExternalId", "0079"+strconv.FormatUint(strHash(e.s.m.ID)%100000000, 10))
	b = cefExt(b, "src", f.src.String())
	b = cefExt(b, "dst", f.dst.String())
	if !f.inbound && !f.blocked {
		b = cefExt(b, "sourceTranslatedAddress", e.s.m.Egress.String())
	} else {
		b = cefExt(b, "sourceTranslatedAddress", "0.0.0.0")
	}
	b = cefExt(b, "destinationTranslatedAddress", "0.0.0.0")
	b = cefExt(b, "cs1Label", "Rule")
	b = cefExt(b, "cs1", inIface(f, "allow-internet-web", "dmz-inbound"))
	if f.user != "" {
		b = cefExt(b, "suser", e.s.m.NetBIOS+`\`+f.user)
	}
	b = cefExt(b, "app", lower(appName(f)))
	b = cefExt(b, "cs3Label", "Virtual System")
	b = cefExt(b, "cs3", "vsys1")
	b = cefExt(b, "cs4Label", "Source Zone")
	b = cefExt(b, "cs4", inIface(f, "trust", "untrust"))
	b = cefExt(b, "cs5Label", "Destination Zone")
	b = cefExt(b, "cs5", inIface(f, "untrust", "dmz"))
	b = cefExt(b, "deviceInboundInterface", inIface(f, "ethernet1/2", "ethernet1/1"))
	b = cefExt(b, "deviceOutboundInterface", inIface(f, "ethernet1/1", "ethernet1/3"))
	b = cefExt(b, "cn1Label", "SessionID")
	b = cefExt(b, "cn1", strconv.FormatInt(f.flowID%1000000, 10))
	b = cefExt(b, "spt", strconv.Itoa(int(f.sport)))
	b = cefExt(b, "dpt", strconv.Itoa(int(f.dport)))
	b = cefExt(b, "proto", f.proto)
	b = cefExt(b, "act", act)
	b = cefExt(b, "in", strconv.FormatInt(f.down, 10))
	b = cefExt(b, "out", strconv.FormatInt(f.up, 10))
	b = cefExt(b, "start", f.start.UTC().Format(panTime))
	b = cefExt(b, "cn3Label", "Elapsed time in seconds")
	b = cefExt(b, "cn3", strconv.FormatInt(int64(f.dur/time.Second), 10))
	if f.domain != "" {
		b = cefExt(b, "dhost", f.domain)
	}
	b = cefExt(b, "dvchost", e.fwName())
	e.emit(FormatCEF, end, b, e.fwName())
}
