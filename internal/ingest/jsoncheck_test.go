package ingest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}] } `,
		`{"s":"\u00e9\n\t\"\\\/"}`, `{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `-`,
		`"\x"`, `"\u12G4"`, "\"tab\there\"", `tru`, `nulll`, `{"a":1}{"b":2}`, `[`, `]`, `"unterminated`,
		`{"k":"` + strings.Repeat("x", 5000) + `"}`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		"\"\xff\xfe\"", `1 2`, ``, ` `,
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid = %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u0041",true,null]}`, `[`, `{"a":"\`, `-0.0e+1`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	line := []byte(sysmonLine(1))
	b.SetBytes(int64(len(line)))
	b.Run("xsoc", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			validJSON(line)
		}
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(line)
		}
	})
}

// TestFramingAgreesWithSniff: the checker's shortcut decides JSON or not
// as format.Sniff does, for every kind of line start.
func TestFramingAgreesWithSniff(t *testing.T) {
	lines := []string{
		`{"a":1}`, ` {"a":1}`, "\t\r\n[1]", "\xEF\xBB\xBF{\"a\":1}", "\xEF\xBB\xBF <34>Oct 11 22:14:15 host su: x",
		`<34>1 2003-10-11T22:14:15.003Z host app - - - msg`, `CEF:0|Vendor|Product|1.0|100|name|5|src=10.0.0.1`,
		`Oct 11 22:14:15 host CEF:0|V|P|1|1|n|1|`, `plain text`, ``, `   `, `{`, `[`, `"str"`, `123`,
		`{"event_type":"alert"}`, `{"_path":"conn","id.orig_h":"10.0.0.1"}`, `{"winlog":{}}`,
	}
	isJSON := func(f format.Format) bool { return f != format.Syslog && f != format.CEF }
	for _, l := range lines {
		got, want := framing([]byte(l)), format.Sniff([]byte(l))
		if isJSON(got) != isJSON(want) || !isJSON(want) && got != want {
			t.Errorf("framing(%q) = %s, Sniff = %s", l, got, want)
		}
	}
}
