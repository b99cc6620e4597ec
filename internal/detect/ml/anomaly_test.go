package ml

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

func TestHLLEstimate(t *testing.T) {
	for _, n := range []int{1, 10, 100, 1000, 10000, 100000} {
		var s hll
		for i := 0; i < n; i++ {
			s.add(hash64(7, strconv.Itoa(i)))
			s.add(hash64(7, strconv.Itoa(i))) // repeats do not count
		}
		if got := s.estimate(); math.Abs(got-float64(n)) > 0.3*float64(n)+1 {
			t.Errorf("%d distinct items estimated at %.0f", n, got)
		}
	}
}

func TestCountMinNeverUnderestimates(t *testing.T) {
	c := newCountMin(1 << 10)
	truth := map[int]uint32{}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50000; i++ {
		k := int(r.ExpFloat64() * 300)
		if got := c.addEstimate(hash64(1, strconv.Itoa(k))); got < truth[k] {
			t.Fatalf("item %d: estimate %d below its count %d", k, got, truth[k])
		}
		truth[k]++
	}
}

// netEvent fills ev as a connection from src.
func netEvent(ev *event.Event, at time.Time, src, dst, port string, sent int) *event.Event {
	ev.Reset()
	ev.Member, ev.Time = "m1", at
	ev.SetKey(event.SourceIp, src)
	ev.SetKey(event.DestinationIp, dst)
	ev.SetKey(event.DestinationPort, port)
	ev.SetKey(event.SourceBytes, strconv.Itoa(sent))
	return ev
}

// quietDay feeds d twelve hours of ordinary traffic from 40 hosts: a few
// connections a minute each to a handful of servers on 443 and 53, a few
// kilobytes each. It returns the alerts and the time it ended.
func quietDay(d *Anomaly, seed uint64) ([]alert.Alert, time.Time) {
	r := rand.New(rand.NewPCG(seed, 1))
	ev := new(event.Event)
	start := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	var out []alert.Alert
	for s := 0; s < 12*3600; s += 15 {
		at := start.Add(time.Duration(s) * time.Second)
		for h := 0; h < 40; h++ {
			if r.IntN(3) != 0 {
				continue
			}
			port := "443"
			if r.IntN(4) == 0 {
				port = "53"
			}
			out = d.Detect(netEvent(ev, at.Add(time.Duration(r.IntN(15000))*time.Millisecond), "10.0.0."+strconv.Itoa(h),
				"192.0.2."+strconv.Itoa(r.IntN(4)), port, 500+r.IntN(5000)), out)
		}
	}
	return out, start.Add(12 * time.Hour)
}

func TestAnomalyDetect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attack  func(ev *event.Event, at time.Time, d *Anomaly) []alert.Alert
		feature string
	}{
		{"port scan", func(ev *event.Event, at time.Time, d *Anomaly) (out []alert.Alert) {
			for p := 1; p <= 1000; p++ {
				out = d.Detect(netEvent(ev, at.Add(time.Duration(p)*5*time.Millisecond), "10.0.0.7", "10.0.1.1", strconv.Itoa(p), 0), out)
			}
			return out
		}, "distinct destination ports"},
		{"upload burst", func(ev *event.Event, at time.Time, d *Anomaly) (out []alert.Alert) {
			for i := 0; i < 30; i++ {
				out = d.Detect(netEvent(ev, at.Add(time.Duration(i)*5*time.Second), "10.0.0.7", "203.0.113.9", "443", 80e6), out)
			}
			return out
		}, "bytes out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewAnomaly(AnomalyOptions{})
			quiet, end := quietDay(d, 1)
			if len(quiet) != 0 {
				t.Fatalf("%d alerts on ordinary traffic, first %q", len(quiet), quiet[0].RuleTitle)
			}
			out := tc.attack(new(event.Event), end, d)
			if len(out) != 1 {
				t.Fatalf("%d alerts, want one per entity and window", len(out))
			}
			a := out[0]
			if a.Detector != AnomalyDetectorName || a.Key != "source address 10.0.0.7" || !strings.Contains(a.RuleTitle, tc.feature+" ") ||
				!strings.Contains(a.RuleTitle, " vs baseline ") {
				t.Fatalf("alert %q (key %q)", a.RuleTitle, a.Key)
			}
		})
	}
}

func TestAnomalySkipsAndCounts(t *testing.T) {
	d := NewAnomaly(AnomalyOptions{})
	ev := new(event.Event)
	ev.SetKey(event.SourceIp, "10.0.0.1") // no time
	d.Detect(ev, nil)
	ev.Reset()
	ev.SetKey(event.Message, "no entity")
	ev.Time = time.Now()
	d.Detect(ev, nil)
	if s, k := d.Stats().Scored.Load(), d.Stats().Skipped.Load(); s != 0 || k != 1 {
		t.Fatalf("scored %d, skipped %d", s, k)
	}
}

func TestAnomalyDetectDoesNotAllocate(t *testing.T) {
	d := NewAnomaly(AnomalyOptions{})
	ev := netEvent(new(event.Event), time.Unix(1700000000, 0), "10.0.0.1", "192.0.2.1", "443", 1200)
	ev.SetKey(event.HostName, "ws1")
	ev.SetKey(event.UserName, "alice")
	if n := testing.AllocsPerRun(5000, func() {
		ev.Time = ev.Time.Add(time.Duration(1+rand.IntN(20)) * time.Second)
		d.Detect(ev, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}

func TestAnomalyMemoryIsBounded(t *testing.T) {
	d := NewAnomaly(AnomalyOptions{MaxEntities: 640})
	ev := new(event.Event)
	at := time.Unix(1700000000, 0)
	for i := 0; i < 20000; i++ {
		d.Detect(netEvent(ev, at.Add(time.Duration(i)*time.Second), "10."+strconv.Itoa(i>>16)+"."+strconv.Itoa(i>>8&255)+"."+strconv.Itoa(i&255), "192.0.2.1", "443", 100), nil)
	}
	n := 0
	for i := range d.shards {
		n += len(d.shards[i].slab)
	}
	if n > 640 {
		t.Fatalf("%d entities kept, limit 640", n)
	}
}

func TestAnomalyStateRoundTrip(t *testing.T) {
	d := NewAnomaly(AnomalyOptions{})
	quietDay(d, 2)
	path := filepath.Join(t.TempDir(), "ml", "anomaly.state")
	if err := SaveState(path, d); err != nil {
		t.Fatal(err)
	}
	restored := NewAnomaly(AnomalyOptions{})
	if err := LoadState(path, restored); err != nil {
		t.Fatal(err)
	}
	again, _ := restored.MarshalBinary()
	first, _ := d.MarshalBinary()
	if len(again) != len(first) {
		t.Fatalf("restored state is %d bytes, saved %d", len(again), len(first))
	}
	// Both detectors judge the same scan the same way.
	end := time.Date(2025, 3, 11, 12, 0, 0, 0, time.UTC)
	var titles [2]string
	for i, det := range []*Anomaly{d, restored} {
		ev := new(event.Event)
		var out []alert.Alert
		for p := 1; p <= 600; p++ {
			out = det.Detect(netEvent(ev, end.Add(time.Duration(p)*time.Millisecond), "10.0.0.3", "10.0.1.1", strconv.Itoa(p), 0), out)
		}
		if len(out) != 1 {
			t.Fatalf("detector %d: %d alerts", i, len(out))
		}
		titles[i] = out[0].RuleTitle
	}
	if titles[0] != titles[1] {
		t.Fatalf("restored detector says %q, the original %q", titles[1], titles[0])
	}
}

func TestAnomalyStateErrors(t *testing.T) {
	d := NewAnomaly(AnomalyOptions{})
	quietDay(d, 3)
	good, _ := d.MarshalBinary()
	otherVersion := bytes.Clone(good)
	otherVersion[len(stateMagic)] = 9
	otherVersion = append(otherVersion[:len(otherVersion)-4], 0, 0, 0, 0)
	w := stateWriter{b: otherVersion[:len(otherVersion)-4]}
	otherVersion = w.finish()
	wider, _ := NewAnomaly(AnomalyOptions{Window: time.Minute}).MarshalBinary()
	beacon := newStateWriter(BeaconDetectorName, 0).finish()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, want   string
		data         []byte
		incompatible bool
	}{
		{"empty", "not an xsoc ML state file", nil, false},
		{"text", "not an xsoc ML state file", []byte("hello, world"), false},
		{"truncated", "checksum mismatch", good[:len(good)/2], false},
		{"flipped byte", "checksum mismatch", func() []byte { b := bytes.Clone(good); b[len(b)/3] ^= 1; return b }(), false},
		{"other version", "format version 9", otherVersion, true},
		{"other detector", `state of detector "ml-beacon"`, beacon, true},
		{"other options", "saved with window 1m0s", wider, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".state")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			fresh := NewAnomaly(AnomalyOptions{})
			err := LoadState(path, fresh)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, path, tc.want)
			}
			if errors.Is(err, ErrStateIncompatible) != tc.incompatible {
				t.Fatalf("error %v: incompatible %v, want %v", err, errors.Is(err, ErrStateIncompatible), tc.incompatible)
			}
			if len(fresh.models) != 0 {
				t.Fatal("a refused state changed the detector")
			}
		})
	}
	if err := LoadState(filepath.Join(dir, "missing.state"), NewAnomaly(AnomalyOptions{})); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzAnomalyState feeds damaged state files to the reader: it refuses
// or restores, never panics, and what it restores can be saved again.
func FuzzAnomalyState(f *testing.F) {
	d := NewAnomaly(AnomalyOptions{Psi: 16})
	ev := new(event.Event)
	at := time.Unix(1700000000, 0)
	for i := 0; i < 400; i++ {
		d.Detect(netEvent(ev, at.Add(time.Duration(i)*20*time.Second), "10.0.0."+strconv.Itoa(i%5), "192.0.2.1", "443", 100), nil)
	}
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The checksum would refuse nearly every mutation; fix it up so
		// that the fuzzer reaches the payload reader.
		if len(data) > 4 {
			w := stateWriter{b: bytes.Clone(data[:len(data)-4])}
			data = w.finish()
		}
		fresh := NewAnomaly(AnomalyOptions{Psi: 16})
		if err := fresh.UnmarshalBinary(data); err != nil {
			return
		}
		if _, err := fresh.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		fresh.Detect(netEvent(ev, at.Add(24*time.Hour), "10.0.0.1", "192.0.2.1", "443", 100), nil)
	})
}

func BenchmarkAnomalyDetect(b *testing.B) {
	d := NewAnomaly(AnomalyOptions{})
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]*event.Event, 4096)
	at := time.Unix(1700000000, 0)
	for i := range evs {
		at = at.Add(time.Duration(r.IntN(100)) * time.Millisecond)
		evs[i] = netEvent(new(event.Event), at, "10.0.0."+strconv.Itoa(r.IntN(200)), "192.0.2."+strconv.Itoa(r.IntN(50)), strconv.Itoa(r.IntN(3)*400+53), r.IntN(9000))
		evs[i].SetKey(event.HostName, "ws"+strconv.Itoa(r.IntN(200)))
		evs[i].SetKey(event.UserName, "user"+strconv.Itoa(r.IntN(200)))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(len(evs)) * 50 * time.Millisecond)
		d.Detect(ev, nil)
	}
}

// BenchmarkAnomalyDetectManyEntities feeds events whose hosts, users and
// source addresses are all distinct over a cycle three times the size of
// the entity table, as a large estate's are: every lookup misses the
// caches and most make room by evicting, the cost the live path pays.
func BenchmarkAnomalyDetectManyEntities(b *testing.B) {
	d := NewAnomaly(AnomalyOptions{})
	evs := make([]*event.Event, 1<<15)
	at := time.Unix(1700000000, 0)
	for i := range evs {
		at = at.Add(time.Millisecond)
		evs[i] = netEvent(new(event.Event), at, "10."+strconv.Itoa(i>>16)+"."+strconv.Itoa(i>>8&255)+"."+strconv.Itoa(i&255), "192.0.2."+strconv.Itoa(i%50), "443", 1000+i%9000)
		evs[i].SetKey(event.HostName, "ws"+strconv.Itoa(i))
		evs[i].SetKey(event.UserName, "user"+strconv.Itoa(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(len(evs)) * time.Millisecond)
		d.Detect(ev, nil)
	}
}

// BenchmarkAnomalyDetectManyHits feeds process starts from 20,000 hosts
// and 20,000 users, as xsoc bench e2e sends from 5,000 and 900 among much
// other work: every entity stays in the table, but its lines are seldom
// in the caches.
func BenchmarkAnomalyDetectManyHits(b *testing.B) {
	d := NewAnomaly(AnomalyOptions{})
	r := rand.New(rand.NewPCG(2, 2))
	evs := make([]*event.Event, 1<<15)
	at := time.Unix(1700000000, 0)
	for i := range evs {
		ev := procEvent(new(event.Event), at, "m1", "WS-"+strconv.Itoa(r.IntN(20000)), "explorer.exe", "chrome.exe", "")
		ev.SetKey(event.UserName, "user"+strconv.Itoa(r.IntN(20000)))
		evs[i] = ev
	}
	for _, ev := range evs {
		d.Detect(ev, nil) // the entities are in the table
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Millisecond)
		d.Detect(ev, nil)
	}
}

// TestAnomalySharedShard sends events whose host and user fall in one
// shard of a table with a single entry per shard: the user's lookup
// evicts the host, so each entity must be observed before the next is
// looked up, and the shard must end with the user's entity having seen
// the event once, whatever the host.
func TestAnomalySharedShard(t *testing.T) {
	mk := func(kind int) uint64 { return hash64(uint64(kind)+10, "m1") }
	key := func(kind int, name string) uint64 { return mix64(mk(kind) ^ hash64(uint64(kind)+20, name)) }
	userKey := key(kindUser, "alice")
	var hosts []string
	for i := 0; len(hosts) < 3; i++ {
		if h := "ws" + strconv.Itoa(i); key(kindHost, h)%anomalyShards == userKey%anomalyShards {
			hosts = append(hosts, h)
		}
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			d := NewAnomaly(AnomalyOptions{MaxEntities: anomalyShards})
			ev := netEvent(new(event.Event), time.Unix(1700000000, 0), "", "192.0.2.1", "443", 100)
			ev.SetKey(event.HostName, host)
			ev.SetKey(event.UserName, "alice")
			d.Detect(ev, nil)
			s := &d.shards[userKey%anomalyShards]
			if len(s.slab) != 1 {
				t.Fatalf("%d entries in the shard, want 1", len(s.slab))
			}
			if e := &s.slab[0]; e.key != userKey || e.model != mk(kindUser) || e.kind != kindUser || e.count[featEvents] != 1 {
				t.Fatalf("entity key %x model %x kind %d events %v, want the user's (%x, %x) with 1 event", e.key, e.model, e.kind, e.count[featEvents], userKey, mk(kindUser))
			}
		})
	}
}
