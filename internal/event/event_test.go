package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
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

// TestExtraLookupByHash checks the name-hash index of extra fields: the
// right field is found among names sharing long prefixes, lists keep
// their order, Reset forgets the index, and a hash collision alone never
// makes a different name match.
func TestExtraLookupByHash(t *testing.T) {
	var e Event
	names := []string{"winlog.event_data.Image", "winlog.event_data.ParentImage", "winlog.event_data.Imag", "related.ip", "winlog.event_data.ImagE"}
	for i, n := range names {
		e.Set(n, fmt.Sprint("v", i))
	}
	e.Set("related.ip", "v5")
	tests := []struct {
		name string
		want []string
	}{
		{"winlog.event_data.Image", []string{"v0"}},
		{"winlog.event_data.ParentImage", []string{"v1"}},
		{"winlog.event_data.Imag", []string{"v2"}},
		{"winlog.event_data.ImagE", []string{"v4"}},
		{"related.ip", []string{"v3", "v5"}},
		{"winlog.event_data.image", nil},
		{"winlog.event_data.Images", nil},
	}
	for _, tt := range tests {
		ref := RefOf(tt.name)
		var got []string
		e.Each(ref, func(v string) bool { got = append(got, v); return true })
		if !slices.Equal(got, tt.want) {
			t.Errorf("Each(%q) = %q, want %q", tt.name, got, tt.want)
		}
		v, ok := e.Lookup(ref)
		if ok != (tt.want != nil) || ok && v != tt.want[0] {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.name, v, ok, tt.want)
		}
	}
	// A Ref whose hash equals another name's must still compare names.
	forged := Ref{key: noKey, hash: nameHash("related.ip"), name: "related.ipx"}
	if v, ok := e.Lookup(forged); ok {
		t.Errorf("Lookup with a colliding hash found %q", v)
	}
	e.Reset()
	if v, ok := e.Lookup(RefOf("related.ip")); ok {
		t.Errorf("Lookup after Reset found %q", v)
	}
	e.Set("related.ip", "w")
	if v, _ := e.Lookup(RefOf("related.ip")); v != "w" {
		t.Errorf("Lookup after Reset and Set = %q, want w", v)
	}
}

// TestKnownExtraNamesShared checks that Set and RefOf resolve a known
// extra field name to one shared copy (so lookups match by address),
// while unknown names, built at run time, still match by content.
func TestKnownExtraNamesShared(t *testing.T) {
	tests := []struct {
		name  string
		known bool
	}{
		{"winlog.event_data.Hashes", true},
		{"winlog.event_data.User", true},
		{"winlog.event_data.NotAKnownField", false},
		{"custom.field", false},
	}
	for _, tt := range tests {
		var e Event
		built := strings.Clone(tt.name) // a copy, as a parser would make
		e.Set(built, "v")
		ref := RefOf(strings.Clone(tt.name))
		shared := unsafe.StringData(e.extras[0].Key) == unsafe.StringData(ref.Name())
		if shared != tt.known {
			t.Errorf("%s: event and Ref share the name: %v, want %v", tt.name, shared, tt.known)
		}
		if v, ok := e.Lookup(ref); !ok || v != "v" {
			t.Errorf("%s: Lookup = %q, %v; want v, true", tt.name, v, ok)
		}
		if v, ok := e.Get(tt.name); !ok || v != "v" {
			t.Errorf("%s: Get = %q, %v; want v, true", tt.name, v, ok)
		}
	}
	// Every known extra name resolves to an extra field, never a slot.
	for _, n := range knownExtras {
		if ref := RefOf(n); ref.key == noKey && ref.hash != nameHash(n) {
			t.Errorf("RefOf(%q): hash %d, want %d", n, ref.hash, nameHash(n))
		}
	}
}

// TestExtrasIndexMatchesScan: whatever the number of names, of values per
// name (lists, interleaved with other fields) and of extras, Lookup and
// Each through the index return what a walk over the extras finds; past
// the index's capacity they fall back to that walk.
func TestExtrasIndexMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ names, sets int }{
		{1, 1}, {3, 10}, {40, 40}, {48, 48}, {49, 49}, {60, 200}, {300, 300}, {20, 400}, {5, 1000},
	} {
		var e Event
		pool := make([]string, tc.names)
		for i := range pool {
			pool[i] = fmt.Sprintf("custom.f%d", i)
		}
		for i := 0; i < tc.sets; i++ {
			name := pool[i%tc.names]
			if i >= tc.names {
				name = pool[r.IntN(tc.names)] // a second value: a list
			}
			e.Set(name, fmt.Sprint("v", i))
		}
		for _, name := range append(pool, "custom.absent", "winlog.event_data.Image") {
			if err := lookupsAgreeWithFields(&e, name); err != "" {
				t.Fatalf("%d names, %d values: %s", tc.names, tc.sets, err)
			}
		}
	}
}

// lookupsAgreeWithFields compares Each and Lookup of name, which go
// through the extras index, with a walk over Fields; it returns what
// differs, or "".
func lookupsAgreeWithFields(e *Event, name string) string {
	var want []string
	e.Fields(func(n, v string) bool {
		if n == name {
			want = append(want, v)
		}
		return true
	})
	var got []string
	ref := RefOf(name)
	e.Each(ref, func(v string) bool { got = append(got, v); return true })
	if !slices.Equal(got, want) {
		return fmt.Sprintf("Each(%s) = %q, want %q", name, got, want)
	}
	if v, ok := e.Lookup(ref); ok != (len(want) > 0) || ok && v != want[0] {
		return fmt.Sprintf("Lookup(%s) = %q, %v; want %q", name, v, ok, want)
	}
	return ""
}

// TestPrefetch: the Prefetch methods read every part they promise without
// going out of bounds, whatever the event holds; their result depends on
// the bytes they read.
func TestPrefetch(t *testing.T) {
	var e Event
	if e.PrefetchFields() != 0 || e.PrefetchValues() != 0 {
		t.Errorf("an empty event has nothing to read")
	}
	for i := range 300 {
		e.Set(fmt.Sprintf("custom.f%d", i), strings.Repeat("x", i))
	}
	e.SetKey(numKeys-1, "last slot")
	before := e.PrefetchValues()
	e.SetKey(numKeys-1, "Last slot")
	if e.PrefetchFields() == 0 || e.PrefetchValues() == before {
		t.Errorf("PrefetchValues does not read the values' bytes")
	}
	slotted := Ref{key: numKeys - 1}
	if got, want := e.PrefetchValue(slotted), uint64('L'); got != want {
		t.Errorf("PrefetchValue(slot) = %d, want the first byte, %d", got, want)
	}
	if got, want := e.PrefetchValue(RefOf("custom.f130")), uint64('x')*3; got != want {
		t.Errorf("PrefetchValue(extra of 130 bytes) = %d, want one byte per cache line, %d", got, want)
	}
	if got := e.PrefetchValue(RefOf("custom.absent")); got != 0 {
		t.Errorf("PrefetchValue(absent field) = %d, want 0", got)
	}
}

// FuzzExtrasIndex drives Set with names drawn from the input (a few
// hundred possible, lists included) and checks Lookup and Each against a
// walk over Fields.
func FuzzExtrasIndex(f *testing.F) {
	f.Add([]byte{1, 2, 3, 1, 2, 3})
	f.Add(bytes.Repeat([]byte{7, 9}, 200))
	seq := make([]byte, 600)
	for i := range seq {
		seq[i] = byte(i * 7)
	}
	f.Add(seq)
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		names := map[string]bool{"custom.absent": true}
		for i, b := range data {
			name := fmt.Sprintf("custom.f%d", int(b)%97+int(b)/97*1000)
			if b%5 == 0 {
				name = knownExtras[int(b)%len(knownExtras)]
			}
			names[name] = true
			e.Set(name, fmt.Sprint("v", i))
		}
		for name := range names {
			if err := lookupsAgreeWithFields(&e, name); err != "" {
				t.Fatal(err)
			}
		}
	})
}

// TestResetClearsEverything: Reset clears an event field by field, so a
// field added to Event and forgotten there would survive into the next
// event a pipeline fills. Every slot, every kind of extra and every
// struct field is filled, and after Reset the event must equal a fresh
// one but for the capacity it keeps.
func TestResetClearsEverything(t *testing.T) {
	tests := []struct {
		name string
		fill func(e *Event)
	}{
		{"every slot", func(e *Event) {
			for k := Key(0); k < numKeys; k++ {
				e.SetKey(k, "v"+keyNames[k])
			}
		}},
		{"lists in slots and extras", func(e *Event) {
			e.Add("related.ip", "1.1.1.1")
			e.Add("related.ip", "2.2.2.2")
			e.Add("x.list", "a")
			e.Add("x.list", "b")
		}},
		{"more extras than the index takes", func(e *Event) {
			for i := range 2 * maxIndexed {
				e.Set(fmt.Sprintf("x.f%d", i), "v")
			}
		}},
		{"a slot set and then emptied", func(e *Event) {
			e.SetKey(0, "v")
			e.SetKey(0, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			e.ID, e.Member, e.Original = "id", "m", []byte("raw")
			e.Time, e.Ingested = time.Unix(1, 0), time.Unix(2, 0)
			tt.fill(&e)
			e.Reset()
			want := Event{more: e.more, extras: e.extras, tags: e.tags, Original: e.Original}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("after Reset:\n%+v\nwant a fresh event:\n%+v", e, want)
			}
			if e.Len() != 0 || len(e.extras) != 0 || len(e.Original) != 0 {
				t.Errorf("after Reset: %d fields, %d extras, %d bytes of original", e.Len(), len(e.extras), len(e.Original))
			}
			e.Fields(func(name, value string) bool {
				t.Errorf("after Reset Fields gives %s=%q", name, value)
				return true
			})
		})
	}
}

// TestRefFormsMatchNameForms checks that SetRef and AddRef with a name
// resolved once give the event Set and Add give with the name: slotted,
// well-known extra and unknown names, lists, and empty values.
func TestRefFormsMatchNameForms(t *testing.T) {
	type op struct {
		add         bool
		name, value string
	}
	ops := []op{
		{false, "process.command_line", "a"}, {true, "process.command_line", "b"},
		{false, "winlog.event_data.Image", "c"}, {true, "winlog.event_data.Image", "d"},
		{false, "x.custom", "e"}, {true, "x.custom", "f"}, {false, "x.custom", ""},
		{true, "host.name", ""}, {false, "host.name", "g"}, {false, "host.name", "h"},
	}
	var byName, byRef Event
	for _, o := range ops {
		if o.add {
			byName.Add(o.name, o.value)
			byRef.AddRef(RefOf(o.name), o.value)
		} else {
			byName.Set(o.name, o.value)
			byRef.SetRef(RefOf(o.name), o.value)
		}
	}
	dump := func(e *Event) string {
		var sb strings.Builder
		e.Fields(func(n, v string) bool { fmt.Fprintf(&sb, "%s=%s;", n, v); return true })
		return sb.String()
	}
	if a, b := dump(&byName), dump(&byRef); a != b || a == "" {
		t.Fatalf("by name %q, by ref %q", a, b)
	}
	var got []string
	byRef.Each(RefOf("x.custom"), func(v string) bool { got = append(got, v); return true })
	if !slices.Equal(got, []string{"e", "f"}) {
		t.Fatalf("x.custom = %q, want [e f]", got)
	}
}

// TestEverySlotKeepsItsValue fills every slot, past those the Event holds
// in itself, overwrites some, and reads them all back by Key, Fields and
// Len.
func TestEverySlotKeepsItsValue(t *testing.T) {
	var e Event
	for k := numKeys - 1; ; k-- { // backwards: positions differ from Keys
		e.SetKey(k, "v"+keyNames[k])
		if k == 0 {
			break
		}
	}
	for k := Key(0); k < numKeys; k += 7 {
		e.SetKey(k, "w"+keyNames[k])
	}
	want := func(k Key) string {
		if k%7 == 0 {
			return "w" + keyNames[k]
		}
		return "v" + keyNames[k]
	}
	for k := Key(0); k < numKeys; k++ {
		if got := e.Key(k); got != want(k) {
			t.Fatalf("Key(%s) = %q, want %q", keyNames[k], got, want(k))
		}
	}
	k := Key(0)
	e.Fields(func(name, value string) bool {
		if name != keyNames[k] || value != want(k) {
			t.Fatalf("field %d: %s=%q, want %s=%q", k, name, value, keyNames[k], want(k))
		}
		k++
		return true
	})
	if e.Len() != int(numKeys) || k != numKeys {
		t.Fatalf("Len %d, Fields visited %d; want %d", e.Len(), k, numKeys)
	}
}
