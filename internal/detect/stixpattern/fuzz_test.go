package stixpattern

import (
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/tlp"
)

// FuzzReadVersion feeds arbitrary stored objects to the indicator reader:
// it must never panic, every complex pattern it accepts must be usable by
// Detect, and it must classify every input.
func FuzzReadVersion(f *testing.F) {
	for _, s := range []spec{
		{name: "single", pattern: encodedPowerShell, level: tlp.Green},
		{name: "chain", pattern: certutilThenC2, until: base.Add(time.Hour)},
		{name: "simple", pattern: `[domain-name:value = 'evil.example']`},
		{name: "repeats", pattern: `[process:name = 'a.exe' AND process:pid > 4] REPEATS 3 TIMES WITHIN 60 SECONDS`},
		{name: "start-stop", pattern: `[file:name = 'x' OR file:size > 10] START t'2026-01-01T00:00:00Z' STOP t'2027-01-01T00:00:00Z'`},
		{name: "sigma", pattern: "title: x", patternType: "sigma"},
	} {
		f.Add(string(indicator(f, s)))
	}
	f.Add(`{"type":"indicator","id":"indicator--1","pattern":"[","pattern_type":"stix"}`)
	f.Add(`{"type":"malware","id":"malware--1"}`)
	f.Add(`{"type":"indicator","revoked":"yes"}`)
	f.Add(`[]`)
	f.Add(``)
	e := ev("e", frSOC, base.Add(time.Minute), "process.name", "a.exe", "process.pid", "5",
		"process.command_line", "powershell -enc AAA", "destination.ip", "203.0.113.9", "file.name", "x")
	f.Fuzz(func(t *testing.T, raw string) {
		o := intel.Object{Collection: coll, ID: "indicator--fuzz", Owner: frSOC, Raw: []byte(raw)}
		r, v, err := readVersion(o, Options{}.Observer)
		switch v {
		case complexPattern:
			if (r == nil) == (err == nil) {
				t.Fatalf("complex pattern with rule %v and error %v", r != nil, err)
			}
		case unreadable:
			if r != nil || err == nil {
				t.Fatalf("unreadable version with rule %v and error %v", r != nil, err)
			}
		case simplePattern, otherType:
			if r != nil || err != nil {
				t.Fatalf("verdict %d with rule %v and error %v", v, r != nil, err)
			}
		default:
			t.Fatalf("unknown verdict %d", v)
		}
		if r == nil {
			return
		}
		d := New(Options{})
		d.cur.Store(snapshotOf(r))
		for range 3 {
			d.Detect(e, nil)
		}
	})
}

// snapshotOf is a snapshot holding one rule.
func snapshotOf(r *rule) *snapshot {
	if r.multi {
		return &snapshot{multi: []*rule{r}}
	}
	return &snapshot{single: []*rule{r}}
}
