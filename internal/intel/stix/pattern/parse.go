package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// SyntaxError reports where and why a pattern does not parse.
type SyntaxError struct {
	// Offset is the byte offset in the pattern where the problem is.
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pattern: offset %d: %s", e.Offset, e.Msg)
}

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// MaxLength is the longest pattern Parse accepts, in bytes. Real
// indicators are far shorter; the bound keeps hostile input cheap.
const MaxLength = 256 << 10

// maxDepth bounds the nesting of parentheses and brackets so that a
// hostile pattern cannot exhaust the stack.
const maxDepth = 100

// Parse parses a STIX 2.1 pattern following the grammar in the STIX 2.1
// specification (STIXPattern.g4). Errors are *SyntaxError.
func Parse(src string) (*Pattern, error) {
	if len(src) > MaxLength {
		return nil, errAt(MaxLength, "pattern longer than %d bytes", MaxLength)
	}
	p := &parser{lex: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.observationExpressions()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected("AND, OR, FOLLOWEDBY or a qualifier")
	}
	return &Pattern{Root: root, Source: src}, nil
}

// MustParse is Parse for patterns known to be valid, such as constants in
// code; it panics on error.
func MustParse(src string) *Pattern {
	p, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return p
}

// parser is a recursive-descent parser with one token of look-ahead.
type parser struct {
	lex   lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isKeyword(k string) bool { return p.tok.kind == tokKeyword && p.tok.text == k }

func (p *parser) unexpected(want string) error {
	return errAt(p.tok.pos, "expected %s, found %s", want, p.tok)
}

func (p *parser) expect(k tokenKind) error {
	if p.tok.kind != k {
		return p.unexpected(tokenNames[k])
	}
	return p.advance()
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errAt(p.tok.pos, "nesting deeper than %d", maxDepth)
	}
	return nil
}

// observationExpressions: FOLLOWEDBY binds loosest, then OR, then AND; all
// are left-associative.
func (p *parser) observationExpressions() (Expr, error) {
	return p.obsBinary(FollowedBy)
}

func (p *parser) obsBinary(op ObsOp) (Expr, error) {
	operand := func() (Expr, error) {
		if op == ObsAnd {
			return p.observationExpression()
		}
		return p.obsBinary(op + 1)
	}
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(op.String()) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &ObservationOp{Op: op, Left: left, Right: right}
	}
	return left, nil
}

// observationExpression is a bracketed or parenthesised expression followed
// by any number of qualifiers.
func (p *parser) observationExpression() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var e Expr
	switch p.tok.kind {
	case tokLBrack:
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisonExpression()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokRBrack); err != nil {
			return nil, err
		}
		e = &Observation{Comparison: c, Pos: pos}
	case tokLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		inner, err := p.observationExpressions()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		e = inner
	default:
		return nil, p.unexpected("'[' or '('")
	}
	// Each kind of qualifier applies at most once to one expression:
	// "WITHIN 5 SECONDS WITHIN 6 SECONDS" has no meaning (the OASIS
	// pattern validator refuses it too); parentheses nest them.
	var seen [3]bool
	for {
		pos := p.tok.pos
		q, ok, err := p.qualifier()
		if err != nil {
			return nil, err
		}
		if !ok {
			return e, nil
		}
		if int(q.Kind) < len(seen) {
			if seen[q.Kind] {
				return nil, errAt(pos, "%s qualifier repeated on one observation expression (parenthesise to nest them)", qualifierNames[q.Kind])
			}
			seen[q.Kind] = true
		}
		e = &Qualified{Expr: e, Qualifier: q}
	}
}

// qualifier parses one qualifier if the next token starts one.
func (p *parser) qualifier() (Qualifier, bool, error) {
	if p.tok.kind != tokKeyword {
		return Qualifier{}, false, nil
	}
	pos := p.tok.pos
	switch p.tok.text {
	case "WITHIN":
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		if (p.tok.kind != tokInt && p.tok.kind != tokFloat) || strings.HasPrefix(p.tok.text, "-") {
			return Qualifier{}, false, p.unexpected("a positive number of seconds")
		}
		secs, err := strconv.ParseFloat(p.tok.text, 64)
		if err != nil || secs <= 0 || math.IsInf(secs, 0) || secs > math.MaxInt64/float64(time.Second) {
			return Qualifier{}, false, errAt(p.tok.pos, "WITHIN needs a positive number of seconds, not %s", p.tok.text)
		}
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		if !p.isKeyword("SECONDS") {
			return Qualifier{}, false, p.unexpected("SECONDS")
		}
		return Qualifier{Kind: Within, Seconds: secs}, true, p.advance()
	case "REPEATS":
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		if p.tok.kind != tokInt || strings.HasPrefix(p.tok.text, "-") {
			return Qualifier{}, false, p.unexpected("a positive integer")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(p.tok.text, "+"))
		if err != nil || n <= 0 || n > 1<<20 {
			return Qualifier{}, false, errAt(p.tok.pos, "REPEATS needs a count from 1 to %d, not %s", 1<<20, p.tok.text)
		}
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		if !p.isKeyword("TIMES") {
			return Qualifier{}, false, p.unexpected("TIMES")
		}
		return Qualifier{Kind: Repeats, Times: n}, true, p.advance()
	case "START":
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		start, err := p.timestamp()
		if err != nil {
			return Qualifier{}, false, err
		}
		if !p.isKeyword("STOP") {
			return Qualifier{}, false, p.unexpected("STOP")
		}
		if err := p.advance(); err != nil {
			return Qualifier{}, false, err
		}
		stop, err := p.timestamp()
		if err != nil {
			return Qualifier{}, false, err
		}
		if !stop.After(start) {
			return Qualifier{}, false, errAt(pos, "STOP must be later than START")
		}
		return Qualifier{Kind: StartStop, Start: start, Stop: stop}, true, nil
	}
	return Qualifier{}, false, nil
}

func (p *parser) timestamp() (time.Time, error) {
	if p.tok.kind != tokTimestamp {
		return time.Time{}, p.unexpected("a timestamp t'...'")
	}
	t, err := parseTimestamp(p.tok.text)
	if err != nil {
		return time.Time{}, errAt(p.tok.pos, "%v", err)
	}
	return t, p.advance()
}

// comparisonExpression: OR binds looser than AND, both left-associative.
func (p *parser) comparisonExpression() (Comparison, error) {
	return p.compBinary(false)
}

func (p *parser) compBinary(and bool) (Comparison, error) {
	operand := func() (Comparison, error) {
		if and {
			return p.propTest()
		}
		return p.compBinary(true)
	}
	keyword := "OR"
	if and {
		keyword = "AND"
	}
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(keyword) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &BoolOp{And: and, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) propTest() (Comparison, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	switch {
	case p.tok.kind == tokLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisonExpression()
		if err != nil {
			return nil, err
		}
		return c, p.expect(tokRParen)
	case p.isKeyword("NOT") || p.isKeyword("EXISTS"):
		not := p.isKeyword("NOT")
		if not {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.isKeyword("EXISTS") {
				return nil, p.unexpected("EXISTS")
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &Exists{Path: path, Not: not}, nil
	}
	pathPos := p.tok.pos
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	t := &Test{Path: path}
	if p.isKeyword("NOT") {
		t.Not = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := p.operator(t); err != nil {
		return nil, err
	}
	if err := checkHashValue(t); err != nil {
		return nil, errAt(pathPos, "%v", err)
	}
	return t, nil
}

// operator reads the comparison operator and its right-hand literal.
func (p *parser) operator(t *Test) error {
	opTok := p.tok
	switch {
	case opTok.kind == tokOp:
		t.Op = symbolOperator(opTok.text)
	case opTok.kind == tokKeyword && opTok.text == "IN":
		t.Op = In
	case opTok.kind == tokKeyword && opTok.text == "LIKE":
		t.Op = Like
	case opTok.kind == tokKeyword && opTok.text == "MATCHES":
		t.Op = Matches
	case opTok.kind == tokKeyword && opTok.text == "ISSUBSET":
		t.Op = IsSubset
	case opTok.kind == tokKeyword && opTok.text == "ISSUPERSET":
		t.Op = IsSuperset
	default:
		return p.unexpected("a comparison operator")
	}
	if err := p.advance(); err != nil {
		return err
	}
	var err error
	switch t.Op {
	case Equal, NotEqual:
		t.Value, err = p.literal(true)
	case Less, LessEqual, Greater, GreaterEqual:
		t.Value, err = p.literal(false)
	case In:
		t.Value, err = p.set()
	default:
		if p.tok.kind != tokString {
			return errAt(p.tok.pos, "%s needs a string, found %s", t.Op, p.tok)
		}
		t.Value = Literal{Kind: StringLit, Str: p.tok.text}
		err = p.advance()
	}
	return err
}

// symbolOperator maps the lexer's normalised operator symbols.
func symbolOperator(s string) Operator {
	switch s {
	case "!=":
		return NotEqual
	case "<":
		return Less
	case "<=":
		return LessEqual
	case ">":
		return Greater
	case ">=":
		return GreaterEqual
	}
	return Equal
}

// set parses "(lit, lit, ...)"; "()" is the empty set.
func (p *parser) set() (Literal, error) {
	if err := p.expect(tokLParen); err != nil {
		return Literal{}, err
	}
	set := Literal{Kind: SetLit, Set: []Literal{}}
	if p.tok.kind == tokRParen {
		return set, p.advance()
	}
	for {
		l, err := p.literal(true)
		if err != nil {
			return Literal{}, err
		}
		set.Set = append(set.Set, l)
		if p.tok.kind == tokRParen {
			return set, p.advance()
		}
		if err := p.expect(tokComma); err != nil {
			return Literal{}, err
		}
	}
}

// literal parses a primitive literal; booleans only when allowBool (they
// are not orderable).
func (p *parser) literal(allowBool bool) (Literal, error) {
	t := p.tok
	var l Literal
	switch t.kind {
	case tokString:
		l = Literal{Kind: StringLit, Str: t.text}
	case tokInt:
		n, err := strconv.ParseInt(strings.TrimPrefix(t.text, "+"), 10, 64)
		if err != nil {
			return l, errAt(t.pos, "integer %s out of range", t.text)
		}
		l = Literal{Kind: IntLit, Int: n}
	case tokFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return l, errAt(t.pos, "float %s out of range", t.text)
		}
		l = Literal{Kind: FloatLit, Float: f}
	case tokBool:
		if !allowBool {
			return l, errAt(t.pos, "a boolean cannot be ordered")
		}
		l = Literal{Kind: BoolLit, Bool: t.text == "true"}
	case tokTimestamp:
		ts, err := parseTimestamp(t.text)
		if err != nil {
			return l, errAt(t.pos, "%v", err)
		}
		l = Literal{Kind: TimestampLit, Time: ts}
	case tokHex:
		b, err := hex.DecodeString(t.text)
		if err != nil {
			return l, errAt(t.pos, "hex literal needs pairs of hex digits")
		}
		l = Literal{Kind: HexLit, Bytes: b}
	case tokBinary:
		b, err := base64.StdEncoding.Strict().DecodeString(t.text)
		if err != nil || t.text == "" {
			return l, errAt(t.pos, "binary literal needs padded base64")
		}
		l = Literal{Kind: BinaryLit, Bytes: b}
	default:
		return l, p.unexpected("a literal")
	}
	return l, p.advance()
}

// objectPath parses "type:prop(.key|[n]|[*])*".
func (p *parser) objectPath() (Path, error) {
	if p.tok.kind != tokIdent {
		return Path{}, p.unexpected("an object path")
	}
	path := Path{Type: p.tok.text}
	if err := p.advance(); err != nil {
		return path, err
	}
	if err := p.expect(tokColon); err != nil {
		return path, err
	}
	key, err := p.pathKey()
	if err != nil {
		return path, err
	}
	path.Steps = append(path.Steps, Step{Key: key})
	for {
		switch p.tok.kind {
		case tokDot:
			if err := p.advance(); err != nil {
				return path, err
			}
			key, err := p.pathKey()
			if err != nil {
				return path, err
			}
			path.Steps = append(path.Steps, Step{Key: key})
		case tokLBrack:
			if err := p.advance(); err != nil {
				return path, err
			}
			step := Step{IsIndex: true}
			switch p.tok.kind {
			case tokAsterisk:
				step.Any = true
			case tokInt:
				n, err := strconv.Atoi(strings.TrimPrefix(p.tok.text, "+"))
				if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
					return path, errAt(p.tok.pos, "list index %s out of range", p.tok.text)
				}
				step.Index = n
			default:
				return path, p.unexpected("a list index or '*'")
			}
			if err := p.advance(); err != nil {
				return path, err
			}
			if err := p.expect(tokRBrack); err != nil {
				return path, err
			}
			path.Steps = append(path.Steps, step)
		default:
			return path, nil
		}
	}
}

// pathKey reads a property name: an identifier without hyphens or a quoted
// string.
func (p *parser) pathKey() (string, error) {
	t := p.tok
	switch {
	case t.kind == tokString:
	case t.kind == tokIdent && t.hyphen:
		return "", errAt(t.pos, "property name %s contains '-' and must be quoted: %s", t.text, quote(t.text))
	case t.kind == tokIdent:
	default:
		return "", p.unexpected("a property name")
	}
	return t.text, p.advance()
}

// parseTimestamp reads the inside of t'...': RFC 3339 in UTC with a 'Z'
// and an optional fraction, as the grammar requires.
func parseTimestamp(s string) (time.Time, error) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DDTHH:MM:SS[.s]Z", s)
	}
	leap := s[17:19] == "60"
	if leap {
		s = s[:17] + "59" + s[19:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || strings.ContainsAny(s[19:len(s)-1], "+-") {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid UTC time", s)
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t, nil
}
