package pattern

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// ev builds an event from "field=value" pairs; a field given twice holds a
// list (for non-slotted fields).
func ev(id string, at time.Time, kv ...string) *event.Event {
	e := &event.Event{ID: id, Time: at}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		e.Set(k, v)
	}
	return e
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMatchOperators(t *testing.T) {
	conn := ev("1", t0, "source.ip=10.1.2.3", "destination.ip=198.51.100.7", "destination.port=443",
		"network.transport=tcp", "network.protocol=tls", "process.name=powershell.exe",
		"process.command_line=powershell -enc SQBFAFgA", "file.hash.sha256=EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C",
		"dns.question.name=Bad.Example", "user.name=alice", "registry.path=HKLM\\Software\\Run",
		"file.size=2048", "file.created=2026-02-01T00:00:00Z", "url.full=http://a.example/x")
	tests := []struct {
		pattern string
		want    bool
	}{
		{"[ipv4-addr:value = '198.51.100.7']", true},
		{"[ipv4-addr:value = '198.51.100.8']", false},
		{"[ipv4-addr:value = '10.0.0.0/8']", true},
		{"[ipv4-addr:value = '11.0.0.0/8']", false},
		{"[ipv4-addr:value != '10.1.2.3']", true}, // destination.ip differs
		{"[ipv4-addr:value NOT = '10.1.2.3']", false},
		{"[ipv4-addr:value NOT = '192.0.2.1']", true},
		{"[ipv4-addr:value ISSUBSET '198.51.100.0/24']", true},
		{"[ipv4-addr:value ISSUBSET '203.0.113.0/24']", false},
		{"[ipv4-addr:value NOT ISSUBSET '203.0.113.0/24']", true},
		{"[ipv4-addr:value ISSUPERSET '10.1.2.3']", true}, // an address is a /32 network
		{"[ipv4-addr:value ISSUPERSET '10.1.0.0/16']", false},
		{"[ipv4-addr:value IN ('192.0.2.1', '198.51.100.7')]", true},
		{"[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]", false},
		{"[ipv4-addr:value NOT IN ('192.0.2.1')]", true},
		{"[domain-name:value = 'bad.example']", true}, // caseless
		{"[domain-name:value LIKE '%.EXAMPLE']", true},
		{"[domain-name:value LIKE 'ba_.example']", true},
		{"[domain-name:value LIKE 'b_.example']", false},
		{"[process:name = 'POWERSHELL.EXE']", false}, // case-sensitive
		{"[process:name LIKE 'power%']", true},
		{"[process:name LIKE 'power']", false},
		{"[process:name LIKE 'p.wer%']", false}, // '.' is literal in LIKE
		{"[process:command_line MATCHES '-enc\\\\s+[A-Za-z0-9+/=]+']", true},
		{"[process:command_line MATCHES '^cmd']", false},
		{"[process:command_line NOT MATCHES '^cmd']", true},
		{"[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']", true},
		{"[file:hashes.sha256 = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']", true},
		{"[network-traffic:dst_port = 443]", true},
		{"[network-traffic:dst_port = 443.0]", true},
		{"[network-traffic:dst_port = 80]", false},
		{"[network-traffic:dst_port > 442]", true},
		{"[network-traffic:dst_port >= 443]", true},
		{"[network-traffic:dst_port < 443]", false},
		{"[network-traffic:dst_port <= 443]", true},
		{"[network-traffic:dst_port IN (80, 443)]", true},
		{"[network-traffic:protocols[*] = 'tcp']", true},
		{"[network-traffic:protocols[0] = 'tls']", true},
		{"[network-traffic:protocols[*] = 'udp']", false},
		{"[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", true},
		{"[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 80]", false},
		{"[network-traffic:dst_port = 80 OR process:name = 'powershell.exe']", true},
		{"[(network-traffic:dst_port = 80 OR process:name = 'x') AND user-account:user_id = 'alice']", false},
		{"[user-account:user_id = 'alice']", true},
		{"[windows-registry-key:key LIKE 'HKLM\\\\Software\\\\%']", true},
		{"[url:value = 'http://a.example/x']", true},
		{"[file:size > 1024]", true},
		{"[file:size > 'abc']", false}, // string order: "2048" < "abc"
		{"[EXISTS email-addr:value]", false},
		{"[NOT EXISTS email-addr:value]", true},
		{"[EXISTS user-account:user_id]", true},
		{"[email-message:subject = 'x']", false},
		{"[ipv4-addr:value = '198.51.100.7'] START t'2026-03-01T00:00:00Z' STOP t'2026-03-02T00:00:00Z'", true},
		{"[ipv4-addr:value = '198.51.100.7'] START t'2026-03-02T00:00:00Z' STOP t'2026-03-03T00:00:00Z'", false},
		{"[ipv4-addr:value = '192.0.2.99'] OR [process:name = 'powershell.exe']", true},
	}
	for _, tt := range tests {
		m := NewMatcher()
		if err := m.Add("p", MustParse(tt.pattern)); err != nil {
			t.Errorf("Add(%q): %v", tt.pattern, err)
			continue
		}
		if single, _ := m.Len(); single != 1 {
			t.Errorf("%q is not served by Match", tt.pattern)
			continue
		}
		got := len(m.Match(conn, nil)) == 1
		if got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestMatchTimestampsAndLists(t *testing.T) {
	e := ev("1", t0, "email.to.address=a@example.org", "email.to.address=b@example.org",
		"tls.server.x509.not_after=2026-01-01T00:00:00Z")
	tests := []struct {
		pattern string
		want    bool
	}{
		{"[email-message:to_refs[*].value = 'B@example.org']", true},
		{"[email-message:to_refs[*].value = 'c@example.org']", false},
		{"[email-addr:value = 'b@example.org']", true},
		{"[x509-certificate:validity_not_after < t'2026-03-01T00:00:00Z']", true},
		{"[x509-certificate:validity_not_after > t'2026-03-01T00:00:00Z']", false},
		{"[x509-certificate:validity_not_after = t'2026-01-01T00:00:00.000Z']", true},
	}
	for _, tt := range tests {
		m := NewMatcher()
		if err := m.Add("p", MustParse(tt.pattern)); err != nil {
			t.Fatalf("Add(%q): %v", tt.pattern, err)
		}
		if got := len(m.Match(e, nil)) == 1; got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestMatcherAddErrors(t *testing.T) {
	tests := []struct{ pattern, msg string }{
		{"[x-custom:x_field = 'a']", "has no event field"},
		{"[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] FOLLOWEDBY [artifact:payload_bin = 'a']", "has no event field"},
		{"[process:name MATCHES '(?<=a)b']", "MATCHES"},
		{"[ipv4-addr:value ISSUBSET 'not-a-network']", "ISSUBSET needs an IP network"},
	}
	for _, tt := range tests {
		err := NewMatcher().Add("p", MustParse(tt.pattern))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Add(%q) = %v, want error containing %q", tt.pattern, err, tt.msg)
		}
	}
}

func TestMatchManyPatterns(t *testing.T) {
	m := NewMatcher()
	for i := range 100 {
		if err := m.Add(fmt.Sprint("ip", i), MustParse(fmt.Sprintf("[ipv4-addr:value = '192.0.2.%d']", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Match(ev("1", t0, "source.ip=192.0.2.7", "destination.ip=192.0.2.42"), nil)
	if want := []string{"ip7", "ip42"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Match = %v, want %v", got, want)
	}
}

func TestObserver(t *testing.T) {
	login := func(id string, sec int) *event.Event {
		return ev(id, t0.Add(time.Duration(sec)*time.Second), "event.action=logon-failed", "user.name=alice", "source.ip=203.0.113.5")
	}
	exec := func(id string, sec int) *event.Event {
		return ev(id, t0.Add(time.Duration(sec)*time.Second), "process.name=mimikatz.exe")
	}
	dns := func(id string, sec int) *event.Event {
		return ev(id, t0.Add(time.Duration(sec)*time.Second), "dns.question.name=c2.example")
	}
	type step struct {
		e    *event.Event
		want []string // event ids of the detection completed by e; nil for none
	}
	tests := []struct {
		name    string
		pattern string
		steps   []step
	}{
		{"followedby in order", "[ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe']",
			[]step{{login("a", 0), nil}, {exec("b", 10), []string{"a", "b"}}}},
		{"followedby out of order", "[ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe']",
			[]step{{exec("b", 0), nil}, {login("a", 10), nil}}},
		{"followedby late arrival", "[ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe']",
			[]step{{exec("b", 10), nil}, {login("a", 0), []string{"a", "b"}}}},
		{"and any order", "[process:name = 'mimikatz.exe'] AND [domain-name:value = 'c2.example']",
			[]step{{dns("d", 0), nil}, {exec("b", 5), []string{"d", "b"}}}},
		{"or needs one", "([process:name = 'mimikatz.exe'] OR [domain-name:value = 'c2.example']) WITHIN 5 SECONDS",
			[]step{{dns("d", 0), []string{"d"}}, {exec("b", 1), []string{"b"}}}},
		{"within met", "([ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe']) WITHIN 60 SECONDS",
			[]step{{login("a", 0), nil}, {exec("b", 60), []string{"a", "b"}}}},
		{"within missed", "([ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe']) WITHIN 60 SECONDS",
			[]step{{login("a", 0), nil}, {exec("b", 61), nil}}},
		{"repeats", "[user-account:user_id = 'alice'] REPEATS 3 TIMES",
			[]step{{login("a", 0), nil}, {login("b", 100), nil}, {login("c", 200), []string{"a", "b", "c"}},
				{login("d", 300), nil}}}, // consumed: the next three start afresh
		{"repeats within", "[user-account:user_id = 'alice'] REPEATS 3 TIMES WITHIN 10 SECONDS",
			[]step{{login("a", 0), nil}, {login("b", 5), nil}, {login("c", 11), nil}, {login("d", 12), []string{"b", "c", "d"}}}},
		{"start stop", "([process:name = 'mimikatz.exe'] AND [domain-name:value = 'c2.example']) START t'2026-03-01T12:00:00Z' STOP t'2026-03-01T12:01:00Z'",
			[]step{{dns("d", 30), nil}, {exec("b", 61), nil}, {exec("c", 59), []string{"d", "c"}}}},
		{"followedby chain", "[ipv4-addr:value = '203.0.113.5'] FOLLOWEDBY [process:name = 'mimikatz.exe'] FOLLOWEDBY [domain-name:value = 'c2.example']",
			[]step{{login("a", 0), nil}, {dns("d", 1), nil}, {exec("b", 2), nil}, {dns("e", 3), []string{"a", "b", "e"}}}},
		{"and needs distinct events", "[process:name = 'mimikatz.exe'] AND [process:name LIKE 'mimi%']",
			[]step{{exec("a", 0), nil}, {exec("b", 1), []string{"a", "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMatcher()
			if err := m.Add("p", MustParse(tt.pattern)); err != nil {
				t.Fatal(err)
			}
			if _, multi := m.Len(); multi != 1 {
				t.Fatalf("%q is not served by the Observer", tt.pattern)
			}
			o := m.NewObserver(ObserverOptions{})
			for i, s := range tt.steps {
				got := o.Observe(s.e, nil)
				switch {
				case s.want == nil && len(got) != 0:
					t.Errorf("step %d (%s): unexpected detection %+v", i, s.e.ID, got)
				case s.want != nil && (len(got) != 1 || !reflect.DeepEqual(got[0].EventIDs, s.want)):
					t.Errorf("step %d (%s): detections %+v, want events %v", i, s.e.ID, got, s.want)
				}
			}
		})
	}
}

func TestObserverBoundedMemory(t *testing.T) {
	m := NewMatcher()
	if err := m.Add("p", MustParse("[process:name = 'a.exe'] FOLLOWEDBY [process:name = 'never.exe']")); err != nil {
		t.Fatal(err)
	}
	o := m.NewObserver(ObserverOptions{MaxPerObservation: 8, MaxAge: time.Hour})
	for i := range 1000 {
		o.Observe(ev(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), "process.name=a.exe"), nil)
	}
	if n := len(o.progs[0].hist[0]); n != 8 {
		t.Errorf("history holds %d observations, want the cap of 8", n)
	}
	o.Observe(ev("late", t0.Add(3*time.Hour), "process.name=a.exe"), nil)
	if n := len(o.progs[0].hist[0]); n != 1 {
		t.Errorf("history holds %d observations after MaxAge, want 1", n)
	}
}

func BenchmarkMatchNoMatch(b *testing.B) {
	m := NewMatcher()
	for i := range 1000 {
		p := MustParse(fmt.Sprintf("[process:name = 'tool%d.exe' AND network-traffic:dst_port = %d]", i, 1000+i))
		if err := m.Add(fmt.Sprint(i), p); err != nil {
			b.Fatal(err)
		}
	}
	e := ev("1", t0, "process.name=chrome.exe", "destination.port=443", "source.ip=10.0.0.1")
	var out []string
	b.ReportAllocs()
	for b.Loop() {
		out = m.Match(e, out[:0])
	}
	if len(out) != 0 {
		b.Fatal("unexpected match")
	}
}

func BenchmarkParse(b *testing.B) {
	src := "[domain-name:value = 'microsofta.byinter.net' OR ipv4-addr:value = '113.10.246.30' OR file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c'] WITHIN 60 SECONDS"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	m := NewMatcher()
	if err := m.Add("p", MustParse("([user-account:user_id = 'alice'] REPEATS 5 TIMES) WITHIN 60 SECONDS FOLLOWEDBY [process:name = 'mimikatz.exe']")); err != nil {
		b.Fatal(err)
	}
	o := m.NewObserver(ObserverOptions{})
	events := make([]*event.Event, 1024)
	for i := range events {
		events[i] = ev(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), "user.name=alice")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o.Observe(events[i%len(events)], nil)
		i++
	}
}
