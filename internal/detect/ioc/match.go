package ioc

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// field is an event field Detect inspects: what kind of value it holds and
// the role that value plays, for the alert's observable. Every inspected
// field is a slotted one (an event.Key), read with an array index.
type field struct {
	key  event.Key
	kind Kind
	role string
}

// fields lists the event fields Detect inspects, in order. It is never
// modified.
var fields = [...]field{
	{event.SourceIp, KindIP, "source"},
	{event.DestinationIp, KindIP, "destination"},
	{event.HostIp, KindIP, "host"},
	{event.DnsAnswersData, KindIP, "answer"},
	{event.DnsQuestionName, KindDomain, "query"},
	{event.UrlDomain, KindDomain, "url"},
	{event.DestinationDomain, KindDomain, "destination"},
	{event.TlsServerSni, KindDomain, "sni"},
	{event.UrlFull, KindURL, "url"},
	{event.FileHashMd5, KindMD5, "file"},
	{event.FileHashSha1, KindSHA1, "file"},
	{event.FileHashSha256, KindSHA256, "file"},
	{event.ProcessHashMd5, KindMD5, "process"},
	{event.ProcessHashSha1, KindSHA1, "process"},
	{event.ProcessHashSha256, KindSHA256, "process"},
	{event.EmailFromAddress, KindEmail, "sender"},
	{event.EmailToAddress, KindEmail, "recipient"},
}

// noField is the field index of a value that is not an event's (Lookup,
// CountFor).
const noField = 0xff

// roleOf returns the role of the value of field fi.
func roleOf(fi uint8) string {
	if int(fi) < len(fields) {
		return fields[fi].role
	}
	return ""
}

// hashSpace maps a hash kind to its key space.
var hashSpace = [numKinds]space{KindMD5: spMD5, KindSHA1: spSHA1, KindSHA256: spSHA256}

// SeverityOf maps an indicator's (decayed) confidence to an alert severity:
// 90 and above critical, 70 high, 40 medium, 20 low, below that
// informational.
func SeverityOf(confidence int) alert.Severity {
	switch {
	case confidence >= 90:
		return alert.Critical
	case confidence >= 70:
		return alert.High
	case confidence >= 40:
		return alert.Medium
	case confidence >= 20:
		return alert.Low
	}
	return alert.Informational
}

// Hit is an indexed entry a Lookup found.
type Hit struct {
	// Indicator is the entry; its Value is the normalised indexed value
	// (a parent domain, a CIDR range containing the address...).
	Indicator
	// Matched is the normalised value that was looked up.
	Matched string
	// Current is the confidence after decay at the time of the lookup.
	Current int
}

// Detect matches the event's addresses, names, URLs, hashes and e-mail
// addresses against the index and appends one alert per (indicator, value)
// hit that ev.Member may use under TLP and that is valid and not decayed at
// the event's time. It does not allocate when nothing matches.
func (x *Index) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	return x.detectIn(x.cur.Load(), ev, out)
}

// detectIn is Detect against snapshot s.
func (x *Index) detectIn(s *snapshot, ev *event.Event, out []alert.Alert) []alert.Alert {
	if s.live == 0 {
		return out
	}
	m := matcher{x: x, s: s, ev: ev, member: ev.Member, filter: true, out: out, start: len(out)}
	for i := range fields {
		f := &fields[i]
		if v := ev.Key(f.key); v != "" {
			m.check(f.kind, uint8(i), v)
			if f.key == event.UrlFull {
				m.checkURLHost(ev, uint8(i), v)
			}
		}
	}
	m.checkMore(ev)
	m.flush()
	m.finish()
	return m.out
}

// checkMore queues the further values of inspected fields that hold a
// list (DNS answers, several addresses or hashes): every value is
// matched, not only the first.
func (m *matcher) checkMore(ev *event.Event) {
	ev.EachMore(func(k event.Key, v string) bool {
		for i := range fields {
			if fields[i].key == k {
				m.check(fields[i].kind, uint8(i), v)
				if k == event.UrlFull {
					m.checkURLHost(ev, uint8(i), v)
				}
				break
			}
		}
		return true
	})
}

// checkURLHost queues the host of the URL v when the event carries no
// url.domain: a proxy or web log that only writes the full URL still
// matches domain and address indicators on its host.
func (m *matcher) checkURLHost(ev *event.Event, fi uint8, v string) {
	if ev.Key(event.UrlDomain) != "" {
		return
	}
	host := urlHost(v)
	if host == "" {
		return
	}
	if _, ok := parseAddr(host); ok {
		m.check(KindIP, fi, host)
		return
	}
	m.check(KindDomain, fi, host)
}

// Lookup returns every entry that matches value of kind k now (valid, not
// decayed), whatever its TLP: the caller decides who may see what, with
// Hit.Owner, Hit.TLP and Hit.Named (see LookupFor). A domain finds its
// parent domains' entries too, an address the ranges containing it, and a
// range the ranges containing it.
func (x *Index) Lookup(k Kind, value string) ([]Hit, error) {
	return x.lookup(k, value, "", false)
}

// LookupFor is Lookup restricted to the entries member may use under TLP,
// with the client relations of Options.Relations.
func (x *Index) LookupFor(member string, k Kind, value string) ([]Hit, error) {
	return x.lookup(k, value, member, true)
}

func (x *Index) lookup(k Kind, value, member string, filter bool) ([]Hit, error) {
	norm, err := Normalize(k, value)
	if err != nil {
		return nil, err
	}
	m := matcher{x: x, s: x.cur.Load(), member: member, filter: filter, mode: modeHits}
	if k == KindIP && strings.Contains(norm, "/") {
		p, _ := parseRange(norm)
		m.cidrs(p, encodeAddr(p.Addr()), noField)
		return m.hits, nil
	}
	m.check(k, noField, norm)
	m.flush()
	return m.hits, nil
}

// Query is one value to look up: its kind and the value as an event would
// carry it (normalised by the lookup, as Detect normalises event fields).
type Query struct {
	Kind  Kind
	Value string
}

// CountFor returns how many entries usable by member (under TLP, valid and
// not decayed now) match the values of qs, counting an entry once per
// value it matches. It is a batched lookup: it queues up to batchDepth
// values, reads the filter and the first table slot of every one of them,
// and only then compares keys, so that the cache misses of many lookups
// overlap instead of following one another. It gives the same answer as
// summing len(LookupFor) over qs, skipping values that do not parse, and
// does not allocate. Ranges ("10.0.0.0/8") are not looked up as values.
func (x *Index) CountFor(member string, qs []Query) int {
	m := matcher{x: x, s: x.cur.Load(), member: member, filter: true, mode: modeCount}
	for i := range qs {
		m.check(qs[i].Kind, noField, qs[i].Value)
	}
	m.flush()
	return m.count
}

// mode says what a matcher does with a usable entry.
type mode uint8

const (
	modeAlert mode = iota // append an alert
	modeHits              // append a Hit
	modeCount             // count it
	modeMark              // mark the event that carries the value (DetectBatch)
)

// batchDepth is how many lookups a matcher queues before it resolves them.
// Each pass of flush keeps that many reads in flight, more than a core's
// line fill buffers hold, so that the buffers stay busy while the pass
// issues its reads. At ten million indicators, 32 is about a sixth faster
// than 16; 64 gains little more and doubles the matcher, which Detect
// zeroes for every event. maxPending leaves room past it for the parent
// names of the last domain queued.
const (
	batchDepth = 32
	maxPending = 40
)

// pending is a queued lookup. Its key (in space sp) and the event's value
// (in space msp; the key's superstring for a parent domain) are in the
// matcher's scratch buffer.
type pending struct {
	h          uint64 // the key's hash in the base layer
	head       uint32 // the key's chain, once looked up
	koff, klen uint16
	moff, mlen uint16
	sp, msp    space
	field      uint8 // the value's field, for the alert (see roleOf)
	parentOnly bool
	maybe      bool // the base's filter may hold the key
}

// matcher carries one event's (or one lookup's) matching state. Everything
// that costs something (the clock, the member's client relations, the
// event's JSON) is computed on the first entry that needs it, so the
// no-match path costs only the lookups.
//
// A lookup in a large index is one cache miss, and a CPU can have several
// in flight. So the matcher queues an event's lookups (normalised keys in
// its scratch buffer) and resolves them together in flush: first it starts
// every lookup's memory access, then it finishes them one by one.
type matcher struct {
	x      *Index
	s      *snapshot
	ev     *event.Event // nil outside Detect
	member string
	filter bool // apply TLP for member
	mode   mode

	out   []alert.Alert
	start int // first alert of this event in out
	hits  []Hit
	count int

	timed       bool
	at, now     int64 // event time and clock time, Unix seconds
	clientsDone bool
	clientOf    []string
	evidence    string
	// raised holds, for each alert of this event (out[start:]), the parts
	// of its title and the warning origins it names, until finish writes
	// the titles: an alert names every origin of its value, which later
	// entries of the chain may add.
	raised []raised

	pend    [maxPending]pending
	npend   int
	used    int // bytes of scratch in use
	sink    uint32
	scratch [2048]byte

	// In modeMark, tag is the batch position of the event whose values
	// are being queued, evOf the tag of each queued lookup, and marks the
	// bitset of events with a value found in the index.
	tag   uint8
	evOf  [maxPending]uint8
	marks [markWords]uint64
}

// check queues the lookups of one value of kind k, as matching does:
// leniently, an unparsable value simply matches nothing.
func (m *matcher) check(k Kind, fi uint8, v string) {
	// A normalised value is at most one byte longer than the input (the
	// "/" of an empty URL path), a binary key at most 32 bytes, and
	// lowerWords may write up to 7 bytes past a name.
	need := max(len(v)+8, 32)
	if need > len(m.scratch) {
		m.checkLong(k, fi, v)
		return
	}
	m.reserve(need)
	buf := m.scratch[m.used:m.used:len(m.scratch)]
	switch k {
	case KindIP:
		if a, ok := parseAddr(v); ok && a.Is4() {
			b := a.As4()
			m.addr(b[:], fi)
		} else if ok {
			b := a.As16()
			m.addr(b[:], fi)
		}
	case KindDomain:
		// The matching-time form of a name: one trailing dot removed,
		// ASCII letters lowercased, not validated (an invalid name
		// simply matches nothing).
		if v = strings.TrimSuffix(v, "."); v != "" && len(v) <= maxDomainLen {
			off := m.keep(append(buf, v...))
			m.domain(off, lowerWords(m.scratch[off:], len(v))+1, fi)
		}
	case KindURL:
		if u, reason := normURL(buf, v); reason == "" && len(u) <= maxURLLen {
			off := m.keep(u)
			m.queue(spURL, off, len(u), spURL, off, len(u), fi, false)
		}
	case KindEmail:
		if e, ok := appendEmail(buf, v); ok {
			off := m.keep(e)
			m.queue(spEmail, off, len(e), spEmail, off, len(e), fi, false)
		}
	case KindMD5, KindSHA1, KindSHA256:
		if n, ok := decodeHex((*[32]byte)(buf[:32]), v); ok && n == hashLen(k) {
			off := m.keep(buf[:n])
			m.queue(hashSpace[k], off, n, hashSpace[k], off, n, fi, false)
		}
	}
}

// checkLong handles a value too long for the scratch buffer (a URL of
// kilobytes): it is looked up on its own, in memory of its own.
func (m *matcher) checkLong(k Kind, fi uint8, v string) {
	if k != KindURL {
		return // no other kind has values this long
	}
	var buf [8192]byte // zeroed only on this rare path; longer URLs allocate
	u, reason := normURL(buf[:0], v)
	if reason != "" || len(u) > maxURLLen {
		return
	}
	m.flush()
	if head := m.s.head(spURL, u); head != 0 {
		if m.mode == modeMark {
			m.mark(m.tag)
			return
		}
		m.entries(head, spURL, u, spURL, u, fi, false)
	}
}

// reserve makes room for n more bytes of scratch and a value's lookups,
// resolving what is queued if needed.
func (m *matcher) reserve(n int) {
	if m.used+n > len(m.scratch) || m.npend >= batchDepth {
		m.flush()
		m.used = 0
	}
}

// keep marks b, just appended at the end of the scratch in use, as used
// and returns its offset.
func (m *matcher) keep(b []byte) int {
	off := m.used
	m.used += len(b)
	return off
}

// queue adds a lookup of scratch[koff:koff+klen] in space sp for the event
// value scratch[moff:moff+mlen] of space msp.
func (m *matcher) queue(sp space, koff, klen int, msp space, moff, mlen int, fi uint8, parentOnly bool) {
	if m.npend == maxPending {
		m.flush() // keeps the scratch: the value being queued lives there
	}
	m.evOf[m.npend] = m.tag
	// Field by field: a composite literal would be built on the stack
	// with narrow stores and copied with wide loads, which the processor
	// cannot forward.
	p := &m.pend[m.npend]
	p.h, p.head, p.maybe = 0, 0, false
	p.koff, p.klen, p.moff, p.mlen = uint16(koff), uint16(klen), uint16(moff), uint16(mlen)
	p.sp, p.msp, p.field, p.parentOnly = sp, msp, fi, parentOnly
	m.npend++
}

// flush resolves the queued lookups. In a large index each lookup misses
// the cache up to three times, one miss depending on the previous: in the
// filter, in the table, and, for a hit, in the meta log. Each step is one
// short loop over all queued lookups that starts their reads, so that a
// processor, whose reordering window holds only a few iterations of a long
// loop body, has all of them in flight at once; the loops after it find the
// data in the cache.
func (m *matcher) flush() {
	b := m.s.base
	pend := m.pend[:m.npend]
	for i := range pend {
		p := &pend[i]
		if b.keys[p.sp] != 0 {
			p.h = b.hash(p.sp, m.scratch[p.koff:p.koff+p.klen])
		}
	}
	if len(b.filter.blocks) != 0 {
		for i := range pend {
			m.sink += uint32(b.filter.block(pend[i].h)[0])
		}
	}
	for i := range pend {
		p := &pend[i]
		p.maybe = b.keys[p.sp] != 0 && b.filter.mayContain(p.h)
	}
	for i := range pend {
		if p := &pend[i]; p.maybe {
			m.sink += b.touch(p.sp, p.h)
		}
	}
	for i := range pend {
		p := &pend[i]
		if p.maybe || len(m.s.delta[p.sp]) != 0 {
			p.head = m.s.headFiltered(p.sp, m.scratch[p.koff:p.koff+p.klen], p.h, p.maybe)
		}
	}
	if m.mode != modeMark { // marking reads no entry
		for i := range pend {
			if p := &pend[i]; p.head != 0 {
				m.sink += uint32(m.s.log.at(p.head).conf)
			}
		}
	}
	for i := range pend {
		p := &pend[i]
		if p.head != 0 {
			if m.mode == modeMark {
				m.mark(m.evOf[i])
				continue
			}
			key := m.scratch[p.koff : p.koff+p.klen]
			m.entries(p.head, p.sp, key, p.msp, m.scratch[p.moff:p.moff+p.mlen], p.field, p.parentOnly)
		}
	}
	m.npend = 0
}

// addr queues an exact lookup of the address of bytes ip (4 or 16) and
// looks it up in the CIDR ranges.
func (m *matcher) addr(ip []byte, fi uint8) {
	sp, f := spV4, 0
	if len(ip) == 16 {
		sp, f = spV6, 1
	}
	off := m.keep(append(m.scratch[m.used:m.used], ip...))
	m.queue(sp, off, len(ip), sp, off, len(ip), fi, false)
	key := m.scratch[off : off+len(ip)]
	hints := familyHints[f]
	if !m.s.rangeHint[hints[0]].mayContain(key) {
		return // no range near the address: the common case
	}
	if !m.inRange(key, hints[1:]) {
		return
	}
	if m.mode == modeMark {
		m.mark(m.tag) // a range holds the address
		return
	}
	a, _ := netip.AddrFromSlice(key)
	m.cidrs(netip.PrefixFrom(a, a.BitLen()), key, fi)
}

// inRange reports whether an indexed range contains the address of bytes
// key (4 or 16), which the range hints before hints have let through.
func (m *matcher) inRange(key []byte, hints []int) bool {
	for _, h := range hints {
		if !m.s.rangeHint[h].mayContain(key) {
			return false
		}
	}
	a, _ := netip.AddrFromSlice(key)
	_, ok := m.s.cidr.Lookup(a)
	return ok
}

// cidrs visits every indexed range containing p (which holds the address
// bytes mv).
func (m *matcher) cidrs(p netip.Prefix, mv []byte, fi uint8) {
	msp := spV4
	if len(mv) == 16 {
		msp = spV6
	}
	for r, head := range m.s.cidr.Supernets(p) {
		m.entries(head, spCIDR, []byte(encodePrefix(r)), msp, mv, fi, false)
	}
}

// domain queues lookups of a name of the given number of labels (at
// scratch offset off, lowercased) and each of its parent domains:
// a.b.example, then b.example, then example. Only whole labels are cut, so
// badexample.com never finds example.com. Names of a label count no
// indexed domain has are not looked up. The scratch must hold 7 bytes
// past the name: the dots are found eight bytes at a time.
func (m *matcher) domain(off, labels int, fi uint8) {
	mask := m.s.domainLabels
	if mask == 0 {
		return
	}
	n := m.used - off
	if mask&labelsBit(labels) != 0 {
		m.queue(spDomain, off, n, spDomain, off, n, fi, false)
	}
	// A dot at the end starts no parent.
	for w := 0; w < n-1; w += 8 {
		dots := equal(binary.LittleEndian.Uint64(m.scratch[off+w:off+w+8]), '.')
		for ; dots != 0; dots &= dots - 1 {
			i := w + bits.TrailingZeros64(dots)/8
			if i >= n-1 {
				break
			}
			labels--
			if mask&labelsBit(labels) != 0 {
				m.queue(spDomain, off+i+1, n-i-1, spDomain, off, n, fi, true)
			}
		}
	}
}

// entries walks the chain at head and acts on every usable entry.
func (m *matcher) entries(head uint32, sp space, key []byte, msp space, mv []byte, fi uint8, parentOnly bool) {
	for r := head; r != 0; {
		e := m.s.log.at(r)
		r = e.next
		if parentOnly && e.flags&flagExact != 0 {
			continue
		}
		p := &m.s.provs[e.prov]
		if m.filter && !m.mayUse(p) {
			continue
		}
		conf, ok := m.alive(e, p)
		if !ok {
			continue
		}
		switch m.mode {
		case modeCount:
			m.count++
		case modeHits:
			m.hits = append(m.hits, m.hit(e, p, conf, sp, key, keyString(msp, mv)))
		default:
			m.alert(e, p, conf, sp, key, msp, mv, fi)
		}
	}
}

// mayUse reports whether the member may use an entry of provenance p under
// TLP. The member's client relations are asked for only when a TLP:AMBER
// entry of another member makes them matter.
func (m *matcher) mayUse(p *provenance) bool {
	rec := tlp.Recipient{Member: m.member}
	if p.tlp == tlp.Amber && m.member != p.owner && m.x.opts.Relations != nil {
		if !m.clientsDone {
			m.clientOf = m.x.opts.Relations(m.member)
			m.clientsDone = true
		}
		rec.ClientOf = m.clientOf
	}
	return tlp.MayReceive(p.tlp, rec.RelationTo(p.owner, p.named))
}

// alive reports whether entry e is valid and above the confidence floor,
// and returns its decayed confidence. The entry must have started to be
// valid by the clock (an indicator dated in the future waits), must not
// have expired at the event's time, and decays from its valid_from to the
// event's time.
func (m *matcher) alive(e *meta, p *provenance) (int, bool) {
	if e.from == 0 && e.until == 0 {
		return int(e.conf), true // timeless: no need for the clock
	}
	if !m.timed {
		now := m.x.opts.Clock()
		m.now, m.at = now.Unix(), now.Unix()
		if m.ev != nil && !m.ev.Time.IsZero() {
			m.at = m.ev.Time.Unix()
		}
		m.timed = true
	}
	if int64(e.from) > m.now {
		return 0, false
	}
	if e.until != 0 && m.at >= int64(e.until) {
		return 0, false
	}
	conf := float64(e.conf)
	if p.halfLife != 0 && e.from != 0 {
		if age := m.at - int64(e.from); age > 0 {
			conf *= math.Exp2(-float64(age) / float64(p.halfLife))
		}
		if conf < float64(m.x.opts.MinConfidence) {
			return 0, false
		}
	}
	return int(math.Round(conf)), true
}

// alert appends the alert for one usable entry, unless this event already
// raised it for the same value through another field or, for an entry of
// a cross-border warning, through another origin of the same indicator:
// then the origin joins that alert (see finish).
func (m *matcher) alert(e *meta, p *provenance, conf int, sp space, key []byte, msp space, mv []byte, fi uint8) {
	id := m.s.idString(e)
	matched := keyString(msp, mv)
	for i := m.start; i < len(m.out); i++ {
		if m.out[i].RuleID == id && m.out[i].Key == matched {
			if p.warnedFrom != "" {
				m.addOrigin(i, e, p, conf)
			}
			return
		}
	}
	if m.evidence == "" {
		m.evidence = string(m.ev.AppendJSON(nil))
	}
	kind := kindOfSpace[sp]
	a := alert.Alert{
		Member:      m.ev.Member,
		EventTime:   m.ev.Time,
		Detector:    DetectorName,
		RuleID:      id,
		Severity:    SeverityOf(conf),
		Observables: []alert.Observable{{Type: kind.observableType(msp == spV6), Value: matched, Role: roleOf(fi)}},
		TLP:         p.tlp,
		Key:         matched,
		Evidence:    []string{m.evidence},
	}
	if m.ev.ID != "" {
		a.EventIDs = []string{m.ev.ID}
	}
	r := raised{kind: kind, value: keyString(sp, key)}
	if p.warnedFrom == "" {
		r.source = p.source
		if r.source == "" {
			r.source = p.owner
		}
	} else {
		r.origins = []origin{originOf(e, p)}
	}
	m.out = append(m.out, a)
	m.raised = append(m.raised, r)
}

// Ago renders an age for people: "just now", "42 s ago", "3 min ago",
// "5 h ago", "2 days ago".
func Ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}

// hit renders entry e as a Hit.
func (m *matcher) hit(e *meta, p *provenance, conf int, sp space, key []byte, matched string) Hit {
	return Hit{
		Indicator: Indicator{
			ID:         m.s.idString(e),
			Kind:       kindOfSpace[sp],
			Value:      keyString(sp, key),
			Source:     p.source,
			Owner:      p.owner,
			Confidence: int(e.conf),
			TLP:        p.tlp,
			Named:      append([]string(nil), p.named...),
			ValidFrom:  fromSeconds(e.from),
			ValidUntil: fromSeconds(e.until),
			HalfLife:   time.Duration(p.halfLife) * time.Second,
			ExactOnly:  e.flags&flagExact != 0,
			WarnedFrom: p.warnedFrom,
		},
		Matched: matched,
		Current: conf,
	}
}

// encodeAddr returns the address bytes of a (4 or 16).
func encodeAddr(a netip.Addr) []byte { return a.AsSlice() }
