package ml

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// burstEvent is a DNS event from host at t, answered with rcode (none
// when empty).
func burstEvent(host, name, rcode string, t time.Time) *event.Event {
	ev := &event.Event{ID: "e-" + name, Member: "m1", Time: t}
	ev.SetKey(event.NetworkProtocol, "dns")
	ev.SetKey(event.SourceIp, host)
	ev.SetKey(event.DnsQuestionName, name)
	if rcode != "" {
		ev.SetKey(event.DnsResponseCode, rcode)
	}
	return ev
}

// dictionaryNames are Suppobox-style names: two words, .net.
func dictionaryNames(n int) []string {
	var out []string
	for _, f := range Families() {
		if f.Name == "suppobox" {
			for _, name := range f.Generate(trainingStart, 4*n) {
				if len(out) < n && !strings.Contains(strings.Join(out, " "), name) {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

func TestDGABurst(t *testing.T) {
	start := time.Unix(1700000000, 0)
	opt := DGABurstOptions{Learn: time.Minute}
	for _, tc := range []struct {
		name   string
		names  []string
		rcode  string
		gap    time.Duration
		alerts int
		want   string
	}{
		// A dictionary DGA: names that pass the lexical model, all
		// NXDOMAIN, one every 1.5 s: one alert however long it runs.
		{"dictionary NXDOMAIN", dictionaryNames(40), "NXDOMAIN", 1500 * time.Millisecond, 1, "NXDOMAIN"},
		// The same names answered: no burst of nonexistent domains, and
		// the names do not look generated.
		{"dictionary answered", dictionaryNames(40), "NOERROR", 1500 * time.Millisecond, 0, ""},
		// Random names without response codes: the lexical scores carry it.
		{"random letters, no rcode", FamilyLabels(Families()[1])[:40], "", time.Second, 1, "mean name score"},
		// Too slow to be a burst: 40 new domains, one a minute.
		{"slow", dictionaryNames(40), "NXDOMAIN", 61 * time.Second, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDGABurst(nil, opt)
			// The member's learning period: ordinary browsing.
			at := start
			for i := 0; i < 50; i++ {
				d.Detect(burstEvent("10.0.0.9", fmt.Sprintf("site%d.example.com", i%7), "NOERROR", at), nil)
				at = at.Add(2 * time.Second)
			}
			var got []string
			for _, n := range tc.names {
				if !strings.Contains(n, ".") {
					n += ".com"
				}
				at = at.Add(tc.gap)
				// The question first, without an answer, then the answer.
				for _, a := range d.Detect(burstEvent("10.0.0.5", n, "", at), nil) {
					got = append(got, a.RuleTitle)
				}
				for _, a := range d.Detect(burstEvent("10.0.0.5", n, tc.rcode, at.Add(20*time.Millisecond)), nil) {
					got = append(got, a.RuleTitle)
				}
			}
			if len(got) != tc.alerts || (tc.alerts > 0 && !strings.Contains(got[0], tc.want)) {
				t.Fatalf("alerts %q, want %d saying %q", got, tc.alerts, tc.want)
			}
			if len(got) > 0 {
				t.Log(got[0])
				if !strings.Contains(got[0], "from 10.0.0.5: 16 distinct new domains") || !strings.Contains(got[0], "e.g. ") {
					t.Fatalf("title %q", got[0])
				}
			}
		})
	}
}

func TestDGABurstRealertsOnlyAfterQuiet(t *testing.T) {
	d := NewDGABurst(nil, DGABurstOptions{Learn: time.Millisecond})
	at := time.Unix(1700000000, 0)
	d.Detect(burstEvent("10.0.0.5", "warmup.example.com", "", at), nil)
	alerts := 0
	for round := 0; round < 2; round++ {
		for i := 0; i < 30; i++ {
			at = at.Add(time.Second)
			name := "walk" + strconv.Itoa(round) + "x" + strconv.Itoa(i) + "ab.net"
			alerts += len(d.Detect(burstEvent("10.0.0.5", name, "NXDOMAIN", at), nil))
		}
		at = at.Add(2 * time.Minute) // quiet for longer than the window
	}
	if alerts != 2 {
		t.Fatalf("%d alerts over two bursts, want one each", alerts)
	}
	// Other hosts and names seen before are not part of a burst.
	if n := d.Detect(burstEvent("10.0.0.7", "walk0x1ab.net", "NXDOMAIN", at), nil); len(n) != 0 {
		t.Fatal("a known domain alerted")
	}
	if s := d.Stats(); s.Alerts.Load() != 2 || s.Scored.Load() != 62 {
		t.Fatalf("stats: %d alerts, %d scored", s.Alerts.Load(), s.Scored.Load())
	}
}

func TestDGABurstBoundedHosts(t *testing.T) {
	d := NewDGABurst(nil, DGABurstOptions{MaxHosts: burstShards, Learn: time.Millisecond})
	at := time.Unix(1700000000, 0)
	for i := 0; i < 5000; i++ {
		d.Detect(burstEvent("10.1."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), "n"+strconv.Itoa(i)+".example.org", "NXDOMAIN", at), nil)
	}
	for i := range d.shards {
		if n := len(d.shards[i].slab); n > 1 {
			t.Fatalf("shard %d holds %d hosts, cap 1", i, n)
		}
	}
}

func TestDGABurstDoesNotAllocate(t *testing.T) {
	d := NewDGABurst(nil, DGABurstOptions{})
	ev := burstEvent("10.0.0.5", "update.microsoft.com", "NOERROR", time.Unix(1700000000, 0))
	d.Detect(ev, nil) // the member, the suffix cache, the domain
	if n := testing.AllocsPerRun(100, func() { d.Detect(ev, nil) }); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}

func BenchmarkDGABurstDetect(b *testing.B) {
	d := NewDGABurst(nil, DGABurstOptions{})
	names := []string{"www.google.com", "outlook.office365.com", "a.b.c.d.e.f.g.h.example.co.uk", "cdn.jsdelivr.net", "login.microsoftonline.com", "fonts.gstatic.com", "wpad", "www.spiegel.de"}
	evs := make([]*event.Event, len(names))
	for i, n := range names {
		evs[i] = burstEvent("10.0.0."+strconv.Itoa(i), n, "NOERROR", time.Unix(1700000000, 0))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Detect(evs[i%len(evs)], nil)
	}
}
