package event

import (
	"encoding/json"
	"testing"
)

// FuzzParseJSON checks that any input either fills an event or is refused,
// and that an event filled from it renders as valid JSON.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2024-03-05T10:14:07Z","event.id":"e1","source.ip":"10.0.0.1","process":{"pid":42,"args":["a","b"]}}`,
		`{"event.original":"raw \u0000 line","observer.organization.id":"m1","event.ingested":"2024-03-05T10:14:08Z"}`,
		`{"a":null,"b":true,"c":1.5e300,"d":{"e":{"f":[{"g":1}]}}}`,
		`{"@timestamp":99999999999999999999}`, `[]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := e.ParseJSON(data); err != nil {
			return
		}
		if out := e.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("event from %q renders as invalid JSON %q", data, out)
		}
	})
}
