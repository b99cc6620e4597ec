package format

import "testing"

func TestParseCEF(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "specification example",
			format: CEF,
			line:   `CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232`,
			want: map[string]string{
				"cef.version": "0", "observer.vendor": "Security", "observer.product": "threatmanager",
				"observer.version": "1.0", "event.code": "100", "rule.name": "worm successfully stopped",
				"event.severity": "10", "cef.severity": "10", "source.ip": "10.0.0.1", "destination.ip": "2.1.2.2",
				"source.port": "1232", "cef.extensions.src": "10.0.0.1", "cef.extensions.spt": "1232",
				"event.module": "cef", "event.dataset": "cef", "message": "worm successfully stopped",
			},
		},
		{
			name:   "syslog header without PRI in front",
			format: CEF,
			line:   `Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232`,
			want:   map[string]string{"host.hostname": "host", "observer.vendor": "Security", "source.port": "1232"},
			time:   "2023-09-19T08:26:10Z",
		},
		{
			name:   "escaped pipe in header and extension",
			format: CEF,
			line:   `CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a \| dst=1.1.1.1`,
			want:   map[string]string{"rule.name": "detected a | in message", "event.action": "blocked a |", "destination.ip": "1.1.1.1"},
		},
		{
			name:   "escaped backslash in header and extension",
			format: CEF,
			line:   `CEF:0|security|threatmanager|1.0|100|detected a \\ in packet|10|src=10.0.0.1 act=blocked a \\ dst=1.1.1.1`,
			want:   map[string]string{"rule.name": `detected a \ in packet`, "event.action": `blocked a \`},
		},
		{
			name:   "escaped equals sign in extension",
			format: CEF,
			line:   `CEF:0|security|threatmanager|1.0|100|detected a = in message|10|src=10.0.0.1 act=blocked a \= dst=1.1.1.1`,
			want:   map[string]string{"rule.name": "detected a = in message", "event.action": "blocked a =", "destination.ip": "1.1.1.1"},
		},
		{
			name:   "multi-line message",
			format: CEF,
			line:   `CEF:0|security|threatmanager|1.0|100|Detected a threat. No action needed.|10|src=10.0.0.1 msg=Detected a threat.\n No action needed.`,
			want:   map[string]string{"message": "Detected a threat.\n No action needed.", "source.ip": "10.0.0.1"},
		},
		{
			name:   "unknown escapes and a lone backslash are kept",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n \x|3|filePath=C:\Windows\temp\a.exe fname=a.exe`,
			want:   map[string]string{"rule.name": `n \x`, "file.path": `C:\Windows\temp\a.exe`, "file.name": "a.exe"},
		},
		{
			name:   "custom labels, full key names, hashes and lowercase protocols",
			format: CEF,
			line:   `CEF:1|Trend Micro|Deep Security Agent|20.0|4000000|Eicar_test_file|6|cn1=1 cn1Label=Host ID cs1Label=Quarantine File Name cs1=/var/quarantine/eicar cs2=Real Time cs2Label=Scan Type dvchost=web01 sourceAddress=192.0.2.10 destinationPort=443 proto=TCP app=HTTPS fileHash=3395856ce81f2b7382dee72602f798b642f14140 requestMethod=POST requestClientApplication=Mozilla/5.0 (X11; Linux) suser=alice duser=bob shost=ws1.corp dhost=srv.corp deviceDirection=1 in=1024 out=2048 outcome=success`,
			want: map[string]string{
				"cef.version": "1", "event.severity": "6",
				"cef.extensions.Host ID": "1", "cef.extensions.Quarantine File Name": "/var/quarantine/eicar",
				"cef.extensions.Scan Type": "Real Time", "cef.extensions.cs2": "Real Time", "cef.extensions.cs2Label": "Scan Type",
				"host.name": "web01", "observer.hostname": "web01", "source.ip": "192.0.2.10", "destination.port": "443",
				"network.transport": "tcp", "network.protocol": "https", "cef.extensions.proto": "TCP",
				"file.hash.sha1": "3395856ce81f2b7382dee72602f798b642f14140", "http.request.method": "POST",
				"user_agent.original": "Mozilla/5.0 (X11; Linux)", "user.name": "alice", "user.target.name": "bob",
				"source.domain": "ws1.corp", "destination.domain": "srv.corp", "network.direction": "outbound",
				"source.bytes": "1024", "destination.bytes": "2048", "event.outcome": "success",
			},
		},
		{
			name:   "sha256 and md5 by length",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|Low|fileHash=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f oldFileHash=44d88612fea8a8f36de82e1278abb02f`,
			want:   map[string]string{"file.hash.sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "event.severity": "3", "cef.severity": "Low"},
			absent: []string{"file.hash.md5"},
		},
		{
			name:   "rt in epoch milliseconds wins over start",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|Very-High|start=Jan 02 2024 10:00:00 rt=1704189600123`,
			want:   map[string]string{"event.severity": "10"},
			time:   "2024-01-02T10:00:00.123Z",
		},
		{
			name:   "rt as MMM dd yyyy HH:mm:ss.SSS with zone",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|High|rt=Jan 02 2024 10:00:00.250 +02:00 src=10.0.0.1`,
			want:   map[string]string{"event.severity": "8", "source.ip": "10.0.0.1"},
			time:   "2024-01-02T08:00:00.25Z",
		},
		{
			name:   "start used when there is no rt; unknown zone name taken as UTC",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|Medium|end=Jan 03 2024 00:00:00 start=Jan 02 2024 10:00:00 CET`,
			want:   map[string]string{"event.severity": "6"},
			time:   "2024-01-02T10:00:00Z",
		},
		{
			name:   "unreadable rt is kept verbatim only",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|3|rt=yesterday`,
			want:   map[string]string{"cef.extensions.rt": "yesterday"},
		},
		{
			name:   "empty values and trailing spaces",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|3|dhost= dst=1.2.3.4   msg=two  spaces   `,
			want:   map[string]string{"destination.ip": "1.2.3.4", "message": "two  spaces"},
			absent: []string{"destination.domain", "cef.extensions.dhost"},
		},
		{
			name:   "no extension and no trailing pipe",
			format: CEF,
			line:   `CEF:0|v|p|1|2|name|3`,
			want:   map[string]string{"event.severity": "3", "rule.name": "name"},
		},
		{
			name:   "unknown severity is kept but not mapped",
			format: CEF,
			line:   `CEF:0|v|p|1|2|n|Unknown|`,
			want:   map[string]string{"cef.severity": "Unknown"},
			absent: []string{"event.severity"},
		},
		{
			name:   "invalid UTF-8 passes through",
			format: CEF,
			line:   "CEF:0|v|p|1|2|n|3|msg=caf\xe9",
			want:   map[string]string{"message": "caf\xe9"},
		},
		{name: "no CEF header", format: CEF, line: `just some text`, err: "cef: missing header"},
		{name: "short header", format: CEF, line: `CEF:0|Vendor|Product`, err: "cef: header has 2 of 7 fields"},
		{name: "empty header", format: CEF, line: `CEF:`, err: "cef: header has 0 of 7 fields"},
		{name: "version not a number", format: CEF, line: `CEF:x|v|p|1|2|n|3|`, err: `cef: version "x" is not a number`},
		{name: "extension without key", format: CEF, line: `CEF:0|v|p|1|2|n|3|=oops`, err: "cef: extension: want key=value at col 19"},
		{name: "extension without equals", format: CEF, line: `CEF:0|v|p|1|2|n|3|hello world`, err: `found "hello world"`},
	})
}
