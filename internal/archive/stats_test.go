package archive

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

func TestNumberAgreesWithParseFloat(t *testing.T) {
	for _, v := range []string{"0", "7", "-12", "007", "123456789012345", "1234567890123456789", "-", "+5", ".5", "1e3",
		"1_000", "Inf", "-inf", "NaN", "nan", "0x1p3", "10.0.0.1", "info", "none", "WS-1", "1e400", "", "٣"} {
		if v == "" {
			continue
		}
		got, ok := number(v)
		want, err := strconv.ParseFloat(v, 64)
		wantOK := err == nil && want == want // NaN matches no range
		if ok != wantOK || ok && got != want {
			t.Errorf("number(%q) = %v, %v; ParseFloat gives %v, %v", v, got, ok, want, err)
		}
	}
}

// TestStatsNeverExcludeAMatch is the statistics' one promise: for random
// columns and filters, whenever some value matches a filter, the
// encoded and decoded statistics admit it; and they do exclude most
// blocks that cannot match.
func TestStatsNeverExcludeAMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := []string{"10.0.0.1", "10.0.3.200", "192.168.1.1", "::1", "2001:db8::7", "::ffff:10.1.2.3", "fe80::1%eth0",
		"-5", "0", "17", "4096", "1e9", "2.5", "Inf", "NaN", "C:\\Windows\\System32\\cmd.exe", "powershell -enc AAAA",
		"WS-0042.corp.example", "ws-0042", "Mimikatz", "sekurlsa::logonpasswords", "É", "ab", "x",
		"5f4dcc3b5aa765d61d8327deb882cf99", "DEADBEEF", "0x1p4", "+12", "1.5e3", "1:2", "1.2.3",
		"SHA256=5f4dcc3b5aa765d61d8327deb882cf99", "abc", "xabc", "abcx"}
	filters := []Filter{
		{Op: Gte, Value: "100"}, {Op: Gt, Value: "17"}, {Op: Lte, Value: "-5"}, {Op: Lt, Value: "0"}, {Op: Gte, Value: "1e10"},
		{Op: CIDR, Value: "10.0.0.0/8"}, {Op: CIDR, Value: "10.0.3.0/24"}, {Op: CIDR, Value: "203.0.113.0/24"},
		{Op: CIDR, Value: "2001:db8::/32"}, {Op: CIDR, Value: "::1"}, {Op: CIDR, Value: "fe80::/10"},
		{Op: Contains, Value: "katz"}, {Op: Contains, Value: "SYSTEM32"}, {Op: Contains, Value: "corp.ex"},
		{Op: Contains, Value: "logonpass"}, {Op: Contains, Value: "é"}, {Op: Prefix, Value: "ws-00"}, {Op: Prefix, Value: "power"},
		{Op: Contains, Value: "zzz"}, {Op: Prefix, Value: "mimi"}, {Op: Contains, Value: "cc3b5"}, {Op: Contains, Value: "beef"},
		{Op: Prefix, Value: "5f4d"}, {Op: Gte, Value: "16"}, {Op: Lt, Value: "1000"}, {Op: Contains, Value: "409"},
		{Op: Contains, Value: "256=5f4"}, {Op: Prefix, Value: "sha256=5"}, {Op: Contains, Value: "xab"}, {Op: Contains, Value: "bcx"},
		{Op: Contains, Value: "abc"},
	}
	for i := range filters {
		filters[i].Field = "x"
		if err := filters[i].check(func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	excluded := 0
	for round := range 2000 {
		var s colStats
		var vals []string
		for range 1 + r.IntN(4) {
			v := pool[r.IntN(len(pool))]
			vals = append(vals, v)
			s.add(v)
		}
		excluded += checkStats(t, &s, vals, filters, round)
	}
	if excluded < 2000*len(filters)/3 {
		t.Errorf("excluded %d of %d non-matching checks: the statistics prune too little", excluded, 2000*len(filters))
	}
	// Through the block writer: columns often holding another's value
	// (stored as references, their statistics merged from the other's),
	// with repeats, and values seen earlier in the block.
	for round := range 300 {
		var evs []*event.Event
		vals := map[string][]string{}
		for i := range 1 + r.IntN(40) {
			ev := &event.Event{ID: strconv.Itoa(i), Time: base}
			a := pool[r.IntN(len(pool))]
			b, c := a, a
			if r.IntN(4) == 0 {
				b = pool[r.IntN(len(pool))]
			}
			if r.IntN(3) == 0 {
				c = pool[r.IntN(len(pool))]
			} else if r.IntN(2) == 0 {
				c = b
			}
			for _, f := range []event.Field{{Key: "a", Value: a}, {Key: "b", Value: b}, {Key: "c", Value: c}} {
				ev.Set(f.Key, f.Value)
				vals[f.Key] = append(vals[f.Key], f.Value)
			}
			evs = append(evs, ev)
		}
		w := newBlockWriter()
		w.addAll(evs)
		for _, c := range w.order {
			if c.withStats {
				var s colStats
				if err := decodeStats(w.encodeStats(c, nil), &s); err != nil {
					t.Fatal(err)
				}
				checkStats(t, &s, vals[c.name], filters, round)
			}
		}
	}
}

// checkStats fails t if statistics s exclude a filter some value of vals
// matches, and returns how many filters they exclude.
func checkStats(t *testing.T, s *colStats, vals []string, filters []Filter, round int) int {
	t.Helper()
	var d colStats
	if err := decodeStats(s.encode(nil), &d); err != nil {
		t.Fatal(err)
	}
	excluded := 0
	for _, f := range filters {
		match := false
		for _, v := range vals {
			match = match || f.matches(v)
		}
		if may := d.mayMatch(&f); match && !may {
			t.Fatalf("round %d: %v %s %q matches %q, but the statistics exclude it", round, f.Op, f.Field, f.Value, vals)
		} else if !may {
			excluded++
		}
	}
	return excluded
}

// TestGramSetAdd checks the trigram set against its definition: every
// trigram of the value not made of hexadecimal digits only, folded to
// lower case, sets its bucket.
func TestGramSetAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "0123456789abcdefABCDEFxyzXYZ=-_ .\\\xe9"
	for range 5000 {
		b := make([]byte, 3+r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		v := string(b)
		var got, want gramSet
		wantSkipped := false
		for i := 0; i+3 <= len(v); i++ {
			g := []byte(v[i : i+3])
			for j, c := range g {
				if c >= 'A' && c <= 'Z' {
					g[j] = c + 'a' - 'A'
				}
			}
			if strings.Trim(string(g), "0123456789abcdef") == "" {
				wantSkipped = true
				continue
			}
			b := gramBucket(uint32(g[0])<<16 | uint32(g[1])<<8 | uint32(g[2]))
			want[b/64] |= 1 << (b % 64)
		}
		if skipped := got.add(v); got != want || skipped != wantSkipped {
			t.Fatalf("%q: set differs (%d buckets, want %d) or skipped %v, want %v", v, got.count(), want.count(), skipped, wantSkipped)
		}
	}
}

// TestGramSetSaturates checks that a column whose trigram set would be
// dropped as too full stops filling it, and that its text may then hold
// anything.
func TestGramSetSaturates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var s colStats
	for range 20 * gramCheckEvery {
		b := make([]byte, 24)
		for i := range b {
			b[i] = byte('g' + r.IntN(20))
		}
		s.add(string(b))
	}
	if !s.gramsUnknown || s.gramAdds >= 20*gramCheckEvery {
		t.Fatalf("after %d values of random text: unknown %v, %d added", 20*gramCheckEvery, s.gramsUnknown, s.gramAdds)
	}
	f := Filter{Field: "x", Op: Contains, Value: "abcdef-not-there"}
	if err := f.check(func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	var d colStats
	if err := decodeStats(s.encode(nil), &d); err != nil || !d.mayMatch(&f) {
		t.Fatalf("a saturated set excludes a value (%v)", err)
	}
}

func TestStatsRoundTrip(t *testing.T) {
	long := make([]byte, 0, 1<<16)
	r := rand.New(rand.NewPCG(5, 6))
	for range cap(long) {
		long = append(long, byte(32+r.IntN(95)))
	}
	for _, vals := range [][]string{
		nil, {"a"}, {"12", "-3", "7.5"}, {"10.0.0.1", "10.9.0.1", "::1"}, {"some text here"}, {string(long)},
	} {
		var s colStats
		for _, v := range vals {
			s.add(v)
		}
		enc := s.encode(nil)
		var d colStats
		if err := decodeStats(enc, &d); err != nil {
			t.Fatalf("%d values: %v", len(vals), err)
		}
		if again := d.encode(nil); string(again) != string(enc) {
			t.Errorf("%d values: re-encoded %d bytes, first %d", len(vals), len(again), len(enc))
		}
	}
}

// FuzzDecodeStats feeds damaged statistics to the decoder: it must fail
// cleanly or decode something that encodes and decodes to itself.
func FuzzDecodeStats(f *testing.F) {
	for _, vals := range [][]string{{"1", "2"}, {"10.0.0.1", "2001:db8::1"}, {"hello world"}, nil} {
		var s colStats
		for _, v := range vals {
			s.add(v)
		}
		f.Add(s.encode(nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s colStats
		if decodeStats(data, &s) != nil {
			return
		}
		for _, op := range []Op{Gte, Lt, CIDR, Contains} {
			fl := Filter{Field: "x", Op: op, Value: "10.0.0.0/8"}
			if op == Gte || op == Lt {
				fl.Value = "5"
			}
			fl.check(func(string) bool { return true })
			s.mayMatch(&fl)
		}
		var d colStats
		if err := decodeStats(s.encode(nil), &d); err != nil {
			t.Fatalf("re-encoded statistics do not decode: %v", err)
		}
	})
}

// TestStatsPruneBlocks writes blocks of disjoint values and checks that
// range, CIDR, contains and prefix filters read only the blocks that may
// match, and that a block written before statistics existed is still
// read.
func TestStatsPruneBlocks(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t)
	for w := range 4 {
		evs := disjointEvents(w, 50)
		if w == 3 {
			for _, ev := range evs {
				ev.Set("only.in.last", "x")
			}
		}
		if err := e.Write(ctx, []Batch{{Stream: 1, Seq: uint64(w + 1), Member: "m1", Events: evs}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		op            Op
		field, value  string
		blocks, count int
	}{
		{Gte, "destination.bytes", "2000000", 2, 100},
		{Lt, "destination.bytes", "10", 1, 10},
		{Gt, "destination.bytes", "9999999", 0, 0},
		{CIDR, "destination.ip", "198.51.101.0/24", 1, 50},
		{CIDR, "destination.ip", "203.0.113.0/24", 0, 0},
		{Contains, "process.command_line", "TOOL2", 1, 50},
		{Contains, "process.command_line", "--item", 4, 200},
		{Prefix, "process.command_line", `c:\tools\tool3`, 1, 50},
		{Eq, "only.in.last", "x", 1, 50},
		{Lt, "only.in.last", "5", 0, 0},
	} {
		if blocks, n := blocksAndCount(t, e, Filter{Field: tc.field, Op: tc.op, Value: tc.value}); blocks != tc.blocks || n != int64(tc.count) {
			t.Errorf("%s %s %s: %d blocks, %d events; want %d blocks, %d events", tc.field, tc.op, tc.value, blocks, n, tc.blocks, tc.count)
		}
	}
	// A block of an older version: its statistics gone, it is read again.
	db, err := e.acquire(ctx, e.memberParts("m1", 0, 1<<62)[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM stats WHERE block = (SELECT MIN(block) FROM stats)`); err != nil {
		t.Fatal(err)
	}
	e.release(e.memberParts("m1", 0, 1<<62)[0])
	q := Query{Member: "m1", From: base, To: base.Add(time.Hour), Filters: []Filter{{Field: "destination.bytes", Op: Gte, Value: "2000000"}}}
	if err := q.Check(base, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if refs, err := e.candidates(ctx, &q); err != nil || len(refs) != 3 {
		t.Errorf("with one block lacking statistics: %d blocks (%v), want 3", len(refs), err)
	}
}

// TestClassifySkipsOnlyWhatFails checks that a value classify rules out
// as a number or an address is one strconv.ParseFloat or
// netip.ParseAddr (without a zone) rejects.
func TestClassifySkipsOnlyWhatFails(t *testing.T) {
	for _, v := range []string{"0", "-1.5e-3", "1_000", "0x1p-2", "-0X1.8P3", "inf", "+Infinity", "NaN", "1.2.3.4", "::1",
		"2001:db8::1", "::ffff:10.0.0.1", "fe80::1%eth0", "10.0.0.256", "deadbeef", "DEAD:beef::", "abc", "1e", "e5",
		".", "..", "1.2.3", "C:\\x", "1:2:3:4:5:6:7:8", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"} {
		class := classify(v)
		if _, err := strconv.ParseFloat(v, 64); err == nil && class&maybeNumber == 0 {
			t.Errorf("classify(%q) rules out a number ParseFloat accepts", v)
		}
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" && class&maybeAddr == 0 {
			t.Errorf("classify(%q) rules out an address ParseAddr accepts", v)
		}
	}
}

// TestClassifyAllocatesNothing: classify runs on every new value of a
// block's field columns; words with a capital (SYSTEM, True) must not
// allocate a lower-cased copy to rule out infinity and NaN.
func TestClassifyAllocatesNothing(t *testing.T) {
	for _, v := range []string{"SYSTEM", "True", "Logon", "NaN", "+Infinity", "C:\\x"} {
		if n := testing.AllocsPerRun(100, func() { classify(v) }); n != 0 {
			t.Errorf("classify(%q) allocates %v times", v, n)
		}
	}
}

// FuzzClassify looks for a value classify wrongly rules out.
func FuzzClassify(f *testing.F) {
	for _, v := range []string{"1.5", "::1", "10.0.0.1", "0x1p3", "inf", "abc"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		class := classify(v)
		if _, err := strconv.ParseFloat(v, 64); err == nil && class&maybeNumber == 0 {
			t.Errorf("classify(%q) rules out a number ParseFloat accepts", v)
		}
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" && class&maybeAddr == 0 {
			t.Errorf("classify(%q) rules out an address ParseAddr accepts", v)
		}
	})
}

// TestAddGramsSkipsOnlyWhatItHas checks that colStats.add, which hashes
// only the part of a value that differs from a like value it took
// before (addGrams), builds the same trigram set and hexadecimal flag as
// adding every value in full: values that share prefixes and suffixes
// of every length, in any order, with hexadecimal runs at their edges.
func TestAddGramsSkipsOnlyWhatItHas(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	stems := []string{`C:\Windows\System32\cmd.exe /c `, `C:\Program Files\Google\Chrome\Application\chrome.exe --type=`,
		"SHA256=", "abc", "", "0123456789abcdef0123456789", `C:\Users\`}
	const alphabet = "0123456789abcdefABCDEFxyzXYZ=-_ .\\\xe9"
	word := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for round := range 300 {
		var s colStats
		var want gramSet
		wantHex := false
		tails := []string{word(6), word(6), ""}
		for range 1 + r.IntN(60) {
			v := stems[r.IntN(len(stems))] + word(8) + tails[r.IntN(len(tails))]
			if r.IntN(4) == 0 {
				v += v[:r.IntN(len(v)+1)]
			}
			s.add(v)
			if len(v) >= 3 && want.add(v) {
				wantHex = true
			}
		}
		got := gramSet{}
		if s.grams != nil {
			got = *s.grams
		}
		if s.gramsUnknown {
			t.Fatalf("round %d: set dropped", round)
		}
		if got != want || (s.flags&statsHexText != 0) != wantHex {
			t.Fatalf("round %d: %d buckets, want %d; hex flag %v, want %v", round, got.count(), want.count(), s.flags&statsHexText != 0, wantHex)
		}
	}
}

func TestCommonPrefixSuffix(t *testing.T) {
	for _, c := range []struct {
		a, b         string
		prefix, suff int
	}{
		{"", "", 0, 0},
		{"abc", "abd", 2, 0},
		{"0123456789abcdefXY", "0123456789abcdefXZ", 17, 0},
		{"0123456789abcdef", "0123456789abcdef", 16, 16},
		{"x0123456789abcdef", "y0123456789abcdef", 0, 16},
		{"short", "a much longer short", 0, 5},
		{"a much longer value", "a much", 6, 0},
	} {
		if p := commonPrefix(c.a, c.b); p != c.prefix {
			t.Errorf("commonPrefix(%q, %q) = %d, want %d", c.a, c.b, p, c.prefix)
		}
		if s := commonSuffix(c.a, c.b); s != c.suff {
			t.Errorf("commonSuffix(%q, %q) = %d, want %d", c.a, c.b, s, c.suff)
		}
	}
}
