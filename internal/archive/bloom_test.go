package archive

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

func TestFieldHashFoldsCase(t *testing.T) {
	for _, v := range []string{"", "a", "WS-3082.CORP.example", "ÄÖ@[`{Zz09", "C:\\WINDOWS\\system32\\CMD.exe /c whoami"} {
		if fieldHash("f", v) != fieldHash("f", strings.ToLower(v)) && v != "ÄÖ@[`{Zz09" {
			t.Errorf("%q", v)
		}
	}
	for _, c := range []string{"@", "[", "`", "{", "\x80", "\xc1", "\xda"} {
		if fieldHash("f", c) == fieldHash("f", string(c[0]+0x20)) {
			t.Errorf("%q folded", c)
		}
	}
	if fieldHash("f", "ab") == fieldHash("f", "ab\x00") || fieldHash("ab", "c") == fieldHash("a", "bc") {
		t.Error("lengths not mixed in")
	}
}

func TestValueHashFoldsCase(t *testing.T) {
	for _, v := range []string{"", "a", "WS-3082.CORP.example", "C:\\WINDOWS\\system32\\CMD.exe /c whoami"} {
		if valueHash(v) != valueHash(strings.ToLower(v)) {
			t.Errorf("%q", v)
		}
	}
	if valueHash("ab") == valueHash("ab\x00") || valueHash("ab") == valueHash("ba") {
		t.Error("lengths or order not mixed in")
	}
}

func TestBloomKeyReadsBothVersions(t *testing.T) {
	var b bloomBuilder
	b.add("WS-7")
	v2 := b.build(16)
	// A version 1 filter: the field name and value hashed together.
	v1 := make([]byte, len(v2)-1)
	h := fieldHash("host.name", "ws-7")
	m := uint64(len(v1) * 8)
	for k := range uint64(bloomHashes) {
		bit := (h + k*(h>>32|h<<32)) % m
		v1[bit/8] |= 1 << (bit % 8)
	}
	cases := []struct {
		name   string
		filter []byte
		key    bloomKey
		want   bool
	}{
		{"v2 holds the value", v2, newBloomKey("host.name", "ws-7"), true},
		{"v2 holds it under any field", v2, newBloomKey("winlog.computer_name", "WS-7"), true},
		{"v2 lacks another value", v2, newBloomKey("host.name", "WS-8"), false},
		{"v1 holds field and value", v1, newBloomKey("host.name", "WS-7"), true},
		{"v1 lacks another field", v1, newBloomKey("user.name", "WS-7"), false},
		{"v1 never held ids", v1, newBloomKey("event.id", "x"), true},
		{"malformed may hold anything", []byte{1, 2, 3}, newBloomKey("host.name", "WS-8"), true},
	}
	for _, c := range cases {
		if got := c.key.mayHave(c.filter); got != c.want {
			t.Errorf("%s: mayHave = %v", c.name, got)
		}
	}
}

// TestBloomHoldsReferences checks that an equality filter finds a value
// the block writer stores as a reference: to the original line (a
// message that is the whole line), which has no place in the filter
// itself, and to an earlier field, or repeated later in the block.
func TestBloomHoldsReferences(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t)
	var evs []*event.Event
	for i, line := range []string{"hello world", "other line", "hello world"} {
		ev := &event.Event{ID: fmt.Sprint("x", i), Member: "m1", Time: base, Ingested: base, Original: []byte(line)}
		ev.Set("message", line)
		ev.Set("a", fmt.Sprint("v", i%2))
		ev.Set("b", fmt.Sprint("v", i%2))
		evs = append(evs, ev)
	}
	if err := e.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: evs}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{{Field: "message", Value: "hello world"}, {Field: "message", Value: "OTHER line"},
		{Field: "b", Value: "v0"}, {Field: "b", Value: "v1"}, {Field: "a", Value: "v1"}} {
		f.Op = Eq
		q := Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: []Filter{f}}
		if err := q.Check(base, func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
		if n, err := e.Count(ctx, &q); err != nil || n == 0 {
			t.Errorf("%s = %q: %d events (%v), want some", f.Field, f.Value, n, err)
		}
	}
}
