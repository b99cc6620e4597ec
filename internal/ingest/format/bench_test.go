package format

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

const syslog5424Record = `<165>1 2024-03-14T09:26:53.589123+01:00 web-01.corp.example nginx 2231 ACCESS [origin ip="10.42.7.19" software="nginx" swVersion="1.24.0"][meta sequenceId="1042" sysUpTime="123456"] 203.0.113.7 - alice [14/Mar/2024:09:26:53 +0100] "GET /api/v1/orders?page=2&limit=50 HTTP/1.1" 200 5123 "https://shop.example.com/cart" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36" rt=0.042 uct=0.001 uht=0.040 urt=0.040 upstream=10.42.9.3:8080 request_id=9f1c2b3a4d5e6f708192a3b4c5d6e7f8 cache=MISS`

const syslog3164Record = `<38>Mar 14 09:26:53 bastion-01 sudo[48213]:    alice : TTY=pts/3 ; PWD=/home/alice/deploy/releases/2024-03-14 ; USER=root ; COMMAND=/usr/bin/systemctl restart payment-gateway.service --no-block ; ENV=DEPLOY_ID=7f3c9e2a-5d41-4b8e-9a6f-1c2d3e4f5a6b RELEASE=v4.18.2 ARTIFACT=https://artifacts.corp.example/payment-gateway/v4.18.2/payment-gateway-linux-amd64.tar.gz SHA256=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f REQUESTED_BY=change-1234 APPROVED_BY=bob,carol WINDOW=2024-03-14T09:00Z/2024-03-14T10:00Z`

const cefRecord = `CEF:0|Palo Alto Networks|PAN-OS|10.2.4|url|THREAT|5|rt=Mar 14 2024 09:26:53 GMT deviceExternalId=013201001234 src=10.42.7.19 dst=203.0.113.80 sourceTranslatedAddress=192.0.2.1 destinationTranslatedAddress=203.0.113.80 cs1Label=Rule cs1=allow-web-egress suser=corp\\alice duser= app=web-browsing cs3Label=Virtual System cs3=vsys1 cs4Label=Source Zone cs4=trust cs5Label=Destination Zone cs5=untrust deviceInboundInterface=ethernet1/2 deviceOutboundInterface=ethernet1/1 cn1Label=SessionID cn1=58321 spt=51544 dpt=443 proto=TCP act=alert request=https://cdn.example.net/assets/app.js?v\=4.18.2 cs2Label=URL Category cs2=content-delivery-networks flexString2Label=Direction flexString2=client-to-server msg=URL access logged dvchost=pa-edge-01`

// benchSysmon is the record `xsoc bench e2e` sends and the pipeline's
// BenchmarkDetectionPath normalises: a winlogbeat Sysmon process start.
const benchSysmon = `{"@timestamp":"2026-12-07T17:58:56.123456789Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-0042.corp.example","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe --type=renderer --lang=en-US --field-trial-handle=3735928559","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user042","ProcessId":"31337","Hashes":"SHA256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user042\\"}},"host":{"name":"WS-0042"}}`

// benchmarkParse parses line repeatedly with one Parser and one event, the
// way the pipeline does. cpu-ns/op is the process's CPU time per record
// (GC included), which other work on a shared machine does not inflate
// the way it inflates wall time.
func benchmarkParse(b *testing.B, f Format, line string) {
	data := []byte(line)
	var p Parser
	var ev event.Event
	if err := p.Parse(f, data, &ev); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(f, data, &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time the process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkParseECS(b *testing.B)          { benchmarkParse(b, ECS, ecsNested) }
func BenchmarkParseSyslog5424(b *testing.B)   { benchmarkParse(b, Syslog, syslog5424Record) }
func BenchmarkParseSyslog3164(b *testing.B)   { benchmarkParse(b, Syslog, syslog3164Record) }
func BenchmarkParseCEF(b *testing.B)          { benchmarkParse(b, CEF, cefRecord) }
func BenchmarkParseSuricata(b *testing.B)     { benchmarkParse(b, Suricata, suricataAlert) }
func BenchmarkParseZeek(b *testing.B)         { benchmarkParse(b, Zeek, zeekConnRecord) }
func BenchmarkParseWindows(b *testing.B)      { benchmarkParse(b, Windows, winlogbeatSysmon1) }
func BenchmarkParseWindowsEvtx(b *testing.B)  { benchmarkParse(b, Windows, evtxSysmon3) }
func BenchmarkParseAutoSuricata(b *testing.B) { benchmarkParse(b, Auto, suricataAlert) }
func BenchmarkParseAutoSysmon(b *testing.B)   { benchmarkParse(b, Auto, benchSysmon) }
func BenchmarkParseAutoECS(b *testing.B)      { benchmarkParse(b, Auto, ecsNested) }
func BenchmarkParseAutoZeek(b *testing.B)     { benchmarkParse(b, Auto, zeekConnRecord) }

// BenchmarkParseAutoSysmonBatch parses `xsoc bench e2e`'s traffic as the
// pipeline does: batches of 500 different records, back to back in one
// request body, each into its own event of the batch, over 16 batches
// (5 MB, more than the caches hold). Unlike BenchmarkParseAutoSysmon,
// which parses one record into one event, it pays for reading records
// and writing events that are not in the cache.
func BenchmarkParseAutoSysmonBatch(b *testing.B) {
	const batch, batches = 500, 16
	lines := sysmonLines(batch * batches)
	events := make([]event.Event, batch)
	var p Parser
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	cpu0 := processCPU()
	i := 0
	for b.Loop() {
		ev := &events[i%batch]
		ev.Reset()
		if err := p.Parse(Auto, lines[i%len(lines)], ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// sysmonLines returns n records like those of `xsoc bench e2e` (its
// e2eBodies), slices of one buffer as the lines of a request body are.
func sysmonLines(n int) [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	images := []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
		`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`}
	var body []byte
	ends := make([]int, n)
	for i := range n {
		img := images[r.IntN(len(images))]
		body = fmt.Appendf(body, `{"@timestamp":"2026-12-07T17:58:56.%09dZ","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%016x%016x%016x%016x","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}},"host":{"name":"WS-%04d"}}`,
			r.IntN(1e9), r.IntN(5000), img, strings.ReplaceAll(img, `\`, `\\`), r.Uint32(), r.IntN(900), r.IntN(60000),
			r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), r.IntN(900), r.IntN(5000))
		ends[i] = len(body)
		body = append(body, '\n')
	}
	lines := make([][]byte, n)
	start := 0
	for i, end := range ends {
		lines[i] = body[start:end:end]
		start = end + 1
	}
	return lines
}

// BenchmarkParseFunc is the package-level Parse, which starts from an empty
// Parser each time: the cost of not keeping one.
func BenchmarkParseFunc(b *testing.B) {
	data := []byte(winlogbeatSysmon1)
	var ev event.Event
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if err := Parse(Windows, data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventParseJSON is the reference the JSON formats replace:
// encoding/json into a map, then event.SetObject.
func BenchmarkEventParseJSON(b *testing.B) {
	data := []byte(winlogbeatSysmon1)
	var ev event.Event
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if err := ev.ParseJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSniff(b *testing.B) {
	lines := [][]byte{[]byte(ecsNested), []byte(suricataAlert), []byte(zeekConnRecord), []byte(winlogbeatSysmon1), []byte(syslog5424Record), []byte(cefRecord)}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			Sniff(l)
		}
	}
}

func BenchmarkScanSyslog(b *testing.B) {
	var stream bytes.Buffer
	for i := 0; i < 1000; i++ {
		if i%2 == 0 {
			stream.WriteString(syslog5424Record + "\n")
		} else {
			stream.WriteString(strings.Join([]string{itoa(len(syslog3164Record)), syslog3164Record}, " "))
		}
	}
	data := stream.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), MaxRecord+16)
		sc.Split(ScanSyslog)
		n := 0
		for sc.Scan() {
			n++
		}
		if n != 1000 || sc.Err() != nil {
			b.Fatalf("%d frames, %v", n, sc.Err())
		}
	}
}

func itoa(n int) string { return string(smallDecimalOrFormat(n)) }

func smallDecimalOrFormat(n int) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return b[i:]
		}
	}
}

// TestBenchmarkRecords keeps the benchmark records honest: they parse, and
// to the fields that matter.
func TestBenchmarkRecords(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "5424", format: Syslog, line: syslog5424Record, want: map[string]string{"process.name": "nginx", "event.code": "ACCESS", "syslog.sd.meta.sequenceId": "1042"}, time: "2024-03-14T08:26:53.589123Z"},
		{name: "3164", format: Syslog, line: syslog3164Record, want: map[string]string{"process.name": "sudo", "process.pid": "48213", "host.hostname": "bastion-01"}, time: "2024-03-14T09:26:53Z"},
		{name: "cef", format: CEF, line: cefRecord, want: map[string]string{
			"user.name": `corp\alice`, "cef.extensions.Rule": "allow-web-egress", "cef.extensions.Direction": "client-to-server",
			"url.full": "https://cdn.example.net/assets/app.js?v=4.18.2", "network.transport": "tcp", "message": "URL access logged",
			"host.name": "pa-edge-01",
		}, absent: []string{"user.target.name"}, time: "2024-03-14T09:26:53Z"},
	})
	for _, l := range []string{syslog5424Record, syslog3164Record, cefRecord, ecsNested, suricataAlert, winlogbeatSysmon1} {
		if len(l) < 500 {
			t.Errorf("benchmark record of %d bytes is not realistic: %.40s", len(l), l)
		}
	}
}
