package ml

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

func contactAt(ev *event.Event, at time.Time, src, dst string) *event.Event {
	ev.Reset()
	ev.Member, ev.Time = "m1", at
	ev.SetKey(event.SourceIp, src)
	ev.SetKey(event.DestinationIp, dst)
	ev.SetKey(event.SourceBytes, "300")
	ev.SetKey(event.DestinationBytes, "500")
	return ev
}

func TestBeaconDetect(t *testing.T) {
	start := time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		gap   func(r *rand.Rand) time.Duration
		alert bool
	}{
		{"metronome", func(*rand.Rand) time.Duration { return time.Minute }, true},
		{"30% jitter", func(r *rand.Rand) time.Duration { return time.Duration(float64(time.Minute) * (0.7 + 0.6*r.Float64())) }, true},
		{"missed beats", func(r *rand.Rand) time.Duration {
			if r.IntN(6) == 0 {
				return 2 * time.Minute
			}
			return time.Minute
		}, true},
		{"poisson", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Minute)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			d := NewBeacon(BeaconOptions{})
			ev := new(event.Event)
			at := start
			var title string
			for i := 0; i < 60 && title == ""; i++ {
				at = at.Add(max(tc.gap(r), 3*time.Second))
				if out := d.Detect(contactAt(ev, at, "10.0.0.5", "203.0.113.7"), nil); len(out) > 0 {
					title = out[0].RuleTitle
					if out[0].Key != "10.0.0.5→203.0.113.7" || out[0].Detector != BeaconDetectorName {
						t.Fatalf("alert %+v", out[0])
					}
				}
			}
			if (title != "") != tc.alert {
				t.Fatalf("alert %q, want one: %v", title, tc.alert)
			}
			if tc.alert && !strings.Contains(title, "every 1m0s") && !strings.Contains(title, "every 59s") && !strings.Contains(title, "every 1m1s") {
				t.Errorf("period not found: %s", title)
			}
		})
	}
}

func TestBeaconSkipsAndCounts(t *testing.T) {
	d := NewBeacon(BeaconOptions{})
	ev := new(event.Event)
	ev.SetKey(event.DestinationIp, "203.0.113.7") // no source, no time
	d.Detect(ev, nil)
	d.Detect(&event.Event{}, nil) // not a contact at all
	d.Detect(contactAt(new(event.Event), time.Unix(1700000000, 0), "10.0.0.1", "203.0.113.7"), nil)
	if s := d.Stats(); s.Skipped.Load() != 1 || s.Scored.Load() != 1 {
		t.Fatalf("skipped %d scored %d", s.Skipped.Load(), s.Scored.Load())
	}
}

func TestBeaconMemoryIsBounded(t *testing.T) {
	d := NewBeacon(BeaconOptions{MaxPairs: 640})
	ev := new(event.Event)
	at := time.Unix(1700000000, 0)
	for i := 0; i < 20000; i++ {
		contactAt(ev, at.Add(time.Duration(i)*time.Second), "10.0.0.1", "203.0."+string(rune('0'+i%10))+"."+strings.Repeat("1", 1+i%3)+string(rune('0'+i/10%10))+string(rune('a'+i/100%26)))
		d.Detect(ev, nil)
	}
	for i := range d.shards {
		s := &d.shards[i]
		if s.index.len() > len(s.slab) || len(s.slab) > 10 {
			t.Fatalf("shard %d: %d indexed, %d slots", i, s.index.len(), len(s.slab))
		}
	}
}

func TestBeaconDetectDoesNotAllocate(t *testing.T) {
	d := NewBeacon(BeaconOptions{})
	ev := contactAt(new(event.Event), time.Unix(1700000000, 0), "10.0.0.1", "203.0.113.7")
	if n := testing.AllocsPerRun(1000, func() {
		ev.Time = ev.Time.Add(time.Duration(1+rand.IntN(600)) * time.Second)
		d.Detect(ev, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}

func TestEvalBeaconMeetsTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a day of traffic")
	}
	cfg := DefaultBeaconEval()
	cfg.BenignPairs, cfg.BeaconPairs = 2000, 200
	res := EvalBeacon(cfg, BeaconOptions{})
	if res.Recall < 0.95 || res.FalsePs > 1 {
		t.Fatalf("recall %.3f, %d false positives in %d benign pairs", res.Recall, res.FalsePs, cfg.BenignPairs)
	}
}

func BenchmarkBeaconDetect(b *testing.B) {
	d := NewBeacon(BeaconOptions{})
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]*event.Event, 4096)
	at := time.Unix(1700000000, 0)
	for i := range evs {
		at = at.Add(time.Duration(r.IntN(200)) * time.Millisecond)
		evs[i] = contactAt(new(event.Event), at, "10.0.0."+string(rune('0'+r.IntN(10))), "203.0.113."+string(rune('0'+r.IntN(10))))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(len(evs)) * 100 * time.Millisecond)
		d.Detect(ev, nil)
	}
}
