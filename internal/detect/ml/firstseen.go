package ml

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// FirstSeenDetectorName is the detector name on first-seen alerts, and
// their rule id.
const FirstSeenDetectorName = "ml-firstseen"

// What the first-seen detector remembers, per member.
const (
	seenHash    = iota // a process image hash
	seenPair           // a parent→child process pair
	seenCountry        // a user's sign-in country
	seenASN            // a user's sign-in network (autonomous system)
	seenDomain         // a registrable domain a host resolved
	alertKinds
	// Kinds that only qualify others: a user who has signed in before
	// (a first sign-in is no new country), and a domain the member has
	// resolved before (a host's first visit to a popular site is no
	// news).
	seenUser = iota - 1
	seenMemberDomain
	seenKinds
)

// seenNames name the kinds in alerts and evaluations.
var seenNames = [seenKinds]string{"process hash", "parent→child", "country for user", "network for user", "domain for host", "user", "domain for member"}

// SeenKinds lists the kinds of first sightings, as alerts name them.
func SeenKinds() []string { return seenNames[:alertKinds] }

var (
	refCountry = event.RefOf("source.geo.country_iso_code")
	refASN     = event.RefOf("source.as.number")
	refASOrg   = event.RefOf("source.as.organization.name")
)

// FirstSeenOptions tune the first-seen detector; zero values take
// defaults. Bits must match a saved state for it to be restored.
type FirstSeenOptions struct {
	// Learn is how long after a member's first event the detector only
	// learns (default 7 days): everything is new at first.
	Learn time.Duration
	// Bits is the size of each Bloom filter generation in bits (default
	// 2^23, 1 MiB; two generations per kind, 14 MiB in all). A
	// generation holds Bits/10 items at about 1 % false "seen" answers;
	// then the older generation is dropped, so the detector remembers at
	// least the last Bits/10 distinct items of each kind.
	Bits int
	// MaxMembers caps the members whose learning period is tracked
	// (default 4,096); events of further members only teach.
	MaxMembers int
}

func (o *FirstSeenOptions) defaults() {
	if o.Learn <= 0 {
		o.Learn = 7 * 24 * time.Hour
	}
	if o.Bits <= 0 {
		o.Bits = 1 << 23
	}
	o.Bits = 1 << bits.Len(uint(o.Bits-1)) // a power of two, at least 64
	o.Bits = max(o.Bits, 64)
	if o.MaxMembers <= 0 {
		o.MaxMembers = 4096
	}
}

// bloomK is the number of bits an item sets: optimal for 1 % false
// positives at Bits/10 items.
const bloomK = 7

// FirstSeen alerts the first time a member sees a process image hash, a
// parent→child process pair, a user who signed in before signing in from
// a country or a network (the event's source.geo.country_iso_code and
// source.as.number), or a host resolving a registrable domain that no
// host of the member resolved before. Memory is fixed: each kind is
// a pair of Bloom filters (Bloom 1970), the current generation and the
// one before. It is safe for concurrent use.
type FirstSeen struct {
	opt      FirstSeenOptions
	filters  [seenKinds]bloomPair
	stats    Stats
	suffixes suffixCache

	membersMu sync.Mutex
	members   map[string]int64 // member → end of its learning, Unix ms
}

// bloomPair is one kind's two generations.
type bloomPair struct {
	mu       sync.Mutex
	cur, old []uint64
	inserted int // distinct items in cur
}

// NewFirstSeen returns a first-seen detector.
func NewFirstSeen(opt FirstSeenOptions) *FirstSeen {
	opt.defaults()
	f := &FirstSeen{opt: opt, members: map[string]int64{}}
	for i := range f.filters {
		f.filters[i].cur = make([]uint64, opt.Bits/64)
		f.filters[i].old = make([]uint64, opt.Bits/64)
	}
	return f
}

// Name returns FirstSeenDetectorName.
func (f *FirstSeen) Name() string { return FirstSeenDetectorName }

// Stats returns the detector's counters.
func (f *FirstSeen) Stats() *Stats { return &f.stats }

// sighting is one thing an event shows.
type sighting struct {
	kind        int
	hash        uint64
	subject     string // the host or user it is about, for people
	what, extra string
}

// Detect records what the event shows and alerts on what its member has
// not seen before, once the member's learning period is over. It does not
// allocate unless it raises an alert.
func (f *FirstSeen) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	var found [4]sighting
	n := 0
	mh := hash64(30, ev.Member)
	if ev.Key(event.EventCategory) == "process" && ev.Key(event.EventType) == "start" {
		if h := ev.Key(event.ProcessHashSha256); h != "" {
			found[n] = sighting{kind: seenHash, hash: mix64(mh ^ hashFold(31, h)), what: h, extra: ev.Key(event.ProcessExecutable), subject: ev.Key(event.HostName)}
			n++
		} else if h := ev.Key(event.ProcessHashMd5); h != "" {
			found[n] = sighting{kind: seenHash, hash: mix64(mh ^ hashFold(31, h)), what: h, extra: ev.Key(event.ProcessExecutable), subject: ev.Key(event.HostName)}
			n++
		}
		parent, child := ev.Key(event.ProcessParentName), ev.Key(event.ProcessName)
		if parent != "" && child != "" {
			found[n] = sighting{kind: seenPair, hash: mix64(mh ^ hashFold(32, parent)*31 ^ hashFold(33, child)), what: parent, extra: child, subject: ev.Key(event.HostName)}
			n++
		}
	}
	known := true // the user signed in before
	if user := ev.Key(event.UserName); user != "" && strings.Contains(ev.Key(event.EventCategory), "authentication") && ev.Key(event.EventOutcome) == "success" {
		uh := hash64(34, user)
		if _, geo := ev.Lookup(refCountry); geo {
			known = !f.filters[seenUser].add(mix64(mh ^ uh))
		}
		if c, ok := ev.Lookup(refCountry); ok && c != "" {
			found[n] = sighting{kind: seenCountry, hash: mix64(mh ^ uh ^ hashFold(35, c)), what: c, subject: user}
			n++
		}
		if as, ok := ev.Lookup(refASN); ok && as != "" {
			found[n] = sighting{kind: seenASN, hash: mix64(mh ^ uh*7 ^ hash64(36, as)), what: as, subject: user}
			n++
		}
	}
	if name := ev.Key(event.DnsQuestionName); name != "" && n < len(found) {
		host := ev.Key(event.HostName)
		if host == "" {
			host = ev.Key(event.SourceIp)
		}
		if domain, ok := registrableOf(name, &f.suffixes); ok && host != "" {
			dh := hash64(38, domain)
			if f.filters[seenMemberDomain].add(mix64(mh ^ dh)) {
				found[n] = sighting{kind: seenDomain, hash: mix64(mh ^ hash64(37, host)*13 ^ dh), what: domain, subject: host}
				n++
			} else {
				f.filters[seenDomain].add(mix64(mh ^ hash64(37, host)*13 ^ dh))
			}
		}
	}
	if n == 0 {
		return out
	}
	if ev.Time.IsZero() {
		f.stats.Skipped.Add(1)
		return out
	}
	f.stats.Scored.Add(1)
	learning := f.learning(ev.Member, ev.Time.UnixMilli())
	for i := 0; i < n; i++ {
		s := &found[i]
		if !f.filters[s.kind].add(s.hash) || learning || (s.kind == seenCountry || s.kind == seenASN) && !known {
			continue
		}
		f.stats.Alerts.Add(1)
		out = append(out, f.alert(ev, s))
	}
	return out
}

// learning reports whether member is still in its learning period at
// now, starting the period at its first event.
func (f *FirstSeen) learning(member string, now int64) bool {
	f.membersMu.Lock()
	defer f.membersMu.Unlock()
	end, ok := f.members[member]
	if !ok {
		if len(f.members) >= f.opt.MaxMembers {
			return true
		}
		end = now + f.opt.Learn.Milliseconds()
		f.members[member] = end
	}
	return now < end
}

// add inserts hash h and reports whether it was new: not in the current
// generation nor in the previous one.
func (p *bloomPair) add(h uint64) bool {
	h2 := mix64(h^0x9e3779b97f4a7c15) | 1
	p.mu.Lock()
	defer p.mu.Unlock()
	mask := uint64(len(p.cur)*64 - 1)
	inCur := true
	for i := uint64(0); i < bloomK; i++ {
		b := (h + i*h2) & mask
		w, bit := b>>6, uint64(1)<<(b&63)
		if p.cur[w]&bit == 0 {
			inCur = false
			p.cur[w] |= bit
		}
	}
	if inCur {
		// Most items were seen before: the old generation, a second
		// cache miss per probe, is read only for those that were not.
		return false
	}
	var missing uint64 // without a branch per probe, so that the loads overlap
	for i := uint64(0); i < bloomK; i++ {
		b := (h + i*h2) & mask
		missing |= ^p.old[b>>6] & (uint64(1) << (b & 63))
	}
	inOld := missing == 0
	p.inserted++
	if p.inserted >= len(p.cur)*64/10 {
		// The generation is full: it becomes the old one, and the old
		// one's memory the new, empty generation.
		p.cur, p.old = p.old, p.cur
		clear(p.cur)
		p.inserted = 0
	}
	return !inOld
}

// registrableOf returns the registrable domain of a DNS name ("example.co.uk"
// for "www.example.co.uk"), lower case.
func registrableOf(name string, cache *suffixCache) (string, bool) {
	label, ok := labelOf(name, cache)
	if !ok {
		return "", false
	}
	name = strings.TrimSuffix(name, ".")
	i := len(name)
	for i > 0 {
		j := strings.LastIndexByte(name[:i], '.')
		if strings.EqualFold(name[j+1:i], label) {
			return strings.ToLower(name[j+1:]), true
		}
		if j < 0 {
			break
		}
		i = j
	}
	return "", false
}

func (f *FirstSeen) alert(ev *event.Event, s *sighting) alert.Alert {
	var title string
	var techniques []string
	switch s.kind {
	case seenHash:
		title = fmt.Sprintf("First-seen process hash %s (%s) on %s", s.what, s.extra, s.subject)
		techniques = []string{"T1204"}
	case seenPair:
		title = fmt.Sprintf("First-seen parent→child %s → %s on %s", s.what, s.extra, s.subject)
		techniques = []string{"T1059"}
	case seenCountry:
		title = fmt.Sprintf("First-seen country for user %s: sign-in from %s (%s)", s.subject, s.what, ev.Key(event.SourceIp))
		techniques = []string{"T1078"}
	case seenASN:
		org, _ := ev.Lookup(refASOrg)
		title = fmt.Sprintf("First-seen network for user %s: sign-in from AS%s %s (%s)", s.subject, s.what, org, ev.Key(event.SourceIp))
		techniques = []string{"T1078"}
	case seenDomain:
		title = fmt.Sprintf("First-seen domain for host %s: %s (new to the member)", s.subject, s.what)
	}
	return alert.Alert{
		Member:      ev.Member,
		EventTime:   ev.Time,
		Detector:    FirstSeenDetectorName,
		RuleID:      FirstSeenDetectorName,
		RuleTitle:   title,
		Severity:    alert.Low,
		Techniques:  techniques,
		Observables: detect.Observables(ev),
		Key:         seenNames[s.kind] + " " + s.subject + " " + s.what + " " + s.extra,
		Evidence:    []string{string(ev.AppendJSON(nil))},
		EventIDs:    eventIDs(ev),
	}
}

// MarshalBinary writes the detector's state: each kind's two
// generations and every member's learning period.
func (f *FirstSeen) MarshalBinary() ([]byte, error) {
	w := newStateWriter(FirstSeenDetectorName, seenKinds*2*f.opt.Bits/8)
	w.u64(uint64(f.opt.Bits))
	for i := range f.filters {
		p := &f.filters[i]
		p.mu.Lock()
		w.u64(uint64(p.inserted))
		for _, g := range [][]uint64{p.cur, p.old} {
			for _, x := range g {
				w.u64(x)
			}
		}
		p.mu.Unlock()
	}
	f.membersMu.Lock()
	w.u32(uint32(len(f.members)))
	for m, end := range f.members {
		w.str(m)
		w.u64(uint64(end))
	}
	f.membersMu.Unlock()
	return w.finish(), nil
}

// UnmarshalBinary restores a state MarshalBinary wrote into a fresh
// detector with the same Bits. On error the detector is unchanged.
func (f *FirstSeen) UnmarshalBinary(data []byte) error {
	r, err := openState(data, FirstSeenDetectorName)
	if err != nil {
		return err
	}
	if b := r.u64(); r.err == nil && b != uint64(f.opt.Bits) {
		return fmt.Errorf("%w: Bloom filters of %d bits, configured %d", ErrStateIncompatible, b, f.opt.Bits)
	}
	words := f.opt.Bits / 64
	var filters [seenKinds][2][]uint64
	var inserted [seenKinds]int
	for i := range filters {
		inserted[i] = int(r.u64())
		if r.err == nil && (inserted[i] < 0 || inserted[i] > f.opt.Bits/10) {
			return errors.New("a filter's count is out of range")
		}
		for g := range filters[i] {
			raw := r.take(8 * words)
			if raw == nil {
				return r.err
			}
			filters[i][g] = make([]uint64, words)
			for j := range filters[i][g] {
				filters[i][g][j] = binary.LittleEndian.Uint64(raw[8*j:])
			}
		}
	}
	members := map[string]int64{}
	for k := r.count(1 + 8); k > 0 && r.err == nil; k-- {
		m := r.str()
		end := int64(r.u64())
		if len(members) < f.opt.MaxMembers {
			members[m] = end
		}
	}
	if err := r.done(); err != nil {
		return err
	}
	for i := range f.filters {
		p := &f.filters[i]
		p.mu.Lock()
		p.cur, p.old, p.inserted = filters[i][0], filters[i][1], inserted[i]
		p.mu.Unlock()
	}
	f.membersMu.Lock()
	f.members = members
	f.membersMu.Unlock()
	return nil
}

// fillRatio is the share of set bits in the current generation of kind,
// for tests.
func (f *FirstSeen) fillRatio(kind int) float64 {
	p := &f.filters[kind]
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, x := range p.cur {
		n += bits.OnesCount64(x)
	}
	return float64(n) / math.Max(1, float64(len(p.cur)*64))
}
