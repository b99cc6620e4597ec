package format

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

// TestListsKeepEveryValue: a list in a record keeps every element, in
// order, in slotted fields too (the first is the field's value, Each gives
// them all), and the event's JSON writes it as an array: DNS answers of
// Suricata and Zeek, ECS arrays (host.ip, related.ip, tags, event.type),
// the recipients of an e-mail.
func TestListsKeepEveryValue(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		line   string
		field  string
		want   []string
	}{
		{"suricata dns answers", Suricata, suricataDNSv2, "dns.answers.data", []string{"suricata-ids.org", "192.0.78.24", "192.0.78.25"}},
		{"zeek dns answers", Zeek, `{"_path":"dns","ts":1600874975.1,"uid":"C1","id.orig_h":"192.168.4.76","id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"query":"testmyids.com","qtype_name":"A","answers":["31.3.245.133","31.3.245.134"]}`,
			"dns.answers.data", []string{"31.3.245.133", "31.3.245.134"}},
		{"ecs host.ip", ECS, ecsNested, "host.ip", []string{"10.42.0.1", "192.0.2.1"}},
		{"ecs event.type", ECS, ecsNested, "event.type", []string{"connection", "start"}},
		{"ecs related.ip", ECS, `{"@timestamp":"2024-03-14T09:26:53Z","related":{"ip":["198.51.100.7","203.0.113.9"]}}`, "related.ip", []string{"198.51.100.7", "203.0.113.9"}},
		{"ecs dns answers objects", ECS, `{"@timestamp":"2024-03-14T09:26:53Z","dns":{"answers":[{"data":"198.51.100.7"},{"data":"203.0.113.9"}]}}`,
			"dns.answers.data", []string{"198.51.100.7", "203.0.113.9"}},
		{"ecs file hashes", ECS, `{"@timestamp":"2024-03-14T09:26:53Z","file":{"hash":{"sha256":["b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68","4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"]}}}`,
			"file.hash.sha256", []string{"b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"}},
	}
	for _, tt := range tests {
		var ev event.Event
		if err := Parse(tt.format, []byte(tt.line), &ev); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		ev.Each(event.RefOf(tt.field), func(v string) bool { got = append(got, v); return true })
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.field, got, tt.want)
		}
		if v, _ := ev.Get(tt.field); v != tt.want[0] {
			t.Errorf("%s: Get(%s) = %q, want the first value", tt.name, tt.field, v)
		}
		// The event's JSON (what the archive keeps) holds the list, and
		// reads back the same.
		var back event.Event
		if err := back.ParseJSON(ev.AppendJSON(nil)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var again []string
		back.Each(event.RefOf(tt.field), func(v string) bool { again = append(again, v); return true })
		if strings.Join(again, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: after JSON, %s = %v (%s)", tt.name, tt.field, again, ev.AppendJSON(nil))
		}
	}
}
