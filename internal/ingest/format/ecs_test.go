package format

import (
	"sort"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

func TestParseECS(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "nested document",
			format: ECS,
			line:   ecsNested,
			want: map[string]string{
				"event.kind": "event", "event.category": "network", "event.action": "connection_attempted",
				"source.ip": "10.42.7.19", "source.port": "51544", "destination.domain": "cdn.example.net",
				"network.transport": "tcp", "host.name": "fw-edge-01", "observer.vendor": "Example",
				"user.name": "alice", "labels.site": "lux-1", "tags": "perimeter", "event.type": "connection",
				"message": "allowed outbound tls to cdn.example.net", "event.dataset": "firewall.log",
			},
			// The sender may not choose the member, nor the ingest time.
			absent: []string{"observer.organization.id", "event.ingested", "event.id", "@timestamp"},
			time:   "2024-03-14T09:26:53.589Z",
			id:     "7b1c0d6e-4a4e-4f51-9c1d-0a6d1f0c2b11",
		},
		{
			name:   "flat dotted keys, numbers keep their text",
			format: ECS,
			line:   `{"@timestamp":"2024-03-14 09:26:53","source.ip":"10.0.0.1","source.bytes":1.50,"flow.id":18446744073709551615,"ok":true,"none":null}`,
			want:   map[string]string{"source.ip": "10.0.0.1", "source.bytes": "1.50", "flow.id": "18446744073709551615", "ok": "true"},
			absent: []string{"none"},
			time:   "2024-03-14T09:26:53Z",
		},
		{
			name:   "epoch milliseconds timestamp",
			format: ECS,
			line:   `{"@timestamp":1710408413589,"message":"m"}`,
			want:   map[string]string{"message": "m"},
			time:   "2024-03-14T09:26:53.589Z",
		},
		{
			name:   "no timestamp",
			format: ECS,
			line:   `{"message":"m"}`,
			want:   map[string]string{"message": "m"},
		},
		{
			name:   "event.original in the record is not a field: the raw line is",
			format: ECS,
			line:   `{"event":{"original":"raw text"},"message":"m"}`,
			want:   map[string]string{"message": "m"},
			absent: []string{"event.original"},
		},
		{
			name:   "invalid UTF-8 becomes U+FFFD",
			format: ECS,
			line:   "{\"message\":\"caf\xe9\"}",
			want:   map[string]string{"message": "caf\uFFFD"},
		},
		{name: "bad timestamp", format: ECS, line: `{"@timestamp":"half past nine"}`, err: `ecs: @timestamp: unrecognised timestamp "half past nine"`},
		{name: "array", format: ECS, line: `[{"message":"m"}]`, err: "json: line 1 col 1: the record is an array, not a JSON object"},
		{name: "string", format: ECS, line: `"message"`, err: "the record is a string, not a JSON object"},
		{name: "truncated", format: ECS, line: ecsNested[:120], err: "json: line 1 col 121: unexpected end of JSON input"},
		{name: "invalid character", format: ECS, line: `{"message": x}`, err: "json: line 1 col 13: invalid character 'x' looking for beginning of value"},
	})
}

// TestECSMatchesSetObject checks the ECS format against the event
// package's own JSON reading (event.Event.ParseJSON), which it replaces on
// the hot path: same fields, except the caller-owned ones.
func TestECSMatchesSetObject(t *testing.T) {
	for _, doc := range []string{
		ecsNested,
		`{"a":{"b":{"c":"deep"}},"a.b.d":"flat","list":["x","y"],"objs":[{"k":"1"},{"k":"2"}],"n":3}`,
	} {
		var mine, ref event.Event
		if err := Parse(ECS, []byte(doc), &mine); err != nil {
			t.Fatal(err)
		}
		if err := ref.ParseJSON([]byte(doc)); err != nil {
			t.Fatal(err)
		}
		if got, want := sortedFields(&mine), sortedFields(&ref); got != want {
			t.Errorf("fields differ\n got: %s\nwant: %s", got, want)
		}
		if !mine.Time.Equal(ref.Time) || mine.ID != ref.ID {
			t.Errorf("time %v id %q, want %v %q", mine.Time, mine.ID, ref.Time, ref.ID)
		}
	}
}

func sortedFields(ev *event.Event) string {
	var out []string
	ev.Fields(func(n, v string) bool {
		out = append(out, n+"="+v)
		return true
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}
