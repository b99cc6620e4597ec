package sigma

import (
	"runtime"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
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
	// EventsPerSec is measured on one goroutine, so it is per core.
	EventsPerSec float64
	// AllocsPerEvent counts heap allocations per event over the whole
	// run, alerts included; the no-match path itself allocates nothing.
	AllocsPerEvent float64
}

// Bench runs engine over events on the calling goroutine, repeating the
// input until d has passed (at least one pass), and measures throughput
// and allocations. It is what "xsoc bench sigma" reports.
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
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	n := 0
	for {
		for _, ev := range events {
			out = engine.Detect(ev, out[:0])
		}
		n += len(events)
		if time.Since(start) >= d {
			break
		}
	}
	res.Elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	res.Events = n
	res.EventsPerSec = float64(n) / res.Elapsed.Seconds()
	res.AllocsPerEvent = float64(after.Mallocs-before.Mallocs) / float64(n)
	return res
}
