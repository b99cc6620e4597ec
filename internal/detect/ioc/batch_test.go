package ioc

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// streamMembers are the members of the generated stream. m4 is a client
// of m1 (see streamRelations).
var streamMembers = []string{"m1", "m2", "m3", "m4"}

func streamRelations(member string) []string {
	if member == "m4" {
		return []string{"m1"}
	}
	return nil
}

// streamIndicators returns indicators of every kind for the generated
// stream: owned by several members at every TLP level, some named, some
// expired, decaying or not yet valid, ranges, exact-only domains, and two
// indicators on some values.
func streamIndicators(r *rand.Rand) []Indicator {
	var inds []Indicator
	levels := []tlp.Level{tlp.Clear, tlp.Green, tlp.Amber, tlp.AmberStrict, tlp.Red}
	add := func(k Kind, v string) {
		n := len(inds)
		in := Indicator{
			ID: "ind-" + strconv.Itoa(n), Kind: k, Value: v, Source: "feed" + strconv.Itoa(n%3),
			Owner: streamMembers[n%3], Confidence: 30 + r.IntN(71), TLP: levels[r.IntN(len(levels))],
		}
		if n%3 == 1 {
			in.Source = "" // the alert names the owner instead
		}
		if in.TLP == tlp.Red && r.IntN(2) == 0 {
			in.Named = []string{streamMembers[r.IntN(len(streamMembers))]}
		}
		switch r.IntN(6) {
		case 0: // expired before the stream's events
			in.ValidFrom, in.ValidUntil = testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
		case 1: // decays: some events find it above the floor, some below
			in.ValidFrom, in.HalfLife = testNow.Add(-time.Duration(r.IntN(96))*time.Hour), 24*time.Hour
		case 2: // not valid yet by the clock
			if r.IntN(3) == 0 {
				in.ValidFrom = testNow.Add(time.Hour)
			}
		}
		if k == KindDomain && r.IntN(4) == 0 {
			in.ExactOnly = true
		}
		inds = append(inds, in)
		if r.IntN(8) == 0 { // a second indicator on the same value
			again := in
			again.ID += "-b"
			again.TLP, again.Owner = levels[r.IntN(len(levels))], streamMembers[r.IntN(3)]
			inds = append(inds, again)
		}
	}
	for i := range 40 {
		add(KindIP, fmt.Sprintf("10.1.%d.%d", i, i*7%256))
		add(KindIP, fmt.Sprintf("2001:db8::%x", i+1))
		add(KindDomain, fmt.Sprintf("evil%d.example", i))
		add(KindURL, fmt.Sprintf("http://bad%d.example/x?i=%d", i, i))
		add(KindEmail, fmt.Sprintf("phish%d@evil.example", i))
		add(KindMD5, hexOf(i, 16))
		add(KindSHA1, hexOf(i, 20))
		add(KindSHA256, hexOf(i, 32))
	}
	for i := range 8 {
		add(KindIP, fmt.Sprintf("172.16.%d.0/24", i))
		add(KindIP, fmt.Sprintf("2001:db8:%x::/48", i+1))
	}
	add(KindIP, "172.16.0.0/12")
	return inds
}

// hexOf returns a deterministic hash of n bytes for i.
func hexOf(i, n int) string {
	var b strings.Builder
	for j := range n {
		fmt.Fprintf(&b, "%02x", byte(i*31+j*17+n))
	}
	return b.String()
}

// streamValue returns a value for a field of kind k: with probability hit
// one an indicator matches (exactly, through a parent domain or a range),
// otherwise one nothing matches.
func streamValue(r *rand.Rand, k Kind, hit float64) string {
	i := r.IntN(40)
	if r.Float64() >= hit {
		switch k {
		case KindIP:
			if r.IntN(4) == 0 {
				return fmt.Sprintf("2001:db9::%x", r.IntN(1<<16))
			}
			return fmt.Sprintf("192.0.%d.%d", r.IntN(256), r.IntN(256))
		case KindDomain:
			return fmt.Sprintf("www.good%d.example", r.IntN(1000))
		case KindURL:
			return fmt.Sprintf("https://good%d.example/", r.IntN(1000))
		case KindEmail:
			return fmt.Sprintf("user%d@example.org", r.IntN(1000))
		case KindMD5:
			return hexOf(1000+i, 16)
		case KindSHA1:
			return hexOf(1000+i, 20)
		case KindSHA256:
			return hexOf(1000+i, 32)
		}
	}
	switch k {
	case KindIP:
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("10.1.%d.%d", i, i*7%256)
		case 1:
			return fmt.Sprintf("2001:db8::%x", i+1)
		case 2:
			return fmt.Sprintf("172.16.%d.%d", r.IntN(16), r.IntN(256))
		default:
			return fmt.Sprintf("2001:db8:%x::%x", r.IntN(9), r.IntN(100))
		}
	case KindDomain:
		return [...]string{"", "www.", "a.b.", "EVIL"}[r.IntN(4)] + fmt.Sprintf("evil%d.example", i)
	case KindURL:
		return fmt.Sprintf("HTTP://bad%d.example:80/x?i=%d", i, i)
	case KindEmail:
		return fmt.Sprintf("Phish%d@Evil.Example", i)
	case KindMD5:
		return strings.ToUpper(hexOf(i, 16))
	case KindSHA1:
		return hexOf(i, 20)
	}
	return hexOf(i, 32)
}

// streamEvents returns n events of random members and times, each with a
// random subset of the inspected fields (sometimes none, sometimes one
// value in two fields), a value hitting an indicator in about hit of them.
func streamEvents(r *rand.Rand, n int, hit float64) []*event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		ev := &event.Event{Member: streamMembers[r.IntN(len(streamMembers))], Time: testNow}
		if r.IntN(10) != 0 {
			ev.ID = "ev" + strconv.Itoa(i)
		}
		switch r.IntN(5) {
		case 0:
			ev.Time = time.Time{} // the clock's time
		case 1:
			ev.Time = testNow.Add(-time.Duration(r.IntN(72)) * time.Hour)
		}
		nf := r.IntN(6)
		if r.IntN(20) == 0 {
			nf = 0
		}
		// Per field, so that about hit of the events hit something.
		perField := hit / float64(max(nf, 1))
		for range nf {
			f := fields[r.IntN(len(fields))]
			ev.Set(f.key.Name(), streamValue(r, f.kind, perField))
		}
		if r.IntN(30) == 0 { // one value in two fields: Detect raises it once
			v := streamValue(r, KindIP, 1)
			ev.Set("source.ip", v)
			ev.Set("destination.ip", v)
		}
		evs[i] = ev
	}
	return evs
}

// detectEach is what DetectBatch must match: Detect on each event in order.
func detectEach(x *Index, evs []*event.Event, out []alert.Alert) []alert.Alert {
	for _, ev := range evs {
		out = x.Detect(ev, out)
	}
	return out
}

// sameAlerts reports the first difference between two alert lists.
func sameAlerts(got, want []alert.Alert) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("alert %d: got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d alerts, want %d", len(got), len(want))
	}
	return ""
}

// TestDetectBatchMatchesDetect checks DetectBatch against Detect over a
// generated stream, in both layers, for batch sizes around the lookup
// queue's depth and the screen's chunk.
func TestDetectBatchMatchesDetect(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	inds := streamIndicators(r)
	evs := streamEvents(r, 3000, 0.05)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			x := newIndex(t, l.compact, Options{Relations: streamRelations}, inds...)
			prefix := []alert.Alert{{RuleID: "before"}}
			want := detectEach(x, evs, prefix[:1:1])
			alerting := 0
			for _, ev := range evs {
				if len(x.Detect(ev, nil)) > 0 {
					alerting++
				}
			}
			// The stream must exercise both paths.
			if alerting < len(evs)/50 || alerting > len(evs)/5 {
				t.Fatalf("%d of %d events raise alerts, want about 5%%", alerting, len(evs))
			}
			if got := x.DetectBatch(evs[:0], prefix[:1:1]); len(got) != 1 {
				t.Errorf("empty batch: %d alerts, want the 1 already in out", len(got))
			}
			for _, size := range []int{1, 2, 31, 32, 33, 500, markChunk + 1, len(evs)} {
				got := prefix[:1:1]
				for i := 0; i < len(evs); i += size {
					got = x.DetectBatch(evs[i:min(i+size, len(evs))], got)
				}
				if diff := sameAlerts(got, want); diff != "" {
					t.Errorf("batches of %d: %s", size, diff)
				}
			}
		})
	}
}

// TestDetectBatchMixedLayers checks DetectBatch against Detect on an index
// whose delta layer shadows a compacted base: values removed from the base
// (tombstones), values given another entry (overrides) and values only the
// delta holds, for IPv4 (flushV4) and the other kinds (flush). Every entry
// is usable by the events' member, so the screen must mark exactly the
// events that raise alerts: a tombstone it ignored would mark an event
// Detect then finds nothing in, which the alerts alone would not show.
func TestDetectBatchMixedLayers(t *testing.T) {
	var base []Indicator
	for i := range 64 {
		base = append(base,
			ind(fmt.Sprintf("v4-%d", i), KindIP, fmt.Sprintf("10.2.0.%d", i)),
			ind(fmt.Sprintf("v6-%d", i), KindIP, fmt.Sprintf("2001:db8::%x", i)),
			ind(fmt.Sprintf("dom-%d", i), KindDomain, fmt.Sprintf("evil%d.example", i)))
	}
	x := newIndex(t, true, Options{}, base...)
	b := x.NewBatch()
	for i := range 64 {
		for _, v := range []struct {
			k          Kind
			id, old, n string
		}{
			{KindIP, "v4", fmt.Sprintf("10.2.0.%d", i), fmt.Sprintf("10.3.0.%d", i)},
			{KindIP, "v6", fmt.Sprintf("2001:db8::%x", i), fmt.Sprintf("2001:db8::1:%x", i)},
			{KindDomain, "dom", fmt.Sprintf("evil%d.example", i), fmt.Sprintf("new%d.example", i)},
		} {
			var err error
			switch i % 4 {
			case 0: // tombstone: every entry on the value removed
				err = b.Remove(v.k, v.old, "")
			case 1: // tombstone: the value's only entry removed by id
				err = b.Remove(v.k, v.old, fmt.Sprintf("%s-%d", v.id, i))
			case 2: // override: a second entry on the value
				err = b.Add(ind(fmt.Sprintf("%s-%d-b", v.id, i), v.k, v.old))
			default: // a value only the delta holds
				err = b.Add(ind(fmt.Sprintf("%s-new-%d", v.id, i), v.k, v.n))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	s := x.cur.Load()
	for _, sp := range []space{spV4, spV6, spDomain} {
		if s.base.keys[sp] == 0 || len(s.delta[sp]) == 0 {
			t.Fatalf("space %d: %d base keys, %d delta keys; want both layers", sp, s.base.keys[sp], len(s.delta[sp]))
		}
	}
	r := rand.New(rand.NewPCG(3, 5))
	evs := make([]*event.Event, 600)
	for i := range evs {
		n := r.IntN(64)
		evs[i] = newEvent(
			"source.ip", fmt.Sprintf("10.%d.0.%d", 2+r.IntN(2), n),
			"destination.ip", fmt.Sprintf("2001:db8::%s%x", [2]string{"", "1:"}[r.IntN(2)], n),
			"dns.question.name", fmt.Sprintf("%s%d.example", [2]string{"evil", "new"}[r.IntN(2)], n))
		for _, key := range []string{"source.ip", "destination.ip", "dns.question.name"} {
			if r.IntN(3) != 0 { // most events carry one or two of the values
				evs[i].Set(key, "")
			}
		}
	}
	want := detectEach(x, evs, nil)
	if diff := sameAlerts(x.DetectBatch(evs, nil), want); diff != "" {
		t.Errorf("DetectBatch: %s", diff)
	}
	for start := 0; start < len(evs); start += markChunk {
		chunk := evs[start:min(start+markChunk, len(evs))]
		marks := x.screen(s, chunk)
		for i, ev := range chunk {
			marked, alerts := marks[i/64]&(1<<(i%64)) != 0, len(x.Detect(ev, nil))
			if marked != (alerts > 0) {
				t.Errorf("event %d (%v): marked %v, raises %d alerts", start+i, ev.AppendJSON(nil), marked, alerts)
			}
		}
	}
}

// TestDetectBatchEmptyIndex checks that an empty index raises nothing.
func TestDetectBatchEmptyIndex(t *testing.T) {
	x := New(Options{})
	if got := x.DetectBatch([]*event.Event{noMatchEvent()}, nil); len(got) != 0 {
		t.Errorf("empty index: %d alerts", len(got))
	}
}

// TestDetectBatchNoMatchAllocations checks that a batch in which no event
// matches costs no allocation.
func TestDetectBatchNoMatchAllocations(t *testing.T) {
	x := noMatchIndex(t)
	evs := make([]*event.Event, 500)
	for i := range evs {
		evs[i] = noMatchEvent()
	}
	var out []alert.Alert
	allocs := testing.AllocsPerRun(20, func() { out = x.DetectBatch(evs, out[:0]) })
	if allocs != 0 || len(out) != 0 {
		t.Errorf("no-match DetectBatch: %v allocations, %d alerts; want 0 and 0", allocs, len(out))
	}
}

// FuzzDetectBatch checks DetectBatch against Detect on fuzzed field
// values: three events share them in different fields, around events
// that match.
func FuzzDetectBatch(f *testing.F) {
	f.Add("192.0.2.1", "www.evil.example", "http://evil.example/", "a@evil.example")
	f.Add("198.51.100.7", "EVIL.example.", "HTTP://evil.example:80", strings.Repeat("a", 32))
	f.Add("::ffff:192.0.2.1", "bad.example", strings.Repeat("x", 3000), strings.Repeat("c", 64))
	f.Add("", "", "", "")
	f.Add("2001:db8::1", "good.example", "not a url", "\x00\xff")
	x := noMatchIndex(f)
	f.Fuzz(func(t *testing.T, ip, domain, url, other string) {
		match := newEvent("dns.question.name", "a.evil.example", "source.ip", "192.0.2.1")
		evs := []*event.Event{
			newEvent("source.ip", ip, "dns.question.name", domain, "url.full", url, "email.from.address", other),
			match,
			newEvent("host.ip", ip, "tls.server.sni", domain, "file.hash.md5", other, "url.full", other),
			newEvent("dns.answers.data", ip, "url.domain", url, "file.hash.sha256", other, "email.to.address", domain),
			match,
		}
		want := detectEach(x, evs, nil)
		if diff := sameAlerts(x.DetectBatch(evs, nil), want); diff != "" {
			t.Errorf("%s", diff)
		}
	})
}

// BenchmarkDetectBatch measures the detection path on an index of 1M
// (and, with XSOC_BENCH_LARGE=1, 10M) of Bench's indicators and events
// carrying eventValues of Bench's values, at two rates of events raising
// an alert: 0.1 % (BenchHitRate), about what real traffic sees, and 5 %.
// "batch" is DetectBatch on benchBatch events per call read from main
// memory, "parsed" the same on batches just written into recycled events
// as the pipeline's parser leaves them, and "single" Detect on the events
// of "batch" one by one. It reports events and value lookups per
// CPU-second of the calls (the machine may be shared) and events per
// second of wall time of the whole loop.
func BenchmarkDetectBatch(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run("n="+strconv.Itoa(n/1_000_000)+"M", func(b *testing.B) {
			if n > 1_000_000 {
				largeBench(b)
			}
			x := newIndexFromGen(b, n)
			runtime.GC() // measure matching, not the collection of the build's garbage
			qs := benchQueries(n)
			for _, rate := range []float64{BenchHitRate, 0.05} {
				b.Run("hits="+strconv.FormatFloat(100*rate, 'g', -1, 64)+"%", func(b *testing.B) {
					benchDetectBatch(b, x, benchEvents(x, qs, rate), rate)
				})
			}
		})
	}
}

// benchDetectBatch runs BenchmarkDetectBatch's measurements on evs, of
// which about rate raise an alert.
func benchDetectBatch(b *testing.B, x *Index, evs []*event.Event, rate float64) {
	alerting := 0
	for _, ev := range evs {
		if len(x.Detect(ev, nil)) > 0 {
			alerting++
		}
	}
	if got := float64(alerting) / float64(len(evs)); got < rate/2 || got > rate*2 {
		b.Fatalf("%d of %d events raise alerts, want about %g%%", alerting, len(evs), 100*rate)
	}
	for _, mode := range []string{"batch", "parsed", "single"} {
		b.Run(mode, func(b *testing.B) {
			d := newDetectStream(x, evs, mode == "parsed")
			if mode == "single" {
				d.detect = detectEach
			}
			events, values, took := 0, 0, time.Duration(0)
			b.ReportAllocs()
			for b.Loop() {
				n, t := d.step()
				events, values, took = events+benchBatch, values+n, took+t
			}
			b.ReportMetric(float64(events)/took.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(values)/took.Seconds(), "lookups/cpu-s")
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
