package ioc

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

// largeBench reports whether the 10M-indicator benchmarks should run: they
// take about a minute and a few GB, so they are opt-in.
func largeBench(b *testing.B) {
	if testing.Short() || os.Getenv("XSOC_BENCH_LARGE") != "1" {
		b.Skip("set XSOC_BENCH_LARGE=1 (and omit -short) to run the 10M-indicator benchmark")
	}
}

// BenchmarkDetectNoMatch is the common case: an event with every inspected
// field set and nothing indexed on any of them.
func BenchmarkDetectNoMatch(b *testing.B) {
	x := noMatchIndex(b)
	ev := noMatchEvent()
	var out []alert.Alert
	b.ReportAllocs()
	for b.Loop() {
		out = x.Detect(ev, out[:0])
	}
	if len(out) != 0 {
		b.Fatal("unexpected match")
	}
}

// BenchmarkDetectMatch raises one alert per event.
func BenchmarkDetectMatch(b *testing.B) {
	x := noMatchIndex(b)
	ev := noMatchEvent()
	ev.Set("dns.question.name", "www.evil.example")
	var out []alert.Alert
	b.ReportAllocs()
	for b.Loop() {
		out = x.Detect(ev, out[:0])
	}
	if len(out) != 1 {
		b.Fatalf("%d alerts, want 1", len(out))
	}
}

// BenchmarkLookup measures lookups per second on one core at 1M and 10M
// indicators (BenchMix): the whole mix, then each class of lookup alone.
// It reports the index's build time too.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run("n="+strconv.Itoa(n/1_000_000)+"M", func(b *testing.B) {
			if n > 1_000_000 {
				largeBench(b)
			}
			build := time.Now()
			x := newIndexFromGen(b, n)
			buildTime := time.Since(build)
			runtime.GC() // measure lookups, not the collection of the build's garbage
			all := benchQueries(n)
			classes := map[string][]Query{"mix": all}
			for i, q := range all {
				class := q.Kind.String() + map[bool]string{true: "-hit", false: "-miss"}[i%10 == 0]
				classes[class] = append(classes[class], q)
			}
			for name, qs := range classes {
				classes[name] = packed(qs)
			}
			// Values are looked up one at a time, four at a time as
			// Detect does an event's fields ("-event4"), or as a stream in
			// batches of benchBatch ("-batch").
			for _, name := range []string{"mix", "mix-event4", "mix-batch", "ip-hit", "ip-miss", "domain-hit", "domain-miss", "sha256-hit", "sha256-miss"} {
				qs, group := classes[strings.TrimSuffix(strings.TrimSuffix(name, "-event4"), "-batch")], 1
				switch {
				case strings.HasSuffix(name, "-event4"):
					group = eventValues
				case strings.HasSuffix(name, "-batch"):
					group = benchBatch
				}
				b.Run(name, func(b *testing.B) {
					found, i := 0, 0
					b.ReportAllocs()
					cpu := processCPU()
					for b.Loop() {
						j := i % (len(qs) - group + 1)
						found += x.CountFor(benchOwner, qs[j:j+group])
						i += group
					}
					if cpu = processCPU() - cpu; cpu > 0 {
						// Per CPU-second: the machine may be shared.
						b.ReportMetric(float64(i)/cpu.Seconds(), "lookups/cpu-s")
					}
					hits := float64(found) / float64(i)
					if want := map[bool]float64{true: 1, false: 0}[strings.HasSuffix(name, "-hit")]; !strings.HasPrefix(name, "mix") && math.Abs(hits-want) > 0.01 {
						b.Fatalf("%s: %.3f hits per lookup, want %v", name, hits, want)
					}
					b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "lookups/s")
					b.ReportMetric(buildTime.Seconds(), "build-s")
				})
			}
		})
	}
}

// BenchmarkMemory reports the heap an index of one million entries of a
// single kind holds, per entry, and its build time.
func BenchmarkMemory(b *testing.B) {
	for _, kind := range []struct {
		name string
		gen  func(g *benchGen) (Kind, string)
	}{
		{"ipv4", func(g *benchGen) (Kind, string) { return KindIP, g.ipv4() }},
		{"domain", func(g *benchGen) (Kind, string) { return KindDomain, g.domain() }},
		{"sha256", func(g *benchGen) (Kind, string) { return KindSHA256, g.sha256() }},
	} {
		b.Run(kind.name+"-1M", func(b *testing.B) {
			const n = 1_000_000
			var perEntry float64
			for b.Loop() {
				before := liveHeap()
				x := New(Options{})
				batch := x.NewBatch()
				gen := newBenchGen(3)
				for i := 0; i < n; i++ {
					ind := gen.indicator(0)
					ind.Kind, ind.Value = kind.gen(gen)
					if err := batch.Add(ind); err != nil {
						b.Fatal(err)
					}
				}
				if err := batch.Commit(); err != nil {
					b.Fatal(err)
				}
				batch = nil
				perEntry = float64(liveHeap()-before) / float64(x.Len())
				runtime.KeepAlive(x)
			}
			b.ReportMetric(perEntry, "B/indicator")
		})
	}
}

// BenchmarkBench runs the function behind "xsoc bench ioc" at 1M
// indicators (10M with XSOC_BENCH_LARGE=1) and reports its figures.
func BenchmarkBench(b *testing.B) {
	n := 1_000_000
	if !testing.Short() && os.Getenv("XSOC_BENCH_LARGE") == "1" {
		n = 10_000_000
	}
	var r BenchResult
	for b.Loop() {
		r = Bench(n, 5_000_000)
	}
	b.ReportMetric(float64(r.Indicators), "indicators")
	b.ReportMetric(r.BuildTime.Seconds(), "build-s")
	b.ReportMetric(r.BytesPerIndicator, "B/indicator")
	b.ReportMetric(r.LookupsPerSec, "lookups/s")
	b.ReportMetric(float64(r.Batch), "batch")
	b.ReportMetric(r.SingleLookupsPerSec, "single-lookups/s")
	b.ReportMetric(r.AllocsPerLookup, "allocs/lookup")
	b.ReportMetric(r.DetectLookupsPerSec, "detect-lookups/cpu-s")
	b.ReportMetric(r.ColdLookupsPerSec, "detect-cold-lookups/cpu-s")
}

// TestBench runs the function behind "xsoc bench ioc" on a small index:
// every synthetic indicator is valid and indexed, lookups find something
// and do not allocate.
func TestBench(t *testing.T) {
	const n = 5000
	r := Bench(n, 20_000)
	if r.Indicators != n {
		t.Errorf("Bench indexed %d indicators, want %d", r.Indicators, n)
	}
	if r.LookupsPerSec <= 0 || r.BytesPerIndicator <= 0 || r.BuildTime <= 0 ||
		r.DetectEventsPerSec <= 0 || r.ColdEventsPerSec <= 0 {
		t.Errorf("Bench result incomplete: %+v", r)
	}
	if r.ValuesPerEvent < eventValues-0.5 || r.ValuesPerEvent > eventValues {
		t.Errorf("Bench's events carry %.2f values each, want about %d", r.ValuesPerEvent, eventValues)
	}
	if r.AllocsPerLookup > 0.01 {
		t.Errorf("Bench lookups allocate: %v per lookup", r.AllocsPerLookup)
	}
	if hits := newIndexFromGen(t, n).CountFor(benchOwner, benchQueries(n)[:1000]); hits < 50 {
		t.Errorf("%d hits in the first 1000 bench lookups, want about 100", hits)
	}
}

// newIndexFromGen indexes Bench's first n synthetic indicators.
func newIndexFromGen(tb testing.TB, n int) *Index {
	tb.Helper()
	x, err := benchIndex(n)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// TestCountForMatchesSingleLookups checks the batched lookup against the
// single-value path: for Bench's key stream, CountFor over batches of
// every size finds exactly what LookupFor finds value by value.
func TestCountForMatchesSingleLookups(t *testing.T) {
	const n = 20_000
	x := newIndexFromGen(t, n)
	qs := benchQueries(n)[:4096]
	single := 0
	for _, q := range qs {
		hits, err := x.LookupFor(benchOwner, q.Kind, q.Value)
		if err != nil {
			t.Fatalf("LookupFor(%v, %q): %v", q.Kind, q.Value, err)
		}
		if got := x.CountFor(benchOwner, []Query{q}); got != len(hits) {
			t.Fatalf("CountFor(%v %q) = %d, LookupFor found %d", q.Kind, q.Value, got, len(hits))
		}
		single += len(hits)
	}
	if single < len(qs)/20 {
		t.Fatalf("only %d hits in %d lookups: the stream should hit about one in ten", single, len(qs))
	}
	for _, batch := range []int{1, 3, eventValues, batchDepth - 1, batchDepth, batchDepth + 1, maxPending + 1, benchBatch, len(qs)} {
		got := 0
		for i := 0; i < len(qs); i += batch {
			got += x.CountFor(benchOwner, qs[i:min(i+batch, len(qs))])
		}
		if got != single {
			t.Errorf("batches of %d: CountFor found %d, single lookups %d", batch, got, single)
		}
	}
	if other := x.CountFor("someone-else", qs); other != single {
		// Bench's indicators are TLP:GREEN: every member may use them.
		t.Errorf("CountFor for another member found %d, want %d", other, single)
	}
}
