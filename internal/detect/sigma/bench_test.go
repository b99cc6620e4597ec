package sigma_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/sigma/sigmabench"
	"github.com/xsoc/xsoc/internal/event"
)

func loadRules(tb testing.TB, sub string) []*sigma.Rule {
	tb.Helper()
	dir := filepath.Join(shared(tb), "sigma", sub)
	rules, errs := sigma.LoadDir(dir, sigma.Options{})
	for _, e := range errs {
		if !e.Unsupported {
			tb.Fatalf("load: %v", e)
		}
	}
	return rules
}

// sample picks n rules deterministically.
func sample(rules []*sigma.Rule, n int) []*sigma.Rule {
	if n >= len(rules) {
		return rules
	}
	r := rand.New(rand.NewPCG(7, 7))
	idx := r.Perm(len(rules))[:n]
	out := make([]*sigma.Rule, n)
	for i, j := range idx {
		out[i] = rules[j]
	}
	return out
}

// BenchmarkDetect cycles through 10,000 events held in memory, calling
// Detect on each: every event's fields come from main memory.
func BenchmarkDetect(b *testing.B) { benchDetect(b, 1) }

// BenchmarkDetectBatch is BenchmarkDetect through DetectBatch, 64 events
// per call as the pipeline hands them over, reading fields ahead.
func BenchmarkDetectBatch(b *testing.B) { benchDetect(b, detect.BatchSize) }

// benchSet is a rule set the benchmarks measure, with the
// process-creation rules among it, which true positives are built from
// (the rules an event of this kind can meet).
type benchSet struct {
	name      string
	rules, pc []*sigma.Rule
}

func benchSets(b *testing.B) []benchSet {
	pc := loadRules(b, "rules/windows/process_creation")
	all := sample(loadRules(b, "rules"), 3000)
	sets := []benchSet{
		{name: "process_creation/100", rules: sample(pc, 100)},
		{name: "process_creation/1000", rules: sample(pc, 1000)},
		{name: "process_creation/all", rules: pc},
		// 3,000 of all SigmaHQ rules, every logsource: the event router
		// keeps the other logsources' rules away from these events.
		{name: "sigmahq/3000", rules: all},
	}
	for i := range sets {
		sets[i].pc = intersect(sets[i].rules, pc)
	}
	return sets
}

// engineOf loads s into a new engine.
func engineOf(b *testing.B, s benchSet) *sigma.Engine {
	eng := sigma.NewEngine(sigma.Options{})
	if errs := eng.Load(s.rules); len(errs) > 0 {
		b.Fatalf("load: %v", errs[0])
	}
	return eng
}

func benchDetect(b *testing.B, batch int) {
	for _, s := range benchSets(b) {
		b.Run(s.name, func(b *testing.B) {
			eng := engineOf(b, s)
			events := sigmabench.Generate(sigmabench.Config{Events: 10000 / batch * batch, Seed: 1, Positives: 0.015, Rules: s.pc})
			out := make([]alert.Alert, 0, 64)
			matched := 0
			for _, ev := range events {
				out = eng.Detect(ev, out[:0])
				if len(out) > 0 {
					matched++
				}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, _ := sigma.ThreadCPU()
			start := time.Now()
			n := 0
			for n < b.N {
				i := n % len(events)
				if batch == 1 {
					out = eng.Detect(events[i], out[:0])
				} else {
					out = eng.DetectBatch(events[i:i+batch], out[:0])
				}
				n += batch
			}
			elapsed := time.Since(start)
			cpu1, ok := sigma.ThreadCPU()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			if ok && cpu1 > cpu0 {
				b.ReportMetric(float64(n)/(float64(cpu1-cpu0)/1e9), "events/cpu-s")
			}
			b.ReportMetric(float64(len(s.rules)), "rules")
			b.ReportMetric(100*float64(matched)/float64(len(events)), "%matched")
		})
	}
}

// BenchmarkDetectFresh measures what the pipeline gets: events parsed
// from NDJSON lines a chunk at a time, each chunk passed to DetectBatch
// while it is still in the processor's cache (BenchmarkDetect cycles
// through 10,000 events read back from memory). ns/op includes parsing; events/cpu-s
// and detect-ns/event count detection only.
func BenchmarkDetectFresh(b *testing.B) {
	for _, s := range benchSets(b) {
		b.Run(s.name, func(b *testing.B) {
			eng := engineOf(b, s)
			feed := sigmabench.FeedOf(sigmabench.Generate(sigmabench.Config{Events: 10000, Seed: 1, Positives: 0.015, Rules: s.pc}))
			for i := 0; i < feed.Len(); i += detect.BatchSize {
				eng.DetectBatch(feed.Next(), nil) // warm the memos
			}
			b.ResetTimer()
			n := 0
			res := sigma.BenchFeed(eng, func() []*event.Event {
				if n >= b.N {
					return nil
				}
				n += detect.BatchSize
				return feed.Next()
			}, time.Duration(math.MaxInt64))
			b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(res.Events), "detect-ns/event")
			b.ReportMetric(res.EventsPerCPUSec, "events/cpu-s")
			b.ReportMetric(float64(len(s.rules)), "rules")
		})
	}
}

// intersect returns the rules of with whose id is in rules.
func intersect(rules, with []*sigma.Rule) []*sigma.Rule {
	in := map[string]bool{}
	for _, r := range rules {
		in[r.ID] = true
	}
	var out []*sigma.Rule
	for _, r := range with {
		if in[r.ID] {
			out = append(out, r)
		}
	}
	return out
}

// TestNoMatchAllocatesNothing checks the promise of detect.Detector: an
// event that matches no rule costs no allocation.
func TestNoMatchAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	pc := loadRules(t, "rules/windows/process_creation")
	eng := sigma.NewEngine(sigma.Options{})
	eng.Load(pc)
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 3})
	var quiet []*event.Event
	for _, ev := range events {
		if len(eng.Detect(ev, nil)) == 0 {
			quiet = append(quiet, ev)
		}
	}
	if len(quiet) < len(events)/2 {
		t.Fatalf("only %d of %d benign events raise no alert", len(quiet), len(events))
	}
	out := make([]alert.Alert, 0, 8)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		out = eng.Detect(quiet[i%len(quiet)], out[:0])
		i++
	})
	if allocs != 0 {
		t.Errorf("no-match Detect allocates %.2f times per event, want 0", allocs)
	}
	batch := quiet[:min(len(quiet), 64)]
	allocs = testing.AllocsPerRun(100, func() {
		out = eng.DetectBatch(batch, out[:0])
	})
	if allocs != 0 {
		t.Errorf("no-match DetectBatch allocates %.2f times per batch, want 0", allocs)
	}
}

func TestBench(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	eng := sigma.NewEngine(sigma.Options{})
	eng.Load(pc)
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 5, Positives: 0.02, Rules: pc})
	res := sigma.Bench(eng, events, time.Millisecond)
	if res.Events < len(events) || res.EventsPerSec <= 0 {
		t.Fatalf("Bench = %+v: want at least one pass", res)
	}
	if res.MatchedEvents == 0 {
		t.Errorf("no planted true positive matched: %+v", res)
	}
	t.Logf("%+v", res)
}
