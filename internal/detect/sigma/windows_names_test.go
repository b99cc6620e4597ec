package sigma_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// Windows Defender names its event data with spaces ("Threat Name",
// "Source Name", "Process Name"); Sigma rules write them without
// (ThreatName, SourceName, ProcessName). These are Defender events as
// winlogbeat, evtx_dump and EvtxECmd write them.
const (
	defender1116Winlogbeat = `{"@timestamp":"2024-03-05T10:14:07.123Z","event":{"code":"1116","kind":"event","provider":"Microsoft-Windows-Windows Defender","created":"2024-03-05T10:14:08.001Z"},"host":{"name":"WS-0142"},"agent":{"type":"winlogbeat","version":"8.12.2"},"log":{"level":"warning"},"winlog":{"channel":"Microsoft-Windows-Windows Defender/Operational","event_id":"1116","provider_name":"Microsoft-Windows-Windows Defender","provider_guid":"{11cd958a-c507-4ef3-b3f2-5fd9dfbd2c78}","computer_name":"WS-0142","record_id":"18233","process":{"pid":3460,"thread":{"id":9512}},"user":{"identifier":"S-1-5-18","domain":"NT AUTHORITY","name":"SYSTEM","type":"Well Known Group"},"version":0,"event_data":{"Product Name":"Microsoft Defender Antivirus","Product Version":"4.18.24010.12","Detection ID":"{6B6C8C53-4B7A-4B5E-9B0E-3F0E2A1C9D11}","Detection Time":"2024-03-05T10:14:07.098Z","Threat ID":"2147735503","Threat Name":"Trojan:PowerShell/Mimikatz.A","Severity ID":"5","Severity Name":"Severe","Category ID":"34","Category Name":"Tool","FWLink":"https://go.microsoft.com/fwlink/?linkid=37020&name=Trojan:PowerShell/Mimikatz.A&threatid=2147735503&enterprise=0","Status Code":"1","State":"1","Source ID":"10","Source Name":"AMSI","Process Name":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","Detection User":"CORP\\j.doe","Path":"amsi:_\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","Origin ID":"1","Origin Name":"Local machine","Execution ID":"1","Execution Name":"Suspended","Type ID":"0","Type Name":"Concrete","Pre Execution Status":"0","Action ID":"9","Action Name":"Not Applicable","Error Code":"0x00000000","Error Description":"The operation completed successfully. ","Post Clean Status":"0","Additional Actions ID":"0","Additional Actions String":"No additional actions required","Remediation User":"","Security intelligence Version":"AV: 1.407.441.0, AS: 1.407.441.0, NIS: 1.407.441.0","Engine Version":"AM: 1.1.24010.10, NIS: 1.1.24010.10"}}}`
	defender1116EvtxDump   = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Windows Defender","Guid":"11CD958A-C507-4EF3-B3F2-5FD9DFBD2C78"}},"EventID":1116,"Version":0,"Level":3,"Task":0,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":{"SystemTime":"2024-03-05T10:14:07.123456Z"}},"EventRecordID":18233,"Correlation":{"#attributes":{"ActivityID":"{E1A2C3D4-0000-0000-0000-000000000000}"}},"Execution":{"#attributes":{"ProcessID":3460,"ThreadID":9512}},"Channel":"Microsoft-Windows-Windows Defender/Operational","Computer":"WS-0142","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"Product Name":"Microsoft Defender Antivirus","Product Version":"4.18.24010.12","Detection ID":"{6B6C8C53-4B7A-4B5E-9B0E-3F0E2A1C9D11}","Detection Time":"2024-03-05T10:14:07.098Z","Unused":"","Unused2":"","Threat ID":2147735503,"Threat Name":"Trojan:PowerShell/Mimikatz.A","Severity ID":5,"Severity Name":"Severe","Category ID":34,"Category Name":"Tool","FWLink":"https://go.microsoft.com/fwlink/?linkid=37020&name=Trojan:PowerShell/Mimikatz.A&threatid=2147735503&enterprise=0","Status Code":1,"Status Description":"","State":1,"Source ID":10,"Source Name":"AMSI","Process Name":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","Detection User":"CORP\\j.doe","Unused3":"","Path":"amsi:_\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","Origin ID":1,"Origin Name":"Local machine","Execution ID":1,"Execution Name":"Suspended","Type ID":0,"Type Name":"Concrete","Pre Execution Status":0,"Action ID":9,"Action Name":"Not Applicable","Unused4":"","Error Code":"0x00000000","Error Description":"The operation completed successfully. ","Unused5":"","Post Clean Status":0,"Additional Actions ID":0,"Additional Actions String":"No additional actions required","Remediation User":"","Unused6":"","Security intelligence Version":"AV: 1.407.441.0, AS: 1.407.441.0, NIS: 1.407.441.0","Engine Version":"AM: 1.1.24010.10, NIS: 1.1.24010.10"}}}`
	defender1116EvtxECmd   = `{"PayloadData1":"Malware name: Trojan:PowerShell/Mimikatz.A","PayloadData2":"Description: Tool (Severe)","PayloadData3":"Detection Time: 2024-03-05T10:14:07.098Z","PayloadData4":"Process (PID): C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","PayloadData5":"Detection Type: Concrete","PayloadData6":"Path: amsi:_\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","UserName":"CORP\\j.doe","MapDescription":"Malware detected","ChunkNumber":3,"Computer":"WS-0142","Payload":"{\"EventData\":{\"Data\":[{\"@Name\":\"Product Name\",\"#text\":\"Microsoft Defender Antivirus\"},{\"@Name\":\"Product Version\",\"#text\":\"4.18.24010.12\"},{\"@Name\":\"Detection ID\",\"#text\":\"{6B6C8C53-4B7A-4B5E-9B0E-3F0E2A1C9D11}\"},{\"@Name\":\"Threat ID\",\"#text\":\"2147735503\"},{\"@Name\":\"Threat Name\",\"#text\":\"Trojan:PowerShell/Mimikatz.A\"},{\"@Name\":\"Severity Name\",\"#text\":\"Severe\"},{\"@Name\":\"Source ID\",\"#text\":\"10\"},{\"@Name\":\"Source Name\",\"#text\":\"AMSI\"},{\"@Name\":\"Process Name\",\"#text\":\"C:\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe\"},{\"@Name\":\"Detection User\",\"#text\":\"CORP\\\\j.doe\"},{\"@Name\":\"Path\",\"#text\":\"amsi:_\\\\Device\\\\HarddiskVolume3\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe\"},{\"@Name\":\"Action Name\",\"#text\":\"Not Applicable\"}]}}","UserId":"S-1-5-18","Channel":"Microsoft-Windows-Windows Defender/Operational","Provider":"Microsoft-Windows-Windows Defender","EventId":1116,"EventRecordId":"18233","ProcessId":3460,"ThreadId":9512,"Level":"Warning","Keywords":"0x8000000000000000","SourceFile":"C:\\Windows\\System32\\winevt\\Logs\\Microsoft-Windows-Windows Defender%4Operational.evtx","ExtraDataOffset":0,"HiddenRecord":false,"TimeCreated":"2024-03-05T10:14:07.1234560+00:00","RecordNumber":18233}`
	// An attack surface reduction block (1121) of an access to lsass.exe.
	// Windows PowerShell 400 (engine started) with its unnamed data, which
	// Sigma rules read as Data: as winlogbeat writes it (param1..3) and
	// as evtx_dump does (a Data list).
	powershell400Winlogbeat = `{"@timestamp":"2024-03-05T12:00:01.000Z","winlog":{"channel":"Windows PowerShell","event_id":"400","provider_name":"PowerShell","computer_name":"WS-0142","record_id":"5521","event_data":{"param1":"Available","param2":"None","param3":"\tNewEngineState=Available\r\n\tPreviousEngineState=None\r\n\r\n\tSequenceNumber=13\r\n\r\n\tHostName=ConsoleHost\r\n\tHostVersion=HOSTVERSION\r\n\tHostId=2b1f5e0c-8a47-4b8e-9f5e-0c7d3f1e9a42\r\n\tHostApplication=powershell.exe -version 2 -c whoami\r\n\tEngineVersion=2.0\r\n\tRunspaceId=a5c7e2d1-0b3f-4e8a-9c6d-1f2e3a4b5c6d\r\n\tPipelineId=\r\n\tCommandName=\r\n\tCommandType=\r\n\tScriptName=\r\n\tCommandPath=\r\n\tCommandLine="}}}`
	powershell400EvtxDump   = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"PowerShell"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":400},"Level":4,"Task":4,"Keywords":"0x80000000000000","TimeCreated":{"#attributes":{"SystemTime":"2024-03-05T12:00:01.000000Z"}},"EventRecordID":5521,"Channel":"Windows PowerShell","Computer":"WS-0142","Security":null},"EventData":{"Data":["Available","None","\tNewEngineState=Available\r\n\tPreviousEngineState=None\r\n\r\n\tSequenceNumber=13\r\n\r\n\tHostName=ConsoleHost\r\n\tHostVersion=HOSTVERSION\r\n\tHostId=2b1f5e0c-8a47-4b8e-9f5e-0c7d3f1e9a42\r\n\tHostApplication=powershell.exe -version 2 -c whoami\r\n\tEngineVersion=2.0\r\n\tRunspaceId=a5c7e2d1-0b3f-4e8a-9c6d-1f2e3a4b5c6d\r\n\tPipelineId=\r\n\tCommandName=\r\n\tCommandType=\r\n\tScriptName=\r\n\tCommandPath=\r\n\tCommandLine="]}}}`
	defender1121            = `{"@timestamp":"2024-03-05T11:02:44.512Z","winlog":{"channel":"Microsoft-Windows-Windows Defender/Operational","event_id":"1121","provider_name":"Microsoft-Windows-Windows Defender","computer_name":"WS-0142","event_data":{"Product Name":"Microsoft Defender Antivirus","Product Version":"4.18.24010.12","Unused":"","Detection Time":"2024-03-05T11:02:44.500Z","User":"CORP\\j.doe","ID":"9E6C4E1F-7D60-472F-BA1A-A39EF669E4B2","Path":"C:\\Windows\\System32\\lsass.exe","Process Name":"PROCESS","Target Commandline":"","Parent Commandline":"","Involved File":"","Inherited Flag":"","Security intelligence Version":"1.407.441.0","Engine Version":"1.1.24010.10","Product Version2":"","RuleType":"0"}}}`
)

// TestWindowsEventDataNames runs real SigmaHQ Defender and PowerShell rules over
// events in the shapes they are shipped in.
func TestWindowsEventDataNames(t *testing.T) {
	dir := filepath.Join(shared(t), "sigma", "rules", "windows", "builtin", "windefend")
	rules, errs := sigma.LoadFiles([]string{
		filepath.Join(dir, "win_defender_malware_detected_amsi_source.yml"),
		filepath.Join(dir, "win_defender_threat.yml"),
		filepath.Join(dir, "win_defender_asr_lsass_access.yml"),
		filepath.Join(shared(t), "sigma", "rules", "windows", "powershell", "powershell_classic", "posh_pc_downgrade_attack.yml"),
	}, sigma.Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rs, _ := sigma.Compile(rules, sigma.Options{})
	const (
		amsi      = "ea9bf0fa-edec-4fb8-8b78-b119f2528186"
		threat    = "57b649ef-ff42-4fb0-8bf6-62da243a1708"
		lsass     = "a0a278fe-2c0e-4de2-ac3c-c68b08a9ba98"
		downgrade = "6331d09b-4785-4c13-980f-f96661356249"
	)
	cases := []struct {
		name   string
		line   string
		fields map[string]string
		want   []string
	}{
		{"1116 from winlogbeat", defender1116Winlogbeat,
			map[string]string{"winlog.event_data.SourceName": "AMSI", "winlog.event_data.ThreatName": "Trojan:PowerShell/Mimikatz.A", "winlog.event_data.ProcessName": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`},
			[]string{amsi, threat}},
		{"1116 from evtx_dump", defender1116EvtxDump,
			map[string]string{"winlog.event_data.SourceName": "AMSI", "winlog.event_data.SecurityintelligenceVersion": "AV: 1.407.441.0, AS: 1.407.441.0, NIS: 1.407.441.0"},
			[]string{amsi, threat}},
		{"1116 from EvtxECmd", defender1116EvtxECmd,
			map[string]string{"winlog.event_data.SourceName": "AMSI", "winlog.event_data.DetectionUser": `CORP\j.doe`, "winlog.provider_name": "Microsoft-Windows-Windows Defender"},
			[]string{amsi, threat}},
		{"1121 by an unknown process", strings.Replace(defender1121, "PROCESS", `C:\\Users\\j.doe\\AppData\\Local\\Temp\\x.exe`, 1),
			map[string]string{"winlog.event_data.ProcessName": `C:\Users\j.doe\AppData\Local\Temp\x.exe`},
			[]string{lsass}},
		{"1121 by svchost, which the rule filters out", strings.Replace(defender1121, "PROCESS", `C:\\Windows\\System32\\svchost.exe`, 1),
			map[string]string{"winlog.event_data.ProcessName": `C:\Windows\System32\svchost.exe`},
			nil},
		{"PowerShell 2 engine in a 5.1 host, from winlogbeat", strings.Replace(powershell400Winlogbeat, "HOSTVERSION", "5.1.19041.3803", 1),
			map[string]string{"winlog.event_data.param1": "Available", "winlog.event_data.Data": "Available"},
			[]string{downgrade}},
		{"PowerShell 2 engine in a 5.1 host, from evtx_dump", strings.Replace(powershell400EvtxDump, "HOSTVERSION", "5.1.19041.3803", 1),
			map[string]string{"winlog.event_data.param2": "None", "winlog.event_data.Data": "Available"},
			[]string{downgrade}},
		{"PowerShell 2 engine in a 2.0 host, which the rule filters out", strings.Replace(powershell400EvtxDump, "HOSTVERSION", "2.0", 1),
			nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ev event.Event
			if err := format.Parse(format.Windows, []byte(c.line), &ev); err != nil {
				t.Fatal(err)
			}
			for name, want := range c.fields {
				if got, _ := ev.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got, ok := ev.Get("winlog.event_data.Source Name"); ok {
				t.Errorf("the name with a space is kept too: %q", got)
			}
			var got []string
			for _, a := range rs.Detect(&ev, nil) {
				got = append(got, a.RuleID)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("rules fired %v, want %v", got, want)
			}
		})
	}
}
