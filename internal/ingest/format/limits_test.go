package format

import (
	"runtime"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

// TestHostileRecordsCostLinearMemory parses records near MaxRecord built
// to make a naive parser quadratic (a long key above many members, labels
// against many keys, repeated registry paths) and checks that the memory
// allocated stays a small multiple of the record's size.
func TestHostileRecordsCostLinearMemory(t *testing.T) {
	longKey := strings.Repeat("k", 500)
	members := func(prefix, suffix string, n int, member func(i int) string) string {
		var sb strings.Builder
		sb.WriteString(prefix)
		for i := 0; i < n; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(member(i))
		}
		sb.WriteString(suffix)
		return sb.String()
	}
	short := func(i int) string { return `"` + itoa(i) + `":1` }
	cases := []struct {
		name string
		f    Format
		line string
	}{
		{"long key above many members", ECS, members(`{"`+longKey+`":{`, `}}`, 19000, short)},
		{"suricata, long key above many members", Suricata, members(`{"event_type":"x","`+longKey+`":{`, `}}`, 19000, short)},
		{"zeek, long _path", Zeek, members(`{"_path":"`+strings.Repeat("p", 60)+`","`+longKey+`":{`, `}}`, 19000, short)},
		{"windows, repeated TargetObject", Windows, members(`{"EventID":13,"Channel":"Microsoft-Windows-Sysmon/Operational","EventData":{"Data":[`, `]}}`, 15000,
			func(int) string { return `{"@Name":"TargetObject","#text":"HKLM\\a\\b"}` })},
		{"long key above a long array (accepted)", ECS, `{"` + longKey + `":[` + strings.Repeat("1,", 19000) + `1]}`},
		{"cef, many small fields (accepted)", CEF, "CEF:0|v|p|1|2|n|3|" + strings.Repeat("cs1Label="+strings.Repeat("L", 200)+" ", 60) + strings.Repeat("cs1=x ", 19000)},
		{"cef, labels against many keys", CEF, "CEF:0|v|p|1|2|n|3|" + strings.Repeat("cs1Label="+strings.Repeat("L", 200)+" ", 2000) + strings.Repeat("cs1=x ", 100000)},
		{"syslog, many parameters", Syslog, "<13>1 - h a - - [" + strings.Repeat("i", 32) + strings.Repeat(` p="v"`, 150000) + "]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := []byte(tc.line)
			if len(line) > MaxRecord {
				t.Fatalf("test record is %d bytes, over MaxRecord", len(line))
			}
			var p Parser
			var ev event.Event
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := p.Parse(tc.f, line, &ev)
			runtime.ReadMemStats(&after)
			accepted := strings.HasSuffix(tc.name, "(accepted)")
			if accepted && err != nil || !accepted && err == nil {
				t.Fatalf("Parse: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), "more than") {
				t.Fatalf("Parse: %v", err)
			}
			// Each field costs the event a fixed amount (its Field, its
			// pending entry, its name) whatever its size in the record.
			used := after.TotalAlloc - before.TotalAlloc
			if limit := uint64(64*len(line) + 1024*ev.Len()); used > limit {
				t.Errorf("allocated %d bytes for a %d-byte record with %d fields (limit %d)", used, len(line), ev.Len(), limit)
			}
		})
	}
}
