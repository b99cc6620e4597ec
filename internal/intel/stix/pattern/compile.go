package pattern

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// cond is a compiled comparison expression, evaluated on one event.
type cond interface {
	eval(ev *event.Event) bool
}

type andCond struct{ l, r cond }
type orCond struct{ l, r cond }

func (c *andCond) eval(ev *event.Event) bool { return c.l.eval(ev) && c.r.eval(ev) }
func (c *orCond) eval(ev *event.Event) bool  { return c.l.eval(ev) || c.r.eval(ev) }

// existsCond is [NOT] EXISTS path.
type existsCond struct {
	refs []event.Ref
	not  bool
}

func (c *existsCond) eval(ev *event.Event) bool {
	for _, r := range c.refs {
		if _, ok := ev.Lookup(r); ok {
			return !c.not
		}
	}
	return c.not
}

// testCond is a compiled Test: the event fields of its path and a value
// predicate. Without NOT it holds when any value satisfies the predicate;
// with NOT when values are present and none does.
type testCond struct {
	refs []event.Ref
	not  bool
	pred valuePred
}

func (c *testCond) eval(ev *event.Event) bool {
	present, hit := false, false
	for _, r := range c.refs {
		ev.Each(r, func(v string) bool {
			present = true
			hit = c.pred.test(v)
			return !hit
		})
		if hit {
			break
		}
	}
	if c.not {
		return present && !hit
	}
	return hit
}

// valuePred tests one field value.
type valuePred interface {
	test(v string) bool
}

// compileComparison turns a comparison expression into a cond, resolving
// object paths to event fields.
func compileComparison(c Comparison) (cond, error) {
	switch c := c.(type) {
	case *BoolOp:
		l, err := compileComparison(c.Left)
		if err != nil {
			return nil, err
		}
		r, err := compileComparison(c.Right)
		if err != nil {
			return nil, err
		}
		if c.And {
			return &andCond{l, r}, nil
		}
		return &orCond{l, r}, nil
	case *Exists:
		refs, _, err := resolve(c.Path)
		if err != nil {
			return nil, err
		}
		return &existsCond{refs: refs, not: c.Not}, nil
	case *Test:
		refs, key, err := resolve(c.Path)
		if err != nil {
			return nil, err
		}
		pred, err := compilePred(c, key)
		if err != nil {
			return nil, err
		}
		return &testCond{refs: refs, not: c.Not, pred: pred}, nil
	}
	return nil, fmt.Errorf("pattern: unknown comparison %T", c)
}

func resolve(p Path) ([]event.Ref, string, error) {
	key := mapKey(p)
	fields, ok := fieldMap[key]
	if !ok {
		return nil, key, fmt.Errorf("pattern: object path %s has no event field", p)
	}
	refs := make([]event.Ref, len(fields))
	for i, f := range fields {
		refs[i] = event.RefOf(f)
	}
	return refs, key, nil
}

func compilePred(t *Test, key string) (valuePred, error) {
	fold := caseless(key)
	switch t.Op {
	case Equal:
		return equalPred(t.Value, key, fold)
	case NotEqual:
		eq, err := equalPred(t.Value, key, fold)
		if err != nil {
			return nil, err
		}
		return notPred{eq}, nil
	case Less, LessEqual, Greater, GreaterEqual:
		return &orderPred{lit: t.Value, op: t.Op}, nil
	case In:
		set := make(anyPred, 0, len(t.Value.Set))
		for _, l := range t.Value.Set {
			p, err := equalPred(l, key, fold)
			if err != nil {
				return nil, err
			}
			set = append(set, p)
		}
		return set, nil
	case Like:
		re, err := regexp.Compile(likeToRegexp(t.Value.Str, fold))
		if err != nil {
			return nil, fmt.Errorf("pattern: LIKE %s: %v", quote(t.Value.Str), err)
		}
		return (*regexpPred)(re), nil
	case Matches:
		expr := t.Value.Str
		if fold {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("pattern: MATCHES %s: %v", quote(t.Value.Str), err)
		}
		return (*regexpPred)(re), nil
	case IsSubset, IsSuperset:
		pfx, err := parsePrefix(t.Value.Str)
		if err != nil {
			return nil, fmt.Errorf("pattern: %s needs an IP network, not %s", t.Op, quote(t.Value.Str))
		}
		return &netPred{pfx: pfx, superset: t.Op == IsSuperset}, nil
	}
	return nil, fmt.Errorf("pattern: unknown operator %v", t.Op)
}

// equalPred compares by the literal's kind: CIDR containment on IP paths,
// numbers numerically, timestamps as instants, bytes as hex, strings
// exactly (or without case on caseless paths).
func equalPred(l Literal, key string, fold bool) (valuePred, error) {
	switch l.Kind {
	case StringLit:
		if ipPath(key) && strings.Contains(l.Str, "/") {
			if pfx, err := parsePrefix(l.Str); err == nil {
				return &netPred{pfx: pfx}, nil
			}
		}
		return strPred{s: l.Str, fold: fold}, nil
	case IntLit, FloatLit, TimestampLit:
		return &orderPred{lit: l, op: Equal}, nil
	case BoolLit:
		return strPred{s: strconv.FormatBool(l.Bool), fold: true}, nil
	case HexLit, BinaryLit:
		return strPred{s: l.Text(), fold: true}, nil
	}
	return nil, fmt.Errorf("pattern: %s cannot be compared with =", l)
}

type strPred struct {
	s    string
	fold bool
}

func (p strPred) test(v string) bool {
	if p.fold {
		return strings.EqualFold(v, p.s)
	}
	return v == p.s
}

type notPred struct{ p valuePred }

func (p notPred) test(v string) bool { return !p.p.test(v) }

type anyPred []valuePred

func (p anyPred) test(v string) bool {
	for _, x := range p {
		if x.test(v) {
			return true
		}
	}
	return false
}

type regexpPred regexp.Regexp

func (p *regexpPred) test(v string) bool { return (*regexp.Regexp)(p).MatchString(v) }

// netPred: ISSUBSET holds when the value (an address or network) lies in
// pfx; ISSUPERSET when the value is a network containing pfx.
type netPred struct {
	pfx      netip.Prefix
	superset bool
}

func (p *netPred) test(v string) bool {
	vp, err := parsePrefix(v)
	if err != nil {
		return false
	}
	if p.superset {
		return vp.Bits() <= p.pfx.Bits() && vp.Contains(p.pfx.Addr())
	}
	return vp.Bits() >= p.pfx.Bits() && p.pfx.Contains(vp.Addr())
}

// parsePrefix reads an address ("10.0.0.1", a /32) or a network.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// orderPred compares numbers numerically, timestamps as instants and
// strings lexically, following the literal's kind.
type orderPred struct {
	lit Literal
	op  Operator
}

func (p *orderPred) test(v string) bool {
	var c int
	switch p.lit.Kind {
	case IntLit, FloatLit:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return false
		}
		want := p.lit.Float
		if p.lit.Kind == IntLit {
			want = float64(p.lit.Int)
		}
		c = compareFloat(f, want)
	case TimestampLit:
		t, err := event.ParseTime(v)
		if err != nil {
			return false
		}
		c = t.Compare(p.lit.Time)
	default:
		c = strings.Compare(v, p.lit.Text())
	}
	switch p.op {
	case Equal:
		return c == 0
	case Less:
		return c < 0
	case LessEqual:
		return c <= 0
	case Greater:
		return c > 0
	}
	return c >= 0
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// likeToRegexp translates SQL LIKE ('%' any run, '_' one character) to an
// anchored regular expression.
func likeToRegexp(like string, fold bool) string {
	var b strings.Builder
	b.WriteString("(?s)")
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteByte('^')
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteByte('$')
	return b.String()
}

// node is a compiled observation expression.
type node struct {
	kind  nodeKind
	cond  cond // leaf
	leaf  int  // leaf index within its program
	op    ObsOp
	l, r  *node
	qual  Qualifier
	inner *node
}

type nodeKind uint8

const (
	leafNode nodeKind = iota
	opNode
	qualNode
)

// program is one compiled pattern.
type program struct {
	id     string
	root   *node
	leaves []*node
	// stateless programs are decided by one event: observations joined by
	// OR, at most restricted by START/STOP.
	stateless bool
	// horizon is how long an observation can matter; 0 means unbounded.
	horizon time.Duration
}

func compileProgram(id string, p *Pattern) (*program, error) {
	prog := &program{id: id}
	root, err := prog.compile(p.Root)
	if err != nil {
		return nil, err
	}
	prog.root = root
	prog.stateless = stateless(root)
	prog.horizon = horizon(root)
	return prog, nil
}

func (prog *program) compile(e Expr) (*node, error) {
	switch e := e.(type) {
	case *Observation:
		c, err := compileComparison(e.Comparison)
		if err != nil {
			return nil, err
		}
		n := &node{kind: leafNode, cond: c, leaf: len(prog.leaves)}
		prog.leaves = append(prog.leaves, n)
		return n, nil
	case *ObservationOp:
		l, err := prog.compile(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := prog.compile(e.Right)
		if err != nil {
			return nil, err
		}
		return &node{kind: opNode, op: e.Op, l: l, r: r}, nil
	case *Qualified:
		inner, err := prog.compile(e.Expr)
		if err != nil {
			return nil, err
		}
		return &node{kind: qualNode, qual: e.Qualifier, inner: inner}, nil
	}
	return nil, fmt.Errorf("pattern: unknown expression %T", e)
}

func stateless(n *node) bool {
	switch n.kind {
	case leafNode:
		return true
	case opNode:
		return n.op == ObsOr && stateless(n.l) && stateless(n.r)
	}
	return n.qual.Kind == StartStop && stateless(n.inner)
}

// horizon is the longest time between the first and last observation of a
// match: a WITHIN bounds it, anything else leaves it open (0).
func horizon(n *node) time.Duration {
	switch n.kind {
	case leafNode:
		return 0
	case opNode:
		l, r := horizon(n.l), horizon(n.r)
		if l == 0 || r == 0 {
			return 0
		}
		return max(l, r)
	}
	h := horizon(n.inner)
	if n.qual.Kind == Within && (h == 0 || n.qual.Window() < h) {
		return n.qual.Window()
	}
	return h
}

// evalStateless decides a stateless program on one event.
func evalStateless(n *node, ev *event.Event, at time.Time) bool {
	switch n.kind {
	case leafNode:
		return n.cond.eval(ev)
	case opNode:
		return evalStateless(n.l, ev, at) || evalStateless(n.r, ev, at)
	}
	q := n.qual
	return !at.Before(q.Start) && at.Before(q.Stop) && evalStateless(n.inner, ev, at)
}
