package format

import "testing"

// TestTimeOutOfRange: a time outside 1970..2262 (what int64 nanoseconds
// since the epoch hold) is refused with the reason, in every format that
// carries one; the edges of the range are taken.
func TestTimeOutOfRange(t *testing.T) {
	const outside = "outside the range of event times"
	runParseCases(t, []parseCase{
		{name: "ecs epoch overflowing int64", format: ECS, line: `{"@timestamp": 99999999999999999999}`, err: outside},
		{name: "ecs year 9999", format: ECS, line: `{"@timestamp":"9999-12-31T23:59:59Z"}`, err: outside},
		{name: "ecs before 1970", format: ECS, line: `{"@timestamp":"1969-12-31T23:59:59Z"}`, err: outside},
		{name: "ecs negative .NET date", format: ECS, line: `{"@timestamp":"/Date(-1000)/"}`, err: outside},
		{name: "ecs epoch in float notation", format: ECS, line: `{"@timestamp":"1e20"}`, err: outside},
		{name: "ecs 1970", format: ECS, line: `{"@timestamp":"1970-01-01T00:00:00Z"}`, time: "1970-01-01T00:00:00Z"},
		{name: "ecs 2262", format: ECS, line: `{"@timestamp":"2262-04-11T23:47:16Z"}`, time: "2262-04-11T23:47:16Z"},
		{name: "ecs past 2262", format: ECS, line: `{"@timestamp":"2262-04-11T23:47:17Z"}`, err: outside},
		{name: "syslog 5424", format: Syslog, line: `<34>1 3000-01-01T00:00:00Z host app 1 ID47 - hello`, err: outside},
		{name: "syslog 3164 with an ISO time", format: Syslog, line: `<13>0001-01-01T00:00:00Z host sshd[1]: hello`, err: outside},
		{name: "cef rt", format: CEF, line: `CEF:0|V|P|1|100|Blocked|5|rt=Jan 02 9999 03:04:05 src=10.0.0.1`, err: outside},
		{name: "cef rt in range", format: CEF, line: `CEF:0|V|P|1|100|Blocked|5|rt=1704164645000 src=10.0.0.1`, time: "2024-01-02T03:04:05Z"},
		{name: "suricata", format: Suricata, line: `{"timestamp":"2500-05-09T10:15:01.000000+0000","event_type":"dns","src_ip":"10.0.0.17"}`, err: outside},
		{name: "zeek negative", format: Zeek, line: `{"_path":"conn","ts":-5,"uid":"C1","id.orig_h":"10.0.0.1"}`, err: "unrecognised"},
		{name: "zeek far future", format: Zeek, line: `{"_path":"conn","ts":"3000-01-01T00:00:00Z","uid":"C1","id.orig_h":"10.0.0.1"}`, err: outside},
		{name: "windows", format: Windows, line: `{"EventID":4625,"Channel":"Security","Computer":"WS01","TimeCreated":"1600-01-01T00:00:00Z"}`, err: outside},
	})
}
