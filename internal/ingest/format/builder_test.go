package format

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// TestParseAllocations checks that a record of a source whose field names
// the parser has met costs no allocation of its own (the chunk its values
// go to serves several records), whether the records come one shape at a
// time or mixed: names are resolved without building strings.
func TestParseAllocations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Format
		lines []string
	}{
		{"sysmon", Auto, []string{benchSysmon}},
		{"ecs", Auto, []string{ecsNested}},
		{"suricata", Auto, []string{suricataAlert}},
		{"zeek", Auto, []string{zeekConnRecord}},
		{"syslog", Syslog, []string{syslog5424Record}},
		{"cef", CEF, []string{cefRecord}},
		{"mixed", Auto, []string{benchSysmon, suricataAlert, zeekConnRecord, ecsNested, winlogbeatSysmon1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var ev event.Event
			lines := make([][]byte, len(tc.lines))
			for i, l := range tc.lines {
				lines[i] = []byte(l)
			}
			parseAll := func() {
				for _, l := range lines {
					ev.Reset()
					if err := p.Parse(tc.f, l, &ev); err != nil {
						t.Fatal(err)
					}
				}
			}
			parseAll() // the parser meets the names and grows its buffers
			if got := testing.AllocsPerRun(50, parseAll) / float64(len(tc.lines)); got > 0.5 {
				t.Errorf("%.2f allocations per record, want a fraction of one", got)
			}
		})
	}
}

// TestSeenNamesBounded checks that records that each make up new field
// names do not grow the parser's memory of names without bound, and that
// the names still come out right once it has been emptied.
func TestSeenNamesBounded(t *testing.T) {
	var p Parser
	var ev event.Event
	for i := range maxSeen + 100 {
		ev.Reset()
		line := fmt.Sprintf(`{"k%d":"v","winlog.x":1}`, i)
		if err := p.Parse(ECS, []byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if len(p.b.seen) > maxSeen {
			t.Fatalf("%d names remembered, at most %d wanted", len(p.b.seen), maxSeen)
		}
		if v, ok := ev.Get(fmt.Sprintf("k%d", i)); !ok || v != "v" {
			t.Fatalf("record %d: k%d = %q, %v", i, i, v, ok)
		}
	}
}

// TestChunkedValuesStayPut parses records of several shapes, failing ones
// among them, into events that are all kept, then checks every event
// against a parse of its record alone: the values that records share a
// chunk with, and those written by the failures, never change one.
func TestChunkedValuesStayPut(t *testing.T) {
	lines := []string{benchSysmon, suricataAlert, `{"broken":`, zeekConnRecord, ecsNested, cefRecord,
		syslog5424Record, `{"EventID":"x"}`, winlogbeatSysmon1, evtxSysmon3, syslog3164Record}
	p := Parser{Now: func() time.Time { return fixedNow }}
	var kept []*event.Event
	var keptLines []string
	for i := range 300 {
		line := lines[i%len(lines)]
		if i%7 == 0 { // a record of its own length, so chunks run out at varied places
			line = strings.Replace(line, "a", strings.Repeat("a", i), 1)
		}
		ev := new(event.Event)
		if err := p.Parse(Auto, []byte(line), ev); err == nil {
			kept, keptLines = append(kept, ev), append(keptLines, line)
		}
	}
	if len(kept) < 200 {
		t.Fatalf("only %d records parsed", len(kept))
	}
	for i, ev := range kept {
		fresh := Parser{Now: p.Now}
		var want event.Event
		if err := fresh.Parse(Auto, []byte(keptLines[i]), &want); err != nil {
			t.Fatal(err)
		}
		if a, b := fieldDump(ev), fieldDump(&want); a != b || ev.ID != want.ID || !ev.Time.Equal(want.Time) {
			t.Fatalf("event %d changed after later records:\n%s\nwant\n%s", i, a, b)
		}
	}
}

// TestUsedParserMatchesFresh parses the test records one after another
// with one Parser, forwards and backwards, so that each reuses the
// pending sets, leaves and names that a different record left behind
// (builder.push and the decoder fill them in place), and checks that
// each event equals what a fresh Parser makes of its record.
func TestUsedParserMatchesFresh(t *testing.T) {
	records := []struct {
		f    Format
		line string
	}{
		{Windows, winlogbeatSysmon1}, {Auto, benchSysmon}, {Windows, evtxSysmon3}, {ECS, ecsNested},
		{Suricata, suricataAlert}, {Zeek, zeekConnRecord}, {Syslog, syslog5424Record}, {CEF, cefRecord},
		{Auto, `{"EventID":4688,"Channel":"Security","NewProcessName":"C:\\x.exe","ProcessId":"0x1a2c"}`},
		{Auto, `{"a":1}`},
	}
	used := Parser{Now: func() time.Time { return fixedNow }}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {1, 9, 0, 8, 2, 7}} {
		for _, i := range order {
			r := records[i]
			var got, want event.Event
			if err := used.Parse(r.f, []byte(r.line), &got); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			fresh := Parser{Now: used.Now}
			if err := fresh.Parse(r.f, []byte(r.line), &want); err != nil {
				t.Fatalf("record %d, fresh parser: %v", i, err)
			}
			if a, b := sortedFields(&got), sortedFields(&want); a != b || !got.Time.Equal(want.Time) || got.ID != want.ID {
				t.Fatalf("record %d: used and fresh parsers differ:\n%s\n%s", i, a, b)
			}
		}
	}
}
