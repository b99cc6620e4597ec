package sigmabench

import (
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// Feed hands out events the way the pipeline does: it parses the next
// detect.BatchSize input lines with the ingest parser into reused events,
// which the detectors then see while they are still in the processor's
// cache. Benchmarks that cycle through thousands of events held in memory
// instead read every event's fields back from main memory.
type Feed struct {
	lines  [][]byte
	next   int
	parser format.Parser
	events []event.Event
	ptrs   []*event.Event
}

// ParseLines parses every line as ingest does (format sniffed per line).
// On error it returns the index of the line that did not parse, so that
// a benchmark never measures rejects.
func ParseLines(lines [][]byte) ([]*event.Event, int, error) {
	var p format.Parser
	out := make([]*event.Event, len(lines))
	for i, line := range lines {
		ev := new(event.Event)
		if err := p.Parse(format.Auto, line, ev); err != nil {
			return nil, i, err
		}
		out[i] = ev
	}
	return out, 0, nil
}

// NewFeed returns a Feed cycling through lines, which must be at least
// one and all parse (ParseLines checks them).
func NewFeed(lines [][]byte) *Feed {
	f := &Feed{lines: lines, events: make([]event.Event, detect.BatchSize), ptrs: make([]*event.Event, detect.BatchSize)}
	for i := range f.events {
		f.ptrs[i] = &f.events[i]
	}
	return f
}

// FeedOf encodes events as NDJSON lines, as an ECS shipper would send
// them, and returns a Feed over those lines.
func FeedOf(events []*event.Event) *Feed {
	lines := make([][]byte, len(events))
	for i, ev := range events {
		lines[i] = ev.AppendJSON(nil)
	}
	return NewFeed(lines)
}

// Len is the number of input lines; Next returns each of them once per
// Len events.
func (f *Feed) Len() int { return len(f.lines) }

// Next parses the next detect.BatchSize lines (wrapping around at the end
// of the input) and returns their events, valid until the following call.
func (f *Feed) Next() []*event.Event {
	for i := range f.events {
		ev := &f.events[i]
		ev.Reset()
		// Lines parse (NewFeed's contract); one that did not would leave
		// an empty event, not a crash.
		_ = f.parser.Parse(format.Auto, f.lines[f.next], ev)
		if f.next++; f.next == len(f.lines) {
			f.next = 0
		}
	}
	return f.ptrs
}
