package alert

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/tlp"
)

// checkMarshal fails t unless marshal encodes a exactly as json.Marshal
// does, or fails where it fails.
func checkMarshal(t *testing.T, a *Alert) {
	t.Helper()
	want, werr := json.Marshal(a)
	got, err := marshal(make([]byte, 0, 16), a)
	if (err != nil) != (werr != nil) {
		t.Fatalf("error %v, json.Marshal's %v", err, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%s\njson.Marshal\n%s", got, want)
	}
}

func TestAppendJSONMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	full := Alert{
		ID: "0193a1b2c3d4e5f60718293a4b5c", Member: "fr1", EventTime: at, Detected: at.Add(time.Second), LastSeen: at.Add(time.Minute),
		Detector: "sigma", RuleID: "r1", RuleTitle: `Dump "lsass" <via> comsvcs & co`, Severity: Critical,
		Techniques:  []string{"T1003.001", "T1059"},
		Observables: []Observable{{Type: "host", Value: "h1", Role: "host"}, {Type: "ipv4-addr", Value: "203.0.113.7"}},
		TLP:         tlp.AmberStrict, Key: "h1", Count: 3,
		Evidence: []string{`{"@timestamp":"2026-03-02T10:00:00Z","host.name":"h1","process.command_line":"C:\\Windows\\x.exe <a> & b"}`},
		EventIDs: []string{"e1", "e2"}, Status: StatusClosed, Incident: "0193a1b2c3d4e5f60718293a4b5d",
		Acknowledged: at.Add(time.Hour), AcknowledgedBy: "ana", Contained: at.Add(2 * time.Hour),
		Resolved: at.Add(3 * time.Hour), Closed: at.Add(4 * time.Hour), ClosedBy: "bo", Verdict: TruePositive,
		Triage: &Triage{Score: 0.73, Factors: []TriageFactor{{Feature: `rule "x" <y>`, Weight: -1.5e-7}}, Model: 2, Features: []uint32{1, 99}},
	}
	tests := []struct {
		name   string
		mutate func(a *Alert)
	}{
		{"every field", func(*Alert) {}},
		{"zero alert", func(a *Alert) { *a = Alert{} }},
		{"empty lists and no milestones", func(a *Alert) {
			a.Techniques, a.Observables, a.Evidence, a.EventIDs = []string{}, nil, []string{}, nil
			a.Acknowledged, a.Contained, a.Resolved, a.Closed = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			a.AcknowledgedBy, a.ClosedBy, a.Verdict, a.Triage, a.Incident, a.Key = "", "", "", nil, "", ""
		}},
		{"closed by the one who acknowledged", func(a *Alert) { a.ClosedBy = a.AcknowledgedBy }},
		{"escapes", func(a *Alert) {
			a.RuleTitle = "tab\there\nnl\rcr\bbs\fff\x00nul\x1fus\x7fdel \\ \" < > & \u2028\u2029 é 日本 \xff\xfe bad \xe2\x82 cut"
			a.Evidence = []string{"\u2028", "\xed\xa0\x80 surrogate", ""}
		}},
		{"times in other zones", func(a *Alert) {
			a.EventTime = at.In(time.FixedZone("", 2*3600))
			a.Detected = at.In(time.FixedZone("", -(5*3600 + 30*60)))
			a.LastSeen = at.In(time.FixedZone("", 3600+17)) // seconds are dropped, as RFC 3339 has none
		}},
		{"unknown severity and level", func(a *Alert) { a.Severity, a.TLP = 9, 7 }},
		{"year past 9999", func(a *Alert) { a.LastSeen = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"negative year", func(a *Alert) { a.Closed = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"zone of 24 hours", func(a *Alert) { a.Contained = at.In(time.FixedZone("", 24*3600)) }},
		{"zone of 100 hours", func(a *Alert) { a.Resolved = at.In(time.FixedZone("", 100*3600)) }},
		{"negative count", func(a *Alert) { a.Count = -12 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := full
			tt.mutate(&a)
			checkMarshal(t, &a)
		})
	}
}

// FuzzAppendJSON checks the encoder against json.Marshal on arbitrary
// strings, times and zones.
func FuzzAppendJSON(f *testing.F) {
	f.Add("fr1", `{"host.name":"h<1>"}`, "T1059", int64(1772445600123456789), 0, uint8(3), 2)
	f.Add("\xff\u2028", "\x00\"\\", "", int64(-9223372036854775808), 24*3600, uint8(9), -1)
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, nanos int64, offset int, sev uint8, count int) {
		at := time.Unix(0, nanos).In(time.FixedZone("", offset%(200*3600)))
		a := Alert{
			ID: s1, Member: s2, EventTime: at, Detected: at.Add(time.Duration(count)), LastSeen: at.AddDate(count%20000, 0, 0),
			Detector: s3, RuleID: s1 + s2, RuleTitle: s2 + s3, Severity: Severity(sev), Techniques: []string{s1, s3},
			Observables: []Observable{{Type: s1, Value: s2, Role: s3}, {Type: s3, Value: s1}}, TLP: tlp.Level(sev),
			Key: s3, Count: count, Evidence: []string{s2}, EventIDs: []string{s1, s2, s3}, Status: Status(s1),
			Incident: s2, Acknowledged: at, AcknowledgedBy: s3, Closed: at.Add(time.Hour), ClosedBy: s1, Verdict: Verdict(s2),
		}
		if count%2 == 0 {
			a.Triage = &Triage{Score: float64(count) / 7, Factors: []TriageFactor{{Feature: s2, Weight: float64(nanos)}}}
		}
		checkMarshal(t, &a)
	})
}

// BenchmarkAppendJSON encodes the alert of a credential dump with its
// evidence, as Raise stores it, with appendJSON into a reused buffer and
// with json.Marshal:
//
//	go test -run '^$' -bench AppendJSON -benchmem ./internal/alert
func BenchmarkAppendJSON(b *testing.B) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	a := Alert{
		ID: NewID(at), Member: "bench", EventTime: at, Detected: at.Add(time.Second), LastSeen: at,
		Detector: "sigma", RuleID: "lsass-dump-comsvcs", RuleTitle: "LSASS memory dump with comsvcs.dll", Severity: Critical,
		Techniques: []string{"T1003.001"}, TLP: tlp.Amber, Key: "VICTIM-1", Count: 1, Status: StatusNew,
		Observables: []Observable{{Type: "host", Value: "VICTIM-1", Role: "host"}, {Type: "user-account", Value: `CORP\admin`, Role: "user"}},
		EventIDs:    []string{"3k9-dw"},
		Evidence: []string{`{"@timestamp":"2026-12-07T10:00:00.123Z","event.code":"1","event.provider":"Microsoft-Windows-Sysmon",` +
			`"host.name":"VICTIM-1","process.executable":"C:\\Windows\\System32\\rundll32.exe",` +
			`"process.command_line":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full",` +
			`"process.parent.executable":"C:\\Windows\\System32\\cmd.exe","user.name":"CORP\\admin"}`},
	}
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var ok bool
			if buf, ok = appendJSON(buf[:0], &a); !ok {
				b.Fatal("not encoded")
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
