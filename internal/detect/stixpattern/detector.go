package stixpattern

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Name is the detector's name, and the Detector field of its alerts.
const Name = "stix-pattern"

// Options configure a Detector. The zero value is usable.
type Options struct {
	// Relations returns the members that member is a client of (the
	// members whose TLP:AMBER intelligence it receives). Nil: no member
	// is anyone's client. Detect calls it at most once per event, and only
	// for TLP:AMBER indicators of other members; it should return a list
	// it keeps rather than build one, so that Detect stays allocation-free.
	Relations func(member string) []string
	// Observer bounds the memory of multi-observation patterns, per
	// pattern and member (see pattern.ObserverOptions).
	Observer pattern.ObserverOptions
	// Log receives the indicators that cannot be loaded and failed syncs.
	// Nil discards them.
	Log *slog.Logger
	// Now is the clock, consulted for indicators whose valid_from lies
	// after the event's time. Default time.Now.
	Now func() time.Time
}

// Detector matches events against the STIX indicators whose patterns are
// too complex for the IOC index. It is a detect.Detector named
// "stix-pattern"; Sync and Run load its indicators from an intel
// repository.
//
// Detect never takes the detector's lock: it works on an immutable
// snapshot of the loaded rules, which Sync replaces atomically.
type Detector struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[snapshot]

	// mu serialises Sync; it guards what follows.
	mu     sync.Mutex
	cursor int64
	// inForce holds, per collection, owner and indicator id
	// ("collection/owner/id": members may hold one id each),
	// the version in force of the indicators with a complex pattern, and
	// of those whose newer version replaced one.
	inForce map[string]version
	stats   Stats
}

// New returns an empty detector; call Sync to load it.
func New(opts Options) *Detector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Detector{opts: opts, log: log, inForce: map[string]version{}}
	d.cur.Store(&snapshot{})
	return d
}

// Name returns "stix-pattern".
func (d *Detector) Name() string { return Name }

// Len returns how many single-observation and multi-observation patterns
// the detector evaluates now.
func (d *Detector) Len() (single, multi int) {
	s := d.cur.Load()
	return len(s.single), len(s.multi)
}

// snapshot is the set of rules Detect evaluates. Its rule lists never
// change; members caches, per member, the observers of the
// multi-observation rules, in the order of multi.
type snapshot struct {
	single []*rule
	multi  []*rule

	mu      sync.Mutex // serialises additions to members
	members atomic.Pointer[map[string][]*pattern.Observer]
}

// observers returns member's observers of s.multi. A member's first event
// after a Sync builds the list (copying the cache); later events read it
// without locking.
func (s *snapshot) observers(member string) []*pattern.Observer {
	if m := s.members.Load(); m != nil {
		if obs, ok := (*m)[member]; ok {
			return obs
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.members.Load()
	if old != nil {
		if obs, ok := (*old)[member]; ok {
			return obs
		}
	}
	obs := make([]*pattern.Observer, len(s.multi))
	for i, r := range s.multi {
		obs[i] = r.observer(member)
	}
	next := map[string][]*pattern.Observer{member: obs}
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	s.members.Store(&next)
	return obs
}

// Detect matches ev against every loaded pattern that ev.Member may
// receive under TLP and that is in force at the event's time, and appends
// one alert per match. Multi-observation patterns combine only events of
// the same member. Detect does not allocate when nothing matches (after
// the member's first event since the last Sync).
func (d *Detector) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	s := d.cur.Load()
	if len(s.single) == 0 && len(s.multi) == 0 {
		return out
	}
	m := matching{d: d, ev: ev, at: eventTime(ev), start: len(out)}
	for _, r := range s.single {
		if m.usable(r) && len(r.matcher.Match(ev, nil)) > 0 {
			out = m.raise(out, r, nil)
		}
	}
	if len(s.multi) == 0 {
		return out
	}
	obs := s.observers(ev.Member)
	for i, r := range s.multi {
		if !m.usable(r) {
			continue
		}
		for _, det := range obs[i].Observe(ev, nil) {
			out = m.raise(out, r, det.EventIDs)
		}
	}
	return out
}

// eventTime is the time patterns are evaluated at, as the pattern package
// does: the event's own time, or when xsoc received it.
func eventTime(ev *event.Event) time.Time {
	if !ev.Time.IsZero() {
		return ev.Time
	}
	return ev.Ingested
}

// matching is the state of one Detect call. It lives on the stack; what
// it computes lazily (the member's client relations, the clock, the
// event's JSON) is computed once per call and only when needed.
type matching struct {
	d     *Detector
	ev    *event.Event
	at    time.Time
	start int // len(out) when Detect began

	now         time.Time
	clientOf    []string
	clientsDone bool
	evidence    string
}

// usable reports whether rule r may match the event: r has not expired
// at the event's time, has started (valid_from, by the clock, so that an
// event from shortly before an indicator was published still matches it,
// as in the IOC index) and the member may receive it under TLP.
func (m *matching) usable(r *rule) bool {
	if !r.validUntil.IsZero() && !m.at.Before(r.validUntil) {
		return false
	}
	if r.validFrom.After(m.at) && r.validFrom.After(m.clock()) {
		return false
	}
	return m.mayReceive(r)
}

func (m *matching) clock() time.Time {
	if m.now.IsZero() {
		m.now = m.d.opts.Now()
	}
	return m.now
}

// mayReceive applies the TLP sharing rule. TLP:CLEAR and TLP:GREEN reach
// every member, and the owner receives its own indicators, whatever their
// level: those common cases are decided without working out the relation.
// The member's client relations are asked for only when a TLP:AMBER rule
// of another member makes them matter.
func (m *matching) mayReceive(r *rule) bool {
	if r.level <= tlp.Green || r.owner == m.ev.Member {
		return true
	}
	rec := tlp.Recipient{Member: m.ev.Member}
	if r.level == tlp.Amber && r.owner != m.ev.Member && m.d.opts.Relations != nil {
		if !m.clientsDone {
			m.clientOf = m.d.opts.Relations(m.ev.Member)
			m.clientsDone = true
		}
		rec.ClientOf = m.clientOf
	}
	return tlp.MayReceive(r.level, rec.RelationTo(r.owner, r.named))
}

// raise appends the alert for a match of r; eventIDs are the events of a
// multi-observation match (nil: the event alone). When the same indicator
// is stored in several collections and matched through more than one,
// the event raises one alert, at the least restrictive TLP level among
// them.
func (m *matching) raise(out []alert.Alert, r *rule, eventIDs []string) []alert.Alert {
	for i := m.start; i < len(out); i++ {
		if out[i].RuleID == r.id {
			out[i].TLP = min(out[i].TLP, r.level)
			return out
		}
	}
	if eventIDs == nil {
		eventIDs = []string{m.ev.ID}
	}
	if m.evidence == "" {
		m.evidence = string(m.ev.AppendJSON(nil))
	}
	return append(out, alert.Alert{
		Member:      m.ev.Member,
		EventTime:   m.ev.Time,
		Detector:    Name,
		RuleID:      r.id,
		RuleTitle:   r.title,
		Severity:    r.severity,
		Techniques:  slices.Clone(r.techniques),
		Observables: detect.Observables(m.ev),
		TLP:         r.level,
		Key:         r.id,
		Evidence:    []string{m.evidence},
		EventIDs:    eventIDs,
	})
}
