package format

import (
	"fmt"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

// TestParseAllocations checks that a record of a source whose field names
// the parser has met costs one allocation (the string its values share),
// whether the records come one shape at a time or mixed: names are
// resolved without building strings.
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
			if got := testing.AllocsPerRun(20, parseAll) / float64(len(tc.lines)); got > 1 {
				t.Errorf("%.1f allocations per record, want 1", got)
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
