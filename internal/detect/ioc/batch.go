package ioc

import (
	"encoding/binary"
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
// holds (whatever its TLP and validity) set. IPv4 addresses, most of the
// values events carry, take a shorter way (see v4Queue).
func (x *Index) screen(s *snapshot, evs []*event.Event) [markWords]uint64 {
	m := matcher{x: x, s: s, mode: modeMark}
	var q v4Queue
	var set [screenGroup]uint32
	for len(evs) > 0 {
		group := evs[:min(len(evs), screenGroup)]
		evs = evs[len(group):]
		setFields(group, &set)
		for i, ev := range group {
			for f := set[i]; f != 0; f &= f - 1 {
				j := bits.TrailingZeros32(f)
				v := ev.Key(fields[j].key)
				if fields[j].kind == KindIP {
					if a, ok := parseIPv4(v); ok {
						if q.n == len(q.ip) {
							m.flushV4(&q)
						}
						q.add(a, m.tag, s)
						continue
					}
				}
				m.check(fields[j].kind, uint8(j), v)
				if fields[j].key == event.UrlFull {
					m.checkURLHost(ev, uint8(j), v)
				}
			}
			m.checkMore(ev)
			m.tag++
		}
	}
	m.flushV4(&q)
	m.flush()
	return m.marks
}

// v4Depth is how many IPv4 addresses the screen queues before it looks
// them up: one bit each in flushV4's filter mask.
const v4Depth = 64

// v4Queue holds IPv4 addresses for the screen to look up together. An
// address is a uint32 key of one flat table, so its lookup needs none of
// the matcher's general machinery (key bytes in the scratch buffer, key
// spaces, pending records): flushV4 resolves it in the passes flush makes,
// each over a few plain arrays.
type v4Queue struct {
	ip   [v4Depth]uint32 // the address, big-endian as in the table
	tag  [v4Depth]uint8  // its event
	near [v4Depth]bool   // the coarse range hint lets it through
	n    int
}

// add queues address a of event tag.
func (q *v4Queue) add(a [4]byte, tag uint8, s *snapshot) {
	q.ip[q.n] = binary.BigEndian.Uint32(a[:])
	q.tag[q.n] = tag
	q.near[q.n] = s.rangeHint[familyHints[0][0]].mayContain(a[:])
	q.n++
}

// flushV4 marks the events of the queued addresses that the index holds,
// exactly or in a range, and empties the queue. Like flush, it starts the
// reads of all addresses in one short pass before it uses any.
func (m *matcher) flushV4(q *v4Queue) {
	b, n := m.s.base, q.n
	q.n = 0
	var h [v4Depth]uint64 // address i's hash in the base layer
	// maybe holds bit i when the filter may hold address i.
	var maybe uint64
	if b.keys[spV4] != 0 {
		for i, ip := range q.ip[:n] {
			h[i] = mix64(uint64(ip), b.seed)
			m.sink += uint32(b.filter.block(h[i])[0])
		}
		for i := range n {
			maybe |= uint64(b2i(b.filter.mayContain(h[i]))) << i
		}
	}
	for i := range n {
		if maybe&(1<<i) != 0 {
			m.sink += b.v4.first(h[i]).ref
		}
		if q.near[i] {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], q.ip[i])
			for _, h := range familyHints[0][1:] {
				m.sink += uint32(m.s.rangeHint[h].word(a[:]))
			}
		}
	}
	delta := m.s.delta[spV4]
	for i, ip := range q.ip[:n] {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], ip)
		head, shadowed := uint32(0), false
		if len(delta) != 0 { // the delta shadows the base
			head, shadowed = delta[string(a[:])]
		}
		if !shadowed && maybe&(1<<i) != 0 {
			head = b.v4.get(ip, h[i])
		}
		if head != 0 || q.near[i] && m.inRange(a[:], familyHints[0][1:]) {
			m.mark(q.tag[i])
		}
	}
}

// setFields sets bit j of set[i] when evs[i] has field fields[j]. Its
// loads depend on nothing but the event pointers, and nothing branches on
// what they read, so the processor issues those of many events before the
// first completes; screen then reads the values from the cache, and only
// those of the fields that are set.
func setFields(evs []*event.Event, set *[screenGroup]uint32) {
	for i, ev := range evs {
		set[i] = fieldSet(ev)
	}
}

// fieldSet returns the set of fields ev has: bit j for fields[j].
func fieldSet(ev *event.Event) uint32 {
	has := uint32(0)
	for j := range fields {
		has |= uint32(b2i(ev.Key(fields[j].key) != "")) << j
	}
	return has
}

// mark records that event tag carries a value the index holds.
func (m *matcher) mark(tag uint8) {
	m.marks[tag/64] |= 1 << (tag % 64)
}
