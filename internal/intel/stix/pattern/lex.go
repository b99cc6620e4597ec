package pattern

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a lexical token of the STIX patterning language.
type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokIdent
	tokKeyword
	tokString
	tokInt
	tokFloat
	tokBool
	tokTimestamp
	tokHex
	tokBinary
	tokOp // = == != <> < <= > >=
	tokColon
	tokDot
	tokComma
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokAsterisk
)

var tokenNames = [...]string{
	tokEOF: "end of pattern", tokIdent: "identifier", tokKeyword: "keyword",
	tokString: "string", tokInt: "integer", tokFloat: "float", tokBool: "boolean",
	tokTimestamp: "timestamp", tokHex: "hex literal", tokBinary: "binary literal",
	tokOp: "operator", tokColon: "':'", tokDot: "'.'", tokComma: "','",
	tokLParen: "'('", tokRParen: "')'", tokLBrack: "'['", tokRBrack: "']'",
	tokAsterisk: "'*'",
}

// token is one lexeme. text is the source text, except for strings, where
// it is the unescaped value, and hex/binary/timestamp literals, where it is
// the content between the quotes.
type token struct {
	kind tokenKind
	pos  int
	text string
	// hyphen is set on identifiers that contain '-': the grammar allows
	// them as object types but not as property names.
	hyphen bool
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of pattern"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	case tokKeyword, tokIdent, tokOp, tokInt, tokFloat, tokBool:
		return fmt.Sprintf("%q", t.text)
	}
	return tokenNames[t.kind]
}

// keywords are the reserved words of the grammar; they are case-sensitive.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true,
	"MATCHES": true, "ISSUPERSET": true, "ISSUBSET": true, "EXISTS": true,
	"LAST": true, "IN": true, "START": true, "STOP": true, "SECONDS": true,
	"WITHIN": true, "REPEATS": true, "TIMES": true,
}

// lexer splits a pattern into tokens on demand.
type lexer struct {
	src string
	pos int
}

// next returns the next token or a *SyntaxError.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	// Quoted literals with a one-letter prefix: t'..', h'..', b'..'.
	if (c == 't' || c == 'h' || c == 'b') && l.pos+1 < len(l.src) && l.src[l.pos+1] == '\'' {
		return l.prefixed(c)
	}
	switch {
	case c == '\'':
		return l.str()
	case isIdentStart(c):
		return l.ident(), nil
	case isDigit(c) || c == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]):
		return l.number(start)
	case (c == '+' || c == '-') && l.pos+1 < len(l.src) && (isDigit(l.src[l.pos+1]) || l.src[l.pos+1] == '.'):
		l.pos++
		return l.number(start)
	}
	l.pos++
	switch c {
	case ':':
		return token{kind: tokColon, pos: start, text: ":"}, nil
	case '.':
		return token{kind: tokDot, pos: start, text: "."}, nil
	case ',':
		return token{kind: tokComma, pos: start, text: ","}, nil
	case '(':
		return token{kind: tokLParen, pos: start, text: "("}, nil
	case ')':
		return token{kind: tokRParen, pos: start, text: ")"}, nil
	case '[':
		return token{kind: tokLBrack, pos: start, text: "["}, nil
	case ']':
		return token{kind: tokRBrack, pos: start, text: "]"}, nil
	case '*':
		return token{kind: tokAsterisk, pos: start, text: "*"}, nil
	case '=':
		if l.peekByte('=') {
			l.pos++
		}
		return token{kind: tokOp, pos: start, text: "="}, nil
	case '!':
		if l.peekByte('=') {
			l.pos++
			return token{kind: tokOp, pos: start, text: "!="}, nil
		}
	case '<':
		if l.peekByte('=') {
			l.pos++
			return token{kind: tokOp, pos: start, text: "<="}, nil
		}
		if l.peekByte('>') {
			l.pos++
			return token{kind: tokOp, pos: start, text: "!="}, nil
		}
		return token{kind: tokOp, pos: start, text: "<"}, nil
	case '>':
		if l.peekByte('=') {
			l.pos++
			return token{kind: tokOp, pos: start, text: ">="}, nil
		}
		return token{kind: tokOp, pos: start, text: ">"}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	return token{}, errAt(start, "unexpected character %q", r)
}

func (l *lexer) peekByte(b byte) bool {
	return l.pos < len(l.src) && l.src[l.pos] == b
}

// skipSpace skips white space and both comment forms.
func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		switch {
		case unicode.IsSpace(r):
			l.pos += size
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return errAt(l.pos, "unterminated comment")
			}
			l.pos += 2 + end + 2
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexAny(l.src[l.pos:], "\r\n")
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end
			}
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ident reads an identifier, keyword or boolean. Hyphens are taken in, as
// the grammar's IdentifierWithHyphen does; the parser decides where they
// are allowed.
func (l *lexer) ident() token {
	start := l.pos
	hyphen := false
	for l.pos < len(l.src) && (isIdentChar(l.src[l.pos]) || l.src[l.pos] == '-') {
		if l.src[l.pos] == '-' {
			hyphen = true
		}
		l.pos++
	}
	text := l.src[start:l.pos]
	switch {
	case text == "true" || text == "false":
		return token{kind: tokBool, pos: start, text: text}
	case keywords[text]:
		return token{kind: tokKeyword, pos: start, text: text}
	}
	return token{kind: tokIdent, pos: start, text: text, hyphen: hyphen}
}

// number reads an integer or float; a sign, if any, is already consumed.
func (l *lexer) number(start int) (token, error) {
	digits := l.pos
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	intDigits := l.src[digits:l.pos]
	if l.pos < len(l.src) && l.src[l.pos] == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokFloat, pos: start, text: l.src[start:l.pos]}, nil
	}
	if len(intDigits) > 1 && intDigits[0] == '0' {
		return token{}, errAt(start, "integer %q has a leading zero", l.src[start:l.pos])
	}
	if l.pos < len(l.src) && isIdentStart(l.src[l.pos]) {
		return token{}, errAt(l.pos, "unexpected %q after number", l.src[l.pos])
	}
	return token{kind: tokInt, pos: start, text: l.src[start:l.pos]}, nil
}

// str reads a quoted string; only \' and \\ are valid escapes.
func (l *lexer) str() (token, error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '\'':
			l.pos++
			return token{kind: tokString, pos: start, text: b.String()}, nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return token{}, errAt(l.pos, "unterminated string")
			}
			e := l.src[l.pos+1]
			if e != '\'' && e != '\\' {
				return token{}, errAt(l.pos, "invalid escape \\%c in string (only \\' and \\\\ are allowed)", e)
			}
			b.WriteByte(e)
			l.pos += 2
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, errAt(start, "unterminated string")
}

// prefixed reads t'..', h'..' or b'..'; the content is checked by the
// parser, which knows the literal's rules.
func (l *lexer) prefixed(prefix byte) (token, error) {
	start := l.pos
	l.pos += 2
	end := strings.IndexByte(l.src[l.pos:], '\'')
	if end < 0 {
		return token{}, errAt(start, "unterminated %c'...' literal", prefix)
	}
	text := l.src[l.pos : l.pos+end]
	l.pos += end + 1
	kind := tokTimestamp
	switch prefix {
	case 'h':
		kind = tokHex
	case 'b':
		kind = tokBinary
	}
	return token{kind: kind, pos: start, text: text}, nil
}
