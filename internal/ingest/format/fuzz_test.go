package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// checkParse parses line as f and checks what holds for any input: no
// panic; a failed parse leaves the event untouched; a successful one keeps
// the line as Original, sets no empty field name or value, never sets
// Member, and gives the same fields with a fresh Parser as with one that
// parsed something else before.
func checkParse(t *testing.T, f Format, line []byte) (*event.Event, error) {
	t.Helper()
	p := Parser{Now: func() time.Time { return fixedNow }}
	var warm event.Event
	_ = p.Parse(f, []byte(suricataAlert), &warm) // leaves state behind in the buffers
	var ev event.Event
	err := p.Parse(f, line, &ev)
	if err != nil {
		if ev.Len() != 0 || len(ev.Original) != 0 || !ev.Time.IsZero() || ev.ID != "" {
			t.Fatalf("failed parse (%v) changed the event", err)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return &ev, err
	}
	if !bytes.Equal(ev.Original, line) {
		t.Fatalf("Original = %q, want %q", ev.Original, line)
	}
	if ev.Member != "" {
		t.Fatalf("Member set to %q", ev.Member)
	}
	ev.Fields(func(n, v string) bool {
		if n == "" || v == "" {
			t.Fatalf("empty field %q = %q", n, v)
		}
		return true
	})
	fresh := Parser{Now: p.Now}
	var ev2 event.Event
	if err := fresh.Parse(f, line, &ev2); err != nil {
		t.Fatalf("fresh parser fails where a used one succeeded: %v", err)
	}
	if a, b := sortedFields(&ev), sortedFields(&ev2); a != b || !ev.Time.Equal(ev2.Time) || ev.ID != ev2.ID {
		t.Fatalf("used and fresh parsers differ:\n%s\n%s", a, b)
	}
	return &ev, nil
}

// checkJSONFormat adds the invariant of the JSON formats: they accept only
// valid JSON objects.
func checkJSONFormat(t *testing.T, f Format, line []byte) {
	_, err := checkParse(t, f, line)
	if err == nil {
		body := bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		if !json.Valid(body) || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
			t.Fatalf("%s accepted invalid JSON or a non-object: %q", f, line)
		}
	}
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzParseECS(f *testing.F) {
	addSeeds(f, ecsNested, `{"@timestamp":1}`, `{"event.id":"x","a":[{"b":null}]}`, `[1]`, `{"@timestamp":"x"}`, "{\"a\":\"\xff\"}")
	f.Fuzz(func(t *testing.T, line []byte) { checkJSONFormat(t, ECS, line) })
}

func FuzzParseSuricata(f *testing.F) {
	addSeeds(f, suricataAlert, suricataDNSv2, suricataTLS, suricataFileinfo, `{"event_type":"http","http":{"url":"/x?","hostname":"h","http_port":1}}`,
		`{"event_type":"tls","tls":{"version":"TLSv","subject":"CN=","fingerprint":":"}}`)
	f.Fuzz(func(t *testing.T, line []byte) { checkJSONFormat(t, Suricata, line) })
}

func FuzzParseZeek(f *testing.F) {
	addSeeds(f, zeekConnRecord, zeekHTTPRecord, zeekSSLRecord, `{"_path":"x.y","ts":"1.5"}`, `{"query":1,"qtype":2,"duration":"9999999999.1"}`,
		`{"_path":"conn","service":",","duration":1e5}`)
	f.Fuzz(func(t *testing.T, line []byte) { checkJSONFormat(t, Zeek, line) })
}

func FuzzParseWindows(f *testing.F) {
	addSeeds(f, winlogbeatSysmon1, evtxSysmon3,
		`{"EventId":13,"Channel":"Microsoft-Windows-Sysmon/Operational","Payload":"{\"EventData\":{\"Data\":[{\"@Name\":\"TargetObject\",\"#text\":\"HKLM\\\\A\"}]}}"}`,
		`{"Event":{"System":{"EventID":{"#text":"1"}},"EventData":{"Data":["a",{"@Name":"x"},{"#text":"b"}]}}}`,
		`{"EventID":4688,"Channel":"Security","NewProcessId":"0xffffffffffffffffff","ProcessId":"0x","Hashes":"=,SHA1=,=x"}`,
		`{"Id":1,"TimeCreated":"/Date(-5)/","Properties":[{"Value":1}]}`)
	f.Fuzz(func(t *testing.T, line []byte) { checkJSONFormat(t, Windows, line) })
}

func FuzzParseSyslog(f *testing.F) {
	addSeeds(f,
		`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - msg`,
		`<165>1 2003-10-11T22:14:15.003Z h a - ID47 [x@1 a="\"\]\\" b="c"][y z=""] m`,
		`<34>Oct 11 22:14:15 mymachine su[1]: 'su root' failed`,
		`<13>Feb 29 10:00:00 h CEF:0|a|b|c|d|e|f|k=v`,
		`<13>1 - - - - - - CEF:0|a|b`, `<191>`, `<0>x`, "<13>\xff\xfe",
	)
	f.Fuzz(func(t *testing.T, line []byte) {
		if _, err := checkParse(t, Syslog, line); err == nil && (len(line) == 0 || line[0] != '<') {
			t.Fatalf("syslog accepted a record without PRI: %q", line)
		}
	})
}

func FuzzParseCEF(f *testing.F) {
	addSeeds(f,
		`CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232`,
		`CEF:0|a\|b|c\\|d|e|f|High|msg=x\=y\n z cs1=a cs1Label=b rt=Jan 02 2024 10:00:00.5 +0100 fileHash=abc`,
		`Sep 19 08:26:10 host CEF:0|a|b|c|d|e|1|k= v=\`, `CEF:`, `CEF:0|a|b|c|d|e|1|=`, `x CEF:0|||||||`,
	)
	f.Fuzz(func(t *testing.T, line []byte) {
		if _, err := checkParse(t, CEF, line); err == nil && !bytes.Contains(line, []byte("CEF:")) {
			t.Fatalf("CEF accepted a record without CEF: %q", line)
		}
	})
}

// FuzzSniffParse runs the Auto path: whatever Sniff decides, Parse copes,
// and Auto, which decides JSON records while decoding them, gives exactly
// what parsing as the format Sniff names gives: the same fields in the
// same order, or the same error.
func FuzzSniffParse(f *testing.F) {
	addSeeds(f, ecsNested, suricataAlert, zeekConnRecord, winlogbeatSysmon1, evtxSysmon3,
		`<34>Oct 11 22:14:15 mymachine su: x`, `CEF:0|a|b|c|d|e|1|`, `hello`, ``, `{"Event":{"System":`, `[`,
		`{"id":{"orig_h":null},"a":1}`, `{"Event":{"System":{}},"x":"y"}`, `{"x":[{"System":1}],"Event":[{"System":1}]}`,
		`{"a":{"b":{"event_type":1}},"id":[{"orig_h":1}]}`, `{"event\u005ftype":"alert"}`, `{"Event.System":1,"EventData":{}}`,
		"\xEF\xBB\xBF {\"winlog\":{\"event_id\":4688}}", `{"id.orig_h":"1.2.3.4","event_type":"flow"}`, `{"LogName":"Security","EventID":1,}`)
	f.Fuzz(func(t *testing.T, line []byte) {
		sniffed := Sniff(line)
		switch sniffed {
		case ECS, Syslog, CEF, Suricata, Zeek, Windows:
		default:
			t.Fatalf("Sniff returned %q", sniffed)
		}
		auto, autoErr := checkParse(t, Auto, line)
		ev, err := checkParse(t, sniffed, line)
		if fmt.Sprint(autoErr) != fmt.Sprint(err) {
			t.Fatalf("Auto and %s disagree: %v vs %v", sniffed, autoErr, err)
		}
		if a, b := fieldDump(auto), fieldDump(ev); a != b || !auto.Time.Equal(ev.Time) || auto.ID != ev.ID {
			t.Fatalf("Auto and %s give different events:\n%s\n%s", sniffed, a, b)
		}
	})
}

// FuzzScanSyslog checks the framing on any stream: no panic, the same
// frames whether the stream arrives at once or byte by byte, no empty or
// over-long frame, and frames that are pieces of the stream.
func FuzzScanSyslog(f *testing.F) {
	addSeeds(f, "<13>a\n<13>b", "5 <13>a5 <13>b", "12345\n", "0 \n\x00", "99999999 x", "3 ab", "\r\n\r\n", "1 a\n2 bc")
	f.Fuzz(func(t *testing.T, stream []byte) {
		whole, errWhole := scanAll(stream, false)
		bytewise, errBytes := scanAll(stream, true)
		if strings.Join(whole, "\x01") != strings.Join(bytewise, "\x01") || (errWhole == nil) != (errBytes == nil) {
			t.Fatalf("whole %q (%v) vs byte by byte %q (%v)", whole, errWhole, bytewise, errBytes)
		}
		for _, tok := range whole {
			if tok == "" || len(tok) > MaxRecord || !bytes.Contains(stream, []byte(tok)) {
				t.Fatalf("bad frame %q", tok)
			}
		}
		// The split function itself never advances past its input.
		for data := stream; len(data) > 0; {
			adv, _, err := ScanSyslog(data, true)
			if err != nil || adv == 0 {
				break
			}
			if adv < 0 || adv > len(data) {
				t.Fatalf("advance %d of %d bytes", adv, len(data))
			}
			data = data[adv:]
		}
	})
}
