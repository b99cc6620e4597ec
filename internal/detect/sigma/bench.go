package sigma

import (
	"runtime"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// BenchResult is the outcome of Bench.
type BenchResult struct {
	// Events is how many events were tested (the input, repeated as often
	// as the duration allowed); Matches how many alerts one pass over the
	// input raised.
	Events  int
	Matches int
	// MatchedEvents is how many input events raised at least one alert.
	MatchedEvents int
	Elapsed       time.Duration
	// EventsPerSec is measured on one goroutine, so it is per core:
	// events over wall time.
	EventsPerSec float64
	// EventsPerCPUSec is events over the CPU time the benchmarking thread
	// used (Linux), which other load on the machine does not distort; 0
	// where unavailable.
	EventsPerCPUSec float64
	// AllocsPerEvent counts heap allocations per event over the whole
	// run, alerts included; the no-match path itself allocates nothing.
	AllocsPerEvent float64
}

// Bench runs engine over events on the calling goroutine, repeating the
// input until d has passed (at least one pass), and measures throughput
// and allocations. Events go to DetectBatch detect.BatchSize at a time, as the
// pipeline hands them over, but all of them are held in memory, so their
// fields are read back from main memory. It is what "xsoc bench sigma"
// reports as "from memory".
func Bench(engine *Engine, events []*event.Event, d time.Duration) BenchResult {
	var res BenchResult
	if len(events) == 0 {
		return res
	}
	out := make([]alert.Alert, 0, 64)
	// First pass: count matches (and warm up scratch buffers).
	for _, ev := range events {
		out = engine.Detect(ev, out[:0])
		res.Matches += len(out)
		if len(out) > 0 {
			res.MatchedEvents++
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, cpuOK := threadCPU()
	start := time.Now()
	n := 0
	for {
		for i := 0; i < len(events); i += detect.BatchSize {
			out = engine.DetectBatch(events[i:min(i+detect.BatchSize, len(events))], out[:0])
		}
		n += len(events)
		if time.Since(start) >= d {
			break
		}
	}
	res.Elapsed = time.Since(start)
	if cpu1, ok := threadCPU(); ok && cpuOK && cpu1 > cpu0 {
		res.EventsPerCPUSec = float64(n) / (float64(cpu1-cpu0) / 1e9)
	}
	runtime.ReadMemStats(&after)
	res.Events = n
	res.EventsPerSec = float64(n) / res.Elapsed.Seconds()
	res.AllocsPerEvent = float64(after.Mallocs-before.Mallocs) / float64(n)
	return res
}

// BenchFeed measures engine on events as the pipeline hands them over:
// next returns the next chunk of freshly normalised events (see
// sigmabench.Feed), which goes to DetectBatch, and only detection is
// timed, in wall and thread CPU time, until d of detection has passed.
// Parsing is not counted, so AllocsPerEvent is left 0; Matches and
// MatchedEvents count every event tested.
func BenchFeed(engine *Engine, next func() []*event.Event, d time.Duration) BenchResult {
	var res BenchResult
	out := make([]alert.Alert, 0, 64)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu int64
	cpuOK := true
	for res.Elapsed < d {
		evs := next()
		if len(evs) == 0 {
			break
		}
		cpu0, ok0 := threadCPU()
		start := time.Now()
		out = engine.DetectBatch(evs, out[:0])
		res.Elapsed += time.Since(start)
		cpu1, ok1 := threadCPU()
		cpu += cpu1 - cpu0
		res.Matches += len(out)
		for i := range out {
			if i == 0 || out[i].EventIDs[0] != out[i-1].EventIDs[0] {
				res.MatchedEvents++
			}
		}
		cpuOK = cpuOK && ok0 && ok1
		res.Events += len(evs)
	}
	if res.Events == 0 {
		return res
	}
	res.EventsPerSec = float64(res.Events) / res.Elapsed.Seconds()
	if cpuOK && cpu > 0 {
		res.EventsPerCPUSec = float64(res.Events) / (float64(cpu) / 1e9)
	}
	return res
}

// ThreadCPU exposes the calling thread's CPU time for benchmarks in other
// packages; ok is false where the platform cannot tell.
func ThreadCPU() (nanos int64, ok bool) { return threadCPU() }
