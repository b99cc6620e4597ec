package pattern

import (
	"slices"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// Matcher evaluates many compiled patterns against normalised events.
//
// Patterns decided by a single event (one observation, observations joined
// by OR, optionally bounded by START/STOP) are served by Match, which keeps
// no state. Patterns that need several events (AND or FOLLOWEDBY between
// observations, WITHIN, REPEATS) are served by an Observer made with
// NewObserver.
//
// Add every pattern before sharing the Matcher; after that Match is safe
// for concurrent use.
type Matcher struct {
	single []*program
	multi  []*program
}

// NewMatcher returns an empty Matcher.
func NewMatcher() *Matcher { return &Matcher{} }

// Add compiles p under id. It fails when p uses an object path that xsoc
// events do not carry (see EventFields) or a regular expression Go cannot
// compile; such a pattern could never match.
func (m *Matcher) Add(id string, p *Pattern) error {
	prog, err := compileProgram(id, p)
	if err != nil {
		return err
	}
	if prog.stateless {
		m.single = append(m.single, prog)
	} else {
		m.multi = append(m.multi, prog)
	}
	return nil
}

// Len returns the number of single-event and multi-event patterns.
func (m *Matcher) Len() (single, multi int) { return len(m.single), len(m.multi) }

// Match appends to out the ids of the single-event patterns that ev
// matches and returns the extended slice. It does not allocate when
// nothing matches.
func (m *Matcher) Match(ev *event.Event, out []string) []string {
	at := eventTime(ev)
	for _, prog := range m.single {
		if evalStateless(prog.root, ev, at) {
			out = append(out, prog.id)
		}
	}
	return out
}

func eventTime(ev *event.Event) time.Time {
	if !ev.Time.IsZero() {
		return ev.Time
	}
	return ev.Ingested
}

// ObserverOptions bound an Observer's memory.
type ObserverOptions struct {
	// MaxAge is how long an observation is kept for patterns that carry no
	// WITHIN bound of their own. Default 24 hours.
	MaxAge time.Duration
	// MaxPerObservation caps the observations kept per bracketed
	// observation of each pattern; the oldest are dropped. Default 64.
	MaxPerObservation int
}

// Detection is a multi-event pattern that matched.
type Detection struct {
	// ID is the id the pattern was added under.
	ID string
	// First and Last are the event times of the earliest and latest
	// observation in the match.
	First, Last time.Time
	// EventIDs are the ids of the events that make up the match, in time
	// order.
	EventIDs []string
}

// Observer evaluates the Matcher's multi-event patterns over an event
// stream, by event time. Each bracketed observation keeps a bounded,
// time-ordered history of the events it matched; when an event adds to a
// history, the pattern is re-evaluated over the histories, and a match
// that involves the new event is reported once. The observations it used
// are then consumed, so a burst is reported once rather than once per
// event.
//
// Observe is safe for concurrent use.
type Observer struct {
	opts  ObserverOptions
	mu    sync.Mutex
	progs []*progState
	seq   uint64
}

// progState is the history of one multi-event program.
type progState struct {
	prog   *program
	hist   [][]hit // per leaf, ordered by time
	latest time.Time
}

// hit is one event an observation matched.
type hit struct {
	at  time.Time
	seq uint64
	id  string
}

// NewObserver returns an Observer for the Matcher's multi-event patterns.
// Add no patterns to m afterwards.
func (m *Matcher) NewObserver(opts ObserverOptions) *Observer {
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.MaxPerObservation <= 0 {
		opts.MaxPerObservation = 64
	}
	o := &Observer{opts: opts}
	for _, prog := range m.multi {
		o.progs = append(o.progs, &progState{prog: prog, hist: make([][]hit, len(prog.leaves))})
	}
	return o
}

// Observe feeds one event and appends a Detection for every pattern it
// completes.
func (o *Observer) Observe(ev *event.Event, out []Detection) []Detection {
	at := eventTime(ev)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	h := hit{at: at, seq: o.seq, id: ev.ID}
	for _, st := range o.progs {
		if st.record(ev, h, o.opts) {
			if d, ok := st.evaluate(h, o.opts.MaxPerObservation); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// record adds h to the history of every leaf ev matches and prunes what
// has aged out; it reports whether anything was added.
func (st *progState) record(ev *event.Event, h hit, opts ObserverOptions) bool {
	added := false
	for i, leaf := range st.prog.leaves {
		if !leaf.cond.eval(ev) {
			continue
		}
		added = true
		st.hist[i] = insertHit(st.hist[i], h, opts.MaxPerObservation)
	}
	if !added {
		return false
	}
	if h.at.After(st.latest) {
		st.latest = h.at
	}
	keep := opts.MaxAge
	if st.prog.horizon > 0 && st.prog.horizon < keep {
		keep = st.prog.horizon
	}
	cutoff := st.latest.Add(-keep)
	for i, hs := range st.hist {
		n := 0
		for n < len(hs) && hs[n].at.Before(cutoff) {
			n++
		}
		st.hist[i] = slices.Delete(hs, 0, n)
	}
	return true
}

// insertHit keeps hs ordered by time and at most max long.
func insertHit(hs []hit, h hit, max int) []hit {
	i := len(hs)
	for i > 0 && hs[i-1].at.After(h.at) {
		i--
	}
	hs = slices.Insert(hs, i, h)
	if len(hs) > max {
		hs = slices.Delete(hs, 0, len(hs)-max)
	}
	return hs
}

// evaluate looks for a match of the whole program that includes h.
func (st *progState) evaluate(h hit, limit int) (Detection, bool) {
	for _, s := range st.spans(st.prog.root, limit) {
		if !s.has(h.seq) {
			continue
		}
		d := Detection{ID: st.prog.id, First: s.first, Last: s.last}
		for _, x := range s.hits {
			d.EventIDs = append(d.EventIDs, x.id)
		}
		st.consume(s)
		return d, true
	}
	return Detection{}, false
}

// consume forgets the observations a reported match used.
func (st *progState) consume(s span) {
	for i, hs := range st.hist {
		st.hist[i] = slices.DeleteFunc(hs, func(x hit) bool { return s.has(x.seq) })
	}
}

// span is one way a (sub-)expression is satisfied: the observations it
// uses, in time order.
type span struct {
	first, last time.Time
	hits        []hit
}

func (s span) has(seq uint64) bool {
	for _, x := range s.hits {
		if x.seq == seq {
			return true
		}
	}
	return false
}

func (s span) disjoint(t span) bool {
	for _, x := range t.hits {
		if s.has(x.seq) {
			return false
		}
	}
	return true
}

func join(a, b span) span {
	hits := make([]hit, 0, len(a.hits)+len(b.hits))
	hits = append(append(hits, a.hits...), b.hits...)
	slices.SortFunc(hits, func(x, y hit) int { return x.at.Compare(y.at) })
	return span{first: minTime(a.first, b.first), last: maxTime(a.last, b.last), hits: hits}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// spans lists the ways n is satisfied by the recorded observations, the
// most recent last, at most limit of them (older ones are dropped) so that
// the work per event stays bounded.
func (st *progState) spans(n *node, limit int) []span {
	var out []span
	switch n.kind {
	case leafNode:
		for _, h := range st.hist[n.leaf] {
			out = append(out, span{first: h.at, last: h.at, hits: []hit{h}})
		}
	case opNode:
		l, r := st.spans(n.l, limit), st.spans(n.r, limit)
		switch n.op {
		case ObsOr:
			out = append(l, r...)
		case ObsAnd:
			for _, a := range l {
				for _, b := range r {
					if a.disjoint(b) {
						out = append(out, join(a, b))
					}
				}
			}
		case FollowedBy:
			for _, a := range l {
				for _, b := range r {
					if !a.last.After(b.first) && a.disjoint(b) {
						out = append(out, join(a, b))
					}
				}
			}
		}
	case qualNode:
		out = qualify(n.qual, st.spans(n.inner, limit))
	}
	slices.SortStableFunc(out, func(a, b span) int { return a.last.Compare(b.last) })
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// qualify applies a qualifier to the spans of its expression.
func qualify(q Qualifier, in []span) []span {
	var out []span
	switch q.Kind {
	case Within:
		w := q.Window()
		for _, s := range in {
			if s.last.Sub(s.first) <= w {
				out = append(out, s)
			}
		}
	case StartStop:
		for _, s := range in {
			if !s.first.Before(q.Start) && s.last.Before(q.Stop) {
				out = append(out, s)
			}
		}
	case Repeats:
		// n distinct matches: slide a window of n over the matches in
		// time order, skipping any that share an observation.
		slices.SortStableFunc(in, func(a, b span) int { return a.last.Compare(b.last) })
		for end := range in {
			acc := in[end]
			count := 1
			for i := end - 1; i >= 0 && count < q.Times; i-- {
				if acc.disjoint(in[i]) {
					acc = join(acc, in[i])
					count++
				}
			}
			if count == q.Times {
				out = append(out, acc)
			}
		}
	}
	return out
}
