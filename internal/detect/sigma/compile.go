package sigma

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// Options configure compilation and the engine.
type Options struct {
	// Placeholders gives the values of %name% placeholders used with the
	// expand modifier. A rule using a placeholder missing here does not
	// compile.
	Placeholders map[string][]string
	// Now is the clock used when an event has no timestamp; nil means
	// time.Now.
	Now func() time.Time
	// MaxGroups caps the group-by groups a correlation rule keeps; the
	// least recently seen group is evicted first. 0 means 10,000.
	MaxGroups int
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) maxGroups() int {
	if o.MaxGroups > 0 {
		return o.MaxGroups
	}
	return 10000
}

// RuleSet is a compiled, immutable set of rules. Build it with Compile; an
// Engine holds one and swaps it on Load.
type RuleSet struct {
	opts     Options
	rules    []*compiledRule // detection rules, index = rule number
	corrs    []*correlation
	groups   []*group
	slots    []slot
	leaves   []leaf
	router   router
	byID     map[string]*compiledRule
	corrByID map[string]*correlation
	// npats is the number of automaton patterns over all scans.
	npats int32
	// seed keys the hashes of values in scan memos (memo.go).
	seed maphash.Seed
	pool sync.Pool
	// prefetch lists the fields the prefilters read on every event, whose
	// values DetectBatch reads ahead; prefetchAll says a keyword search
	// reads every field.
	prefetch    []event.Ref
	prefetchAll bool
}

// slot is a field as events are read: the candidate event fields of one
// Sigma field under one mapping, the first present being used.
type slot struct {
	name string // Sigma field name, for Explain
	refs []event.Ref
	// extra[i] says refs[i] is not one of the event's slotted fields:
	// its values are found by walking the event's extra fields.
	extra   []bool
	keyword bool // every field of the event
}

// leaf is one interned primitive test.
type leaf struct {
	spec *leafSpec
	slot int32
	ref  int32 // leafFieldRef: slot of the other field
	// acOnly leaves are decided by the automaton alone (a case-folded
	// literal compared whole, as prefix, suffix or substring). needle
	// leaves have a literal the automaton must find first (globs, cased
	// literals); the rest are evaluated directly.
	acOnly, needle bool
	// needles are the folded literals the automaton looks for; any hit
	// counts.
	needles []string
	// triggers are the trigger sets this leaf belongs to.
	triggers []trigger
}

// trigger says that a leaf belongs to trigger set bit of rule: a hit
// sets the bit in the rule's per-event mask, and the rule becomes a
// candidate when the mask equals full. Keeping the rule, the bit and the
// full mask together means a hit touches the leaf's list and one word of
// per-event state per rule, nothing else.
type trigger struct {
	rule      int32
	bit, full uint32
}

// enode is a node of a compiled condition.
type enode struct {
	op   condOp
	leaf int32
	n    int
	kids []*enode
}

// compiledRule is one detection rule ready to run.
type compiledRule struct {
	rule     *Rule
	num      int32
	expr     *enode
	group    int32
	severity alert.Severity
	enabled  atomic.Bool
	// silent rules only feed correlations (a correlation without
	// generate: true names them).
	silent bool
	feeds  []corrFeed
	// filters are the titles of the meta-filters applied to the rule.
	filters []string
}

// group is the rules of one logsource, with the automata that prefilter
// them.
type group struct {
	ls     Logsource
	pred   srcPred
	known  bool
	rules  []int32
	always []int32 // rules without a literal prefilter
	scans  []scan
}

// scan is the prefilter of one slot in one group: it finds which of the
// group's needles for the slot occur in the slot's values. Pattern p is
// needles[p]; those of gramLen bytes or more are found by grams, the
// shorter ones by the automaton short, whose pattern i is shortPat[i].
type scan struct {
	id       int32 // index of the scan's memo in a scratch area
	slot     int32
	needles  []string
	grams    *gramIndex
	short    *automaton
	shortPat []int32
	// pats[p] lists what a hit of pattern p means.
	pats [][]patOut
	// anchored[p] lists the outputs of pattern p whose truth depends on
	// where the hit is (exact, prefix, suffix); free[p] those that any hit
	// decides, which only the first hit of an event needs to record.
	anchored, free [][]patOut
	// base numbers this scan's patterns among all the rule set's.
	base int32
}

// patOut is one meaning of a needle hit: leaf l holds if the hit has the
// right position for kind.
type patOut struct {
	leaf int32
	kind matchKind // exact, prefix, suffix, contains; matchGlob: maybe
}

// compiler holds the state of one Compile call.
type compiler struct {
	rs       *RuleSet
	fc       fieldCompiler
	errs     []LoadError
	slotIdx  map[string]int32
	leafIdx  map[string]int32
	groupIdx map[string]int32
	pending  []pendingRule
	failed   map[*Rule]bool
	npats    int32
	nscans   int32
	// grams counts the needles holding each gram, for pickGrams.
	grams map[uint32]int
}

// Compile compiles rules into a RuleSet. A rule that does not compile is
// left out and reported; the others still compile.
func Compile(rules []*Rule, opts Options) (*RuleSet, []LoadError) {
	rs, errs, _ := compile(rules, opts)
	return rs, errs
}

// compile is Compile that also says which rules failed.
func compile(rules []*Rule, opts Options) (*RuleSet, []LoadError, map[*Rule]bool) {
	rs := &RuleSet{opts: opts, byID: map[string]*compiledRule{}, corrByID: map[string]*correlation{}}
	c := &compiler{
		rs:       rs,
		fc:       fieldCompiler{placeholders: opts.Placeholders},
		slotIdx:  map[string]int32{},
		leafIdx:  map[string]int32{},
		groupIdx: map[string]int32{},
		failed:   map[*Rule]bool{},
	}
	var filters, corrs []*Rule
	names := map[string]*Rule{}
	for _, r := range rules {
		if r == nil {
			continue
		}
		key := r.ID
		if key == "" {
			key = r.Title
		}
		if prev, dup := names[key]; dup {
			c.fail(r, false, "duplicate rule id %q (also in %s)", key, prev.Source)
			continue
		}
		names[key] = r
		switch {
		case r.Filter != nil:
			filters = append(filters, r)
		case r.Correlation != nil:
			corrs = append(corrs, r)
		case r.Detection != nil:
			c.addRule(r)
		}
	}
	c.applyFilters(filters)
	c.layout()
	rs.npats = c.npats
	c.compileCorrelations(corrs)
	rs.router = buildRouter(rs.groups)
	rs.prefetch, rs.prefetchAll = prefetchRefs(rs)
	nleaves, nrules, nslots, ngroups, npats, nscans := len(rs.leaves), len(rs.rules), len(rs.slots), len(rs.groups), int(rs.npats), int(c.nscans)
	rs.seed = maphash.MakeSeed()
	rs.pool.New = func() any { return newScratch(nleaves, nrules, nslots, ngroups, npats, nscans) }
	return rs, c.errs, c.failed
}

func (c *compiler) fail(r *Rule, unsupported bool, format string, args ...any) {
	c.failAt(r, r.Line, unsupported, format, args...)
}

// failAt is fail for a problem at a given line of the rule's file.
func (c *compiler) failAt(r *Rule, line int, unsupported bool, format string, args ...any) {
	c.failed[r] = true
	c.errs = append(c.errs, LoadError{
		File: r.Source, Line: line, RuleID: r.ID, Title: r.Title,
		Reason: fmt.Sprintf(format, args...), Unsupported: unsupported,
	})
}

// failErr reports err, a compile error of r, at the line it names (a
// lineError) or else at the rule's first line; prefix says which part of
// the rule failed.
func (c *compiler) failErr(r *Rule, prefix string, err error) {
	line := r.Line
	var le *lineError
	if errors.As(err, &le) && le.line > 0 {
		line = le.line
	}
	c.failAt(r, line, isUnsupported(err), "%s%v", prefix, err)
}

// lineError is a compile error at a line of the rule's file: the field
// match, search or condition at fault.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

// addRule compiles one detection rule's expression and files it in its
// logsource group. Leaves are interned later, in layout.
func (c *compiler) addRule(r *Rule) {
	e, err := c.fc.compileDetection(r.Detection)
	if err != nil {
		c.failErr(r, "", err)
		return
	}
	sev := alert.Medium
	if r.Level != "" {
		if s, err := alert.ParseSeverity(r.Level); err == nil {
			sev = s
		}
	}
	cr := &compiledRule{rule: r, num: int32(len(c.rs.rules)), severity: sev, group: c.groupOf(r.Logsource)}
	cr.enabled.Store(true)
	cr.expr = &enode{op: condRef, leaf: -1} // placeholder until layout
	c.pending = append(c.pending, pendingRule{cr, e})
	c.rs.rules = append(c.rs.rules, cr)
	if r.ID != "" {
		c.rs.byID[r.ID] = cr
	}
}

// unsupportedError marks valid Sigma that xsoc does not implement.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func isUnsupported(err error) bool {
	var u *unsupportedError
	return errors.As(err, &u)
}

func (c *compiler) groupOf(ls Logsource) int32 {
	key := ls.Product + "/" + ls.Category + "/" + ls.Service
	if g, ok := c.groupIdx[key]; ok {
		return g
	}
	pred, known := logsourcePredicate(ls)
	g := int32(len(c.rs.groups))
	c.rs.groups = append(c.rs.groups, &group{ls: Logsource{Product: ls.Product, Category: ls.Category, Service: ls.Service}, pred: pred, known: known})
	c.groupIdx[key] = g
	return g
}

// compileDetection compiles the searches and the condition of d.
func (fc *fieldCompiler) compileDetection(d *Detection) (*bexpr, error) {
	searches := make(map[string]*bexpr, len(d.Searches))
	for _, name := range d.Order {
		s := d.Searches[name]
		var alts []*bexpr
		for _, alt := range s.Alternatives {
			var ands []*bexpr
			for _, fm := range alt {
				e, err := fc.compileFieldMatch(fm)
				if err != nil {
					return nil, &lineError{fm.Line, fmt.Errorf("search %q: %w", name, err)}
				}
				ands = append(ands, e)
			}
			if len(ands) == 0 {
				return nil, &lineError{s.Line, fmt.Errorf("search %q is an empty map", name)}
			}
			alts = append(alts, combine(condAnd, ands))
		}
		searches[name] = combine(condOr, alts)
	}
	var conds []*bexpr
	for _, cs := range d.Conditions {
		ce, err := parseCondition(cs)
		if err != nil {
			if strings.Contains(err.Error(), "legacy aggregation") {
				return nil, &lineError{d.ConditionLine, &unsupportedError{err.Error()}}
			}
			return nil, &lineError{d.ConditionLine, fmt.Errorf("condition %q: %w", cs, err)}
		}
		e, err := condToExpr(ce, searches, d.Order)
		if err != nil {
			return nil, &lineError{d.ConditionLine, fmt.Errorf("condition %q: %w", cs, err)}
		}
		conds = append(conds, e)
	}
	return combine(condOr, conds), nil
}

func condToExpr(ce *condExpr, searches map[string]*bexpr, order []string) (*bexpr, error) {
	switch ce.op {
	case condRef:
		e, ok := searches[ce.name]
		if !ok {
			return nil, fmt.Errorf("names search identifier %q, which the detection does not define", ce.name)
		}
		return e, nil
	case condOf:
		names := expandOf(ce.name, order)
		if len(names) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", ce.name)
		}
		kids := make([]*bexpr, len(names))
		for i, n := range names {
			kids[i] = searches[n]
		}
		switch {
		case ce.n == 0:
			return combine(condAnd, kids), nil
		case ce.n == 1:
			return combine(condOr, kids), nil
		case ce.n > len(kids):
			return nil, fmt.Errorf("%d of %q: only %d search identifiers match", ce.n, ce.name, len(kids))
		}
		return &bexpr{op: condOf, kids: kids, n: ce.n}, nil
	}
	kids := make([]*bexpr, len(ce.kids))
	for i, k := range ce.kids {
		e, err := condToExpr(k, searches, order)
		if err != nil {
			return nil, err
		}
		kids[i] = e
	}
	if ce.op == condNot {
		return &bexpr{op: condNot, kids: kids}, nil
	}
	return combine(ce.op, kids), nil
}

// applyFilters ANDs "not filter" into every rule a meta-filter names.
func (c *compiler) applyFilters(filters []*Rule) {
	byName := map[string][]int{}
	for i, p := range c.pending {
		r := p.cr.rule
		if r.ID != "" {
			byName[r.ID] = append(byName[r.ID], i)
		}
		if r.Name != "" {
			byName[r.Name] = append(byName[r.Name], i)
		}
	}
	for _, f := range filters {
		fe, err := c.fc.compileDetection(f.Filter.Detection)
		if err != nil {
			c.failErr(f, "filter: ", err)
			continue
		}
		for _, target := range f.Filter.Rules {
			idx, ok := byName[target]
			if !ok {
				c.fail(f, false, "filter names rule %q, which is not loaded", target)
				continue
			}
			for _, i := range idx {
				p := &c.pending[i]
				p.expr = &bexpr{op: condAnd, kids: []*bexpr{p.expr, {op: condNot, kids: []*bexpr{fe}}}}
				p.cr.filters = append(p.cr.filters, f.Title)
			}
		}
	}
}

type pendingRule struct {
	cr   *compiledRule
	expr *bexpr
}

// layout interns leaves per group, turns expressions into enodes, picks
// each rule's trigger leaves and builds the automata.
func (c *compiler) layout() {
	for _, p := range c.pending {
		cr := p.cr
		cr.expr = c.enode(p.expr, cr.rule.Logsource, cr.group)
		g := c.rs.groups[cr.group]
		g.rules = append(g.rules, cr.num)
	}
	for _, p := range c.pending {
		c.pickTriggers(p.cr)
	}
	// The prefilters look only for what decides whether a rule is a
	// candidate: the needles of trigger leaves, and those of regular
	// expressions, which cost far more to run than to rule out. Any
	// other leaf (typically the filters under "not", full of text
	// every event holds, such as "c:\windows\system32\") is decided
	// directly, and only when a candidate rule reaches it.
	for i := range c.rs.leaves {
		l := &c.rs.leaves[i]
		if len(l.triggers) == 0 && l.spec.kind != leafRegex {
			l.acOnly, l.needle = false, false
		}
	}
	for gi := range c.rs.groups {
		c.buildScans(int32(gi))
	}
	for _, p := range c.pending {
		c.orderCheapFirst(p.cr.expr)
	}
}

// pickTriggers chooses the trigger sets rule cr waits for: the rarest
// ones, at most maxTriggerSets; none makes it evaluated on every event of
// its group.
func (c *compiler) pickTriggers(cr *compiledRule) {
	g := c.rs.groups[cr.group]
	sets := c.triggerSets(cr.expr)
	if len(sets) == 0 {
		g.always = append(g.always, cr.num)
		return
	}
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].cost < sets[j].cost })
	if len(sets) > maxTriggerSets {
		sets = sets[:maxTriggerSets]
	}
	full := uint32(1)<<len(sets) - 1
	for i, set := range sets {
		tg := trigger{rule: cr.num, bit: 1 << i, full: full}
		for _, l := range dedupe(set.leaves) {
			c.rs.leaves[l].triggers = append(c.rs.leaves[l].triggers, tg)
		}
	}
}

// orderCheapFirst reorders the operands of ANDs and ORs so that those
// decided by the automata are evaluated before regular expressions and
// other direct tests, which short-circuiting then often skips.
func (c *compiler) orderCheapFirst(e *enode) int {
	if e.op == condRef {
		l := &c.rs.leaves[e.leaf]
		switch {
		case l.acOnly:
			return 0
		case l.spec.kind == leafRegex:
			return 3
		case l.needle:
			return 1
		}
		return 2
	}
	w := make([]int, len(e.kids))
	worst := 0
	for i, k := range e.kids {
		w[i] = c.orderCheapFirst(k)
		worst = max(worst, w[i])
	}
	if e.op == condAnd || e.op == condOr {
		idx := make([]int, len(e.kids))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return w[idx[a]] < w[idx[b]] })
		kids := make([]*enode, len(e.kids))
		for i, j := range idx {
			kids[i] = e.kids[j]
		}
		e.kids = kids
	}
	return worst
}

func dedupe(s []int32) []int32 {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (c *compiler) enode(e *bexpr, ls Logsource, g int32) *enode {
	if e.op == condRef {
		return &enode{op: condRef, leaf: c.internLeaf(e.leaf, ls, g)}
	}
	n := &enode{op: e.op, n: e.n, leaf: -1, kids: make([]*enode, len(e.kids))}
	for i, k := range e.kids {
		n.kids[i] = c.enode(k, ls, g)
	}
	return n
}

func (c *compiler) slotFor(ls Logsource, field string) int32 {
	cands := FieldCandidates(ls, field)
	key := strings.Join(cands, "\x00")
	if s, ok := c.slotIdx[key]; ok {
		return s
	}
	s := slot{name: field}
	if len(cands) == 1 && cands[0] == keywordField {
		s.keyword = true
		s.name = "keywords"
	} else {
		for _, cand := range cands {
			s.refs = append(s.refs, event.RefOf(cand))
			s.extra = append(s.extra, !isSlotted(cand))
		}
	}
	idx := int32(len(c.rs.slots))
	c.rs.slots = append(c.rs.slots, s)
	c.slotIdx[key] = idx
	return idx
}

// isSlotted reports whether name is one of event's slotted fields, using
// the documented order of Event.Fields: slotted fields first, then extras
// in insertion order.
func isSlotted(name string) bool {
	const probe = "xsoc.sigma.probe"
	if name == probe {
		return false
	}
	var ev event.Event
	ev.Set(probe, "1")
	ev.Set(name, "1")
	first := ""
	ev.Fields(func(k, _ string) bool { first = k; return false })
	return first == name
}

// minNeedle is the shortest literal worth a prefilter needle for a glob
// or cased leaf; shorter ones hit nearly every value.
const minNeedle = 3

func (c *compiler) internLeaf(spec *leafSpec, ls Logsource, g int32) int32 {
	s := c.slotFor(ls, spec.field)
	key := fmt.Sprintf("%d|%d|%s", g, s, spec.key())
	if l, ok := c.leafIdx[key]; ok {
		return l
	}
	l := leaf{spec: spec, slot: s, ref: -1}
	if spec.kind == leafFieldRef {
		l.ref = c.slotFor(ls, spec.ref)
	}
	if spec.kind == leafMatch {
		switch spec.match {
		case matchExact, matchPrefix, matchSuffix, matchContains:
			if spec.cased {
				l.needle, l.needles = true, []string{foldString(spec.lit)}
			} else {
				l.acOnly, l.needles = true, []string{spec.lit}
			}
		case matchGlob:
			best := ""
			for _, t := range spec.glob {
				if t.wild == 0 && len(t.lit) > len(best) {
					best = t.lit
				}
			}
			if len(best) >= minNeedle {
				l.needle, l.needles = true, []string{foldString(best)}
			}
		}
	}
	if spec.kind == leafRegex && len(spec.needles) > 0 {
		l.needle, l.needles = true, spec.needles
	}
	for _, text := range l.needles {
		if text == "" {
			// An empty needle says nothing: decide the leaf directly.
			l.acOnly, l.needle, l.needles = false, false, nil
			break
		}
	}
	idx := int32(len(c.rs.leaves))
	c.rs.leaves = append(c.rs.leaves, l)
	c.leafIdx[key] = idx
	return idx
}

// tset is a set of leaves of which at least one must hit for a rule to
// hold, with an estimate of how often one does (lower is rarer).
type tset struct {
	leaves []int32
	cost   float64
}

// commonText holds folded strings found in most events (system paths,
// flag characters, extensions). A needle inside one of them hits nearly
// always, so it makes a poor trigger.
var commonText = []string{
	`"c:\windows\system32\`, `c:\windows\syswow64\`, `c:\windows\explorer.exe`,
	`"c:\program files (x86)\microsoft\`, `"c:\program files\common files\`,
	`c:\users\public\`, `\appdata\local\microsoft\`, `\appdata\roaming\microsoft\`,
	`c:\programdata\microsoft\`, `.exe" --type=`, `.exe" -`, `.exe" /`, `.dll,`,
	`nt authority\system`, `svchost.exe -k netsvcs -p -s `, ` -embedding`, `microsoft corporation`,
	`microsoft® windows® operating system`, `sha1=`, `,md5=`, `,sha256=`, `,imphash=`,
}

// needleCost estimates how often a needle hits: short needles and those
// inside common text hit often.
func needleCost(n string) float64 {
	f := float64(len(n) + 1)
	cost := 1 / (f * f)
	for _, c := range commonText {
		if strings.Contains(c, n) {
			return cost * 50
		}
	}
	return cost
}

// maxTriggerSets bounds the sets a rule waits for.
const maxTriggerSets = 3

// triggerSets returns sets of leaves that must each have a hit for e to
// hold: an AND contributes the sets of all its parts, an OR one set
// joining a set of each alternative. None (nil) means no such set exists,
// e.g. for "not x" or a regular expression without literals, and the rule
// is evaluated on every event of its group.
func (c *compiler) triggerSets(e *enode) []tset {
	switch e.op {
	case condRef:
		l := &c.rs.leaves[e.leaf]
		if !l.acOnly && !l.needle {
			return nil
		}
		cost := 0.0
		for _, n := range l.needles {
			cost += needleCost(n)
		}
		if l.spec.kind == leafMatch && (l.spec.match == matchExact || l.spec.match == matchPrefix) {
			cost /= 2 // anchored: rarer than the same text anywhere
		}
		return []tset{{leaves: []int32{e.leaf}, cost: cost}}
	case condAnd:
		var out []tset
		for _, k := range e.kids {
			out = append(out, c.triggerSets(k)...)
		}
		return out
	case condOr, condOf:
		var union tset
		for _, k := range e.kids {
			sets := c.triggerSets(k)
			if len(sets) == 0 {
				return nil
			}
			best := sets[0]
			for _, s := range sets[1:] {
				if s.cost < best.cost {
					best = s
				}
			}
			union.leaves = append(union.leaves, best.leaves...)
			union.cost += best.cost
		}
		return []tset{union}
	}
	return nil
}

// buildScans builds the prefilter of each slot of group gi over the
// needles of its leaves: a gram index for needles of gramLen bytes or
// more, a small automaton for the shorter ones.
func (c *compiler) buildScans(gi int32) {
	g := c.rs.groups[gi]
	if c.grams == nil {
		c.grams = gramCounts(c.allNeedles())
	}
	type needleKey struct {
		slot int32
		text string
	}
	bySlot := map[int32][]string{}
	patOf := map[needleKey]int32{}
	outs := map[int32][][]patOut{}
	seen := map[int32]bool{}
	var visit func(e *enode)
	visit = func(e *enode) {
		if e.op != condRef {
			for _, k := range e.kids {
				visit(k)
			}
			return
		}
		if seen[e.leaf] {
			return
		}
		seen[e.leaf] = true
		l := &c.rs.leaves[e.leaf]
		if !l.acOnly && !l.needle {
			return
		}
		kind := matchGlob
		if l.acOnly {
			kind = l.spec.match
		}
		for _, text := range l.needles {
			k := needleKey{l.slot, text}
			p, ok := patOf[k]
			if !ok {
				p = int32(len(bySlot[l.slot]))
				patOf[k] = p
				bySlot[l.slot] = append(bySlot[l.slot], text)
				outs[l.slot] = append(outs[l.slot], nil)
			}
			outs[l.slot][p] = append(outs[l.slot][p], patOut{leaf: e.leaf, kind: kind})
		}
	}
	for _, r := range g.rules {
		visit(c.rs.rules[r].expr)
	}
	slots := make([]int32, 0, len(bySlot))
	for s := range bySlot {
		slots = append(slots, s)
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i] < slots[j] })
	for _, s := range slots {
		g.scans = append(g.scans, c.newScan(s, bySlot[s], outs[s]))
	}
}

// newScan builds the prefilter of slot s over needles, whose hits mean
// outs.
func (c *compiler) newScan(s int32, needles []string, outs [][]patOut) scan {
	sc := scan{id: c.nscans, slot: s, needles: needles, pats: outs, base: c.npats}
	c.npats += int32(len(needles))
	c.nscans++
	var short []string
	var long []int32
	minLong := 0
	for p, n := range needles {
		if len(n) < gramLen {
			short = append(short, n)
			sc.shortPat = append(sc.shortPat, int32(p))
			continue
		}
		long = append(long, int32(p))
		if minLong == 0 || len(n) < minLong {
			minLong = len(n)
		}
	}
	if len(short) > 0 {
		sc.short = buildAutomaton(short)
	}
	if len(long) > 0 {
		stride := gramStride(minLong)
		var ents []gramEntry
		for _, p := range long {
			for _, off := range pickGrams(needles[p], stride, c.grams) {
				ents = append(ents, gramEntry{gram: gramOf(needles[p][off:]), pat: p, off: int32(off)})
			}
		}
		sc.grams = buildGramIndex(ents, stride)
	}
	sc.anchored = make([][]patOut, len(needles))
	sc.free = make([][]patOut, len(needles))
	for p, list := range outs {
		for _, o := range list {
			switch o.kind {
			case matchExact, matchPrefix, matchSuffix:
				sc.anchored[p] = append(sc.anchored[p], o)
			default:
				sc.free[p] = append(sc.free[p], o)
			}
		}
	}
	return sc
}

// allNeedles lists the needles of every leaf, to estimate how common
// each gram is.
func (c *compiler) allNeedles() []string {
	var out []string
	for i := range c.rs.leaves {
		out = append(out, c.rs.leaves[i].needles...)
	}
	return out
}

// prefetchRefs returns the candidate fields of every slot a prefilter
// scans, once each, and whether a keyword search reads all fields.
func prefetchRefs(rs *RuleSet) (refs []event.Ref, all bool) {
	seen := map[string]bool{}
	for _, g := range rs.groups {
		for _, sc := range g.scans {
			sl := &rs.slots[sc.slot]
			all = all || sl.keyword
			for _, ref := range sl.refs {
				if !sl.keyword && !seen[ref.Name()] {
					seen[ref.Name()] = true
					refs = append(refs, ref)
				}
			}
		}
	}
	return refs, all
}

// Stats summarises a rule set's compiled form.
func (rs *RuleSet) Stats() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rules, %d correlations, %d groups, %d slots, %d leaves\n", len(rs.rules), len(rs.corrs), len(rs.groups), len(rs.slots), len(rs.leaves))
	for _, g := range rs.groups {
		if len(g.rules) == 0 {
			continue
		}
		fmt.Fprintf(&b, "group %s: %d rules, %d without prefilter", g.ls, len(g.rules), len(g.always))
		for _, s := range g.scans {
			fmt.Fprintf(&b, "; %s: %d needles", rs.slots[s.slot].name, len(s.pats))
			if s.grams != nil {
				fmt.Fprintf(&b, " (%d by gram)", len(s.grams.ents))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
