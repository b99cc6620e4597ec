package sigma

import (
	"container/list"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// Correlation rules run over the live stream: each match of a correlated
// rule is fed into the correlation, which keeps per-group sliding windows
// over event time. Memory is bounded: a correlation keeps at most
// Options.MaxGroups groups (the least recently seen is evicted) and at
// most maxWindowEntries entries per group window.

// maxWindowEntries bounds one group's window.
const maxWindowEntries = 65536

// maxAlertEventIDs bounds the event ids a correlation alert lists.
const maxAlertEventIDs = 20

// correlation is one compiled correlation rule.
type correlation struct {
	rule     *Rule
	key      string // id, or title when the rule has none
	typ      string
	span     time.Duration
	conds    []corrCond
	nrules   int
	severity alert.Severity
	silent   bool
	enabled  atomic.Bool
	state    *corrState
	feeds    []corrFeed // correlations this one's firing feeds (chaining)
	ls       Logsource  // logsource of the first correlated rule, for chaining
}

type corrCond struct {
	op        string
	threshold float64
}

func (c corrCond) holds(v float64) bool {
	switch c.op {
	case "gt":
		return v > c.threshold
	case "gte":
		return v >= c.threshold
	case "lt":
		return v < c.threshold
	case "lte":
		return v <= c.threshold
	case "eq":
		return v == c.threshold
	case "neq":
		return v != c.threshold
	}
	return false
}

// corrFeed links a rule (or correlation) to a correlation that uses it.
type corrFeed struct {
	corr    *correlation
	idx     int           // position of the rule in correlation.rules
	groupBy [][]event.Ref // candidates of each group-by field
	field   [][]event.Ref // candidates of each value field (value_*)
}

// corrState is the live state of one correlation; it survives reloads of
// a rule with the same id and type.
type corrState struct {
	mu     sync.Mutex
	typ    string
	groups map[string]*list.Element // of *groupState
	lru    list.List                // front: most recently seen
}

type groupState struct {
	key    string
	times  []time.Time // event_count
	vals   []timedVal  // value_*
	seen   []time.Time // temporal: last time per rule
	chain  []time.Time // temporal_ordered: start of the chain reaching rule i
	events []string    // ids of the events folded in, newest last
}

type timedVal struct {
	t   time.Time
	s   string
	num float64
}

func newCorrState(typ string) *corrState {
	return &corrState{typ: typ, groups: map[string]*list.Element{}}
}

// parseTimespan reads "30s", "5m", "1h", "7d" (also "1w").
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("timespan %q: want a number and a unit (s, m, h, d)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: want a positive number and a unit (s, m, h, d)", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("timespan %q: unknown unit %q (want s, m, h or d)", s, s[len(s)-1:])
	}
	return time.Duration(n) * unit, nil
}

// corrTarget is what a name in a correlation's rules list refers to: a
// detection rule or another correlation.
type corrTarget struct {
	cr   *compiledRule
	corr *correlation
}

// node returns the target as a key for maps over both kinds.
func (t corrTarget) node() any {
	if t.cr != nil {
		return t.cr
	}
	return t.corr
}

// compileCorrelations resolves correlation rules against the compiled
// detection rules (and each other, for chains). Correlations that refer
// to each other in a loop, stack too deep or fan out too far are refused
// (checkCorrelationGraph).
func (c *compiler) compileCorrelations(rules []*Rule) {
	targets := map[string]corrTarget{}
	for _, cr := range c.rs.rules {
		if cr.rule.ID != "" {
			targets[cr.rule.ID] = corrTarget{cr: cr}
		}
		if cr.rule.Name != "" {
			targets[cr.rule.Name] = corrTarget{cr: cr}
		}
	}
	var corrs []*correlation
	for _, r := range rules {
		corr, err := newCorrelation(r)
		if err != nil {
			c.failAt(r, r.Correlation.Line, isUnsupported(err), "correlation: %v", err)
			continue
		}
		corrs = append(corrs, corr)
		if r.ID != "" {
			targets[r.ID] = corrTarget{corr: corr}
		}
		if r.Name != "" {
			targets[r.Name] = corrTarget{corr: corr}
		}
	}
	// Resolve references; a correlation whose references fail is dropped.
	var resolved []*correlation
	for _, corr := range corrs {
		var missing []string
		for _, ref := range corr.rule.Correlation.Rules {
			if _, found := targets[ref]; !found && !slices.Contains(missing, ref) {
				missing = append(missing, ref)
			}
		}
		if len(missing) > 0 {
			c.fail(corr.rule, false, "correlation names rules that are not loaded: %s", strings.Join(missing, ", "))
			continue
		}
		resolved = append(resolved, corr)
	}
	for _, corr := range c.checkCorrelationGraph(resolved, targets) {
		c.wire(corr, targets)
	}
}

// wire connects corr to the rules and correlations it names, so their
// matches feed it.
func (c *compiler) wire(corr *correlation, targets map[string]corrTarget) {
	spec := corr.rule.Correlation
	corr.ls = logsourceOf(spec.Rules[0], targets)
	for i, ref := range spec.Rules {
		t := targets[ref]
		ls := logsourceOf(ref, targets)
		name := ref
		if t.cr != nil && t.cr.rule.Name != "" {
			name = t.cr.rule.Name
		} else if t.corr != nil && t.corr.rule.Name != "" {
			name = t.corr.rule.Name
		}
		feed := corrFeed{corr: corr, idx: i}
		for _, g := range spec.GroupBy {
			field := g
			if per, ok := spec.Aliases[g]; ok {
				if f, ok := per[name]; ok {
					field = f
				} else if f, ok := per[ref]; ok {
					field = f
				}
			}
			feed.groupBy = append(feed.groupBy, refsOf(FieldCandidates(ls, field)))
		}
		if spec.Field != "" {
			for _, f := range strings.Split(spec.Field, ",") {
				feed.field = append(feed.field, refsOf(FieldCandidates(ls, f)))
			}
		}
		if t.cr != nil {
			t.cr.feeds = append(t.cr.feeds, feed)
			if !spec.Generate {
				t.cr.silent = true
			}
		} else {
			t.corr.feeds = append(t.corr.feeds, feed)
			if !spec.Generate {
				t.corr.silent = true
			}
		}
	}
	c.rs.corrs = append(c.rs.corrs, corr)
	c.rs.corrByID[corr.key] = corr
}

// logsourceOf is the logsource of the first detection rule ref reaches
// (chained correlations take that of the rule they start from). The
// references it follows have passed checkCorrelationGraph: they end.
func logsourceOf(ref string, targets map[string]corrTarget) Logsource {
	for range maxChainDepth + 1 {
		t := targets[ref]
		if t.cr != nil {
			return t.cr.rule.Logsource
		}
		if t.corr == nil || len(t.corr.rule.Correlation.Rules) == 0 {
			break
		}
		ref = t.corr.rule.Correlation.Rules[0]
	}
	return Logsource{}
}

func refsOf(names []string) []event.Ref {
	out := make([]event.Ref, len(names))
	for i, n := range names {
		out[i] = event.RefOf(n)
	}
	return out
}

func newCorrelation(r *Rule) (*correlation, error) {
	spec := r.Correlation
	span, err := parseTimespan(spec.Timespan)
	if err != nil {
		return nil, err
	}
	corr := &correlation{rule: r, key: r.ID, typ: spec.Type, span: span, nrules: len(spec.Rules), severity: alert.Medium}
	if corr.key == "" {
		corr.key = r.Title
	}
	if r.Level != "" {
		if s, err := alert.ParseSeverity(r.Level); err == nil {
			corr.severity = s
		}
	}
	for op, v := range spec.Condition {
		corr.conds = append(corr.conds, corrCond{op, v})
	}
	switch spec.Type {
	case "event_count":
		if len(corr.conds) == 0 {
			return nil, fmt.Errorf("event_count needs a condition such as {gte: 10}")
		}
	case "value_count", "value_sum", "value_avg":
		if len(corr.conds) == 0 || spec.Field == "" {
			return nil, fmt.Errorf("%s needs a condition with a field and a threshold", spec.Type)
		}
	case "temporal", "temporal_ordered":
		if len(corr.conds) == 0 {
			corr.conds = []corrCond{{"gte", float64(len(spec.Rules))}}
		}
	case "value_percentile":
		return nil, &unsupportedError{"value_percentile correlation: the specification does not define which percentile of which distribution the condition compares"}
	default:
		return nil, fmt.Errorf("unknown correlation type %q", spec.Type)
	}
	corr.enabled.Store(true)
	corr.state = newCorrState(spec.Type)
	return corr, nil
}

// groupKey reads the group-by values of ev.
func groupKey(ev *event.Event, groupBy [][]event.Ref) string {
	var b strings.Builder
	for i, cands := range groupBy {
		if i > 0 {
			b.WriteByte(0x1f)
		}
		for _, ref := range cands {
			if v, ok := ev.Lookup(ref); ok {
				b.WriteString(v)
				break
			}
		}
	}
	return b.String()
}

func firstValue(ev *event.Event, cands []event.Ref) (string, bool) {
	for _, ref := range cands {
		if v, ok := ev.Lookup(ref); ok {
			return v, true
		}
	}
	return "", false
}

// feed records one match of rule f.idx of correlation f.corr and appends
// the correlation's alert when it fires.
func (rs *RuleSet) feed(f corrFeed, ev *event.Event, out []alert.Alert, depth int) []alert.Alert {
	corr := f.corr
	if !corr.enabled.Load() || depth >= maxChainDepth {
		return out
	}
	key := groupKey(ev, f.groupBy)
	t := rs.eventTime(ev)
	// Members never share a group: one organisation's events must not
	// complete another's pattern.
	fired, ids := corr.observe(f, ev.Member+"\x1e"+key, t, ev, rs.opts.maxGroups())
	if !fired {
		return out
	}
	if !corr.silent {
		a := newAlert(corr.rule, corr.severity, ev, evidenceOf(ev))
		a.RuleID = corr.key
		a.Key = key
		a.EventIDs = ids
		out = append(out, a)
	}
	for _, pf := range corr.feeds {
		out = rs.feed(pf, ev, out, depth+1)
	}
	return out
}

// observe updates the group's window under the state lock and reports
// whether the condition now holds; a firing group starts afresh.
func (corr *correlation) observe(f corrFeed, key string, t time.Time, ev *event.Event, maxGroups int) (bool, []string) {
	st := corr.state
	st.mu.Lock()
	defer st.mu.Unlock()
	g := st.group(key, maxGroups)
	g.events = appendBounded(g.events, ev.ID, maxAlertEventIDs)
	cutoff := t.Add(-corr.span)
	var value float64
	switch corr.typ {
	case "event_count":
		g.times = appendBounded(pruneTimes(g.times, cutoff), t, maxWindowEntries)
		value = float64(len(g.times))
	case "value_count", "value_sum", "value_avg":
		tv := timedVal{t: t}
		var parts []string
		numeric := true
		for _, cands := range f.field {
			v, ok := firstValue(ev, cands)
			if !ok {
				numeric = false
			}
			parts = append(parts, v)
			if n, ok := parseNumber(v); ok {
				tv.num += n
			} else {
				numeric = false
			}
		}
		// Cloned: the window keeps it for minutes, and a lone value would
		// otherwise share the parser's chunk of several records' bytes,
		// keeping all of them alive with it.
		tv.s = strings.Clone(strings.Join(parts, "\x1f"))
		if corr.typ == "value_count" && tv.s == strings.Repeat("\x1f", len(parts)-1) {
			break // the field is absent: nothing to count
		}
		if corr.typ != "value_count" && !numeric {
			break
		}
		g.vals = appendBounded(pruneVals(g.vals, cutoff), tv, maxWindowEntries)
		value = aggregate(corr.typ, g.vals)
	case "temporal":
		if g.seen == nil {
			g.seen = make([]time.Time, corr.nrules)
		}
		g.seen[f.idx] = t
		for _, s := range g.seen {
			if !s.IsZero() && !s.Before(cutoff) {
				value++
			}
		}
	case "temporal_ordered":
		if g.chain == nil {
			g.chain = make([]time.Time, corr.nrules)
		}
		switch {
		case f.idx == 0:
			g.chain[0] = t
		case !g.chain[f.idx-1].IsZero() && !g.chain[f.idx-1].Before(cutoff):
			g.chain[f.idx] = g.chain[f.idx-1]
		}
		// value: the length of the ordered chain still inside the window.
		for i, s := range g.chain {
			if s.IsZero() || s.Before(cutoff) {
				break
			}
			value = float64(i + 1)
		}
	}
	for _, c := range corr.conds {
		if !c.holds(value) {
			return false, nil
		}
	}
	ids := g.events
	st.reset(g)
	return true, ids
}

func aggregate(typ string, vals []timedVal) float64 {
	switch typ {
	case "value_count":
		distinct := map[string]struct{}{}
		for _, v := range vals {
			distinct[v.s] = struct{}{}
		}
		return float64(len(distinct))
	case "value_sum", "value_avg":
		sum := 0.0
		for _, v := range vals {
			sum += v.num
		}
		if typ == "value_avg" && len(vals) > 0 {
			return sum / float64(len(vals))
		}
		return sum
	}
	return math.NaN()
}

// appendBounded appends v, dropping the oldest entry past limit.
func appendBounded[T any](s []T, v T, limit int) []T {
	if len(s) >= limit {
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	return append(s, v)
}

func pruneTimes(ts []time.Time, cutoff time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if !t.Before(cutoff) {
			out = append(out, t)
		}
	}
	return out
}

func pruneVals(vs []timedVal, cutoff time.Time) []timedVal {
	out := vs[:0]
	for _, v := range vs {
		if !v.t.Before(cutoff) {
			out = append(out, v)
		}
	}
	return out
}

// group returns the group for key, creating it and evicting the least
// recently seen group past the cap.
func (st *corrState) group(key string, maxGroups int) *groupState {
	if e, ok := st.groups[key]; ok {
		st.lru.MoveToFront(e)
		return e.Value.(*groupState)
	}
	g := &groupState{key: key}
	st.groups[key] = st.lru.PushFront(g)
	for len(st.groups) > maxGroups {
		old := st.lru.Back()
		st.lru.Remove(old)
		delete(st.groups, old.Value.(*groupState).key)
	}
	return g
}

func (st *corrState) reset(g *groupState) {
	*g = groupState{key: g.key}
}

// groupCount reports how many groups the state holds (for tests).
func (st *corrState) groupCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.groups)
}
