package format

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

func TestParseSuricata(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "alert with http and flow",
			format: Suricata,
			line:   suricataAlert,
			want: map[string]string{
				"event.kind": "alert", "event.category": "intrusion_detection", "event.type": "allowed",
				"event.module": "suricata", "event.dataset": "suricata.eve", "event.severity": "2",
				"rule.name": "ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1",
				"rule.id":   "2018358", "rule.category": "Potentially Bad Traffic", "threat.technique.id": "T1071",
				"source.ip": "192.168.2.14", "source.port": "50096", "destination.ip": "209.53.113.5", "destination.port": "80",
				"network.transport": "tcp", "network.protocol": "http", "network.community_id": "1:pkQ8bH3kvvxYl6M+SpHa8Ck0DaM=",
				"url.domain": "209.53.113.5", "url.path": "/1/PVnjMsyf3zgbD2V7/upload.php", "url.query": "id=4",
				"url.original": "/1/PVnjMsyf3zgbD2V7/upload.php?id=4", "url.full": "http://209.53.113.5/1/PVnjMsyf3zgbD2V7/upload.php?id=4",
				"http.request.method": "POST", "http.response.status_code": "200", "http.version": "1.1",
				"user_agent.original": "Mozilla/4.0 (compatible; MSIE 8.0)", "source.bytes": "921", "destination.bytes": "667",
				"suricata.eve.flow_id": "586497171462735", "suricata.eve.alert.gid": "1",
				"suricata.eve.metadata.flowbits": "http.dottedquadhost", "suricata.eve.proto": "TCP",
			},
			time: "2017-04-07T21:24:37.251547Z",
		},
		{
			name:   "dns version 2 answer",
			format: Suricata,
			line:   suricataDNSv2,
			want: map[string]string{
				"event.kind": "event", "event.category": "network", "event.type": "protocol", "network.protocol": "dns",
				"dns.question.name": "www.suricata-ids.org", "dns.question.type": "A", "dns.response_code": "NOERROR",
				"dns.answers.data": "suricata-ids.org", "dns.id": "16000", "dns.type": "answer",
				"observer.name": "sensor-lux-1", "observer.ingress.interface.name": "eth0", "network.transport": "udp",
			},
			time: "2023-05-09T10:15:01.123456Z",
		},
		{
			name:   "dns version 1 query",
			format: Suricata,
			line:   `{"timestamp":"2023-05-09T10:15:01.000000+0000","event_type":"dns","src_ip":"10.0.0.17","dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","id":16000,"rrname":"evil.example","rrtype":"TXT","tx_id":0}}`,
			want:   map[string]string{"dns.question.name": "evil.example", "dns.question.type": "TXT", "dns.type": "query"},
			absent: []string{"dns.answers.data"},
			time:   "2023-05-09T10:15:01Z",
		},
		{
			name:   "dns version 3 queries list",
			format: Suricata,
			line:   `{"timestamp":"2024-05-09T10:15:01.000000+0000","event_type":"dns","dns":{"version":3,"type":"response","id":1,"rcode":"NXDOMAIN","queries":[{"rrname":"nope.example","rrtype":"AAAA"}]}}`,
			want:   map[string]string{"dns.question.name": "nope.example", "dns.question.type": "AAAA", "dns.response_code": "NXDOMAIN"},
			time:   "2024-05-09T10:15:01Z",
		},
		{
			name:   "tls",
			format: Suricata,
			line:   suricataTLS,
			want: map[string]string{
				"tls.server.sni": "www.example.org", "tls.client.ja3": "e7d705a3286e19ea42f587b344ee6865",
				"tls.server.ja3s": "ec74a5c51106f0419184d0dd08fb05bc", "tls.version": "1.2", "tls.version_protocol": "tls",
				"tls.server.x509.subject.common_name": "www.example.org",
				"tls.server.subject":                  "C=US, ST=California, L=Los Angeles, O=Internet Corporation for Assigned Names and Numbers, CN=www.example.org",
				"tls.server.issuer":                   "C=US, O=DigiCert Inc, CN=DigiCert TLS RSA SHA256 2020 CA1",
				"tls.server.hash.sha1":                "F2E05A3C2A1B", "network.protocol": "tls",
				"suricata.eve.tls.ja3.string": "771,4866-4867-4865,0-23-65281,29-23-24,0",
			},
			time: "2023-05-09T10:15:02.000001Z",
		},
		{
			name:   "fileinfo",
			format: Suricata,
			line:   suricataFileinfo,
			want: map[string]string{
				"event.category": "file", "event.type": "info", "file.path": "/files/setup.exe", "file.name": "setup.exe",
				"file.hash.md5": "44d88612fea8a8f36de82e1278abb02f", "file.hash.sha1": "3395856ce81f2b7382dee72602f798b642f14140",
				"file.hash.sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "file.size": "68",
				"url.full": "http://download.example.com/files/setup.exe", "suricata.eve.fileinfo.gaps": "false",
			},
			time: "2023-05-09T10:15:03.5Z",
		},
		{
			name:   "http on another port, absolute target kept",
			format: Suricata,
			line:   `{"event_type":"http","http":{"hostname":"proxy.example","http_port":8080,"url":"/a","http_method":"GET","http_refer":"http://ref.example/"}}`,
			want:   map[string]string{"url.full": "http://proxy.example:8080/a", "http.request.referrer": "http://ref.example/", "network.protocol": "http"},
		},
		{
			name:   "http absolute url",
			format: Suricata,
			line:   `{"event_type":"http","http":{"hostname":"h","url":"http://other.example/x?y"}}`,
			want:   map[string]string{"url.full": "http://other.example/x?y"},
			absent: []string{"url.path"},
		},
		{
			name:   "flow",
			format: Suricata,
			line:   `{"timestamp":"2023-05-09T10:15:04.000000+0000","event_type":"flow","src_ip":"10.0.0.17","dest_ip":"10.0.0.1","proto":"ICMP","app_proto":"failed","flow":{"pkts_toserver":3,"pkts_toclient":3,"bytes_toserver":294,"bytes_toclient":294,"start":"2023-05-09T10:14:00.000000+0000","end":"2023-05-09T10:14:02.000000+0000","age":2,"state":"established","reason":"timeout","alerted":false}}`,
			want: map[string]string{
				"event.type": "connection", "network.transport": "icmp", "source.packets": "3", "destination.bytes": "294",
				"event.start": "2023-05-09T10:14:00.000000+0000", "event.end": "2023-05-09T10:14:02.000000+0000",
				"suricata.eve.flow.state": "established",
			},
			absent: []string{"network.protocol"},
			time:   "2023-05-09T10:15:04Z",
		},
		{
			name:   "anomaly",
			format: Suricata,
			line:   `{"timestamp":"2023-05-09T10:15:05.000000+0000","event_type":"anomaly","src_ip":"10.0.0.17","anomaly":{"type":"decode","event":"decoder.ipv4.trunc_pkt"}}`,
			want:   map[string]string{"event.kind": "event", "event.type": "info", "suricata.eve.anomaly.event": "decoder.ipv4.trunc_pkt"},
			time:   "2023-05-09T10:15:05Z",
		},
		{
			name:   "ssh",
			format: Suricata,
			line:   `{"event_type":"ssh","app_proto":"ssh","ssh":{"client":{"proto_version":"2.0","software_version":"OpenSSH_8.9"},"server":{"proto_version":"2.0","software_version":"OpenSSH_9.0"}}}`,
			want:   map[string]string{"network.protocol": "ssh", "event.type": "protocol", "suricata.eve.ssh.client.software_version": "OpenSSH_8.9"},
		},
		{
			name:   "smtp with email",
			format: Suricata,
			line:   `{"event_type":"smtp","smtp":{"helo":"mx.example","mail_from":"<a@example.org>","rcpt_to":["<b@example.net>"]},"email":{"status":"PARSE_DONE","from":"Alice <a@example.org>","to":["Bob <b@example.net>","Carol <c@example.net>"],"subject":"invoice"}}`,
			want:   map[string]string{"email.from.address": "Alice <a@example.org>", "email.to.address": "Bob <b@example.net>", "email.subject": "invoice", "network.protocol": "smtp"},
		},
		{
			name:   "blocked alert",
			format: Suricata,
			line:   `{"event_type":"alert","alert":{"action":"blocked","signature":"x","signature_id":1,"severity":1}}`,
			want:   map[string]string{"event.type": "denied", "event.kind": "alert", "rule.id": "1"},
		},
		{name: "truncated", format: Suricata, line: suricataAlert[:200], err: "json: line 1 col 201: unexpected end of JSON input"},
		{name: "not an object", format: Suricata, line: `["event_type"]`, err: "not a JSON object"},
		{name: "no event_type", format: Suricata, line: `{"timestamp":"2023-05-09T10:15:05Z"}`, err: "suricata: record has no event_type"},
		{name: "bad timestamp", format: Suricata, line: `{"timestamp":"yesterday","event_type":"flow"}`, err: `suricata: timestamp: unrecognised timestamp "yesterday"`},
	})
}

// TestSuricataKeepsEveryField checks that each leaf of the record is under
// suricata.eve.<path>, lists included.
func TestSuricataKeepsEveryField(t *testing.T) {
	var ev event.Event
	if err := Parse(Suricata, []byte(suricataDNSv2), &ev); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(values(&ev, "suricata.eve.dns.answers.rdata"), ",")
	if got != "suricata-ids.org,192.0.78.24,192.0.78.25" {
		t.Errorf("answers = %q", got)
	}
	var p Parser
	if err := p.decodeJSON([]byte(suricataDNSv2)); err != nil {
		t.Fatal(err)
	}
	for _, l := range p.leaves {
		name := "suricata.eve." + string(p.paths[l.path.lo:l.path.hi])
		if _, ok := ev.Get(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
}
