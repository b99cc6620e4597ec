package ml

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

func procEvent(ev *event.Event, at time.Time, member, host, parent, child, hash string) *event.Event {
	ev.Reset()
	ev.Member, ev.Time = member, at
	ev.SetKey(event.EventCategory, "process")
	ev.SetKey(event.EventType, "start")
	ev.SetKey(event.HostName, host)
	ev.SetKey(event.ProcessParentName, parent)
	ev.SetKey(event.ProcessName, child)
	ev.SetKey(event.ProcessExecutable, `C:\Windows\System32\`+child)
	ev.SetKey(event.ProcessHashSha256, hash)
	return ev
}

func signInEvent(ev *event.Event, at time.Time, member, user, country, asn string) *event.Event {
	ev.Reset()
	ev.Member, ev.Time = member, at
	ev.SetKey(event.EventCategory, "authentication")
	ev.SetKey(event.EventOutcome, "success")
	ev.SetKey(event.UserName, user)
	ev.SetKey(event.SourceIp, "192.0.2.7")
	ev.Set("source.geo.country_iso_code", country)
	ev.Set("source.as.number", asn)
	return ev
}

func dnsQueryEvent(ev *event.Event, at time.Time, member, host, name string) *event.Event {
	ev.Reset()
	ev.Member, ev.Time = member, at
	ev.SetKey(event.HostName, host)
	ev.SetKey(event.DnsQuestionName, name)
	return ev
}

func TestFirstSeenDetect(t *testing.T) {
	start := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	learned := start.Add(2 * time.Hour)
	for _, tc := range []struct {
		name string
		feed func(ev *event.Event, at time.Time) *event.Event
		want []string // alert titles' beginnings, in order; none: no alert
	}{
		{"known pair", func(ev *event.Event, at time.Time) *event.Event {
			return procEvent(ev, at, "m1", "ws1", "explorer.exe", "outlook.exe", "AAAA")
		}, nil},
		{"known pair, other case", func(ev *event.Event, at time.Time) *event.Event {
			return procEvent(ev, at, "m1", "ws1", "EXPLORER.EXE", "Outlook.exe", "aaaa")
		}, nil},
		{"new pair, new hash", func(ev *event.Event, at time.Time) *event.Event {
			return procEvent(ev, at, "m1", "ws1", "winword.exe", "powershell.exe", "BBBB")
		}, []string{"First-seen process hash BBBB", "First-seen parent→child winword.exe → powershell.exe on ws1"}},
		{"pair known at another member only", func(ev *event.Event, at time.Time) *event.Event {
			return procEvent(ev, at, "m2", "ws9", "explorer.exe", "outlook.exe", "AAAA")
		}, []string{"First-seen process hash AAAA", "First-seen parent→child explorer.exe → outlook.exe on ws9"}},
		{"new country", func(ev *event.Event, at time.Time) *event.Event {
			return signInEvent(ev, at, "m1", "alice@example.org", "SG", "3320")
		}, []string{"First-seen country for user alice@example.org: sign-in from SG"}},
		{"new network", func(ev *event.Event, at time.Time) *event.Event {
			return signInEvent(ev, at, "m1", "alice@example.org", "DE", "14061")
		}, []string{"First-seen network for user alice@example.org: sign-in from AS14061"}},
		{"a country new to this user only", func(ev *event.Event, at time.Time) *event.Event {
			return signInEvent(ev, at, "m1", "bob@example.org", "DE", "3320")
		}, []string{"First-seen country for user bob@example.org: sign-in from DE", "First-seen network for user bob@example.org: sign-in from AS3320"}},
		{"a known country and network", func(ev *event.Event, at time.Time) *event.Event {
			return signInEvent(ev, at, "m1", "bob@example.org", "NL", "1136")
		}, nil},
		{"new domain", func(ev *event.Event, at time.Time) *event.Event {
			return dnsQueryEvent(ev, at, "m1", "ws1", "cdn.qsifzyimnqztdnw.online")
		}, []string{"First-seen domain for host ws1: qsifzyimnqztdnw.online"}},
		{"known domain, other name", func(ev *event.Event, at time.Time) *event.Event {
			return dnsQueryEvent(ev, at, "m1", "ws1", "WWW.Example.co.uk.")
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewFirstSeen(FirstSeenOptions{Learn: time.Hour})
			ev := new(event.Event)
			// The learning period: the members' ordinary things.
			// m2 starts learning, something else, at the same time.
			d.Detect(procEvent(ev, start, "m2", "ws9", "services.exe", "svchost.exe", "SSSS"), nil)
			for i := 0; i < 100; i++ {
				at := start.Add(time.Duration(i) * time.Minute)
				if out := d.Detect(procEvent(ev, at, "m1", "ws1", "explorer.exe", "outlook.exe", "AAAA"), nil); len(out) > 0 {
					t.Fatalf("alert on a known thing: %s", out[0].RuleTitle)
				}
				d.Detect(signInEvent(ev, at, "m1", "alice@example.org", "DE", "3320"), nil)
				d.Detect(signInEvent(ev, at, "m1", "bob@example.org", "NL", "1136"), nil)
				d.Detect(dnsQueryEvent(ev, at, "m1", "ws1", "mail.example.co.uk"), nil)
			}
			out := d.Detect(tc.feed(ev, learned), nil)
			var got []string
			for _, a := range out {
				got = append(got, a.RuleTitle)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("alerts %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Fatalf("alert %q, want %q…", got[i], tc.want[i])
				}
			}
			if again := d.Detect(tc.feed(ev, learned.Add(time.Minute)), nil); len(again) != 0 {
				t.Fatalf("seen twice, alerted twice: %s", again[0].RuleTitle)
			}
		})
	}
}

func TestFirstSeenLearns(t *testing.T) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Hour})
	ev := new(event.Event)
	at := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	d.Detect(procEvent(ev, at, "m1", "ws1", "a.exe", "a.exe", "H0"), nil)
	if out := d.Detect(procEvent(ev, at.Add(59*time.Minute), "m1", "ws1", "a.exe", "b.exe", "H1"), nil); len(out) != 0 {
		t.Fatalf("alert in the learning period: %s", out[0].RuleTitle)
	}
	if out := d.Detect(procEvent(ev, at.Add(61*time.Minute), "m1", "ws1", "a.exe", "c.exe", "H2"), nil); len(out) != 2 {
		t.Fatalf("%d alerts after the learning period, want 2", len(out))
	}
}

func TestFirstSeenMemoryIsFixed(t *testing.T) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Nanosecond, Bits: 1 << 14})
	ev := new(event.Event)
	at := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	var out []alert.Alert
	for i := 0; i < 50000; i++ {
		out = d.Detect(dnsQueryEvent(ev, at.Add(time.Duration(i)*time.Second), "m1", "ws1", "n"+strconv.Itoa(i)+".example.com"), out[:0])
	}
	if r := d.fillRatio(seenDomain); r > 0.6 {
		t.Fatalf("current generation %.0f %% full: generations do not turn over", 100*r)
	}
	if p := &d.filters[seenDomain]; len(p.cur) != 1<<14/64 || len(p.old) != 1<<14/64 {
		t.Fatalf("filters grew to %d and %d words", len(p.cur), len(p.old))
	}
	// The most recent items are remembered.
	if out := d.Detect(dnsQueryEvent(ev, at.Add(time.Hour*24), "m1", "ws1", "n49999.example.com"), nil); len(out) != 0 {
		t.Fatalf("recent item forgotten: %s", out[0].RuleTitle)
	}
}

func TestFirstSeenDetectDoesNotAllocate(t *testing.T) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Nanosecond})
	p := procEvent(new(event.Event), time.Unix(1700000000, 0), "m1", "ws1", "explorer.exe", "outlook.exe", "AAAA")
	q := dnsQueryEvent(new(event.Event), time.Unix(1700000000, 0), "m1", "ws1", "www.example.com")
	s := signInEvent(new(event.Event), time.Unix(1700000000, 0), "m1", "alice", "DE", "3320")
	for _, ev := range []*event.Event{p, q, s} {
		d.Detect(ev, nil)
		if n := testing.AllocsPerRun(1000, func() { d.Detect(ev, nil) }); n != 0 {
			t.Fatalf("%v allocations per event", n)
		}
	}
}

func TestFirstSeenState(t *testing.T) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Hour, Bits: 1 << 16})
	ev := new(event.Event)
	at := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	d.Detect(procEvent(ev, at, "m1", "ws1", "explorer.exe", "outlook.exe", "AAAA"), nil)
	path := filepath.Join(t.TempDir(), "firstseen.state")
	if err := SaveState(path, d); err != nil {
		t.Fatal(err)
	}
	restored := NewFirstSeen(FirstSeenOptions{Learn: time.Hour, Bits: 1 << 16})
	if err := LoadState(path, restored); err != nil {
		t.Fatal(err)
	}
	later := at.Add(2 * time.Hour)
	if out := restored.Detect(procEvent(ev, later, "m1", "ws1", "explorer.exe", "outlook.exe", "AAAA"), nil); len(out) != 0 {
		t.Fatalf("restored detector forgot: %s", out[0].RuleTitle)
	}
	if out := restored.Detect(procEvent(ev, later, "m1", "ws1", "explorer.exe", "evil.exe", "EEEE"), nil); len(out) != 2 {
		t.Fatalf("restored detector: %d alerts, want 2 (its learning period restored too)", len(out))
	}
	other := NewFirstSeen(FirstSeenOptions{Bits: 1 << 17})
	if err := LoadState(path, other); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Bloom filters of 65536 bits") {
		t.Fatalf("state of another size: %v", err)
	}
}

func FuzzFirstSeenState(f *testing.F) {
	d := NewFirstSeen(FirstSeenOptions{Bits: 1 << 8})
	d.Detect(procEvent(new(event.Event), time.Unix(1700000000, 0), "m1", "ws1", "a.exe", "b.exe", "H"), nil)
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4 {
			w := stateWriter{b: append([]byte(nil), data[:len(data)-4]...)}
			data = w.finish()
		}
		fresh := NewFirstSeen(FirstSeenOptions{Bits: 1 << 8})
		if err := fresh.UnmarshalBinary(data); err != nil {
			return
		}
		if _, err := fresh.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		fresh.Detect(procEvent(new(event.Event), time.Unix(1800000000, 0), "m1", "ws1", "a.exe", "c.exe", "H2"), nil)
	})
}

func BenchmarkFirstSeenDetect(b *testing.B) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Nanosecond})
	evs := make([]*event.Event, 0, 3000)
	at := time.Unix(1700000000, 0)
	for i := 0; i < 1000; i++ {
		evs = append(evs,
			procEvent(new(event.Event), at, "m1", "ws"+strconv.Itoa(i%50), "explorer.exe", "app"+strconv.Itoa(i%40)+".exe", "H"+strconv.Itoa(i%40)),
			dnsQueryEvent(new(event.Event), at, "m1", "ws"+strconv.Itoa(i%50), "www.site"+strconv.Itoa(i%100)+".com"),
			signInEvent(new(event.Event), at, "m1", "user"+strconv.Itoa(i%50), "DE", "3320"))
	}
	for _, ev := range evs {
		d.Detect(ev, nil)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Detect(evs[i%len(evs)], nil)
	}
}

// BenchmarkFirstSeenDetectManyItems feeds events that mostly show items
// seen before, spread over filters too large for the caches, as a large
// estate's are.
func BenchmarkFirstSeenDetectManyItems(b *testing.B) {
	d := NewFirstSeen(FirstSeenOptions{Learn: time.Nanosecond})
	evs := make([]*event.Event, 0, 3<<13)
	at := time.Unix(1700000000, 0)
	for i := 0; i < 1<<13; i++ {
		evs = append(evs,
			procEvent(new(event.Event), at, "m1", "ws"+strconv.Itoa(i), "explorer.exe", "app"+strconv.Itoa(i)+".exe", "H"+strconv.Itoa(i)),
			dnsQueryEvent(new(event.Event), at, "m1", "ws"+strconv.Itoa(i), "www.site"+strconv.Itoa(i)+".com"),
			signInEvent(new(event.Event), at, "m1", "user"+strconv.Itoa(i), "DE", "3320"))
	}
	for _, ev := range evs {
		d.Detect(ev, nil)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Detect(evs[i%len(evs)], nil)
	}
}

// BenchmarkFirstSeenDetectNewHashes feeds process starts whose image
// hashes are all new, as xsoc bench e2e's are (its member still
// learning, so without alerts): every event inserts into its filters and
// reads the previous generation.
func BenchmarkFirstSeenDetectNewHashes(b *testing.B) {
	d := NewFirstSeen(FirstSeenOptions{})
	evs := make([]*event.Event, 1<<17)
	at := time.Unix(1700000000, 0)
	for i := range evs {
		evs[i] = procEvent(new(event.Event), at, "m1", "ws"+strconv.Itoa(i%5000), "explorer.exe", "app"+strconv.Itoa(i%4)+".exe", strconv.FormatUint(mix64(uint64(i)), 16))
	}
	for _, ev := range evs[:1000] {
		d.Detect(ev, nil) // the pairs are known
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Detect(evs[1000+i%(len(evs)-1000)], nil)
	}
}
