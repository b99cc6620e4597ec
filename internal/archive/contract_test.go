package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// engines opens a fresh engine of every kind; the query contract below
// runs on each.
func engines(t *testing.T) map[string]func(t *testing.T) Engine {
	return map[string]func(t *testing.T) Engine{
		"embedded": func(t *testing.T) Engine {
			e, err := OpenEmbedded(context.Background(), filepath.Join(t.TempDir(), "archive"), false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			return e
		},
		"postgres": func(t *testing.T) Engine { return openTestPostgres(t) },
	}
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testEvents returns n events of member: event i at base+i seconds, on host
// WS-(i%10), from 10.0.(i%4).(i%250), with pid 1000+i.
func testEvents(member string, from, n int) []*event.Event {
	var evs []*event.Event
	for i := from; i < from+n; i++ {
		ev := &event.Event{ID: fmt.Sprintf("%s-%05d", member, i), Member: member,
			Time: base.Add(time.Duration(i) * time.Second), Ingested: base.Add(time.Duration(i)*time.Second + time.Millisecond)}
		ev.SetKey(event.HostName, fmt.Sprintf("WS-%d", i%10))
		ev.SetKey(event.SourceIp, fmt.Sprintf("10.0.%d.%d", i%4, i%250))
		ev.Set("process.pid", fmt.Sprint(1000+i))
		ev.Set("process.command_line", fmt.Sprintf(`C:\Windows\System32\cmd.exe /c whoami %d`, i))
		if i%100 == 0 {
			ev.Set("tags", "rare")
			ev.Set("tags", "second")
			// A list in a slotted field: every value is kept and found.
			ev.Add("dns.answers.data", "198.51.100.7")
			ev.Add("dns.answers.data", "203.0.113.9")
		}
		ev.Original = fmt.Appendf(nil, `{"n":%d,"marker":"Needle-%d"}`, i, i)
		evs = append(evs, ev)
	}
	return evs
}

// openAt opens an archive on the engine open makes, its clock stopped at now.
func openAt(t *testing.T, open func(t *testing.T) Engine, now time.Time) *Archive {
	t.Helper()
	a, err := New(context.Background(), open(t))
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return now }
	return a
}

func TestQueryContract(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := openAt(t, open, base.Add(24*time.Hour))
			// Two batches for m1 (the second partly on the next day), one for m2.
			if err := a.Write(ctx, []Batch{
				{Stream: 1, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 3000)},
				{Stream: 1, Seq: 2, Member: "m2", Events: testEvents("m2", 0, 50)},
			}); err != nil {
				t.Fatal(err)
			}
			if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 3, Member: "m1", Events: testEvents("m1", 3000, 1000)}}); err != nil {
				t.Fatal(err)
			}
			all := Query{Member: "m1", From: base, To: base.Add(2 * time.Hour)}
			with := func(fs ...Filter) Query { q := all; q.Filters = fs; return q }
			counts := []struct {
				name string
				q    Query
				want int64
			}{
				{"all of m1", all, 4000},
				{"m2 sees only its own", Query{Member: "m2", From: base, To: base.Add(2 * time.Hour)}, 50},
				{"time range", Query{Member: "m1", From: base.Add(100 * time.Second), To: base.Add(200 * time.Second)}, 100},
				{"eq ignores case", with(Filter{Field: "host.name", Op: Eq, Value: "ws-3"}), 400},
				{"eq on event.id", with(Filter{Field: "event.id", Op: Eq, Value: "m1-00042"}), 1},
				{"prefix", with(Filter{Field: "source.ip", Op: Prefix, Value: "10.0.1."}), 1000},
				{"contains", with(Filter{Field: "process.command_line", Op: Contains, Value: "WHOAMI 12"}), 111},
				{"cidr", with(Filter{Field: "source.ip", Op: CIDR, Value: "10.0.2.0/24"}), 1000},
				{"cidr single address", with(Filter{Field: "source.ip", Op: CIDR, Value: "10.0.2.10"}), 8},
				{"range", with(Filter{Field: "process.pid", Op: Gte, Value: "1100"}, Filter{Field: "process.pid", Op: Lt, Value: "1200"}), 100},
				{"list value", with(Filter{Field: "tags", Op: Eq, Value: "second"}), 40},
				{"slotted list, first value", with(Filter{Field: "dns.answers.data", Op: Eq, Value: "198.51.100.7"}), 40},
				{"slotted list, second value", with(Filter{Field: "dns.answers.data", Op: CIDR, Value: "203.0.113.0/24"}), 40},
				{"two filters", with(Filter{Field: "host.name", Op: Eq, Value: "WS-3"}, Filter{Field: "source.ip", Op: CIDR, Value: "10.0.3.0/24"}), 200},
				{"no match", with(Filter{Field: "host.name", Op: Eq, Value: "WS-99"}), 0},
				{"text in the original", func() Query { q := all; q.Text = "needle-123"; return q }(), 11},
			}
			for _, c := range counts {
				if n, err := a.Count(ctx, c.q); err != nil || n != c.want {
					t.Errorf("%s: Count = %d, %v; want %d", c.name, n, err, c.want)
				}
			}
			// The list comes back whole.
			p, err := a.Search(ctx, with(Filter{Field: "event.id", Op: Eq, Value: "m1-00100"}))
			if err != nil || len(p.Events) != 1 {
				t.Fatalf("search m1-00100: %v %d", err, len(p.Events))
			}
			var doc map[string]any
			json.Unmarshal(p.Events[0], &doc)
			if fmt.Sprint(doc["dns.answers.data"]) != "[198.51.100.7 203.0.113.9]" {
				t.Errorf("stored list: %v", doc["dns.answers.data"])
			}
			// Pages: newest first, each event once, cursor continues.
			q := with(Filter{Field: "host.name", Op: Eq, Value: "WS-7"})
			q.Limit = 150
			var ids []string
			for pages := 0; ; pages++ {
				p, err := a.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, doc := range p.Events {
					var d map[string]any
					if err := json.Unmarshal(doc, &d); err != nil {
						t.Fatal(err)
					}
					if d["host.name"] != "WS-7" || d[event.FieldMember] != "m1" {
						t.Fatalf("page %d: %s", pages, doc)
					}
					ids = append(ids, d[event.FieldID].(string))
				}
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			if len(ids) != 400 || ids[0] != "m1-03997" || ids[399] != "m1-00007" {
				t.Errorf("paged %d ids, first %v", len(ids), ids[:min(3, len(ids))])
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("%s on two pages", id)
				}
				seen[id] = true
			}
			top, err := a.Top(ctx, with(Filter{Field: "source.ip", Op: Prefix, Value: "10.0.1."}), "host.name", 3)
			if err != nil || len(top) != 3 || top[0].Count != 200 || top[0].Value != "WS-1" {
				t.Errorf("Top = %+v, %v", top, err)
			}
			// Bad input is the caller's to fix.
			bad := []Query{
				with(Filter{Field: "host.nam", Op: Eq, Value: "x"}),
				with(Filter{Field: "source.ip", Op: CIDR, Value: "10.0.0.0/33"}),
				with(Filter{Field: "process.pid", Op: Gte, Value: "many"}),
				with(Filter{Field: "host.name", Op: "like", Value: "x"}),
				{Member: "m1", From: base, To: base.Add(40 * 24 * time.Hour)},
				{Member: "m1", From: base, To: base.Add(time.Hour), Cursor: "!!"},
				{Member: "m1", From: base.Add(time.Hour), To: base},
			}
			for _, q := range bad {
				if _, err := a.Search(ctx, q); !IsBadQuery(err) {
					t.Errorf("Search(%+v) = %v, want a bad query", q, err)
				}
			}
			if _, err := a.Top(ctx, all, "nope.field", 5); !IsBadQuery(err) {
				t.Errorf("Top on an unknown field: %v", err)
			}
			// m2 has no such field: unknown to m2 even though m1 has it.
			if _, err := a.Count(ctx, Query{Member: "m3", Filters: []Filter{{Field: "host.name", Op: Eq, Value: "WS-1"}}}); !errors.Is(err, ErrBadQuery) {
				t.Errorf("a member without events knows no fields: %v", err)
			}
		})
	}
}

func TestWriteIsExactlyOnce(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := open(t)
			a, err := New(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			write := func(a *Archive, b Batch) {
				t.Helper()
				if err := a.Write(ctx, []Batch{b}); err != nil {
					t.Fatal(err)
				}
			}
			write(a, Batch{Stream: 7, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 500)})
			write(a, Batch{Stream: 7, Seq: 1, Member: "m1", Events: testEvents("m1", 0, 500)})   // redelivered
			write(a, Batch{Stream: 7, Seq: 2, Member: "m1", Events: testEvents("m1", 250, 500)}) // a retry, half new
			// A fresh Archive (a restart) over the same engine still knows
			// the recent ids and the stored batches.
			b, err := New(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			write(b, Batch{Stream: 7, Seq: 2, Member: "m1", Events: testEvents("m1", 250, 500)})
			write(b, Batch{Stream: 7, Seq: 3, Member: "m1", Events: testEvents("m1", 0, 100)})
			write(b, Batch{Stream: 8, Seq: 1, Member: "m1", Events: testEvents("m1", 750, 10)}) // a new stream reuses seq 1
			if n, err := b.Total(ctx, "m1"); err != nil || n != 760 {
				t.Errorf("Total = %d, %v; want 760", n, err)
			}
			if n, err := b.Count(ctx, Query{Member: "m1", From: base, To: base.Add(time.Hour)}); err != nil || n != 760 {
				t.Errorf("Count = %d, %v; want 760", n, err)
			}
		})
	}
}

// TestWriteBatchTwiceInOneCall: after a NATS server restart the bus
// delivers again batches whose first delivery still waits to be written,
// so one write may hold a batch twice, among others. Its events are
// stored once — through the Archive, whose window leaves the second copy
// empty, and straight at the engine, each copy full — and nothing of it is
// lost, in whichever order the copies and their neighbours come.
func TestWriteBatchTwiceInOneCall(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := archiveAt(t, open, time.Now())
			e := a.Engine()
			// 40 batches of 10 events, from the newest down, then every
			// fifth again: a write as large as the archiver's, whose
			// ordering by sequence would put each second copy anywhere.
			var group []Batch
			for seq := 40; seq >= 1; seq-- {
				group = append(group, Batch{Stream: 7, Seq: uint64(seq), Member: "m1", Events: testEvents("m1", 10*(seq-1), 10)})
			}
			for i := 0; i < 40; i += 5 {
				group = append(group, group[i])
			}
			if err := a.Write(ctx, group); err != nil {
				t.Fatal(err)
			}
			y := Batch{Stream: 7, Seq: 41, Member: "m1", Events: testEvents("m1", 400, 100)}
			if err := e.Write(ctx, []Batch{y, y}); err != nil {
				t.Fatal(err)
			}
			if n, err := a.Count(ctx, Query{Member: "m1", From: base, To: base.Add(time.Hour)}); err != nil || n != 500 {
				t.Errorf("Count = %d, %v; want 500", n, err)
			}
		})
	}
}

// TestQueryContractAcrossWrites stores four writes of disjoint values
// (on the embedded engine, four blocks, each with its own column
// statistics) and checks that range, CIDR, contains and prefix filters
// find exactly the events they match on every engine, whichever blocks
// they may skip.
func TestQueryContractAcrossWrites(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := archiveAt(t, open, base.Add(24*time.Hour))
			for w := range 4 {
				if err := a.Write(ctx, []Batch{{Stream: 1, Seq: uint64(w + 1), Member: "m1", Events: disjointEvents(w, 100)}}); err != nil {
					t.Fatal(err)
				}
			}
			with := func(fs ...Filter) Query {
				return Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: fs}
			}
			for _, c := range []struct {
				name string
				q    Query
				want int64
			}{
				{"range above the first writes", with(Filter{Field: "destination.bytes", Op: Gte, Value: "2000050"}), 150},
				{"range below everything", with(Filter{Field: "destination.bytes", Op: Lt, Value: "0"}), 0},
				{"range inside one write", with(Filter{Field: "destination.bytes", Op: Gt, Value: "1000009"}, Filter{Field: "destination.bytes", Op: Lte, Value: "1000019"}), 10},
				{"cidr of one write", with(Filter{Field: "destination.ip", Op: CIDR, Value: "198.51.102.0/24"}), 100},
				{"cidr of none", with(Filter{Field: "destination.ip", Op: CIDR, Value: "203.0.113.0/24"}), 0},
				{"cidr ipv6 of none", with(Filter{Field: "destination.ip", Op: CIDR, Value: "2001:db8::/32"}), 0},
				{"contains in one write", with(Filter{Field: "process.command_line", Op: Contains, Value: "TOOL3.EXE"}), 100},
				{"contains in all", with(Filter{Field: "process.command_line", Op: Contains, Value: "item 7"}), 44},
				{"contains in none", with(Filter{Field: "process.command_line", Op: Contains, Value: "mimikatz"}), 0},
				{"prefix", with(Filter{Field: "process.command_line", Op: Prefix, Value: `c:\tools\tool1`}), 100},
			} {
				n, err := a.Count(ctx, c.q)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if n != c.want {
					t.Errorf("%s: %d events, want %d", c.name, n, c.want)
				}
			}
		})
	}
}

// archiveAt returns an Archive over a fresh engine whose clock says now.
func archiveAt(t *testing.T, open func(t *testing.T) Engine, now time.Time) *Archive {
	a, err := New(context.Background(), open(t))
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return now }
	return a
}

// disjointEvents returns the n events of write w, whose values no other
// write shares: event i at base+(100w+i) seconds, destination.bytes
// 1,000,000w+i, destination.ip 198.51.(100+w).(i+1), command line
// C:\Tools\tool<w>.exe --item <i>.
func disjointEvents(w, n int) []*event.Event {
	var evs []*event.Event
	for i := range n {
		ev := &event.Event{ID: fmt.Sprintf("w%d-%d", w, i), Member: "m1",
			Time: base.Add(time.Duration(w*100+i) * time.Second), Ingested: base}
		ev.SetKey(event.DestinationBytes, fmt.Sprint(w*1_000_000+i))
		ev.SetKey(event.DestinationIp, fmt.Sprintf("198.51.%d.%d", 100+w, i+1))
		ev.SetKey(event.ProcessCommandLine, fmt.Sprintf(`C:\Tools\tool%d.exe --item %d`, w, i))
		evs = append(evs, ev)
	}
	return evs
}

// hotEvents are events whose values test the typed columns the PostgreSQL
// engine keeps for common fields against the query contract: lists,
// mapped and zoned addresses, numbers written oddly, LIKE's wildcards.
func hotEvents(member string) []*event.Event {
	mk := func(i int, set func(ev *event.Event)) *event.Event {
		ev := &event.Event{ID: fmt.Sprintf("Hot-%03d", i), Member: member,
			Time: base.Add(time.Duration(i) * time.Minute), Ingested: base.Add(time.Duration(i) * time.Minute)}
		set(ev)
		return ev
	}
	return []*event.Event{
		mk(1, func(ev *event.Event) {
			ev.Add("host.name", "WS-A")
			ev.Add("host.name", "WS-B") // a list: WS-B is only in the document
			ev.Set("destination.ip", "::ffff:203.0.113.5")
			ev.Set("destination.port", "0443")
		}),
		mk(2, func(ev *event.Event) {
			ev.Set("host.name", "WS_C")
			ev.Set("destination.ip", "fe80::1%eth0")
			ev.Set("destination.bytes", "7000000000")
			ev.Set("process.command_line", `C:\x.exe --sale=50%_OFF MIMIKATZ`)
		}),
		mk(3, func(ev *event.Event) {
			ev.Set("host.name", "WS-D")
			ev.Set("destination.ip", "198.51.100.20")
			ev.Set("destination.bytes", "NaN")
			ev.Set("destination.port", "443")
			ev.Set("process.command_line", `C:\x.exe --sale=50 off`)
			ev.Set("process.hash.sha256", "ABCDEF0123")
			ev.Original = []byte("<13>Mar  1 \"quoted\" C:\\x.exe \u00e9t\u00e9 \x01 end")
		}),
	}
}

func TestHotFieldContract(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := openAt(t, open, base.Add(24*time.Hour))
			if err := a.Write(ctx, []Batch{{Stream: 1, Seq: 1, Member: "m1", Events: hotEvents("m1")}}); err != nil {
				t.Fatal(err)
			}
			with := func(field string, op Op, value string) Query {
				return Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: []Filter{{Field: field, Op: op, Value: value}}}
			}
			cases := []struct {
				name string
				q    Query
				want int64
			}{
				{"first of a list", with("host.name", Eq, "ws-a"), 1},
				{"second of a list", with("host.name", Eq, "ws-b"), 1},
				{"prefix of a list's second value", with("host.name", Prefix, "WS-B"), 1},
				{"underscore is no wildcard", with("host.name", Prefix, "ws_"), 1},
				{"prefix of every host", with("host.name", Prefix, "ws"), 3},
				{"percent is no wildcard", with("process.command_line", Contains, "50%_off"), 1},
				{"contains ignores case", with("process.command_line", Contains, "mimiKATZ"), 1},
				{"contains a space", with("process.command_line", Contains, "50 OFF"), 1},
				{"eq a hash, any case", with("process.hash.sha256", Eq, "abcdef0123"), 1},
				{"mapped address in its IPv4 network", with("destination.ip", CIDR, "203.0.113.0/24"), 1},
				{"a zoned address is in no network", with("destination.ip", CIDR, "fe80::/10"), 0},
				{"eq an address compares text", with("destination.ip", Eq, "203.0.113.5"), 0},
				{"eq an address as written", with("destination.ip", Eq, "::FFFF:203.0.113.5"), 1},
				{"eq a number compares text", with("destination.port", Eq, "443"), 1},
				{"a number written with a zero", with("destination.port", Gte, "443"), 2},
				{"NaN is in no range", with("destination.bytes", Gte, "1"), 1},
				{"range below", with("destination.bytes", Lt, "7000000000"), 0},
				{"event id prefix ignores case", with("event.id", Prefix, "hot-00"), 3},
				{"event id eq ignores case", with("event.id", Eq, "HOT-002"), 1},
			}
			for _, c := range cases {
				if n, err := a.Count(ctx, c.q); err != nil || n != c.want {
					t.Errorf("%s: Count = %d, %v; want %d", c.name, n, err, c.want)
				}
			}
			// The original line comes back as it came in.
			p, err := a.Search(ctx, with("event.id", Eq, "hot-003"))
			var doc map[string]any
			if err != nil || len(p.Events) != 1 || json.Unmarshal(p.Events[0], &doc) != nil {
				t.Fatalf("search hot-003: %v %d", err, len(p.Events))
			}
			if want := string(hotEvents("m1")[2].Original); doc[event.FieldOriginal] != want || doc["host.name"] != "WS-D" {
				t.Errorf("hot-003 came back as %s, want original %q", p.Events[0], want)
			}
			top, err := a.Top(ctx, with("host.name", Prefix, "ws"), "host.name", 10)
			if err != nil || len(top) != 4 {
				t.Errorf("Top host.name = %+v, %v; want 4 values each once", top, err)
			}
		})
	}
}
