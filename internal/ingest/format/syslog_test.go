package format

import (
	"strings"
	"testing"
	"time"
)

func TestParseSyslog5424(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "RFC 5424 example 1, BOM and no structured data",
			format: Syslog,
			line:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
			want: map[string]string{
				"log.syslog.priority": "34", "log.syslog.facility.code": "4", "log.syslog.severity.code": "2",
				"log.syslog.facility.name": "auth", "log.syslog.severity.name": "Critical", "log.syslog.version": "1",
				"host.hostname": "mymachine.example.com", "host.name": "mymachine.example.com",
				"process.name": "su", "event.code": "ID47", "log.syslog.msgid": "ID47",
				"message":      "'su root' failed for lonvick on /dev/pts/8",
				"event.module": "syslog", "event.dataset": "syslog",
			},
			absent: []string{"process.pid", "log.syslog.procid"},
			time:   "2003-10-11T22:14:15.003Z",
		},
		{
			name:   "RFC 5424 example 2, zone offset and procid",
			format: Syslog,
			line:   "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			want: map[string]string{
				"log.syslog.facility.name": "local4", "log.syslog.severity.name": "Notice",
				"host.hostname": "192.0.2.1", "process.name": "myproc", "process.pid": "8710",
				"message": "%% It's time to make the do-nuts.",
			},
			absent: []string{"event.code"},
			time:   "2003-08-24T12:14:15.000003Z",
		},
		{
			name:   "RFC 5424 example 3, structured data",
			format: Syslog,
			line:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xEF\xBB\xBFAn application event log entry...",
			want: map[string]string{
				"syslog.sd.exampleSDID@32473.iut":         "3",
				"syslog.sd.exampleSDID@32473.eventSource": "Application",
				"syslog.sd.exampleSDID@32473.eventID":     "1011",
				"message":                                 "An application event log entry...",
			},
			time: "2003-10-11T22:14:15.003Z",
		},
		{
			name:   "RFC 5424 example 4, two elements and no message",
			format: Syslog,
			line:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			want: map[string]string{
				"syslog.sd.exampleSDID@32473.eventID":   "1011",
				"syslog.sd.examplePriority@32473.class": "high",
			},
			absent: []string{"message"},
			time:   "2003-10-11T22:14:15.003Z",
		},
		{
			name:   "escapes in PARAM-VALUE; other backslashes kept",
			format: Syslog,
			line:   `<14>1 2024-01-02T03:04:05Z h a 1 - [x@1 q="say \"hi\" \] \\ \n"] m`,
			want:   map[string]string{"syslog.sd.x@1.q": `say "hi" ] \ \n`, "message": "m"},
			time:   "2024-01-02T03:04:05Z",
		},
		{
			name:   "all NILVALUEs",
			format: Syslog,
			line:   `<13>1 - - - - - -`,
			want:   map[string]string{"log.syslog.priority": "13"},
			absent: []string{"host.name", "process.name", "process.pid", "event.code", "message"},
		},
		{
			name:   "non-numeric PROCID is kept but is no pid",
			format: Syslog,
			line:   `<13>1 2024-01-02T03:04:05+01:00 h app worker-7 - - x`,
			want:   map[string]string{"log.syslog.procid": "worker-7"},
			absent: []string{"process.pid"},
			time:   "2024-01-02T02:04:05Z",
		},
		{
			name:   "invalid UTF-8 in MSG passes through",
			format: Syslog,
			line:   "<13>1 - h a - - - caf\xe9 \xff",
			want:   map[string]string{"message": "caf\xe9 \xff"},
		},
		{
			name:   "trailing newline is not part of MSG",
			format: Syslog,
			line:   "<13>1 - h a - - - hello\r\n",
			want:   map[string]string{"message": "hello"},
		},
		{
			name:   "CEF inside RFC 5424",
			format: Syslog,
			line:   `<134>1 2024-01-02T03:04:05Z fw01 CEF - - - CEF:0|Fortinet|FortiGate|7.2|0419016384|ips signature|7|src=10.1.1.1 dst=10.2.2.2 act=dropped`,
			want: map[string]string{
				"event.module": "cef", "observer.vendor": "Fortinet", "rule.name": "ips signature",
				"source.ip": "10.1.1.1", "destination.ip": "10.2.2.2", "event.action": "dropped",
				"host.hostname": "fw01", "log.syslog.priority": "134",
			},
			time: "2024-01-02T03:04:05Z",
		},
		{name: "missing PRI", format: Syslog, line: `1 2003-10-11T22:14:15.003Z host app - - - x`, err: "syslog: missing PRI"},
		{name: "empty", format: Syslog, line: ``, err: "syslog: missing PRI"},
		{name: "empty PRI", format: Syslog, line: `<>1 - - - - - -`, err: "syslog: bad PRI"},
		{name: "long PRI", format: Syslog, line: `<1234>x`, err: "syslog: bad PRI"},
		{name: "PRI out of range", format: Syslog, line: `<192>x`, err: "syslog: bad PRI 192"},
		{name: "unclosed PRI", format: Syslog, line: `<34`, err: "syslog: bad PRI"},
		{name: "truncated header", format: Syslog, line: `<34>1 2003-10-11T22:14:15.003Z host`, err: "header ends after HOSTNAME"},
		{name: "no structured data", format: Syslog, line: `<34>1 2003-10-11T22:14:15.003Z host app 1 id`, err: "ends after MSGID"},
		{name: "double space", format: Syslog, line: `<34>1  2003-10-11T22:14:15.003Z host app 1 id -`, err: "TIMESTAMP is empty"},
		{name: "bad timestamp", format: Syslog, line: `<34>1 2003-13-11T22:14:15.003Z host app 1 id - x`, err: `invalid RFC 5424 TIMESTAMP "2003-13-11T22:14:15.003Z"`},
		{name: "bad structured data start", format: Syslog, line: `<34>1 - host app 1 id x msg`, err: "STRUCTURED-DATA must be - or start with ["},
		{name: "unterminated element", format: Syslog, line: `<34>1 - host app 1 id [a b="c"`, err: "STRUCTURED-DATA [a: missing ]"},
		{name: "unquoted value", format: Syslog, line: `<34>1 - host app 1 id [a b=c]`, err: `want PARAM-NAME="value"`},
		{name: "unterminated value", format: Syslog, line: `<34>1 - host app 1 id [a b="c]`, err: "unterminated value"},
		{name: "element without id", format: Syslog, line: `<34>1 - host app 1 id [ b="c"]`, err: "must start with an SD-ID"},
		{name: "SD-ID over 32 characters", format: Syslog, line: `<34>1 - host app 1 id [` + strings.Repeat("x", 33) + ` b="c"]`, err: "is longer than 32 characters"},
		{name: "PARAM-NAME over 32 characters", format: Syslog, line: `<34>1 - host app 1 id [x ` + strings.Repeat("p", 33) + `="c"]`, err: "PARAM-NAME"},
		{name: "no space before MSG", format: Syslog, line: `<34>1 - host app 1 id [a b="c"]x`, err: "want a space between STRUCTURED-DATA and MSG"},
	})
}

func TestParseSyslog3164(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "RFC 3164 example 1",
			format: Syslog,
			line:   `<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			want: map[string]string{
				"log.syslog.facility.name": "auth", "log.syslog.severity.name": "Critical",
				"host.hostname": "mymachine", "host.name": "mymachine", "process.name": "su",
				"message": "'su root' failed for lonvick on /dev/pts/8",
			},
			absent: []string{"process.pid", "log.syslog.version"},
			time:   "2023-10-11T22:14:15Z", // October 2024 would be after fixedNow
		},
		{
			name:   "RFC 3164 example 2, space-padded day and no tag",
			format: Syslog,
			line:   `<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!`,
			want:   map[string]string{"host.hostname": "10.0.0.99", "message": "Use the BFG!", "log.syslog.facility.name": "user"},
			absent: []string{"process.name"},
			time:   "2024-02-05T17:32:18Z",
		},
		{
			name:   "RFC 3164 example 3: the zone is read as the host, as the RFC explains",
			format: Syslog,
			line:   `<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.`,
			want:   map[string]string{"host.hostname": "CST", "message": "1987 mymachine myproc[10]: %% It's time to make the do-nuts."},
			time:   "2023-08-24T05:34:00Z",
		},
		{
			name:   "RFC 3164 example 4: no valid timestamp, all is message",
			format: Syslog,
			line:   `<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!`,
			want:   map[string]string{"log.syslog.severity.name": "Emergency", "log.syslog.facility.name": "kern", "message": "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"},
			absent: []string{"host.hostname", "process.name"},
		},
		{
			name:   "tag with pid and slash",
			format: Syslog,
			line:   `<22>Mar 14 09:00:01 mail01 postfix/smtpd[4242]: connect from unknown[192.0.2.7]`,
			want:   map[string]string{"process.name": "postfix/smtpd", "process.pid": "4242", "log.syslog.procid": "4242", "host.hostname": "mail01", "message": "connect from unknown[192.0.2.7]"},
			time:   "2024-03-14T09:00:01Z",
		},
		{
			name:   "no host name: the word after the timestamp is a tag",
			format: Syslog,
			line:   `<86>Mar 14 09:00:01 sshd[811]: Accepted publickey for root from 192.0.2.9 port 50022 ssh2`,
			want:   map[string]string{"process.name": "sshd", "process.pid": "811", "message": "Accepted publickey for root from 192.0.2.9 port 50022 ssh2"},
			absent: []string{"host.hostname"},
			time:   "2024-03-14T09:00:01Z",
		},
		{
			name:   "fraction in the timestamp",
			format: Syslog,
			line:   `<30>Mar  1 08:00:00.250 host app: x`,
			want:   map[string]string{"process.name": "app", "message": "x"},
			time:   "2024-03-01T08:00:00.25Z",
		},
		{
			name:   "RFC 3339 timestamp (rsyslog forwarding format)",
			format: Syslog,
			line:   `<30>2024-03-01T08:00:00.123456+01:00 web01 nginx: GET / 200`,
			want:   map[string]string{"host.hostname": "web01", "process.name": "nginx", "message": "GET / 200"},
			time:   "2024-03-01T07:00:00.123456Z",
		},
		{
			name:   "no timestamp, tag only",
			format: Syslog,
			line:   `<13>su: 'su root' failed`,
			want:   map[string]string{"process.name": "su", "message": "'su root' failed"},
			absent: []string{"host.hostname"},
		},
		{
			name:   "CEF inside RFC 3164",
			format: Syslog,
			line:   `<134>Feb 14 19:04:54 fw01 CEF:0|Palo Alto Networks|PAN-OS|10.1.0|THREAT|url|3|rt=Feb 14 2024 19:04:54 GMT src=10.0.0.5 dst=198.51.100.7 suser=corp\\alice request=http://bad.example/x`,
			want: map[string]string{
				"event.module": "cef", "event.dataset": "cef", "host.hostname": "fw01",
				"observer.product": "PAN-OS", "event.code": "THREAT", "user.name": `corp\alice`,
				"url.full": "http://bad.example/x", "log.syslog.priority": "134",
			},
			time: "2024-02-14T19:04:54Z",
		},
		{
			name:   "malformed CEF inside syslog keeps the syslog event and says why",
			format: Syslog,
			line:   `<134>Feb 14 19:04:54 fw01 CEF:0|Vendor|Product`,
			want: map[string]string{
				"event.module": "syslog", "message": "CEF:0|Vendor|Product",
				"error.message": "cef: header has 2 of 7 fields; want CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|",
			},
			absent: []string{"observer.vendor"},
			time:   "2024-02-14T19:04:54Z",
		},
		{name: "bad character after timestamp", format: Syslog, line: `<13>Feb  5 17:32:18x host a: b`, err: "want a space after the RFC 3164 timestamp"},
	})
}

func TestInferYear(t *testing.T) {
	cases := []struct {
		now   string
		stamp string
		want  string
	}{
		{"2024-03-15T12:00:00Z", "Mar 15 11:00:00", "2024-03-15T11:00:00Z"},
		{"2024-03-15T12:00:00Z", "Mar 16 10:00:00", "2024-03-16T10:00:00Z"}, // less than a day ahead: a sender east of UTC
		{"2024-03-15T12:00:00Z", "Mar 17 13:00:00", "2023-03-17T13:00:00Z"},
		{"2024-01-01T00:00:05Z", "Dec 31 23:59:59", "2023-12-31T23:59:59Z"},
		{"2023-12-31T23:59:59Z", "Jan  1 00:00:05", "2024-01-01T00:00:05Z"}, // sender's clock a little ahead
		{"2024-03-15T12:00:00Z", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"},
		{"2023-03-15T12:00:00Z", "Feb 29 10:00:00", "2020-02-29T10:00:00Z"}, // the last year that had the date
		{"2024-03-15T12:00:00Z", "Mar 15 11:00:00.5", "2024-03-15T11:00:00.5Z"},
	}
	for _, tc := range cases {
		now, err := time.Parse(time.RFC3339, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		p := Parser{Now: func() time.Time { return now }}
		got, n, ok := p.bsdTime([]byte(tc.stamp))
		if !ok || n != len(tc.stamp) || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("now %s, %q: got %s (%d bytes, ok %v), want %s", tc.now, tc.stamp, got.Format(time.RFC3339Nano), n, ok, tc.want)
		}
	}
	for _, bad := range []string{"Foo 11 22:14:15", "Oct 32 22:14:15", "Oct 11 24:14:15", "Oct 11 22:60:15", "Oct 11 22:14", "Oct11 22:14:15", "Feb 30 2024 10:00:00"} {
		var p Parser
		if _, _, ok := p.bsdTime([]byte(bad)); ok {
			t.Errorf("bsdTime(%q) accepted", bad)
		}
	}
}
