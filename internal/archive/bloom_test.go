package archive

import (
	"context"
	"fmt"
	"path/filepath"
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

func TestBloomKeyReadsEveryVersion(t *testing.T) {
	var b bloomBuilder
	b.add("WS-7")
	b.add("id-1")
	v3 := b.build(16)
	// A version 2 filter: laid out alike, but it may lack any value but ids.
	v2 := append([]byte(nil), v3...)
	v2[len(v2)-1] = bloomVersionPartial
	// A version 1 filter: the field name and value hashed together.
	v1 := make([]byte, len(v3)-1)
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
		{"v3 holds the value", v3, newBloomKey("host.name", "ws-7"), true},
		{"v3 holds it under any field", v3, newBloomKey("winlog.computer_name", "WS-7"), true},
		{"v3 lacks another value", v3, newBloomKey("host.name", "WS-8"), false},
		{"v3 lacks another id", v3, newBloomKey(event.FieldID, "id-2"), false},
		{"v2 holds the id", v2, newBloomKey(event.FieldID, "id-1"), true},
		{"v2 lacks another id", v2, newBloomKey(event.FieldID, "id-2"), false},
		{"v2 may hold any other value", v2, newBloomKey("message", "WS-8"), true},
		{"v1 holds field and value", v1, newBloomKey("host.name", "WS-7"), true},
		{"v1 lacks another field", v1, newBloomKey("user.name", "WS-7"), false},
		{"v1 never held ids", v1, newBloomKey(event.FieldID, "x"), true},
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

// TestBloomOldBlocksExact checks that an equality filter still finds a
// whole-line message in a block written before such values went into the
// filter (version 2, crafted here as that code wrote it), after the
// archive is reopened, and that blocks written since, in the same
// partition, are still skipped by their filters.
func TestBloomOldBlocksExact(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "archive")
	e, err := OpenEmbedded(ctx, root, false)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	var old bloomBuilder // what the block writer put in the filter before
	for i, line := range []string{"hello world", "other line", "hello world"} {
		ev := &event.Event{ID: fmt.Sprint("x", i), Member: "m1", Time: base, Ingested: base, Original: []byte(line)}
		ev.Set("message", line)
		ev.Set("host.name", "ws-1")
		evs = append(evs, ev)
		old.add(ev.ID)
		for _, f := range ev.AppendFields(nil) {
			if f.Value != line {
				old.add(f.Value)
			}
		}
	}
	if err := e.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: evs}}); err != nil {
		t.Fatal(err)
	}
	filter := old.build(len(evs))
	filter[len(filter)-1] = bloomVersionPartial
	if bloomMayHave(filter[:len(filter)-1], valueHash("hello world")) {
		t.Fatal("the crafted filter holds the line: the test would prove nothing")
	}
	p := e.memberParts("m1", 0, 1<<62)[0]
	db, err := e.acquire(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(ctx, `UPDATE blocks SET bloom = ?`, filter)
	e.release(p)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("%d blocks (%v), want 1", n, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = OpenEmbedded(ctx, root, false); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fresh := &event.Event{ID: "y0", Member: "m1", Time: base, Ingested: base, Original: []byte("new line")}
	fresh.Set("message", "new line")
	if err := e.Write(ctx, []Batch{{Stream: 1, Seq: 2, Member: "m1", Events: []*event.Event{fresh}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field, value  string
		blocks, count int
	}{
		{"message", "hello world", 1, 2}, // the old block, not the new one
		{"message", "new line", 2, 1},    // the old block may hold it
		{event.FieldID, "x1", 1, 1},      // old filters hold ids
		{event.FieldID, "y0", 1, 1},
		{event.FieldID, "z", 0, 0},
	} {
		if blocks, n := blocksAndCount(t, e, Filter{Field: tc.field, Op: Eq, Value: tc.value}); blocks != tc.blocks || n != int64(tc.count) {
			t.Errorf("%s = %q: %d blocks, %d events; want %d blocks, %d events", tc.field, tc.value, blocks, n, tc.blocks, tc.count)
		}
	}
}
