package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSetGetLookup(t *testing.T) {
	var e Event
	e.Set("source.ip", "10.0.0.1")
	e.Set("winlog.event_data.CommandLine", "cmd /c whoami")
	e.Set("tags", "a") // slotted: overwritten
	e.Set("tags", "b")
	e.Set("related.ip", "1.1.1.1") // extra: repeated
	e.Set("related.ip", "2.2.2.2")
	e.Set("empty", "")
	tests := []struct {
		name string
		want string
		ok   bool
	}{
		{"source.ip", "10.0.0.1", true},
		{"winlog.event_data.CommandLine", "cmd /c whoami", true},
		{"tags", "b", true},
		{"related.ip", "1.1.1.1", true},
		{"empty", "", false},
		{"destination.ip", "", false},
		{"nosuch.field", "", false},
	}
	for _, tt := range tests {
		v, ok := e.Get(tt.name)
		if v != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
		v, ok = e.Lookup(RefOf(tt.name))
		if v != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
	}
	var all []string
	e.Each(RefOf("related.ip"), func(v string) bool { all = append(all, v); return true })
	if !reflect.DeepEqual(all, []string{"1.1.1.1", "2.2.2.2"}) {
		t.Errorf("Each(related.ip) = %v", all)
	}
	if e.Len() != 5 {
		t.Errorf("Len = %d, want 5", e.Len())
	}
	e.Reset()
	if e.Len() != 0 || e.ID != "" {
		t.Errorf("Reset left %d fields", e.Len())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	e := Event{ID: "e1", Member: "de-energie", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Ingested: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Original: []byte(`raw "line"`)}
	e.Set("process.command_line", "C:\\Windows\\cmd.exe /c \"echo\tx\"\x01")
	e.Set("related.ip", "1.1.1.1")
	e.Set("related.ip", "2.2.2.2")
	e.Set("user.name", "bad\xffutf8")
	b := e.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var back Event
	if err := back.ParseJSON(b); err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.Member != e.Member || !back.Time.Equal(e.Time) || !back.Ingested.Equal(e.Ingested) ||
		string(back.Original) != string(e.Original) {
		t.Errorf("identity fields differ: %+v", back)
	}
	for _, name := range []string{"process.command_line", "related.ip"} {
		a, _ := e.Get(name)
		c, _ := back.Get(name)
		if a != c {
			t.Errorf("%s: %q != %q", name, a, c)
		}
	}
	if u, _ := back.Get("user.name"); u != "bad\ufffdutf8" {
		t.Errorf("invalid UTF-8 not replaced: %q", u)
	}
	if !strings.Contains(string(b), `"related.ip":["1.1.1.1","2.2.2.2"]`) {
		t.Errorf("list not encoded as array: %s", b)
	}
}

func TestParseJSONNestedAndTypes(t *testing.T) {
	var e Event
	err := e.ParseJSON([]byte(`{"@timestamp":"2026-01-02T03:04:05Z","source":{"ip":"10.0.0.1","port":443},"event":{"id":"x"},"ok":true,"n":null,"tags":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get("source.port"); v != "443" {
		t.Errorf("source.port = %q", v)
	}
	if v, _ := e.Get("ok"); v != "true" {
		t.Errorf("ok = %q", v)
	}
	if e.ID != "x" || e.Time.IsZero() {
		t.Errorf("ID %q Time %v", e.ID, e.Time)
	}
	for _, bad := range []string{`[1,2]`, `{"@timestamp":"yesterday"}`, `{`, `null`} {
		var e Event
		if err := e.ParseJSON([]byte(bad)); err == nil {
			t.Errorf("ParseJSON(%s) accepted", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, s := range []string{"2026-03-04T05:06:07Z", "2026-03-04T06:06:07+01:00", "2026-03-04 05:06:07",
		"2026-03-04T05:06:07.000", "1772600767", "1772600767000", "1772600767.0"} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseTime("03/04/2026"); err == nil {
		t.Error("ParseTime accepted an ambiguous date")
	}
}

func BenchmarkLookupSlotted(b *testing.B) {
	var e Event
	e.Set("process.command_line", "powershell -enc AAAA")
	ref := RefOf("process.command_line")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Lookup(ref); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkLookupExtra(b *testing.B) {
	var e Event
	for _, n := range []string{"a.b", "c.d", "e.f", "winlog.event_data.IntegrityLevel", "winlog.event_data.Hashes"} {
		e.Set(n, "v")
	}
	ref := RefOf("winlog.event_data.Hashes")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Lookup(ref); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	var e Event
	e.ID, e.Member, e.Time = "e1", "m1", time.Now()
	e.Set("process.command_line", `C:\Windows\System32\cmd.exe /c whoami`)
	e.Set("source.ip", "10.0.0.1")
	e.Set("winlog.event_data.Hashes", "SHA256=abc")
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}
