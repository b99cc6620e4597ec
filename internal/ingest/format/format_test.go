package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

func TestParseFormat(t *testing.T) {
	cases := []struct {
		in   string
		want Format
		err  bool
	}{
		{"", Auto, false},
		{"auto", Auto, false},
		{"ECS", ECS, false},
		{"json", ECS, false},
		{" syslog ", Syslog, false},
		{"cef", CEF, false},
		{"suricata", Suricata, false},
		{"eve", Suricata, false},
		{"zeek", Zeek, false},
		{"windows", Windows, false},
		{"sysmon", Windows, false},
		{"evtx", Windows, false},
		{"xml", "", true},
		{"syslog5424", "", true},
	}
	for _, tc := range cases {
		got, err := ParseFormat(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	// Every format's own name round-trips, which is how batches carry it.
	for _, f := range []Format{Auto, ECS, Syslog, CEF, Suricata, Zeek, Windows} {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("error does not name the bad value: %v", err)
	}
}

func TestSniff(t *testing.T) {
	cases := []struct {
		name string
		line string
		want Format
	}{
		{"suricata", `{"timestamp":"2024-01-01T00:00:00.000000+0000","flow_id":1,"event_type":"dns"}`, Suricata},
		{"suricata event_type last", `{"src_ip":"1.2.3.4","_path":"x","event_type":"flow"}`, Suricata},
		{"zeek _path", `{"_path":"conn","ts":1.5}`, Zeek},
		{"zeek flat id", `{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1"}`, Zeek},
		{"zeek nested id", `{"ts":1.5,"uid":"C1","id":{"orig_h":"10.0.0.1","orig_p":1}}`, Zeek},
		{"windows EventID", `{"EventID":4624,"Channel":"Security"}`, Windows},
		{"windows EventId", `{"EventId":1,"Channel":"Microsoft-Windows-Sysmon/Operational"}`, Windows},
		{"windows winlog", `{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"event_id":"1"}}`, Windows},
		{"windows Event.System", ` {"Event":{"EventData":{},"System":{"EventID":1}}}`, Windows},
		{"windows Get-WinEvent", `{"Id":4624,"LogName":"Security"}`, Windows},
		{"json Event without System", `{"Event":{"x":1}}`, ECS},
		{"ecs nested", `{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"1.2.3.4"}}`, ECS},
		{"ecs with id object", `{"id":{"x":1}}`, ECS},
		{"array is ecs so it is rejected as json", `[1,2]`, ECS},
		{"bom json", "\xEF\xBB\xBF{\"_path\":\"dns\"}", Zeek},
		{"malformed json", `{"event_type`, ECS},
		{"cef", `CEF:0|a|b|c|d|e|1|`, CEF},
		{"cef after header", `Sep 19 08:26:10 host CEF:0|a|b|c|d|e|1|`, CEF},
		{"cef inside syslog", `<134>Sep 19 08:26:10 host CEF:0|a|b|c|d|e|1|`, Syslog},
		{"rfc5424", `<34>1 2003-10-11T22:14:15.003Z host su - ID47 - msg`, Syslog},
		{"plain text", `hello world`, Syslog},
		{"empty", ``, Syslog},
		{"cef far away is not cef", strings.Repeat("x", 200) + " CEF:0|a|b|c|d|e|1|", Syslog},
	}
	for _, tc := range cases {
		if got := Sniff([]byte(tc.line)); got != tc.want {
			t.Errorf("%s: Sniff = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseGeneral(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "unknown format", format: "xml", line: `<a/>`, err: `unknown format "xml"`},
		{name: "auto picks syslog", format: Auto, line: `<13>hello`, want: map[string]string{"message": "hello", "event.module": "syslog"}},
		{name: "auto picks ecs", format: Auto, line: `{"message":"hi"}`, want: map[string]string{"message": "hi"}},
		{name: "auto rejects arrays", format: Auto, line: `[{"message":"hi"}]`, err: "the record is an array, not a JSON object"},
		{name: "auto plain text", format: Auto, line: `hello`, err: "syslog: missing PRI"},
	})
}

func TestParseTooLong(t *testing.T) {
	line := append([]byte(`{"message":"`), bytes.Repeat([]byte("a"), MaxRecord)...)
	line = append(line, `"}`...)
	for _, f := range []Format{Auto, ECS, Syslog, CEF, Suricata, Zeek, Windows} {
		var ev event.Event
		err := Parse(f, line, &ev)
		if !errors.Is(err, ErrTooLong) {
			t.Errorf("%s: err = %v, want ErrTooLong", f, err)
		}
	}
	// Exactly MaxRecord is accepted.
	line = append([]byte(`{"message":"`), bytes.Repeat([]byte("a"), MaxRecord-len(`{"message":""}`))...)
	line = append(line, `"}`...)
	var ev event.Event
	if err := Parse(ECS, line, &ev); err != nil {
		t.Fatalf("record of exactly MaxRecord bytes: %v", err)
	}
	if v, _ := ev.Get("message"); len(v) != MaxRecord-len(`{"message":""}`) {
		t.Errorf("message has %d bytes", len(v))
	}
}

// TestParserReuse checks that a Parser's reused buffers do not leak one
// record's values into the next, and that values stay intact after the
// Parser moves on (they share one string per record, not the buffers).
func TestParserReuse(t *testing.T) {
	var p Parser
	lines := []struct {
		f    Format
		line string
		key  string
		want string
	}{
		{Suricata, `{"event_type":"dns","dns":{"rrname":"first.example"}}`, "dns.question.name", "first.example"},
		{Zeek, `{"_path":"dns","query":"second.example"}`, "dns.question.name", "second.example"},
		{Windows, `{"EventID":22,"Channel":"Microsoft-Windows-Sysmon/Operational","QueryName":"third.example"}`, "dns.question.name", "third.example"},
		{CEF, `CEF:0|v|p|1|2|n|3|dhost=fourth.example`, "destination.domain", "fourth.example"},
	}
	events := make([]event.Event, len(lines))
	for i, l := range lines {
		if err := p.Parse(l.f, []byte(l.line), &events[i]); err != nil {
			t.Fatalf("%s: %v", l.f, err)
		}
	}
	for i, l := range lines {
		if got, _ := events[i].Get(l.key); got != l.want {
			t.Errorf("event %d: %s = %q, want %q", i, l.key, got, l.want)
		}
		if string(events[i].Original) != l.line {
			t.Errorf("event %d: Original = %q", i, events[i].Original)
		}
	}
	// A record without DNS after one with it must not inherit the field.
	var ev event.Event
	if err := p.Parse(Suricata, []byte(`{"event_type":"flow","src_ip":"10.0.0.1"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.Get("dns.question.name"); ok {
		t.Errorf("dns.question.name = %q leaked from an earlier record", v)
	}
}

// TestParseIntoReusedEvent checks the contract with a recycled event: the
// caller Resets it, and Parse fills it afresh.
func TestParseIntoReusedEvent(t *testing.T) {
	var p Parser
	var ev event.Event
	if err := p.Parse(ECS, []byte(`{"message":"a long first message","event.id":"x"}`), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Reset()
	if err := p.Parse(ECS, []byte(`{"message":"b"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.Get("message"); got != "b" || ev.ID != "" || string(ev.Original) != `{"message":"b"}` {
		t.Errorf("message=%q id=%q original=%q", got, ev.ID, ev.Original)
	}
}
