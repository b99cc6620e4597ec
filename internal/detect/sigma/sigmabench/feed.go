package sigmabench

import (
	"fmt"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// Chunk is how many events a Feed normalises at a time: the pipeline's
// detection chunk, so that a benchmark meets events as warm in the cache
// as the pipeline's detectors do.
const Chunk = 64

// Feed hands out events the way the pipeline does: it parses the next
// chunk of input lines with the ingest parser into reused events, which
// the detectors then see while they are still in the processor's cache.
// Benchmarks that cycle through thousands of events held in memory
// instead read every event's fields back from main memory.
type Feed struct {
	lines  [][]byte
	next   int
	parser format.Parser
	events []event.Event
	ptrs   []*event.Event
}

// NewFeed returns a Feed cycling through lines (records of any input
// format xsoc reads). Every line must parse: a line that does not is an
// error naming it, so that a benchmark never measures rejects.
func NewFeed(lines [][]byte) (*Feed, error) {
	if len(lines) == 0 {
		return nil, fmt.Errorf("no input lines")
	}
	f := &Feed{lines: lines, events: make([]event.Event, Chunk), ptrs: make([]*event.Event, Chunk)}
	for i, line := range lines {
		ev := &f.events[0]
		ev.Reset()
		if err := f.parser.Parse(format.Auto, line, ev); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	for i := range f.events {
		f.ptrs[i] = &f.events[i]
	}
	return f, nil
}

// FeedOf encodes events as NDJSON lines, as an ECS shipper would send
// them, and returns a Feed over those lines.
func FeedOf(events []*event.Event) (*Feed, error) {
	lines := make([][]byte, len(events))
	for i, ev := range events {
		lines[i] = ev.AppendJSON(nil)
	}
	return NewFeed(lines)
}

// Len is the number of input lines; Next returns each of them once per
// Len events.
func (f *Feed) Len() int { return len(f.lines) }

// Next parses the next Chunk lines (wrapping around at the end of the
// input) and returns their events, valid until the following call.
func (f *Feed) Next() []*event.Event {
	for i := range f.events {
		ev := &f.events[i]
		ev.Reset()
		// Lines were checked by NewFeed; parsing them again cannot fail.
		_ = f.parser.Parse(format.Auto, f.lines[f.next], ev)
		if f.next++; f.next == len(f.lines) {
			f.next = 0
		}
	}
	return f.ptrs
}
