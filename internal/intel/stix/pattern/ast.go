package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Pattern is a parsed STIX 2.1 pattern.
type Pattern struct {
	// Root is the top observation expression.
	Root Expr
	// Source is the text the pattern was parsed from.
	Source string
}

// String renders the pattern in a canonical form that Parse reads back to
// an equal tree.
func (p *Pattern) String() string { return p.Root.String() }

// Expr is an observation expression: an Observation, an ObservationOp
// joining two expressions, or a Qualified expression.
type Expr interface {
	String() string
	expr()
}

// Observation is one bracketed comparison expression: "[ ... ]". It
// matches one observed object (one event, in xsoc).
type Observation struct {
	Comparison Comparison
	// Pos is the byte offset of the '[' in the source.
	Pos int
}

// ObsOp joins observation expressions.
type ObsOp uint8

// The observation operators, loosest binding first.
const (
	FollowedBy ObsOp = iota
	ObsOr
	ObsAnd
)

var obsOpNames = [...]string{FollowedBy: "FOLLOWEDBY", ObsOr: "OR", ObsAnd: "AND"}

func (o ObsOp) String() string { return obsOpNames[o] }

// ObservationOp is "L AND R", "L OR R" or "L FOLLOWEDBY R".
type ObservationOp struct {
	Op          ObsOp
	Left, Right Expr
}

// Qualified is an observation expression with a qualifier.
type Qualified struct {
	Expr      Expr
	Qualifier Qualifier
}

// QualifierKind tells the qualifiers apart.
type QualifierKind uint8

// The qualifiers.
const (
	Within QualifierKind = iota
	Repeats
	StartStop
)

// Qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t STOP t.
type Qualifier struct {
	Kind QualifierKind
	// Seconds is the WITHIN window.
	Seconds float64
	// Times is the REPEATS count.
	Times int
	// Start and Stop bound START/STOP (Stop is exclusive).
	Start, Stop time.Time
}

// Window returns the WITHIN window as a duration.
func (q Qualifier) Window() time.Duration {
	return time.Duration(q.Seconds * float64(time.Second))
}

func (q Qualifier) String() string {
	switch q.Kind {
	case Within:
		return "WITHIN " + strconv.FormatFloat(q.Seconds, 'f', -1, 64) + " SECONDS"
	case Repeats:
		return "REPEATS " + strconv.Itoa(q.Times) + " TIMES"
	}
	return "START " + formatTimestamp(q.Start) + " STOP " + formatTimestamp(q.Stop)
}

func (*Observation) expr()   {}
func (*ObservationOp) expr() {}
func (*Qualified) expr()     {}

func (o *Observation) String() string { return "[" + o.Comparison.String() + "]" }

func (o *ObservationOp) String() string {
	return "(" + o.Left.String() + " " + o.Op.String() + " " + o.Right.String() + ")"
}

func (q *Qualified) String() string { return q.Expr.String() + " " + q.Qualifier.String() }

// Comparison is a comparison expression inside brackets: a Test, a
// BoolOp or an Exists.
type Comparison interface {
	String() string
	comparison()
}

// BoolOp joins comparison expressions with AND or OR.
type BoolOp struct {
	And         bool
	Left, Right Comparison
}

// Operator is a comparison operator.
type Operator uint8

// The comparison operators.
const (
	Equal Operator = iota
	NotEqual
	Less
	LessEqual
	Greater
	GreaterEqual
	In
	Like
	Matches
	IsSubset
	IsSuperset
)

var operatorNames = [...]string{
	Equal: "=", NotEqual: "!=", Less: "<", LessEqual: "<=", Greater: ">", GreaterEqual: ">=",
	In: "IN", Like: "LIKE", Matches: "MATCHES", IsSubset: "ISSUBSET", IsSuperset: "ISSUPERSET",
}

func (o Operator) String() string { return operatorNames[o] }

// Test compares the values at an object path with a literal:
// "file:name NOT LIKE '%.exe'".
type Test struct {
	Path  Path
	Not   bool
	Op    Operator
	Value Literal
}

// Exists is "[NOT] EXISTS path".
type Exists struct {
	Path Path
	Not  bool
}

func (*BoolOp) comparison() {}
func (*Test) comparison()   {}
func (*Exists) comparison() {}

func (b *BoolOp) String() string {
	op := " OR "
	if b.And {
		op = " AND "
	}
	return "(" + b.Left.String() + op + b.Right.String() + ")"
}

func (t *Test) String() string {
	not := ""
	if t.Not {
		not = "NOT "
	}
	return t.Path.String() + " " + not + t.Op.String() + " " + t.Value.String()
}

func (e *Exists) String() string {
	if e.Not {
		return "NOT EXISTS " + e.Path.String()
	}
	return "EXISTS " + e.Path.String()
}

// Path is an object path: "file:hashes.'SHA-256'",
// "network-traffic:protocols[*]".
type Path struct {
	// Type is the STIX object type: "file".
	Type  string
	Steps []Step
}

// Step is one component of a path after the type: a property name, or a
// list index ([0], [-1], [*]).
type Step struct {
	// Key is the property name; empty for an index step.
	Key string
	// Index is the list index, valid when IsIndex and not Any.
	Index   int
	IsIndex bool
	// Any is the [*] index.
	Any bool
}

// String renders the path with quoted keys where the grammar requires
// them.
func (p Path) String() string {
	var b strings.Builder
	b.WriteString(p.Type)
	b.WriteByte(':')
	for i, s := range p.Steps {
		switch {
		case s.Any:
			b.WriteString("[*]")
		case s.IsIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if plainKey(s.Key) {
				b.WriteString(s.Key)
			} else {
				b.WriteString(quote(s.Key))
			}
		}
	}
	return b.String()
}

// Property returns the path without its type, with every list index
// written [*]: "hashes.SHA-256", "protocols[*]", "dst_ref.value". It is the
// form field mappings are keyed on.
func (p Path) Property() string {
	var b strings.Builder
	for i, s := range p.Steps {
		if s.IsIndex {
			b.WriteString("[*]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

// plainKey reports whether a key can be written without quotes.
func plainKey(k string) bool {
	if k == "" || !isIdentStart(k[0]) || keywords[k] || k == "true" || k == "false" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isIdentChar(k[i]) {
			return false
		}
	}
	return true
}

// LiteralKind tells literal types apart.
type LiteralKind uint8

// The literal kinds.
const (
	StringLit LiteralKind = iota
	IntLit
	FloatLit
	BoolLit
	TimestampLit
	HexLit
	BinaryLit
	SetLit
)

// Literal is a constant in a comparison.
type Literal struct {
	Kind  LiteralKind
	Str   string    // StringLit
	Int   int64     // IntLit
	Float float64   // FloatLit
	Bool  bool      // BoolLit
	Time  time.Time // TimestampLit
	Bytes []byte    // HexLit, BinaryLit
	Set   []Literal // SetLit
}

// String renders the literal in pattern syntax.
func (l Literal) String() string {
	switch l.Kind {
	case StringLit:
		return quote(l.Str)
	case IntLit:
		return strconv.FormatInt(l.Int, 10)
	case FloatLit:
		s := strconv.FormatFloat(l.Float, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case BoolLit:
		return strconv.FormatBool(l.Bool)
	case TimestampLit:
		return formatTimestamp(l.Time)
	case HexLit:
		return "h'" + hex.EncodeToString(l.Bytes) + "'"
	case BinaryLit:
		return "b'" + base64.StdEncoding.EncodeToString(l.Bytes) + "'"
	}
	parts := make([]string, len(l.Set))
	for i, x := range l.Set {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Text returns the literal as the text it would be compared against in an
// event field: strings as they are, numbers in decimal, timestamps in
// RFC 3339, bytes in lower-case hex.
func (l Literal) Text() string {
	switch l.Kind {
	case StringLit:
		return l.Str
	case TimestampLit:
		return l.Time.Format(time.RFC3339Nano)
	case HexLit, BinaryLit:
		return hex.EncodeToString(l.Bytes)
	}
	return l.String()
}

// quote writes s as a pattern string literal.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, `'`, `\'`) + "'"
}

// Quote returns s as a STIX pattern string literal, with quotes and
// backslashes escaped. Use it to build patterns from untrusted values.
func Quote(s string) string { return quote(s) }

func formatTimestamp(t time.Time) string {
	return "t'" + t.UTC().Format("2006-01-02T15:04:05.999999999Z") + "'"
}
