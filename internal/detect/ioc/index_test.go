package ioc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// now is the test clock's time.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// layouts runs a test against both layers of the index: entries still in
// the delta layer, and entries compacted into the base layer.
var layouts = []struct {
	name    string
	compact bool
}{{"delta", false}, {"base", true}}

// newIndex returns an index on the test clock holding inds, compacted or
// not.
func newIndex(t testing.TB, compact bool, opts Options, inds ...Indicator) *Index {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = func() time.Time { return testNow }
	}
	x := New(opts)
	if err := x.Add(inds...); err != nil {
		t.Fatal(err)
	}
	if compact {
		if err := x.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// ind returns a valid indicator: owned by member "m1", TLP:GREEN,
// confidence 80, no expiry or decay.
func ind(id string, k Kind, v string) Indicator {
	return Indicator{ID: id, Kind: k, Value: v, Source: "feed", Owner: "m1", Confidence: 80, TLP: tlp.Green}
}

// newEvent returns an event of member m2 at testNow with the given fields.
func newEvent(kv ...string) *event.Event {
	ev := &event.Event{ID: "ev1", Member: "m2", Time: testNow}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i], kv[i+1])
	}
	return ev
}

// ruleIDs returns the sorted rule ids of alerts.
func ruleIDs(as []alert.Alert) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.RuleID)
	}
	slices.Sort(ids)
	return ids
}

func TestDomainMatching(t *testing.T) {
	inds := []Indicator{
		ind("parent", KindDomain, "evil.example"),
		ind("sub", KindDomain, "Deep.Evil.Example."),
		ind("puny", KindDomain, "xn--bcher-kva.example"),
		func() Indicator { i := ind("exact", KindDomain, "exact.example"); i.ExactOnly = true; return i }(),
		ind("short", KindDomain, "example.com"),
	}
	tests := []struct {
		name string
		want []string
	}{
		{"evil.example", []string{"parent"}},
		{"a.b.evil.example", []string{"parent"}},
		{"EVIL.Example.", []string{"parent"}},
		{"x.deep.evil.example", []string{"parent", "sub"}},
		{"badevil.example", nil},
		{"evil.example.net", nil},
		{"example", nil},
		{"exact.example", []string{"exact"}},
		{"www.exact.example", nil},
		{"xn--bcher-kva.example", []string{"puny"}},
		{"mail.xn--bcher-kva.example", []string{"puny"}},
		{"badexample.com", nil},
		{"www.example.com", []string{"short"}},
		{"", nil},
		{"..", nil},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, inds...)
		for _, tt := range tests {
			got := ruleIDs(x.Detect(newEvent("dns.question.name", tt.name), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %q matched %v, want %v", l.name, tt.name, got, tt.want)
			}
		}
	}
}

func TestIPMatching(t *testing.T) {
	inds := []Indicator{
		ind("v4", KindIP, "192.0.2.1"),
		ind("v6", KindIP, "2001:db8::1"),
		ind("net24", KindIP, "198.51.100.0/24"),
		ind("net16", KindIP, "198.51.0.0/16"),
		ind("net6", KindIP, "2001:db8:aa::/48"),
		ind("mapped", KindIP, "::ffff:203.0.113.9"),
		ind("mappednet", KindIP, "::ffff:203.0.113.128/121"),
	}
	tests := []struct {
		field, value string
		want         []string
	}{
		{"source.ip", "192.0.2.1", []string{"v4"}},
		{"destination.ip", "::ffff:192.0.2.1", []string{"v4"}},
		{"host.ip", "192.0.2.2", nil},
		{"source.ip", "2001:DB8::1", []string{"v6"}},
		{"source.ip", "2001:db8::2", nil},
		{"source.ip", "198.51.100.7", []string{"net16", "net24"}},
		{"source.ip", "198.51.7.7", []string{"net16"}},
		{"source.ip", "198.52.0.1", nil},
		{"dns.answers.data", "2001:db8:aa:1::5", []string{"net6"}},
		{"dns.answers.data", "2001:db8:ab::5", nil},
		{"dns.answers.data", "cname.example", nil},
		{"source.ip", "203.0.113.9", []string{"mapped"}},
		{"source.ip", "203.0.113.200", []string{"mappednet"}},
		{"source.ip", "203.0.113.100", nil},
		{"source.ip", "fe80::1%eth0", nil},
		{"source.ip", "not an ip", nil},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, inds...)
		for _, tt := range tests {
			got := ruleIDs(x.Detect(newEvent(tt.field, tt.value), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %s=%q matched %v, want %v", l.name, tt.field, tt.value, got, tt.want)
			}
		}
	}
}

func TestURLEmailHashMatching(t *testing.T) {
	const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	inds := []Indicator{
		ind("url", KindURL, "http://evil.example/payload?id=1"),
		ind("root", KindURL, "https://evil.example"),
		ind("mail", KindEmail, "CEO@Evil.Example"),
		ind("md5", KindMD5, "d41d8cd98f00b204e9800998ecf8427e"),
		ind("sha1", KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
		ind("sha256", KindSHA256, sha256),
	}
	tests := []struct {
		field, value string
		want         []string
	}{
		{"url.full", "HTTP://EVIL.example:80/payload?id=1#x", []string{"url"}},
		{"url.full", "http://evil.example/%70ayload?id=1", []string{"url"}},
		{"url.full", "http://evil.example/Payload?id=1", nil},
		{"url.full", "http://evil.example/payload?id=2", nil},
		{"url.full", "https://evil.example:443", []string{"root"}},
		{"url.full", "https://evil.example/other", nil},
		{"url.full", "evil.example/payload?id=1", nil},
		{"email.from.address", "ceo@evil.example", []string{"mail"}},
		{"email.to.address", "CEO@EVIL.EXAMPLE", []string{"mail"}},
		{"email.from.address", "cfo@evil.example", nil},
		{"file.hash.md5", "D41D8CD98F00B204E9800998ECF8427E", []string{"md5"}},
		{"process.hash.md5", "d41d8cd98f00b204e9800998ecf8427e", []string{"md5"}},
		{"file.hash.sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", []string{"sha1"}},
		{"process.hash.sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80708", nil},
		{"file.hash.sha256", sha256, []string{"sha256"}},
		{"process.hash.sha256", strings.ToUpper(sha256), []string{"sha256"}},
		{"file.hash.sha256", sha256[:62], nil},
		// A hash of the wrong length never reaches another kind's table.
		{"file.hash.md5", "da39a3ee5e6b4b0d3255bfef95601890afd80709", nil},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, inds...)
		for _, tt := range tests {
			got := ruleIDs(x.Detect(newEvent(tt.field, tt.value), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %s=%q matched %v, want %v", l.name, tt.field, tt.value, got, tt.want)
			}
		}
	}
}

func TestAlertContent(t *testing.T) {
	i := ind("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", KindDomain, "evil.example")
	i.TLP = tlp.Amber
	i.Owner = "m2"
	i.Confidence = 95
	x := newIndex(t, false, Options{}, i)
	ev := newEvent("dns.question.name", "WWW.evil.example", "tls.server.sni", "www.evil.example")
	out := x.Detect(ev, []alert.Alert{{RuleID: "earlier"}})
	if len(out) != 2 {
		t.Fatalf("got %d alerts, want the earlier one and one IOC alert (the same value in two fields folds): %+v", len(out), out)
	}
	a := out[1]
	want := alert.Alert{
		Member: "m2", EventTime: testNow, Detector: "ioc", RuleID: i.ID,
		RuleTitle: "IOC match: domain evil.example (source feed)", Severity: alert.Critical,
		Observables: []alert.Observable{{Type: "domain-name", Value: "www.evil.example", Role: "query"}},
		TLP:         tlp.Amber, Key: "www.evil.example", EventIDs: []string{"ev1"},
		Evidence: []string{string(ev.AppendJSON(nil))},
	}
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", want) {
		t.Errorf("alert\n got %+v\nwant %+v", a, want)
	}
}

func TestExpiryAndDecay(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		from      time.Time
		until     time.Time
		conf      int
		halfLife  time.Duration
		eventTime time.Time
		want      int // decayed confidence; -1: no match
	}{
		{"no bounds", time.Time{}, time.Time{}, 80, 0, testNow, 80},
		{"expired before the event", testNow.Add(-2 * day), testNow.Add(-time.Hour), 80, 0, testNow, -1},
		{"event before expiry", testNow.Add(-2 * day), testNow.Add(-time.Hour), 80, 0, testNow.Add(-2 * time.Hour), 80},
		{"expires at the event", time.Time{}, testNow, 80, 0, testNow, -1},
		{"not valid yet by the clock", testNow.Add(time.Hour), time.Time{}, 80, 0, testNow.Add(2 * time.Hour), -1},
		{"event slightly before valid_from", testNow.Add(-time.Hour), time.Time{}, 80, 0, testNow.Add(-2 * time.Hour), 80},
		{"one half-life", testNow.Add(-10 * day), time.Time{}, 80, 10 * day, testNow, 40},
		{"two half-lives", testNow.Add(-20 * day), time.Time{}, 80, 10 * day, testNow, 20},
		{"below the floor", testNow.Add(-30 * day), time.Time{}, 80, 10 * day, testNow, -1},
		{"decay measured at event time", testNow.Add(-30 * day), time.Time{}, 80, 10 * day, testNow.Add(-20 * day), 40},
		{"no valid_from: no decay", time.Time{}, time.Time{}, 80, day, testNow, 80},
	}
	for _, l := range layouts {
		for _, tt := range tests {
			i := ind("i", KindIP, "192.0.2.1")
			i.ValidFrom, i.ValidUntil, i.Confidence, i.HalfLife = tt.from, tt.until, tt.conf, tt.halfLife
			x := newIndex(t, l.compact, Options{}, i)
			ev := newEvent("source.ip", "192.0.2.1")
			ev.Time = tt.eventTime
			got := x.Detect(ev, nil)
			switch {
			case tt.want < 0 && len(got) != 0:
				t.Errorf("%s/%s: matched, want no match", l.name, tt.name)
			case tt.want >= 0 && len(got) != 1:
				t.Errorf("%s/%s: %d alerts, want 1", l.name, tt.name, len(got))
			case tt.want >= 0 && got[0].Severity != SeverityOf(tt.want):
				t.Errorf("%s/%s: severity %v, want %v", l.name, tt.name, got[0].Severity, SeverityOf(tt.want))
			}
			// Lookup evaluates at the clock's time.
			if tt.eventTime.Equal(testNow) {
				hits, err := x.Lookup(KindIP, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				if tt.want < 0 && len(hits) != 0 || tt.want >= 0 && (len(hits) != 1 || hits[0].Current != tt.want) {
					t.Errorf("%s/%s: Lookup = %+v, want confidence %d", l.name, tt.name, hits, tt.want)
				}
			}
		}
	}
}

func TestTLPFiltering(t *testing.T) {
	// m1 owns every indicator. m2 is a client of m1, m3 is named on the
	// "named" ones, m4 is just another member.
	relations := map[string][]string{"m2": {"m1"}}
	opts := Options{Relations: func(m string) []string { return relations[m] }}
	var inds []Indicator
	for l := tlp.Clear; l <= tlp.Red; l++ {
		for _, named := range []bool{false, true} {
			i := ind(fmt.Sprintf("%v named=%v", l, named), KindIP, "192.0.2.1")
			i.TLP = l
			if named {
				i.Named = []string{"m3"}
			}
			inds = append(inds, i)
		}
	}
	want := map[string][]string{
		"m1": {"TLP:AMBER named=false", "TLP:AMBER named=true", "TLP:AMBER+STRICT named=false", "TLP:AMBER+STRICT named=true",
			"TLP:CLEAR named=false", "TLP:CLEAR named=true", "TLP:GREEN named=false", "TLP:GREEN named=true",
			"TLP:RED named=false", "TLP:RED named=true"},
		"m2": {"TLP:AMBER named=false", "TLP:AMBER named=true", "TLP:CLEAR named=false", "TLP:CLEAR named=true",
			"TLP:GREEN named=false", "TLP:GREEN named=true"},
		"m3": {"TLP:AMBER named=true", "TLP:AMBER+STRICT named=true", "TLP:CLEAR named=false", "TLP:CLEAR named=true",
			"TLP:GREEN named=false", "TLP:GREEN named=true", "TLP:RED named=true"},
		"m4": {"TLP:CLEAR named=false", "TLP:CLEAR named=true", "TLP:GREEN named=false", "TLP:GREEN named=true"},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, opts, inds...)
		for member, w := range want {
			ev := newEvent("source.ip", "192.0.2.1")
			ev.Member = member
			if got := ruleIDs(x.Detect(ev, nil)); !slices.Equal(got, w) {
				t.Errorf("%s: member %s matched %v, want %v", l.name, member, got, w)
			}
			hits, err := x.LookupFor(member, KindIP, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range hits {
				ids = append(ids, h.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, w) {
				t.Errorf("%s: LookupFor(%s) = %v, want %v", l.name, member, ids, w)
			}
		}
		if hits, _ := x.Lookup(KindIP, "192.0.2.1"); len(hits) != len(inds) {
			t.Errorf("%s: unfiltered Lookup found %d entries, want %d", l.name, len(hits), len(inds))
		}
	}
}

const typedID = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"

func TestUpdates(t *testing.T) {
	type step struct {
		add    []Indicator
		remove [][3]string // kind, value, id
	}
	base := []Indicator{
		ind("a", KindIP, "192.0.2.1"),
		ind("b", KindIP, "192.0.2.1"),
		ind("c", KindDomain, "evil.example"),
		ind("d", KindIP, "198.51.100.0/24"),
		ind("e", KindSHA256, strings.Repeat("ab", 32)),
		ind(typedID, KindEmail, "ceo@evil.example"),
	}
	replaced := ind("a", KindIP, "192.0.2.1")
	replaced.Confidence = 30
	tests := []struct {
		name  string
		steps []step
		// want maps "kind value" to the ids it finds.
		want map[string][]string
		live int
	}{
		{"initial", nil, map[string][]string{
			"ip 192.0.2.1": {"a", "b"}, "domain x.evil.example": {"c"}, "ip 198.51.100.9": {"d"},
			"sha256 " + strings.Repeat("ab", 32): {"e"}, "email CEO@evil.example": {typedID},
		}, 6},
		{"remove a STIX id", []step{{remove: [][3]string{{"email", "ceo@evil.example", typedID}}}},
			map[string][]string{"email ceo@evil.example": nil}, 5},
		{"remove a STIX id that differs in its uuid", []step{{remove: [][3]string{{"email", "ceo@evil.example", typedID[:len(typedID)-1] + "0"}}}},
			map[string][]string{"email ceo@evil.example": {typedID}}, 6},
		{"remove one id", []step{{remove: [][3]string{{"ip", "192.0.2.1", "b"}}}},
			map[string][]string{"ip 192.0.2.1": {"a"}}, 5},
		{"remove a whole value", []step{{remove: [][3]string{{"ip", "192.0.2.1", ""}, {"domain", "EVIL.example", ""}}}},
			map[string][]string{"ip 192.0.2.1": nil, "domain x.evil.example": nil}, 3},
		{"remove a range", []step{{remove: [][3]string{{"ip", "198.51.100.0/24", "d"}}}},
			map[string][]string{"ip 198.51.100.9": nil}, 5},
		{"remove what is not there", []step{{remove: [][3]string{{"ip", "192.0.2.99", "z"}, {"ip", "192.0.2.1", "z"}}}},
			map[string][]string{"ip 192.0.2.1": {"a", "b"}}, 6},
		{"replace by id", []step{{add: []Indicator{replaced}}},
			map[string][]string{"ip 192.0.2.1": {"a", "b"}}, 6},
		{"remove then add back", []step{
			{remove: [][3]string{{"sha256", strings.Repeat("AB", 32), "e"}}},
			{add: []Indicator{ind("e2", KindSHA256, strings.Repeat("ab", 32))}},
		}, map[string][]string{"sha256 " + strings.Repeat("ab", 32): {"e2"}}, 6},
		{"add in later commits", []step{
			{add: []Indicator{ind("f", KindIP, "2001:db8::/32"), ind("g", KindEmail, "x@evil.example")}},
			{add: []Indicator{ind("h", KindURL, "http://evil.example/")}},
		}, map[string][]string{"ip 2001:db8::5": {"f"}, "email X@evil.example": {"g"}, "url http://evil.example": {"h"}}, 9},
	}
	// Run every case with compaction after each commit (CompactMin 1) and
	// without, so that both layers and the move between them are tested.
	for _, compactMin := range []int{1, 1 << 20} {
		for _, tt := range tests {
			x := newIndex(t, false, Options{CompactMin: compactMin}, base...)
			for _, s := range tt.steps {
				b := x.NewBatch()
				for _, r := range s.remove {
					k, _ := ParseKind(r[0])
					if err := b.Remove(k, r[1], r[2]); err != nil {
						t.Fatal(err)
					}
				}
				for _, a := range s.add {
					if err := b.Add(a); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			for q, w := range tt.want {
				kind, value, _ := strings.Cut(q, " ")
				k, _ := ParseKind(kind)
				hits, err := x.Lookup(k, value)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, h := range hits {
					ids = append(ids, h.ID)
				}
				slices.Sort(ids)
				if !slices.Equal(ids, w) {
					t.Errorf("compactMin=%d %s: %s finds %v, want %v", compactMin, tt.name, q, ids, w)
				}
			}
			if x.Len() != tt.live {
				t.Errorf("compactMin=%d %s: Len = %d, want %d", compactMin, tt.name, x.Len(), tt.live)
			}
			if tt.name == "replace by id" {
				hits, _ := x.Lookup(KindIP, "192.0.2.1")
				for _, h := range hits {
					if h.ID == "a" && h.Confidence != 30 {
						t.Errorf("compactMin=%d: replaced entry has confidence %d, want 30", compactMin, h.Confidence)
					}
				}
			}
		}
	}
}

func TestHitRoundTrip(t *testing.T) {
	from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	in := []Indicator{
		{ID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Kind: KindDomain, Value: "evil.example", Source: "misp",
			Owner: "m1", Confidence: 70, TLP: tlp.Amber, Named: []string{"m5"}, ValidFrom: from,
			ValidUntil: from.AddDate(1, 0, 0), HalfLife: 90 * 24 * time.Hour, ExactOnly: true},
		{ID: "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", Kind: KindDomain, Value: "evil.example", Owner: "m1"},
		{ID: "local-id-42", Kind: KindDomain, Value: "evil.example", Owner: "m2", Confidence: 10},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, in...)
		hits, err := x.Lookup(KindDomain, "Evil.Example")
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != len(in) {
			t.Fatalf("%s: %d hits, want %d", l.name, len(hits), len(in))
		}
		for _, want := range in {
			i := slices.IndexFunc(hits, func(h Hit) bool { return h.ID == want.ID })
			if i < 0 {
				t.Errorf("%s: id %s not found in %+v", l.name, want.ID, hits)
				continue
			}
			if got := hits[i].Indicator; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: hit\n got %+v\nwant %+v", l.name, got, want)
			}
			if hits[i].Matched != "evil.example" {
				t.Errorf("%s: Matched = %q", l.name, hits[i].Matched)
			}
		}
	}
}

func TestAddValidation(t *testing.T) {
	good := ind("i", KindIP, "192.0.2.1")
	tests := []struct {
		name string
		edit func(*Indicator)
	}{
		{"no id", func(i *Indicator) { i.ID = "" }},
		{"no owner", func(i *Indicator) { i.Owner = "" }},
		{"confidence above 100", func(i *Indicator) { i.Confidence = 101 }},
		{"negative confidence", func(i *Indicator) { i.Confidence = -1 }},
		{"bad TLP", func(i *Indicator) { i.TLP = 9 }},
		{"negative half-life", func(i *Indicator) { i.HalfLife = -time.Hour }},
		{"until before from", func(i *Indicator) { i.ValidFrom, i.ValidUntil = testNow, testNow.Add(-time.Hour) }},
		{"bad value", func(i *Indicator) { i.Value = "192.0.2" }},
		{"no kind", func(i *Indicator) { i.Kind = 0 }},
		{"url without scheme", func(i *Indicator) { i.Kind, i.Value = KindURL, "evil.example/x" }},
	}
	x := New(Options{})
	for _, tt := range tests {
		i := good
		tt.edit(&i)
		b := x.NewBatch()
		if err := b.Add(i); err == nil {
			t.Errorf("%s: Add accepted %+v", tt.name, i)
		}
		if b.Len() != 0 {
			t.Errorf("%s: a rejected indicator was queued", tt.name)
		}
	}
	if err := x.NewBatch().Add(good); err != nil {
		t.Errorf("valid indicator rejected: %v", err)
	}
	if err := x.NewBatch().Remove(KindIP, "nonsense", ""); err == nil {
		t.Error("Remove accepted an invalid value")
	}
}

// TestNoMatchAllocations checks the detector's promise: an event that
// matches nothing costs no allocation, with every kind of entry indexed in
// both layers and an event that fills every inspected field.
func TestNoMatchAllocations(t *testing.T) {
	x := noMatchIndex(t)
	ev := noMatchEvent()
	var out []alert.Alert
	allocs := testing.AllocsPerRun(200, func() { out = x.Detect(ev, out[:0]) })
	if allocs != 0 || len(out) != 0 {
		t.Errorf("no-match Detect: %v allocations, %d alerts; want 0 and 0", allocs, len(out))
	}
}

// noMatchIndex holds entries of every kind, some compacted into the base
// layer and some in the delta, including an AMBER entry the event's member
// may not use on a value the event carries.
func noMatchIndex(t testing.TB) *Index {
	x := newIndex(t, true, Options{Relations: func(string) []string { return nil }},
		ind("1", KindIP, "192.0.2.1"), ind("2", KindIP, "2001:db8::1"), ind("3", KindIP, "198.51.100.0/24"),
		ind("4", KindDomain, "evil.example"), ind("5", KindURL, "http://evil.example/"),
		ind("6", KindEmail, "a@evil.example"), ind("7", KindMD5, strings.Repeat("a", 32)),
		ind("8", KindSHA1, strings.Repeat("b", 40)), ind("9", KindSHA256, strings.Repeat("c", 64)))
	amber := ind("10", KindDomain, "good.example")
	amber.TLP = tlp.Amber
	if err := x.Add(amber, ind("11", KindIP, "203.0.113.0/24"), ind("12", KindDomain, "bad.example")); err != nil {
		t.Fatal(err)
	}
	return x
}

func noMatchEvent() *event.Event {
	return newEvent(
		"source.ip", "192.0.2.2", "destination.ip", "2001:db8::2", "host.ip", "198.51.101.1",
		"dns.answers.data", "203.0.114.1",
		"dns.question.name", "www.good.example", "url.domain", "Www.Example.Org", "destination.domain", "a.b.c.d.e",
		"tls.server.sni", "cdn.example.net",
		"url.full", "HTTPS://www.example.org:443/some/path?query=1#frag",
		"file.hash.md5", strings.Repeat("d", 32), "file.hash.sha1", strings.Repeat("e", 40),
		"file.hash.sha256", strings.Repeat("f", 64), "process.hash.sha256", strings.Repeat("F", 64),
		"email.from.address", "Alice@Example.Org", "email.to.address", "bob@example.org",
	)
}

// TestURLHostMatching: a URL whose event has no url.domain (proxy and web
// logs that write only the full URL) matches domain and address
// indicators on its host, in Detect and DetectBatch alike; an event that
// names its url.domain is matched on that field only.
func TestURLHostMatching(t *testing.T) {
	inds := []Indicator{
		ind("dom", KindDomain, "evil.example"),
		ind("ip", KindIP, "198.51.100.7"),
		ind("v6", KindIP, "2001:db8::7"),
		ind("url", KindURL, "http://evil.example/x"),
	}
	tests := []struct {
		fields []string
		want   []string
	}{
		{[]string{"url.full", "https://a.evil.example/login?u=1"}, []string{"dom"}},
		{[]string{"url.full", "http://user:pw@EVIL.example.:8080/"}, []string{"dom"}},
		{[]string{"url.full", "http://evil.example/x"}, []string{"dom", "url"}},
		{[]string{"url.full", "http://198.51.100.7:8443/gate.php"}, []string{"ip"}},
		{[]string{"url.full", "http://[2001:db8::7]/a"}, []string{"v6"}},
		{[]string{"url.full", "https://badevil.example/"}, nil},
		{[]string{"url.full", "evil.example/no-scheme"}, nil},
		{[]string{"url.full", "https://a.evil.example/", "url.domain", "cdn.example"}, nil},
		{[]string{"url.full", "https://cdn.example/", "url.domain", "a.evil.example"}, []string{"dom"}},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, inds...)
		for _, tt := range tests {
			got := ruleIDs(x.Detect(newEvent(tt.fields...), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: Detect %v matched %v, want %v", l.name, tt.fields, got, tt.want)
			}
			batch := []*event.Event{newEvent("source.ip", "203.0.113.250"), newEvent(tt.fields...)}
			if got := ruleIDs(x.DetectBatch(batch, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("%s: DetectBatch %v matched %v, want %v", l.name, tt.fields, got, tt.want)
			}
		}
	}
}

// TestListValuesMatch: every value of a field holding a list (DNS
// answers, several hashes) is matched, not only the first, by Detect and
// DetectBatch alike.
func TestListValuesMatch(t *testing.T) {
	inds := []Indicator{
		ind("ip", KindIP, "198.51.100.7"),
		ind("hash", KindSHA256, "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"),
		ind("dom", KindDomain, "evil.example"),
	}
	listEvent := func(kv ...string) *event.Event {
		ev := newEvent()
		for i := 0; i+1 < len(kv); i += 2 {
			ev.Add(kv[i], kv[i+1])
		}
		return ev
	}
	tests := []struct {
		fields []string
		want   []string
	}{
		{[]string{"dns.answers.data", "203.0.113.1", "dns.answers.data", "198.51.100.7"}, []string{"ip"}},
		{[]string{"file.hash.sha256", "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "file.hash.sha256", "4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"}, []string{"hash"}},
		{[]string{"dns.question.name", "cdn.example", "dns.question.name", "a.evil.example", "dns.answers.data", "198.51.100.7"}, []string{"dom", "ip"}},
		{[]string{"dns.answers.data", "203.0.113.1", "dns.answers.data", "203.0.113.2"}, nil},
	}
	for _, l := range layouts {
		x := newIndex(t, l.compact, Options{}, inds...)
		for _, tt := range tests {
			got := ruleIDs(x.Detect(listEvent(tt.fields...), nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: Detect %v matched %v, want %v", l.name, tt.fields, got, tt.want)
			}
			batch := []*event.Event{newEvent("source.ip", "203.0.113.250"), listEvent(tt.fields...)}
			if got := ruleIDs(x.DetectBatch(batch, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("%s: DetectBatch %v matched %v, want %v", l.name, tt.fields, got, tt.want)
			}
		}
	}
}
