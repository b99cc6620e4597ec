package correlate

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// namesDocs are evidence documents of every shape docNames reads: the
// flat ones AppendJSON writes, which it scans, and the rest, which it
// decodes in full.
var namesDocs = []string{
	`{"@timestamp":"2026-01-01T00:00:00Z","host.name":"WS-1","user.name":"CORP\\admin","event.original":"{\"a\":[1,{\"b\":\"}\"}]}"}`,
	`{"host.name":"h1","user.name":"alice"}`,
	` { "host.name" : "h\u00e9" , "x" : [ 1, {"y": "]"} ], "n": -1.5e3, "t": true, "z": null } `,
	`{"host.name":"a","host.name":"b"}`,
	`{"host.name":""}`,
	`{"host":{"name":"x"}}`,
	`{"host":[{"name":"x"}]}`,
	`{"":{"host.name":"x"}}`,
	`{"user.name":["a","b"]}`,
	`{"host.name":7}`,
	`{"ho\u0073t.name":"escaped key"}`,
	`{"@timestamp":"yesterday","host.name":"h"}`,
	`{"@timestamp":"yesterday","@timestamp":"2026-01-01T00:00:00Z","host.name":"h"}`,
	`{"event.ingested":1767225600,"host.name":"h"}`,
	`{"host.name":"h\ud800"}`,
	`{}`, `[]`, `null`, `"s"`, `{`, `not json`, ``,
}

// TestDocNamesReadsAsParseJSON: the scan of flat evidence finds exactly
// what decoding the document into an event finds.
func TestDocNamesReadsAsParseJSON(t *testing.T) {
	for _, doc := range namesDocs {
		checkDocNames(t, doc)
	}
}

// FuzzDocNames compares the scan of evidence documents with decoding them
// into an event.
func FuzzDocNames(f *testing.F) {
	for _, doc := range namesDocs {
		f.Add(doc)
	}
	f.Fuzz(checkDocNames)
}

// checkDocNames fails t when docNames reads doc otherwise than
// event.ParseJSON and Get.
func checkDocNames(t *testing.T, doc string) {
	t.Helper()
	var ev event.Event
	wantOK := ev.ParseJSON([]byte(doc)) == nil
	var wantHost, wantUser string
	if wantOK {
		wantHost, _ = ev.Get("host.name")
		wantUser, _ = ev.Get("user.name")
	}
	host, user, ok := docNames(doc)
	if host != wantHost || user != wantUser || ok != wantOK {
		t.Fatalf("docNames(%q) = %q, %q, %v; ParseJSON and Get read %q, %q, %v", doc, host, user, ok, wantHost, wantUser, wantOK)
	}
}

// FuzzEntities feeds arbitrary evidence and observables to the entity and
// campaign-key extraction, which parses both.
func FuzzEntities(f *testing.F) {
	f.Add(`{"host.name":"h1","user.name":"alice"}`, "ipv4-addr", "203.0.113.1/32")
	f.Add(`{"host":{"name":"x"}}`, "ipv6-addr", "fe80::1")
	f.Add(`{`, "domain-name", "")
	f.Add(`[]`, "ipv4-addr", "not an ip")
	f.Add(`{"user.name":["a","b"]}`, "host", "WEB01")
	f.Fuzz(func(t *testing.T, evidence, typ, value string) {
		a := alert.Alert{Member: "m", Detector: "d", RuleID: "r", Evidence: []string{evidence},
			Observables: []alert.Observable{{Type: typ, Value: value}}, Techniques: []string{value}}
		e := entitiesOf(&a)
		for _, k := range localKeys(&a) {
			if !strings.HasPrefix(k, "host|m|") && !strings.HasPrefix(k, "user|m|") && !strings.HasPrefix(k, "obs|m|") {
				t.Fatalf("local key %q escapes the member", k)
			}
		}
		for _, k := range campaignKeys(&a, ByAll) {
			if describeKey(k) == "" {
				t.Fatalf("key %q has no description", k)
			}
			// Observable types (STIX names) never hold the key separator.
			if strongKey(k) && !strings.Contains(typ, "|") && (keyRank(k) > 4 || shortKey(k) != strings.ToLower(value)) {
				t.Fatalf("indicator key %q: rank %d, short form %q", k, keyRank(k), shortKey(k))
			}
		}
		if len(e.Hosts)+len(e.Users)+len(e.Observables) > 3 {
			t.Fatalf("one observable and one document gave %+v", e)
		}
	})
}

func FuzzParseStatusAndReport(f *testing.F) {
	for _, s := range []string{"new", " Triage ", "CLOSED", "done", "", "early-warning", "Final-Report", "notification "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if st, err := ParseStatus(s); err == nil {
			if _, ok := transitions[st]; !ok {
				t.Fatalf("ParseStatus(%q) = %q, not a status", s, st)
			}
		}
		if r, err := ParseReport(s); err == nil && r != EarlyWarning && r != Notification && r != FinalReport {
			t.Fatalf("ParseReport(%q) = %q", s, r)
		}
	})
}
