package sigma

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// Leaf states within one event.
const (
	valFalse uint8 = iota
	valTrue
	valMaybe // the prefilter needle hit; the leaf still needs evaluating
)

// scratch is the per-goroutine working memory of one Detect call. Arrays
// indexed by leaf, rule, slot and group are stamped with the event's
// generation rather than cleared, so starting an event costs nothing.
type scratch struct {
	gen uint32
	ev  *event.Event
	// warm keeps what DetectBatch's read-ahead read, so that the reads
	// stay in the program.
	warm uint64

	// leaf holds, per leaf, gen<<8 | state (valFalse, valTrue, valMaybe):
	// one word, so that a hit touches one cache line.
	leaf    []uint64
	ruleGen []uint32
	// Patterns whose position-free outputs this event already recorded.
	patGen []uint32
	// need holds, per rule, gen<<32 | the mask of its trigger sets that
	// hit so far.
	need []uint64

	slotGen   []uint32
	slotFirst []int32
	slotN     []int32
	slotRef   []int8 // index of the candidate that was present, -1 none
	// The folded copies of a slot's values, made when a direct test
	// needs them (the automata read raw ASCII values as they are).
	foldGen   []uint32
	foldFirst []int32

	groupGen []uint32
	active   []int32
	cands    []int32

	// vals holds field values: the event's own strings, and folded
	// copies, which point into buf.
	vals []string
	buf  []byte
	// evidence is the event's JSON form once a rule matched it, shared
	// by its alerts; "" until then.
	evidence string

	// memos remember, per prefilter, what recent values hit (memo.go);
	// rec collects the hits of the value being scanned.
	memos []*memo
	rec   recorder

	// routed remembers, per dispatch field, the last value routing
	// looked up and the entry it found: consecutive events mostly share
	// their module, channel, dataset and category, and folding a value
	// such as Microsoft-Windows-Sysmon/Operational and hashing it for the
	// lookup was most of routing. The value is a copy, so that the memo
	// keeps no event's memory alive.
	routed [len(dispatchFields)]routeMemo
}

// routeMemo is one dispatch field's last lookup.
type routeMemo struct {
	raw   []byte // the value, unfolded
	entry *routeEntry
	valid bool
}

func newScratch(nleaves, nrules, nslots, ngroups, npats, nscans int) *scratch {
	return &scratch{
		memos:     make([]*memo, nscans),
		patGen:    make([]uint32, npats),
		need:      make([]uint64, nrules),
		leaf:      make([]uint64, nleaves),
		ruleGen:   make([]uint32, nrules),
		slotGen:   make([]uint32, nslots),
		slotFirst: make([]int32, nslots),
		slotN:     make([]int32, nslots),
		slotRef:   make([]int8, nslots),
		foldGen:   make([]uint32, nslots),
		foldFirst: make([]int32, nslots),
		groupGen:  make([]uint32, ngroups),
		buf:       make([]byte, 0, 4096),
		rec:       recorder{pat: make([]uint32, npats), leaf: make([]uint32, nleaves)},
	}
}

func (x *scratch) begin(ev *event.Event) {
	x.gen++
	if x.gen == 0 { // wrapped: old stamps could look current
		clear(x.leaf)
		clear(x.ruleGen)
		clear(x.patGen)
		clear(x.need)
		clear(x.slotGen)
		clear(x.foldGen)
		clear(x.groupGen)
		x.gen = 1
	}
	x.ev = ev
	x.evidence = ""
	x.active = x.active[:0]
	x.cands = x.cands[:0]
	x.vals = x.vals[:0]
	x.buf = x.buf[:0]
}

func (x *scratch) setLeaf(l int32, v uint8) { x.leaf[l] = uint64(x.gen)<<8 | uint64(v) }

func (x *scratch) addCand(r int32) {
	if x.ruleGen[r] != x.gen {
		x.ruleGen[r] = x.gen
		x.cands = append(x.cands, r)
	}
}

// fold returns the folded form of v: v itself when folding changes
// nothing, else a copy in buf.
func (x *scratch) fold(v string) string {
	if !needsFold(v) {
		return v
	}
	start := len(x.buf)
	x.buf = foldAppend(x.buf, v)
	// The string shares buf's memory: buf only grows during an event (a
	// reallocation leaves the old array to the strings that use it), and
	// vals is reset before buf is reused.
	return unsafe.String(&x.buf[start], len(x.buf)-start)
}

// keywordOriginal reports whether keyword searches look into an event's
// original as well as its fields: only when it is not a JSON object.
// Every value of a JSON original is a field of the event already; what the
// raw text adds is field names and escapes, on which keywords would match
// falsely ("password" in any event with a password field, empty or not),
// at the cost of scanning the whole line again. A syslog or CEF line's
// text, by contrast, may say more than its fields.
func keywordOriginal(orig []byte) bool {
	for _, c := range orig {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c != '{'
	}
	return false
}

// values returns the raw values of slot s in the current event: those of
// the first candidate field present.
func (rs *RuleSet) values(x *scratch, s int32) []string {
	if x.slotGen[s] != x.gen {
		x.slotGen[s] = x.gen
		first := len(x.vals)
		x.slotRef[s] = -1
		sl := &rs.slots[s]
		ev := x.ev
		if sl.keyword {
			ev.Fields(func(_, v string) bool { x.vals = append(x.vals, v); return true })
			if keywordOriginal(ev.Original) {
				x.vals = append(x.vals, unsafe.String(&ev.Original[0], len(ev.Original)))
			}
		} else {
			for i := range sl.refs {
				if sl.extra[i] || ev.SlotLists() {
					// Every value of a list (a slotted field holds
					// more than one only when the event has lists).
					x.appendExtra(sl.refs[i])
				} else if v, ok := ev.Lookup(sl.refs[i]); ok {
					x.vals = append(x.vals, v)
				}
				if len(x.vals) > first {
					x.slotRef[s] = int8(i)
					break
				}
			}
		}
		x.slotFirst[s] = int32(first)
		x.slotN[s] = int32(len(x.vals) - first)
	}
	f := x.slotFirst[s]
	return x.vals[f : f+x.slotN[s]]
}

// appendExtra appends the values of the non-slotted field ref names to
// x.vals, in order. Only the fields a slot needs are looked up: walking
// the event once to file every extra field the rule set may read costs
// more, since most of them (winlog.event_data.Image...) stand behind an
// ECS field that is present.
func (x *scratch) appendExtra(ref event.Ref) {
	x.ev.Each(ref, func(v string) bool {
		x.vals = append(x.vals, v)
		return true
	})
}

// folded returns the case-folded values of slot s.
func (rs *RuleSet) folded(x *scratch, s int32) []string {
	raw := rs.values(x, s)
	if x.foldGen[s] != x.gen {
		x.foldGen[s] = x.gen
		first := len(x.vals)
		for i := range raw {
			x.vals = append(x.vals, x.fold(raw[i]))
			raw = x.vals[x.slotFirst[s] : x.slotFirst[s]+x.slotN[s]] // vals may have moved
		}
		x.foldFirst[s] = int32(first)
	}
	f := x.foldFirst[s]
	return x.vals[f : f+x.slotN[s]]
}

// Detect tests ev against the rule set and appends an alert per match.
func (rs *RuleSet) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	if len(rs.rules) == 0 {
		return out
	}
	x := rs.pool.Get().(*scratch)
	out = rs.detect(x, ev, out)
	rs.pool.Put(x)
	return out
}

// detect is Detect with a scratch area.
func (rs *RuleSet) detect(x *scratch, ev *event.Event, out []alert.Alert) []alert.Alert {
	x.begin(ev)
	rs.router.route(x)
	for _, gi := range x.active {
		g := rs.groups[gi]
		rs.runScans(x, g.scans)
		for _, r := range g.always {
			x.addCand(r)
		}
	}
	for i := 0; i < len(x.cands); i++ {
		cr := rs.rules[x.cands[i]]
		if rs.eval(x, cr.expr) {
			out = rs.matched(x, cr, ev, out)
		}
	}
	x.ev, x.evidence = nil, ""
	return out
}

// readAhead is how many events DetectBatch reads ahead: enough to have
// a few dozen cache misses in flight, few enough (some 40 KB) that they
// are still cached when their turn comes.
const readAhead = 8

// DetectBatch tests evs in order, appending exactly what Detect would for
// each. Events a batch hands over may have left the processor's cache (a
// replay, a large batch): it reads the fields of the next readAhead events
// together, so that their cache misses overlap, before testing them.
func (rs *RuleSet) DetectBatch(evs []*event.Event, out []alert.Alert) []alert.Alert {
	if len(rs.rules) == 0 {
		return out
	}
	x := rs.pool.Get().(*scratch)
	for len(evs) > 0 {
		n := min(len(evs), readAhead)
		for _, ev := range evs[:n] {
			x.warm += ev.PrefetchFields()
		}
		for _, ev := range evs[:n] {
			x.warm += rs.prefetchValues(ev)
		}
		for _, ev := range evs[:n] {
			out = rs.detect(x, ev, out)
		}
		evs = evs[n:]
	}
	rs.pool.Put(x)
	return out
}

// prefetchValues reads the bytes of the values ev's prefilters will
// read (see DetectBatch).
func (rs *RuleSet) prefetchValues(ev *event.Event) uint64 {
	if rs.prefetchAll {
		return ev.PrefetchValues()
	}
	var sum uint64
	for _, ref := range rs.prefetch {
		sum += ev.PrefetchValue(ref)
	}
	return sum
}

// runScans runs a group's prefilters over the values of their slots.
func (rs *RuleSet) runScans(x *scratch, scans []scan) {
	for i := range scans {
		rs.runScan(x, &scans[i])
	}
}

// runScan runs one slot's prefilter over the slot's values and records
// which leaves hit.
func (rs *RuleSet) runScan(x *scratch, sc *scan) {
	for _, v := range rs.values(x, sc.slot) {
		rs.scanValue(x, sc, v)
	}
}

// hasHighBit8 reports whether any of the first eight bytes of v (which
// must have eight) is not ASCII.
func hasHighBit8(v string) bool {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(v), 8))&0x8080808080808080 != 0
}

// isASCII reports whether v holds only ASCII bytes, testing eight bytes
// at a time.
func isASCII(v string) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if hasHighBit8(v[i:]) {
			return false
		}
	}
	for ; i < len(v); i++ {
		if v[i] >= 0x80 {
			return false
		}
	}
	return true
}

// scanGrams is the gram index's inner loop: per byte, shift the lowered
// byte into a 4-byte window, hash it and test one filter bit; the rare set
// bits lead to the needles indexed under the window's gram.
func (rs *RuleSet) scanGrams(x *scratch, sc *scan, v string) {
	if len(v) < gramLen {
		return
	}
	g := sc.grams
	filter, shift := g.filter, g.filterShift
	if g.stride > 1 {
		for i := 0; i+gramLen <= len(v); i += g.stride {
			w := uint32(lowerASCII[v[i]])<<24 | uint32(lowerASCII[v[i+1]])<<16 | uint32(lowerASCII[v[i+2]])<<8 | uint32(lowerASCII[v[i+3]])
			h := w * gramMul >> shift
			if filter[h>>6]&(1<<(h&63)) != 0 {
				rs.gramHit(x, sc, v, w, h, i)
			}
		}
		return
	}
	w := uint32(lowerASCII[v[0]])<<16 | uint32(lowerASCII[v[1]])<<8 | uint32(lowerASCII[v[2]])
	for i := gramLen - 1; i < len(v); i++ {
		w = w<<8 | uint32(lowerASCII[v[i]])
		h := w * gramMul >> shift
		if filter[h>>6]&(1<<(h&63)) != 0 {
			rs.gramHit(x, sc, v, w, h, i+1-gramLen)
		}
	}
}

// gramHit checks the needles indexed under gram w, found at byte pos of v.
func (rs *RuleSet) gramHit(x *scratch, sc *scan, v string, w, h uint32, pos int) {
	g := sc.grams
	b := h >> g.bucketShift
	for _, e := range g.ents[g.bstart[b]:g.bstart[b+1]] {
		if e.gram != w {
			continue
		}
		start := pos - int(e.off)
		n := sc.needles[e.pat]
		if hasFoldedAt(v, start, n) {
			rs.report(x, sc, e.pat, start == 0, start+len(n) == len(v))
		}
	}
}

// scanShort runs the automaton of the needles shorter than a gram.
func (rs *RuleSet) scanShort(x *scratch, sc *scan, v string) {
	a := sc.short
	dense, class, denseLen := a.dense, &a.class, a.denseLen
	code := uint32(0)
	for i := 0; i < len(v); i++ {
		c := class[v[i]]
		var d uint32
		if code < denseLen {
			d = dense[code+uint32(c)]
		} else {
			d = a.sparseNext(code, c)
		}
		code = d >> 1
		if d&1 != 0 {
			st := a.stateOf(code)
			for _, q := range a.outs[a.outStart[st]:a.outStart[st+1]] {
				rs.report(x, sc, sc.shortPat[q], i+1 == int(a.lens[q]), i+1 == len(v))
			}
		}
	}
}

// report records a hit of pattern p; atStart and atEnd say whether it
// touches the ends of the value. A needle found again in the same event
// changes nothing unless its hit touches an end of the value, which
// anchored outputs care about.
func (rs *RuleSet) report(x *scratch, sc *scan, p int32, atStart, atEnd bool) {
	if x.rec.on {
		x.rec.pattern(sc, p, atStart, atEnd)
	}
	if g := sc.base + p; x.patGen[g] != x.gen {
		x.patGen[g] = x.gen
		for _, po := range sc.free[p] {
			rs.hit(x, po, false, false)
		}
	}
	if atStart || atEnd {
		for _, po := range sc.anchored[p] {
			rs.hit(x, po, atStart, atEnd)
		}
	}
}

// hit records a hit of an output of a pattern found at the given
// position.
func (rs *RuleSet) hit(x *scratch, po patOut, atStart, atEnd bool) {
	if po.holds(atStart, atEnd) {
		rs.mark(x, po.leaf, po.kind == matchGlob)
	}
}

// holds reports whether a hit at the given position makes the output's
// leaf true (or, for globs, worth evaluating).
func (po patOut) holds(atStart, atEnd bool) bool {
	switch po.kind {
	case matchExact:
		return atStart && atEnd
	case matchPrefix:
		return atStart
	case matchSuffix:
		return atEnd
	}
	return true
}

// mark sets leaf l true (maybe: to be evaluated) unless this event set it
// already, and counts the trigger sets it completes.
func (rs *RuleSet) mark(x *scratch, l int32, maybe bool) {
	gen := x.gen
	if uint32(x.leaf[l]>>8) == gen {
		return // already true (or already maybe)
	}
	v := uint64(valTrue)
	if maybe {
		v = uint64(valMaybe)
	}
	x.leaf[l] = uint64(gen)<<8 | v
	// need is read into a local: stores through x.need would otherwise
	// make the compiler reload the slice (and gen) on every trigger.
	need, stamp := x.need, uint64(gen)<<32
	for _, tg := range rs.leaves[l].triggers {
		n := need[tg.rule]
		if n&^0xffffffff != stamp {
			n = stamp
		}
		m := n | uint64(tg.bit)
		if m == n {
			continue // the set hit already
		}
		need[tg.rule] = m
		if uint32(m) == tg.full {
			x.addCand(tg.rule)
		}
	}
}

// eval evaluates a compiled condition.
func (rs *RuleSet) eval(x *scratch, n *enode) bool {
	switch n.op {
	case condRef:
		return rs.leafValue(x, n.leaf)
	case condAnd:
		for _, k := range n.kids {
			if !rs.eval(x, k) {
				return false
			}
		}
		return true
	case condOr:
		for _, k := range n.kids {
			if rs.eval(x, k) {
				return true
			}
		}
		return false
	case condNot:
		return !rs.eval(x, n.kids[0])
	case condOf:
		hits := 0
		for i, k := range n.kids {
			if rs.eval(x, k) {
				hits++
				if hits >= n.n {
					return true
				}
			}
			if hits+len(n.kids)-i-1 < n.n {
				return false
			}
		}
		return false
	}
	return false
}

func (rs *RuleSet) leafValue(x *scratch, id int32) bool {
	l := &rs.leaves[id]
	if st := x.leaf[id]; uint32(st>>8) == x.gen {
		if v := uint8(st); v != valMaybe {
			return v == valTrue
		}
	} else if l.acOnly || l.needle {
		// The automaton saw every value of the slot and did not hit.
		x.setLeaf(id, valFalse)
		return false
	}
	r := rs.compute(x, l)
	if r {
		x.setLeaf(id, valTrue)
	} else {
		x.setLeaf(id, valFalse)
	}
	return r
}

// compute decides a leaf from the event's values.
func (rs *RuleSet) compute(x *scratch, l *leaf) bool {
	spec := l.spec
	switch spec.kind {
	case leafMatch:
		if !spec.cased {
			if r, ok := rs.matchASCII(x, l.slot, spec); ok {
				return r
			}
			for _, v := range rs.folded(x, l.slot) {
				if matchString(spec, v) {
					return true
				}
			}
			return false
		}
		return rs.anyRaw(x, l.slot, spec, matchString)
	case leafExists:
		return (len(rs.values(x, l.slot)) > 0) == spec.want
	case leafRegex:
		return rs.anyRaw(x, l.slot, spec, matchRegex)
	case leafCIDR:
		return rs.anyRaw(x, l.slot, spec, matchCIDR)
	case leafNumber:
		return rs.anyRaw(x, l.slot, spec, matchNumber)
	case leafTime:
		return rs.anyRaw(x, l.slot, spec, matchTime)
	case leafFieldRef:
		return rs.fieldRef(x, l)
	}
	return false
}

// matchASCII decides a case-insensitive literal leaf (exact, prefix,
// suffix, contains) on the raw values of slot s, lowering ASCII letters
// as it compares, when every value is ASCII: folding them would then
// only lower those letters, and copying values into folded form costs
// more than the comparison. ok is false when it cannot decide.
func (rs *RuleSet) matchASCII(x *scratch, s int32, spec *leafSpec) (matched, ok bool) {
	switch spec.match {
	case matchExact, matchPrefix, matchSuffix, matchContains:
	default:
		return false, false
	}
	vals := rs.values(x, s)
	for _, v := range vals {
		if !isASCII(v) {
			return false, false
		}
	}
	for _, v := range vals {
		if matchFoldedASCII(spec, v) {
			return true, true
		}
	}
	return false, true
}

// matchFoldedASCII is matchString on the folded form of the ASCII value
// v, for exact, prefix, suffix and contains leaves, without folding v.
func matchFoldedASCII(spec *leafSpec, v string) bool {
	lit := spec.lit
	switch spec.match {
	case matchExact:
		return len(v) == len(lit) && hasFoldedAt(v, 0, lit)
	case matchPrefix:
		return hasFoldedAt(v, 0, lit)
	case matchSuffix:
		return hasFoldedAt(v, len(v)-len(lit), lit)
	}
	return indexFoldedASCII(v, lit) >= 0
}

// indexFoldedASCII returns the first index of the folded needle in v
// with v's ASCII letters lowered, or -1.
func indexFoldedASCII(v, needle string) int {
	if needle == "" {
		return 0
	}
	first := needle[0]
	for i := 0; i+len(needle) <= len(v); i++ {
		if lowerASCII[v[i]] == first && hasFoldedAt(v, i, needle) {
			return i
		}
	}
	return -1
}

// anyRaw reports whether test holds for any raw (unfolded) value of slot s.
func (rs *RuleSet) anyRaw(x *scratch, s int32, spec *leafSpec, test func(*leafSpec, string) bool) bool {
	rs.values(x, s) // resolves which candidate is present
	sl := &rs.slots[s]
	found := false
	if sl.keyword {
		x.ev.Fields(func(_, v string) bool {
			found = test(spec, v)
			return !found
		})
		if !found && keywordOriginal(x.ev.Original) {
			found = test(spec, unsafe.String(&x.ev.Original[0], len(x.ev.Original)))
		}
		return found
	}
	c := x.slotRef[s]
	if c < 0 {
		return false
	}
	x.ev.Each(sl.refs[c], func(v string) bool {
		found = test(spec, v)
		return !found
	})
	return found
}

func matchString(spec *leafSpec, v string) bool {
	switch spec.match {
	case matchExact:
		return v == spec.lit
	case matchPrefix:
		return strings.HasPrefix(v, spec.lit)
	case matchSuffix:
		return strings.HasSuffix(v, spec.lit)
	case matchContains:
		return strings.Contains(v, spec.lit)
	case matchAny:
		return v != ""
	}
	return globMatch(spec.glob, v)
}

func matchRegex(spec *leafSpec, v string) bool { return spec.re.MatchString(v) }

func matchCIDR(spec *leafSpec, v string) bool {
	if len(v) > 64 || !looksLikeIP(v) {
		return false
	}
	a, err := netip.ParseAddr(v)
	return err == nil && spec.net.Contains(a.Unmap())
}

// looksLikeIP screens values before netip.ParseAddr, whose error
// allocates.
func looksLikeIP(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '%') {
			return false
		}
	}
	return v != ""
}

func matchNumber(spec *leafSpec, v string) bool {
	n, ok := parseNumber(strings.TrimSpace(v))
	return ok && spec.op.holds(n, spec.num)
}

func matchTime(spec *leafSpec, v string) bool {
	t, err := event.ParseTime(v)
	if err != nil {
		return false
	}
	var n int
	switch spec.unit {
	case "minute":
		n = t.Minute()
	case "hour":
		n = t.Hour()
	case "day":
		n = t.Day()
	case "week":
		_, n = t.ISOWeek()
	case "month":
		n = int(t.Month())
	case "year":
		n = t.Year()
	}
	return spec.op.holds(float64(n), spec.num)
}

// fieldRef compares the values of a leaf's field with those of the field
// it references.
func (rs *RuleSet) fieldRef(x *scratch, l *leaf) bool {
	spec := l.spec
	a := rs.folded(x, l.slot)
	b := rs.folded(x, l.ref)
	for _, av := range a {
		for _, bv := range b {
			var ok bool
			switch spec.match {
			case matchContains:
				ok = strings.Contains(av, bv)
			case matchPrefix:
				ok = strings.HasPrefix(av, bv)
			case matchSuffix:
				ok = strings.HasSuffix(av, bv)
			default:
				ok = av == bv
			}
			if ok {
				if spec.cased {
					return rs.fieldRefCased(x, l)
				}
				return true
			}
		}
	}
	return false
}

// fieldRefCased repeats a field reference comparison on the raw values.
func (rs *RuleSet) fieldRefCased(x *scratch, l *leaf) bool {
	var bs []string
	if c := x.slotRef[l.ref]; c >= 0 {
		x.ev.Each(rs.slots[l.ref].refs[c], func(v string) bool { bs = append(bs, v); return true })
	}
	found := false
	for _, bv := range bs {
		spec := &leafSpec{match: l.spec.match, lit: bv}
		if l.spec.match == matchExact {
			spec.match = matchExact
		}
		if rs.anyRaw(x, l.slot, spec, matchString) {
			found = true
			break
		}
	}
	return found
}

// router picks the groups whose logsource predicate an event satisfies.
// Alternatives that require a value of one of the dispatch fields
// (event.module, winlog.channel, event.dataset, event.category) are
// indexed by that value, so an event meets only the alternatives of its
// own module, channel, dataset or category, plus the few that test none.
type router struct {
	dispatch []dispatchIndex
	codeRefs [len(codeFields)]event.Ref
	other    []routeAlt
	always   []int32
	// groups counts the groups with rules: once an event has activated
	// them all, routing stops looking.
	groups int
}

type dispatchIndex struct {
	ref     event.Ref
	byValue map[string]*routeEntry // by folded value
}

// routeEntry holds the alternatives filed under one dispatch value.
type routeEntry struct {
	alts []routeAlt
	// byCode holds, per field of codeFields, the alternatives that also
	// require an event id, by folded id: "event.module sysmon and
	// event.code 1" is two lookups, where testing the event code of each
	// of the two dozen Sysmon categories in turn was a test each. They
	// are maps by id under the value rather than one map by value, field
	// and id, whose struct key cost a generic hash per lookup.
	byCode [len(codeFields)]map[string][]routeAlt
}

// dispatchFields are the fields routing indexes, in order of preference.
var dispatchFields = [...]string{"event.module", "winlog.channel", "event.dataset", "event.category"}

// codeFields are the event-id fields a dispatched alternative may be
// filed under as well.
var codeFields = [...]string{"event.code", "winlog.event_id"}

type routeAlt struct {
	group int32
	tests []compiledTest
}

func buildRouter(groups []*group) router {
	var r router
	for _, f := range dispatchFields {
		r.dispatch = append(r.dispatch, dispatchIndex{ref: event.RefOf(f), byValue: map[string]*routeEntry{}})
	}
	for i, f := range codeFields {
		r.codeRefs[i] = event.RefOf(f)
	}
	for gi, g := range groups {
		if len(g.rules) == 0 {
			continue
		}
		r.groups++
		if g.pred == nil {
			r.always = append(r.always, int32(gi))
			continue
		}
		for _, alt := range g.pred {
			r.add(int32(gi), alt)
		}
	}
	return r
}

// add files one alternative under its most selective dispatch field.
func (r *router) add(g int32, alt srcAlt) {
	for di, f := range dispatchFields {
		for ti, t := range alt {
			if t.field != f || t.prefix || t.values == nil {
				continue
			}
			ci, cj := codeTest(alt, ti)
			ra := routeAlt{group: g}
			for tj, u := range alt {
				if tj != ti && tj != cj {
					ra.tests = append(ra.tests, compiledTest{ref: event.RefOf(u.field), values: u.values, prefix: u.prefix})
				}
			}
			d := &r.dispatch[di]
			for _, v := range t.values {
				v = foldString(v)
				e := d.byValue[v]
				if e == nil {
					e = &routeEntry{}
					d.byValue[v] = e
				}
				if cj < 0 {
					e.alts = append(e.alts, ra)
					continue
				}
				if e.byCode[ci] == nil {
					e.byCode[ci] = map[string][]routeAlt{}
				}
				for _, code := range alt[cj].values {
					code = foldString(code)
					e.byCode[ci][code] = append(e.byCode[ci][code], ra)
				}
			}
			return
		}
	}
	ra := routeAlt{group: g}
	for _, u := range alt {
		ra.tests = append(ra.tests, compiledTest{ref: event.RefOf(u.field), values: u.values, prefix: u.prefix})
	}
	r.other = append(r.other, ra)
}

// codeTest finds in alt, besides its test ti, an equality test on one of
// codeFields: the field's index there and the test's in alt, or -1s.
func codeTest(alt srcAlt, ti int) (field, test int) {
	for tj, u := range alt {
		if tj == ti || u.prefix || u.values == nil {
			continue
		}
		for ci, f := range codeFields {
			if u.field == f {
				return ci, tj
			}
		}
	}
	return -1, -1
}

func (r *router) route(x *scratch) {
	for _, g := range r.always {
		x.activate(g)
	}
	ev := x.ev
	for i := range r.dispatch {
		if len(x.active) == r.groups {
			return
		}
		d := &r.dispatch[i]
		v, ok := ev.Lookup(d.ref)
		if !ok {
			continue
		}
		m := &x.routed[i]
		if !m.valid || string(m.raw) != v {
			m.raw, m.entry, m.valid = append(m.raw[:0], v...), d.byValue[x.fold(v)], true
		}
		e := m.entry
		if e == nil {
			continue
		}
		r.try(x, e.alts)
		for ci, byCode := range e.byCode {
			if byCode == nil {
				continue
			}
			if code, ok := ev.Lookup(r.codeRefs[ci]); ok {
				r.try(x, byCode[x.fold(code)])
			}
		}
	}
	r.try(x, r.other)
}

func (r *router) try(x *scratch, alts []routeAlt) {
	for i := range alts {
		a := &alts[i]
		if x.groupGen[a.group] == x.gen {
			continue
		}
		ok := true
		for j := range a.tests {
			if !a.tests[j].holds(x.ev) {
				ok = false
				break
			}
		}
		if ok {
			x.activate(a.group)
		}
	}
}

func (x *scratch) activate(g int32) {
	if x.groupGen[g] != x.gen {
		x.groupGen[g] = x.gen
		x.active = append(x.active, g)
	}
}

// eventTime is the event's time, or now for an event without one.
func (rs *RuleSet) eventTime(ev *event.Event) time.Time {
	if ev.Time.IsZero() {
		return rs.opts.now()
	}
	return ev.Time
}
