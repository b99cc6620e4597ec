package sigma

import (
	"fmt"
	"strconv"
	"strings"
)

// condOp is the operator of a condition expression node.
type condOp uint8

const (
	condRef condOp = iota // a search identifier
	condAnd
	condOr
	condNot
	condOf // "N of pattern", "all of pattern", "1 of them"
)

// condExpr is a parsed condition. Precedence, loosest first: or, and, not,
// "x of", parentheses.
type condExpr struct {
	op   condOp
	kids []*condExpr
	name string // condRef: identifier; condOf: pattern ("them" for all)
	n    int    // condOf: how many must match; 0 means all
}

// maxConditionDepth bounds nesting so that a hostile condition cannot
// exhaust the stack.
const maxConditionDepth = 64

// parseCondition parses one condition string.
func parseCondition(s string) (*condExpr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("condition %q: unexpected %q", s, p.toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '|':
			return nil, fmt.Errorf("condition %q: legacy aggregation '|' is not supported; use a correlation rule", s)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

type condParser struct {
	toks []string
	pos  int
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) or(depth int) (*condExpr, error) {
	if depth > maxConditionDepth {
		return nil, fmt.Errorf("condition nests deeper than %d", maxConditionDepth)
	}
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = join(condOr, left, right)
	}
	return left, nil
}

func (p *condParser) and(depth int) (*condExpr, error) {
	left, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		left = join(condAnd, left, right)
	}
	return left, nil
}

// join builds a flat n-ary node: a and b and c is one node of three kids.
func join(op condOp, a, b *condExpr) *condExpr {
	if a.op == op {
		a.kids = append(a.kids, b)
		return a
	}
	return &condExpr{op: op, kids: []*condExpr{a, b}}
}

func (p *condParser) not(depth int) (*condExpr, error) {
	if p.keyword("not") {
		if depth > maxConditionDepth {
			return nil, fmt.Errorf("condition nests deeper than %d", maxConditionDepth)
		}
		e, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &condExpr{op: condNot, kids: []*condExpr{e}}, nil
	}
	return p.primary(depth)
}

func (p *condParser) primary(depth int) (*condExpr, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition ends where a search identifier was expected")
	case t == "(":
		p.pos++
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("condition: missing ')'")
		}
		p.pos++
		return e, nil
	case t == ")":
		return nil, fmt.Errorf("condition: unexpected ')'")
	}
	lower := strings.ToLower(t)
	switch lower {
	case "and", "or", "of":
		return nil, fmt.Errorf("condition: unexpected %q", t)
	}
	if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of") {
		n := 0
		switch {
		case lower == "all":
		case lower == "any":
			n = 1
		default:
			v, err := strconv.Atoi(t)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("condition: %q before 'of' must be a positive number, 'any' or 'all'", t)
			}
			n = v
		}
		p.pos += 2
		pat := p.peek()
		if pat == "" || pat == "(" || pat == ")" {
			return nil, fmt.Errorf("condition: 'of' must be followed by a search identifier pattern or 'them'")
		}
		p.pos++
		return &condExpr{op: condOf, name: pat, n: n}, nil
	}
	p.pos++
	return &condExpr{op: condRef, name: t}, nil
}

// expandOf lists the search identifiers an "of" pattern names. "them"
// names every identifier not starting with an underscore.
func expandOf(pattern string, order []string) []string {
	var out []string
	for _, name := range order {
		if pattern == "them" {
			if !strings.HasPrefix(name, "_") {
				out = append(out, name)
			}
			continue
		}
		if starMatch(pattern, name) {
			out = append(out, name)
		}
	}
	return out
}

// String renders the expression, fully parenthesised.
func (e *condExpr) String() string {
	switch e.op {
	case condRef:
		return e.name
	case condNot:
		return "not " + e.kids[0].String()
	case condOf:
		if e.n == 0 {
			return "all of " + e.name
		}
		return strconv.Itoa(e.n) + " of " + e.name
	}
	sep := " and "
	if e.op == condOr {
		sep = " or "
	}
	parts := make([]string, len(e.kids))
	for i, k := range e.kids {
		parts[i] = k.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}
