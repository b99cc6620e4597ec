package format

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

func TestParseZeek(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "conn",
			format: Zeek,
			line:   zeekConnRecord,
			want: map[string]string{
				"event.module": "zeek", "event.dataset": "zeek.conn", "event.kind": "event",
				"event.category": "network", "event.type": "connection",
				"source.ip": "192.168.4.76", "source.port": "46378", "destination.ip": "31.3.245.133", "destination.port": "80",
				"network.transport": "tcp", "network.protocol": "http", "source.bytes": "77", "destination.bytes": "295",
				"source.packets": "6", "destination.packets": "4", "event.duration": "254115104",
				"network.community_id": "1:ajBZpxDCjUrFcYXHn8fUKNL8qqg=", "zeek.session_id": "C5bLoe2Mvxqhawzqqd",
				"zeek.conn.conn_state": "SF", "zeek.conn.id.orig_h": "192.168.4.76", "zeek.conn.history": "ShADadFf",
				"zeek.conn.local_orig": "true",
			},
			time: "2020-06-05T14:39:59.430166Z",
		},
		{
			name:   "dns with answers list",
			format: Zeek,
			line:   `{"_path":"dns","ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76","id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp","trans_id":8555,"rtt":0.0489,"query":"testmyids.com","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["31.3.245.133","31.3.245.134"],"TTLs":[3600.0,3600.0],"rejected":false}`,
			want: map[string]string{
				"event.dataset": "zeek.dns", "event.type": "protocol", "network.protocol": "dns",
				"dns.question.name": "testmyids.com", "dns.question.type": "A", "dns.response_code": "NOERROR",
				"dns.answers.data": "31.3.245.133", "dns.id": "8555", "zeek.dns.query": "testmyids.com", "zeek.dns.RD": "true",
			},
			time: "2020-06-05T14:39:59.305988Z",
		},
		{
			name:   "http with ISO timestamp",
			format: Zeek,
			line:   zeekHTTPRecord,
			want: map[string]string{
				"event.dataset": "zeek.http", "http.request.method": "GET", "url.domain": "testmyids.com",
				"url.path": "/index.php", "url.query": "q=1", "url.original": "/index.php?q=1",
				"url.full": "http://testmyids.com/index.php?q=1", "user_agent.original": "curl/7.47.0",
				"http.response.status_code": "200", "http.request.referrer": "http://search.example/", "http.version": "1.1",
				"http.response.body.bytes": "39", "zeek.http.resp_mime_types": "text/plain",
			},
			time: "2020-06-05T14:39:59.525295Z",
		},
		{
			name:   "http on a non-default port",
			format: Zeek,
			line:   `{"_path":"http","ts":1.0,"id.resp_p":8080,"method":"GET","host":"intranet","uri":"/"}`,
			want:   map[string]string{"url.full": "http://intranet:8080/"},
			time:   "1970-01-01T00:00:01Z",
		},
		{
			name:   "ssl",
			format: Zeek,
			line:   zeekSSLRecord,
			want: map[string]string{
				"event.dataset": "zeek.ssl", "network.protocol": "tls", "tls.server.sni": "www.taosecurity.com",
				"tls.version": "1.2", "tls.version_protocol": "tls", "tls.cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
				"tls.client.ja3": "e7d705a3286e19ea42f587b344ee6865", "tls.server.ja3s": "ec74a5c51106f0419184d0dd08fb05bc",
				"tls.server.x509.subject.common_name": "www.taosecurity.com", "tls.server.subject": "CN=www.taosecurity.com,O=TaoSecurity,C=US",
				"tls.server.issuer": "CN=Amazon,OU=Server CA 1B,O=Amazon,C=US", "tls.established": "true",
			},
			time: "2020-06-05T14:40:12.5Z",
		},
		{
			name:   "files",
			format: Zeek,
			line:   `{"_path":"files","ts":1591367999.5,"fuid":"FEEsZS1w0Z0VJIb5x4","tx_hosts":["31.3.245.133"],"rx_hosts":["192.168.4.76"],"conn_uids":["C5bLoe2Mvxqhawzqqd"],"source":"HTTP","depth":0,"analyzers":["MD5","SHA1"],"mime_type":"text/plain","filename":"index.html","duration":0.0,"is_orig":false,"seen_bytes":39,"total_bytes":39,"md5":"b3d0b5b4a2b4c8c5e1b3a7b9c4d6e8f0","sha1":"3395856ce81f2b7382dee72602f798b642f14140"}`,
			want: map[string]string{
				"event.dataset": "zeek.files", "event.category": "file", "file.name": "index.html", "file.mime_type": "text/plain",
				"file.hash.md5": "b3d0b5b4a2b4c8c5e1b3a7b9c4d6e8f0", "file.size": "39", "zeek.files.tx_hosts": "31.3.245.133",
			},
			time: "2020-06-05T14:39:59.5Z",
		},
		{
			name:   "notice",
			format: Zeek,
			line:   `{"_path":"notice","ts":1591368000.1,"uid":"C1","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.9","note":"Scan::Port_Scan","msg":"10.0.0.5 scanned at least 15 unique ports of host 10.0.0.9 in 0m2s","src":"10.0.0.5","dst":"10.0.0.9","actions":["Notice::ACTION_LOG"],"suppress_for":3600.0}`,
			want: map[string]string{
				"event.kind": "alert", "event.category": "intrusion_detection", "rule.name": "Scan::Port_Scan",
				"message": "10.0.0.5 scanned at least 15 unique ports of host 10.0.0.9 in 0m2s", "source.ip": "10.0.0.5",
			},
			time: "2020-06-05T14:40:00.1Z",
		},
		{
			name:   "x509",
			format: Zeek,
			line:   `{"_path":"x509","ts":1591368012.5,"id":"FjkLnG4s6yOpuqnpl","certificate.version":3,"certificate.serial":"0DB2","certificate.subject":"CN=www.taosecurity.com","certificate.issuer":"CN=Amazon,O=Amazon,C=US","san.dns":["www.taosecurity.com","taosecurity.com"]}`,
			want: map[string]string{
				"event.dataset": "zeek.x509", "x509.subject.distinguished_name": "CN=www.taosecurity.com",
				"x509.serial_number": "0DB2", "x509.alternative_names": "www.taosecurity.com", "zeek.x509.id": "FjkLnG4s6yOpuqnpl",
			},
			absent: []string{"event.category"},
			time:   "2020-06-05T14:40:12.5Z",
		},
		{
			name:   "other log by _path",
			format: Zeek,
			line:   `{"_path":"weird","ts":1591368012.5,"name":"bad_TCP_checksum","id.orig_h":"10.0.0.1"}`,
			want:   map[string]string{"event.dataset": "zeek.weird", "zeek.weird.name": "bad_TCP_checksum", "source.ip": "10.0.0.1"},
			time:   "2020-06-05T14:40:12.5Z",
		},
		{
			name:   "_path that is not a plain word",
			format: Zeek,
			line:   `{"_path":"a.b c","ts":1}`,
			want:   map[string]string{"event.dataset": "zeek.unknown", "zeek.unknown._path": "a.b c"},
			time:   "1970-01-01T00:00:01Z",
		},
		{name: "overlong _path", format: Zeek, line: `{"_path":"` + strings.Repeat("w", 65) + `"}`, want: map[string]string{"event.dataset": "zeek.unknown"}},
		{name: "dns without _path", format: Zeek, line: `{"ts":1.5,"uid":"C","id.orig_h":"10.0.0.1","query":"x.example","qtype_name":"MX"}`, want: map[string]string{"event.dataset": "zeek.dns", "dns.question.type": "MX", "zeek.dns.query": "x.example"}, time: "1970-01-01T00:00:01.5Z"},
		{name: "http without _path", format: Zeek, line: `{"ts":1.5,"id.orig_h":"10.0.0.1","method":"GET","host":"h","uri":"/"}`, want: map[string]string{"event.dataset": "zeek.http", "url.full": "http://h/"}, time: "1970-01-01T00:00:01.5Z"},
		{name: "ssl without _path", format: Zeek, line: `{"ts":1.5,"id.orig_h":"10.0.0.1","server_name":"s.example","version":"TLSv13"}`, want: map[string]string{"event.dataset": "zeek.ssl", "tls.version": "1.3"}, time: "1970-01-01T00:00:01.5Z"},
		{name: "conn without _path, nested id", format: Zeek, line: `{"ts":1.5,"id":{"orig_h":"10.0.0.1","resp_p":22},"proto":"tcp","conn_state":"S0"}`, want: map[string]string{"event.dataset": "zeek.conn", "source.ip": "10.0.0.1", "destination.port": "22", "zeek.conn.id.orig_h": "10.0.0.1"}, time: "1970-01-01T00:00:01.5Z"},
		{name: "unknown without _path", format: Zeek, line: `{"ts":1.5,"id.orig_h":"10.0.0.1"}`, want: map[string]string{"event.dataset": "zeek.unknown", "source.ip": "10.0.0.1"}, time: "1970-01-01T00:00:01.5Z"},
		{name: "millisecond epoch", format: Zeek, line: `{"_path":"conn","ts":1591367999430}`, want: map[string]string{"event.dataset": "zeek.conn"}, time: "2020-06-05T14:39:59.43Z"},
		{name: "truncated", format: Zeek, line: zeekConnRecord[:100], err: "unexpected end of JSON input"},
		{name: "not an object", format: Zeek, line: `"conn"`, err: "the record is a string, not a JSON object"},
		{name: "bad ts", format: Zeek, line: `{"_path":"conn","ts":"noon"}`, err: `zeek: ts: unrecognised timestamp "noon"`},
	})
}

func TestZeekAnswersList(t *testing.T) {
	var ev event.Event
	line := `{"_path":"dns","query":"q","answers":["a.example","192.0.2.1"]}`
	if err := Parse(Zeek, []byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(values(&ev, "zeek.dns.answers"), ","); got != "a.example,192.0.2.1" {
		t.Errorf("zeek.dns.answers = %q", got)
	}
}

func TestSecondsToNanos(t *testing.T) {
	cases := map[string]string{
		"0.25411510467529297": "254115104",
		"1":                   "1000000000",
		"12.5":                "12500000000",
		"0":                   "0",
		"0.000000001":         "1",
		"-1":                  "",
		"1e3":                 "",
		"abc":                 "",
	}
	for in, want := range cases {
		var b builder
		v := b.add([]byte(in))
		if got := string(b.bytes(b.secondsToNanos(v))); got != want {
			t.Errorf("secondsToNanos(%q) = %q, want %q", in, got, want)
		}
	}
}
