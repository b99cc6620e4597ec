package pipeline

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// path names one of the two readers of the ingest stream.
type path uint8

const (
	detectPath path = iota
	archivePath
	numPaths
)

func (p path) String() string {
	if p == detectPath {
		return "detect"
	}
	return "archive"
}

// other is the path that is not p.
func (p path) other() path { return 1 - p }

// Shared lets the detection Pipeline and the Archiver of one process
// parse each accepted batch once instead of once per path. Its use is
// opportunistic, so that the two paths stay independent: the first path
// to take a batch (by stream sequence) parses it and leaves it for the
// other; the other, finding it, uses it — waiting, when the parse is
// still under way, at most maxWait — and otherwise parses the batch
// itself, as it does when the other path runs in another process, is
// stopped, or is too far ahead or behind to profit. The batches left
// behind are bounded (maxSharedLines). When that is full, what the other
// path has passed already is dropped, and otherwise nothing more is left
// until the other path takes some: the oldest are the ones it comes to
// first, so a path that fell behind takes some of its batches parsed,
// catching up the faster, instead of finding every one replaced by newer
// ones just before it comes.
//
// Shared events are read-only once parsed: detectors, the alert
// evidence and the archive only read them. They go back to the pool when
// the last of their readers is done (reference counting), never while
// the other path still reads them.
type Shared struct {
	events  sync.Pool // *event.Event
	parsers sync.Pool // *format.Parser, which keeps its buffers between records

	mu sync.Mutex
	// left holds the parsed batches left for the other path, by stream
	// sequence; oldest and newest are the ends of their list, in the
	// order they were left.
	left           map[uint64]*parsed
	oldest, newest *parsed
	lines          int // lines of the batches in left
	maxLines       int
	// active counts the running Run calls of each path: a batch is left
	// only for a path that runs.
	active [numPaths]int
	// high is the highest stream sequence each path has taken since it
	// started, to tell whether the other path is near enough to want a
	// batch.
	high [numPaths]uint64

	// maxWait bounds a wait for a parse under way (see maxWait).
	maxWait time.Duration

	// followStall, when positive, makes the archive path follow detection
	// (see follow): it is how long the archive waits for detection to make
	// progress before it parses a batch itself. advanced is closed, and
	// replaced, whenever detection's high mark moves while followers > 0
	// archive takes wait on it.
	followStall time.Duration
	advanced    chan struct{}
	followers   int

	counts  [numPaths][2]atomic.Int64 // batches parsed, reused
	metrics [numPaths][2]prometheus.Counter
}

// maxSharedLines bounds the lines of the parsed batches a Shared holds
// for the other path: about 3.5 KB each (the event, its original and its
// values), some 57 MB at most — as many as the archiver gathers for a
// write anyway.
const maxSharedLines = flushEvents

// maxWait bounds how long a path waits for the other's parse of a batch
// it wants, still under way; a batch takes about a millisecond and a half
// to parse (500 lines) on an idle core. Past it, the path parses the
// batch itself.
const maxWait = 25 * time.Millisecond

// followStall is how long the archive path, following detection, waits
// for detection to take another batch before it parses the one in hand
// itself: detection is stopped or stuck (a commit waiting on its store),
// and the archive must not wait with it.
const followStall = time.Second

// A batch is left for the other path only when that path is near it: at
// most aheadSlack stream sequences ahead (it takes batches in order, so
// one farther ahead has had this one already; the slack covers its
// workers taking neighbouring batches out of step) and at most
// behindSlack behind (farther, the batch would be held long for a small
// share of what the other path parses).
const (
	aheadSlack  = 4
	behindSlack = 256
)

// NewShared returns a Shared for the Pipeline and the Archiver of one
// process (Config.Shared, ArchiverConfig.Shared). reg, when not nil,
// receives a counter of the batches each path parsed and reused.
//
// With follow set, the archive path lets detection parse first: the
// archive takes a batch detection has not reached yet only once detection
// reached it or made no progress for followStall. Set it when detection
// reads the whole stream in this process (not a partitioned bus, where
// this process's detection may read only some partitions): otherwise the
// two paths drift apart whenever the node is busy — the archive, writing
// in large groups, runs ahead, then behind — and both parse most batches.
func NewShared(reg *prometheus.Registry, follow bool) *Shared {
	s := newShared(maxSharedLines)
	if follow {
		s.followStall = followStall
	}
	if reg != nil {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xsoc_pipeline_parses_total",
			Help: "Accepted batches each path (detect, archive) parsed itself (how=parsed) or took parsed from the other path (how=reused).",
		}, []string{"path", "how"})
		reg.MustRegister(vec)
		for p := range numPaths {
			for how := range 2 {
				s.metrics[p][how] = vec.WithLabelValues(p.String(), howName(how))
			}
		}
	}
	return s
}

func newShared(maxLines int) *Shared {
	return &Shared{
		events:   sync.Pool{New: func() any { return new(event.Event) }},
		parsers:  sync.Pool{New: func() any { return new(format.Parser) }},
		left:     map[uint64]*parsed{},
		maxLines: maxLines,
		maxWait:  maxWait,
	}
}

// parsed is one batch's normalised events and rejected lines. Its
// readers hold references; the last to release it returns its events to
// the pool.
type parsed struct {
	events  []*event.Event // read-only once done
	rejects []rejected

	refs atomic.Int32
	pool *sync.Pool
	// done is closed once events and rejects are filled; nil for a batch
	// parsed for one path only.
	done chan struct{}

	// What identifies the batch: its stream sequence, and what guards
	// against a recreated stream numbering another batch the same — its
	// header and its message body, as it came off the bus (compressed):
	// known before decoding it, which a path taking this parse never does.
	seq      uint64
	member   string
	received time.Time
	format   format.Format
	body     []byte
	nlines   int  // the lines it holds, for maxLines
	owner    path // the path that parses it

	// prev and next link the batches left for the other path, oldest
	// first; listed says it is linked.
	prev, next *parsed
	listed     bool
}

// rejected is a line that could not be normalised, by index, why, and
// its sample (see sample): a path taking this parse has not decoded the
// lines.
type rejected struct {
	line   int
	reason string
	sample string
}

// of reports whether p is the batch of in.
func (p *parsed) of(in *input) bool {
	b := &in.batch
	return p.seq == b.Seq && p.member == b.Member && p.received.Equal(b.Received) &&
		p.format == b.Format && bytes.Equal(p.body, in.body)
}

// input is a batch as a path takes it off the bus: its header decoded,
// its body (lines) only once the path has to parse it — not when it takes
// the other path's parse.
type input struct {
	batch ingest.Batch // Lines nil until decoded
	hdr   nats.Header
	// body is the message body; with the header, what identifies the
	// batch to the other path.
	body    []byte
	decoded bool
}

// busInput returns the input of a bus message of stream sequence seq,
// its header decoded; an error means the message is no batch.
func busInput(hdr nats.Header, body []byte, seq uint64) (*input, error) {
	b, err := ingest.DecodeHeader(hdr, seq)
	if err != nil {
		return nil, err
	}
	return &input{batch: b, hdr: hdr, body: body}, nil
}

// decodedInput returns the input of a batch fed without the bus, lines
// and all. It cannot be shared: it has no body to tell it by.
func decodedInput(b ingest.Batch) *input {
	return &input{batch: b, decoded: true}
}

// decode reads the lines of in's body, once.
func (in *input) decode() error {
	if in.decoded {
		return nil
	}
	lines, err := ingest.DecodeLines(in.hdr, in.body)
	if err != nil {
		return err
	}
	in.batch.Lines, in.decoded = lines, true
	return nil
}

// release drops a reference; the last one returns the events to the pool.
func (p *parsed) release() {
	if p.refs.Add(-1) != 0 {
		return
	}
	for i, ev := range p.events {
		p.pool.Put(ev)
		p.events[i] = nil
	}
	p.events = nil
}

// wait reports whether p's parse ended within d.
func (p *parsed) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// join records that path me started reading; leave that it stopped. A
// path that stops leaves nothing for it behind.
func (s *Shared) join(me path) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[me]++
}

func (s *Shared) leave(me path) {
	s.mu.Lock()
	s.active[me]--
	var dropped []*parsed
	if s.active[me] == 0 {
		s.high[me] = 0
		s.advance() // an archive take following detection stops waiting
		for p := s.oldest; p != nil; p = p.next {
			if p.owner != me {
				dropped = append(dropped, p)
			}
		}
		for _, p := range dropped {
			s.unlist(p)
		}
	}
	s.mu.Unlock()
	for _, p := range dropped {
		p.release()
	}
}

// parse returns the batch of in parsed, holding a reference the caller
// releases, or the error decoding its lines. With share set, path me
// takes the other path's parse of the batch when there is one — and then
// never decodes its lines — and otherwise leaves its own for the other
// path when that is running and near it; without, it parses the batch
// for itself only (a batch fed without the bus).
func (s *Shared) parse(me path, in *input, share bool) (*parsed, error) {
	if !share {
		return s.parseAlone(me, in)
	}
	seq := in.batch.Seq
	s.mu.Lock()
	if me == archivePath {
		s.follow(seq)
	}
	for {
		if p := s.left[seq]; p != nil && p.owner != me && p.of(in) {
			s.took(me, seq)
			s.unlist(p) // the reference it held is now the caller's
			s.mu.Unlock()
			if p.wait(s.maxWait) {
				s.count(me, 1)
				return p, nil
			}
			p.release()
			return s.parseAlone(me, in)
		}
		if in.decoded {
			break
		}
		// Not under the lock; the other path may leave its parse
		// meanwhile: look again.
		s.mu.Unlock()
		if err := in.decode(); err != nil {
			return nil, err
		}
		s.mu.Lock()
	}
	// Only now that its parse can be left does detection's mark move: an
	// archive take following it looks for that parse once it has.
	s.took(me, seq)
	ok, dropped := s.wanted(me, &in.batch)
	var p *parsed
	if ok {
		p = s.newParsed(me, in, 2) // the caller's reference and the other path's
		p.done = make(chan struct{})
		s.list(p)
	}
	s.mu.Unlock()
	for _, d := range dropped { // not under the lock: the last release returns the events to the pool
		d.release()
	}
	if p == nil {
		p = s.newParsed(me, in, 1)
	}
	return s.fill(p, &in.batch), nil
}

// parseAlone decodes and parses the batch of in for path me only.
func (s *Shared) parseAlone(me path, in *input) (*parsed, error) {
	if err := in.decode(); err != nil {
		return nil, err
	}
	return s.fill(s.newParsed(me, in, 1), &in.batch), nil
}

// took records that path me took batch seq, with s.mu held.
func (s *Shared) took(me path, seq uint64) {
	s.high[me] = max(s.high[me], seq)
	if me == detectPath {
		s.advance()
	}
}

// advance wakes the archive takes following detection (it took a batch,
// or stopped); s.mu is held.
func (s *Shared) advance() {
	if s.followers > 0 && s.advanced != nil {
		close(s.advanced)
		s.advanced = nil
	}
}

// follow holds an archive take of batch seq, with s.mu held (it is
// released while waiting), until detection, running, has taken seq or a
// later batch — then its parse is there to take — or has taken nothing
// for followStall. Detection never waits for the archive; the archive
// waits only for detection's progress, which it would otherwise compete
// with for the same cores by parsing the batch a second time.
func (s *Shared) follow(seq uint64) {
	if s.followStall <= 0 {
		return
	}
	var timer *time.Timer
	for s.active[detectPath] > 0 && s.high[detectPath] < seq {
		if s.advanced == nil {
			s.advanced = make(chan struct{})
		}
		ch := s.advanced
		s.followers++
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(s.followStall)
		} else {
			timer.Reset(s.followStall)
		}
		stalled := false
		select {
		case <-ch:
		case <-timer.C:
			stalled = true
		}
		s.mu.Lock()
		s.followers--
		if stalled {
			return
		}
	}
	if timer != nil {
		timer.Stop()
	}
}

// wanted reports whether a parse of b by path me is worth leaving for the
// other path: it runs, is near b, nothing of that number is left already,
// and b fits, once what the other path has passed is dropped. It returns
// the batches it dropped, for the caller to release.
func (s *Shared) wanted(me path, b *ingest.Batch) (bool, []*parsed) {
	o := me.other()
	if s.active[o] == 0 || s.left[b.Seq] != nil || len(b.Lines) > s.maxLines {
		return false, nil
	}
	if h := s.high[o]; h != 0 && (h > b.Seq+aheadSlack || b.Seq > h+behindSlack) {
		return false, nil
	}
	var dropped []*parsed
	for s.lines+len(b.Lines) > s.maxLines {
		p := s.oldest
		if p == nil || !s.passed(p) {
			return false, dropped
		}
		s.unlist(p)
		dropped = append(dropped, p)
	}
	return true, dropped
}

// passed reports whether the path p was left for has gone past it.
func (s *Shared) passed(p *parsed) bool {
	return s.high[p.owner.other()] > p.seq+aheadSlack
}

// newParsed returns an empty parsed batch of in, decoded, for path me
// with refs references.
func (s *Shared) newParsed(me path, in *input, refs int32) *parsed {
	b := &in.batch
	p := &parsed{pool: &s.events, seq: b.Seq, member: b.Member, received: b.Received,
		format: b.Format, body: in.body, nlines: len(b.Lines), owner: me}
	p.refs.Store(refs)
	return p
}

// fill normalises every line of b into p, then marks p done.
func (s *Shared) fill(p *parsed, b *ingest.Batch) *parsed {
	if p.done != nil {
		defer close(p.done) // even if a parse panics past normalise's recover
	}
	s.count(p.owner, 0)
	parser := s.parsers.Get().(*format.Parser)
	defer s.parsers.Put(parser)
	p.events = make([]*event.Event, 0, len(b.Lines))
	var ids batchIDs
	for i, line := range b.Lines {
		ev := s.events.Get().(*event.Event)
		ev.Reset()
		if err := normalise(parser, *b, i, line, ev, &ids); err != nil {
			s.events.Put(ev)
			p.rejects = append(p.rejects, rejected{line: i, reason: err.Error(), sample: sample(line)})
			continue
		}
		p.events = append(p.events, ev)
	}
	return p
}

// list appends p to the batches left for the other path.
func (s *Shared) list(p *parsed) {
	s.left[p.seq] = p
	s.lines += p.nlines
	p.listed, p.prev = true, s.newest
	if s.newest != nil {
		s.newest.next = p
	} else {
		s.oldest = p
	}
	s.newest = p
}

// unlist takes p out of the batches left for the other path.
func (s *Shared) unlist(p *parsed) {
	if !p.listed {
		return
	}
	delete(s.left, p.seq)
	s.lines -= p.nlines
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		s.oldest = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		s.newest = p.prev
	}
	p.prev, p.next, p.listed = nil, nil, false
}

// howName names the ways a path comes by a parsed batch (see count), for
// the metric.
func howName(how int) string {
	if how == 0 {
		return "parsed"
	}
	return "reused"
}

// count records that path me parsed (how 0) or reused (how 1) a batch.
func (s *Shared) count(me path, how int) {
	s.counts[me][how].Add(1)
	if c := s.metrics[me][how]; c != nil {
		c.Inc()
	}
}

// String summarises what each path parsed and reused, for logs and tests.
func (s *Shared) String() string {
	return fmt.Sprintf("detect parsed %d reused %d, archive parsed %d reused %d",
		s.counts[detectPath][0].Load(), s.counts[detectPath][1].Load(),
		s.counts[archivePath][0].Load(), s.counts[archivePath][1].Load())
}
