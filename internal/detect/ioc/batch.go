package ioc

import (
	"math/bits"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

var _ detect.BatchDetector = (*Index)(nil)

// markChunk is how many events DetectBatch screens at once: the events of
// a chunk share the lookup queue, and a bitset of markWords words records
// which of them carry a value the index holds. 256 events fit a uint8 tag
// and keep the bitset a few words on the stack.
const (
	markChunk = 256
	markWords = markChunk / 64
)

// DetectBatch appends exactly the alerts that calling Detect on each event
// of evs in order would append, in the same order, testing every event
// against one snapshot of the index. It does not allocate when no event
// matches.
//
// It works in two steps per chunk of events. First it screens the chunk:
// the values of all its events go through one lookup queue, tagged with
// their event, so that each pass of the batched lookup (see matcher.flush)
// keeps the reads of several events in flight instead of one event's few;
// a value found in a table or a range containing an address marks its
// event. Then it runs Detect's matching on the marked events only, in
// order. The screen applies neither TLP nor validity: it only rules out
// events with nothing indexed on any value, which is nearly all of them,
// and the second step decides what a marked event raises with Detect's
// own code, so the two cannot disagree. The second step finds the marked
// events' table lines still in the cache.
func (x *Index) DetectBatch(evs []*event.Event, out []alert.Alert) []alert.Alert {
	s := x.cur.Load()
	if s.live == 0 {
		return out
	}
	for len(evs) > 0 {
		chunk := evs[:min(len(evs), markChunk)]
		evs = evs[len(chunk):]
		marks := x.screen(s, chunk)
		if marks == ([markWords]uint64{}) {
			continue
		}
		for i, ev := range chunk {
			if marks[i/64]&(1<<(i%64)) != 0 {
				out = x.detectIn(s, ev, out)
			}
		}
	}
	return out
}

// screenGroup is how many events screen reads ahead of matching. An
// event's inspected fields lie in about ten cache lines, and a pipeline's
// batch of events may no longer be in the processor's cache when the IOC
// detector reaches it. Reading the fields of a group of events in a short
// loop of independent loads puts the misses of several events in flight
// at once; matching the group then finds its fields in the cache. Sixteen
// events' lines (about 9 KiB) fit the smallest first-level data cache
// with room to spare.
const screenGroup = 16

// screen queues the values of up to markChunk events through one matcher
// and returns a bitset with the bit of every event with a value the index
// holds (whatever its TLP and validity) set.
func (x *Index) screen(s *snapshot, evs []*event.Event) [markWords]uint64 {
	m := matcher{x: x, s: s, mode: modeMark}
	var set [screenGroup]uint32
	for len(evs) > 0 {
		group := evs[:min(len(evs), screenGroup)]
		evs = evs[len(group):]
		setFields(group, &set)
		for i, ev := range group {
			for f := set[i]; f != 0; f &= f - 1 {
				j := bits.TrailingZeros32(f)
				m.check(fields[j].kind, uint8(j), ev.Key(fields[j].key))
			}
			m.tag++
		}
	}
	m.flush()
	return m.marks
}

// setFields sets bit j of set[i] when evs[i] has field fields[j]. Its
// loads depend on nothing but the event pointers, and nothing branches on
// what they read, so the processor issues those of many events before the
// first completes; screen then reads the values from the cache, and only
// those of the fields that are set.
func setFields(evs []*event.Event, set *[screenGroup]uint32) {
	for i, ev := range evs {
		has := uint32(0)
		for j := range fields {
			has |= uint32(b2i(ev.Key(fields[j].key) != "")) << j
		}
		set[i] = has
	}
}

// mark records that event tag carries a value the index holds.
func (m *matcher) mark(tag uint8) {
	m.marks[tag/64] |= 1 << (tag % 64)
}
