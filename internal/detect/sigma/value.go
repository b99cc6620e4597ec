package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// tok is one piece of a Sigma string value: literal text, or a wildcard
// ('*' any run of characters, '?' exactly one character).
type tok struct {
	lit  string
	wild byte
}

// sstr is a Sigma string value after escape processing.
type sstr []tok

// parseWildcards splits a Sigma string into literals and wildcards. A
// backslash escapes '*', '?' and a backslash; any other backslash is a
// plain character, so "C:\Windows\" needs no doubling.
func parseWildcards(s string) sstr {
	var out sstr
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, tok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
				continue
			}
			lit.WriteByte(c)
		case '*', '?':
			flush()
			if c == '*' && len(out) > 0 && out[len(out)-1].wild == '*' {
				continue // "**" is "*"
			}
			out = append(out, tok{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// String renders s back in Sigma syntax, escaping literal wildcards.
func (s sstr) String() string {
	var b strings.Builder
	for _, t := range s {
		if t.wild != 0 {
			b.WriteByte(t.wild)
			continue
		}
		for i := 0; i < len(t.lit); i++ {
			if c := t.lit[i]; c == '*' || c == '?' {
				b.WriteByte('\\')
			}
			b.WriteByte(t.lit[i])
		}
	}
	return b.String()
}

func (s sstr) plain() (string, bool) {
	var b strings.Builder
	for _, t := range s {
		if t.wild != 0 {
			return "", false
		}
		b.WriteString(t.lit)
	}
	return b.String(), true
}

// withStar adds '*' at the start and/or end unless already there.
func (s sstr) withStar(front, back bool) sstr {
	out := make(sstr, 0, len(s)+2)
	if front && (len(s) == 0 || s[0].wild != '*') {
		out = append(out, tok{wild: '*'})
	}
	out = append(out, s...)
	if back && (len(out) == 0 || out[len(out)-1].wild != '*') {
		out = append(out, tok{wild: '*'})
	}
	return out
}

// mapLit applies fn to every literal piece.
func (s sstr) mapLit(fn func(string) string) sstr {
	out := make(sstr, len(s))
	for i, t := range s {
		if t.wild == 0 {
			t.lit = fn(t.lit)
		}
		out[i] = t
	}
	return out
}

// leafKind says how a leaf tests a field.
type leafKind uint8

const (
	leafMatch    leafKind = iota // string pattern
	leafRegex                    // regular expression on the raw value
	leafCIDR                     // IP address inside a network
	leafNumber                   // numeric comparison
	leafExists                   // field present (want) or absent (!want)
	leafFieldRef                 // compare with another field of the event
	leafTime                     // component of a timestamp compared with a number
)

// matchKind is the shape of a leafMatch pattern.
type matchKind uint8

const (
	matchExact matchKind = iota
	matchPrefix
	matchSuffix
	matchContains
	matchGlob
	matchAny // "*": any non-empty value
)

// cmpOp is a numeric comparison.
type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpGt
	cmpGte
	cmpLt
	cmpLte
)

func (o cmpOp) holds(a, b float64) bool {
	switch o {
	case cmpGt:
		return a > b
	case cmpGte:
		return a >= b
	case cmpLt:
		return a < b
	case cmpLte:
		return a <= b
	}
	return a == b
}

var cmpNames = [...]string{"eq", "gt", "gte", "lt", "lte"}

// leafSpec is one primitive test of one field, before interning.
type leafSpec struct {
	kind  leafKind
	field string // Sigma field name, "" for keywords (any field)
	match matchKind
	lit   string // exact/prefix/suffix/contains literal; lower case unless cased
	glob  sstr   // matchGlob pattern; lower case unless cased
	cased bool
	re    *regexp.Regexp
	net   netip.Prefix
	op    cmpOp
	num   float64
	want  bool   // leafExists
	ref   string // leafFieldRef: the other Sigma field
	unit  string // leafTime: minute, hour, day, week, month, year
	// needles are folded literals one of which any match contains
	// (leafRegex), used as a prefilter.
	needles []string
	// text is the rule's own rendering, for Explain and interning.
	text string
}

// key identifies equal leaves so that rules share them.
func (l *leafSpec) key() string {
	return fmt.Sprintf("%d|%s|%d|%t|%s", l.kind, l.field, l.match, l.cased, l.text)
}

// bexpr is a boolean expression over leaves: a compiled selection or
// condition before it is laid out for evaluation.
type bexpr struct {
	op   condOp // condAnd, condOr, condNot, condOf; condRef is a leaf
	kids []*bexpr
	leaf *leafSpec
	n    int // condOf threshold
}

func leafExpr(l *leafSpec) *bexpr { return &bexpr{op: condRef, leaf: l} }

func combine(op condOp, kids []*bexpr) *bexpr {
	if len(kids) == 1 {
		return kids[0]
	}
	return &bexpr{op: op, kids: kids}
}

// Limits that keep one rule from costing unbounded memory or time.
const (
	maxExpansions  = 4096  // values one field match may expand into
	maxRegexInsts  = 20000 // compiled regular expression program size
	maxRegexLength = 16384 // regular expression source length
)

// modifier classes.
var (
	transformMods = map[string]bool{
		"contains": true, "startswith": true, "endswith": true, "windash": true,
		"base64": true, "base64offset": true, "utf16le": true, "utf16be": true,
		"utf16": true, "wide": true,
	}
	timeMods = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}
	cmpMods  = map[string]cmpOp{"gt": cmpGt, "gte": cmpGte, "lt": cmpLt, "lte": cmpLte}
)

// fieldCompiler turns field matches into expressions.
type fieldCompiler struct {
	placeholders map[string][]string
}

// compileFieldMatch compiles one "Field|mods: values" entry.
func (fc *fieldCompiler) compileFieldMatch(fm *FieldMatch) (*bexpr, error) {
	var (
		all, cased, expand, neq bool
		reFlags                 string
		typeMod                 string // re, cidr, exists, fieldref, gt..., time unit
		transforms              []string
	)
	isRe := false
	for _, m := range fm.Modifiers {
		if m == "re" {
			isRe = true
		}
	}
	for _, m := range fm.Modifiers {
		switch {
		case m == "all":
			all = true
		case m == "cased":
			cased = true
		case m == "expand":
			expand = true
		case m == "neq":
			neq = true
		case isRe && (m == "i" || m == "m" || m == "s"):
			reFlags += m
		case m == "re" || m == "cidr" || m == "exists" || m == "fieldref" || cmpMods[m] != 0 || timeMods[m]:
			if typeMod != "" && !(timeMods[typeMod] && cmpMods[m] != 0) && !(typeMod == "fieldref" && transformMods[m]) {
				return nil, fmt.Errorf("field %q: modifiers %q and %q cannot be combined", fm.Field, typeMod, m)
			}
			if timeMods[typeMod] || typeMod == "fieldref" {
				transforms = append(transforms, m) // comparison applied to the extracted value
				continue
			}
			typeMod = m
		case transformMods[m]:
			transforms = append(transforms, m)
		case m == "":
			return nil, fmt.Errorf("field %q: empty modifier", fm.Field)
		default:
			return nil, fmt.Errorf("field %q: unknown modifier %q", fm.Field, m)
		}
	}
	if all && len(fm.Values) < 2 && fm.Field != "" {
		// The specification forbids 'all' on one value; it is harmless, so
		// accept it as the single value it is.
		all = false
	}
	var vals []*bexpr
	for _, v := range fm.Values {
		e, err := fc.compileValue(fm, v, typeMod, reFlags, transforms, cased, expand)
		if err != nil {
			return nil, err
		}
		vals = append(vals, e)
	}
	op := condOr
	if all {
		op = condAnd
	}
	e := combine(op, vals)
	if neq {
		e = &bexpr{op: condNot, kids: []*bexpr{e}}
	}
	return e, nil
}

func (fc *fieldCompiler) compileValue(fm *FieldMatch, v Value, typeMod, reFlags string, transforms []string, cased, expand bool) (*bexpr, error) {
	field := fm.Field
	if v.Null {
		if typeMod != "" || len(transforms) > 0 {
			return nil, fmt.Errorf("field %q: null cannot be combined with modifiers", field)
		}
		return leafExpr(&leafSpec{kind: leafExists, field: field, want: false, text: "null"}), nil
	}
	switch {
	case typeMod == "re":
		return compileRegex(field, v.Text, reFlags)
	case typeMod == "cidr":
		p, err := netip.ParsePrefix(strings.TrimSpace(v.Text))
		if err != nil {
			return nil, fmt.Errorf("field %q: %q is not a CIDR network: %v", field, v.Text, err)
		}
		return leafExpr(&leafSpec{kind: leafCIDR, field: field, net: p.Masked(), text: p.Masked().String()}), nil
	case typeMod == "exists":
		want, err := strconv.ParseBool(v.Text)
		if err != nil {
			return nil, fmt.Errorf("field %q: exists needs true or false, not %q", field, v.Text)
		}
		return leafExpr(&leafSpec{kind: leafExists, field: field, want: want, text: v.Text}), nil
	case cmpMods[typeMod] != 0:
		n, ok := parseNumber(v.Text)
		if !ok {
			return nil, fmt.Errorf("field %q: %s needs a number, not %q", field, typeMod, v.Text)
		}
		return leafExpr(&leafSpec{kind: leafNumber, field: field, op: cmpMods[typeMod], num: n, text: typeMod + " " + v.Text}), nil
	case timeMods[typeMod]:
		n, ok := parseNumber(v.Text)
		if !ok {
			return nil, fmt.Errorf("field %q: %s needs a number, not %q", field, typeMod, v.Text)
		}
		op := cmpEq
		for _, t := range transforms {
			if o, ok := cmpMods[t]; ok {
				op = o
			} else {
				return nil, fmt.Errorf("field %q: modifier %q cannot follow %q", field, t, typeMod)
			}
		}
		return leafExpr(&leafSpec{kind: leafTime, field: field, unit: typeMod, op: op, num: n, text: typeMod + " " + cmpNames[op] + " " + v.Text}), nil
	case typeMod == "fieldref":
		mk := matchExact
		for _, t := range transforms {
			switch t {
			case "contains":
				mk = matchContains
			case "startswith":
				mk = matchPrefix
			case "endswith":
				mk = matchSuffix
			default:
				return nil, fmt.Errorf("field %q: modifier %q cannot be combined with fieldref", field, t)
			}
		}
		return leafExpr(&leafSpec{kind: leafFieldRef, field: field, ref: v.Text, match: mk, cased: cased, text: "fieldref " + v.Text}), nil
	}
	return fc.compileString(field, v.Text, transforms, cased, expand)
}

// casedStr is a value on its way through the transformation modifiers;
// encodings (base64) make it case-sensitive.
type casedStr struct {
	s     sstr
	cased bool
}

func (fc *fieldCompiler) compileString(field, text string, transforms []string, cased, expand bool) (*bexpr, error) {
	raws := []string{text}
	if expand {
		var err error
		raws, err = expandPlaceholders(text, fc.placeholders)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", field, err)
		}
	}
	vals := make([]casedStr, 0, len(raws))
	for _, r := range raws {
		vals = append(vals, casedStr{s: parseWildcards(r), cased: cased})
	}
	if field == "" {
		// Keywords match anywhere in a value.
		for i := range vals {
			vals[i].s = vals[i].s.withStar(true, true)
		}
	}
	for _, t := range transforms {
		var err error
		vals, err = applyTransform(t, vals)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", field, err)
		}
		if len(vals) > maxExpansions {
			return nil, fmt.Errorf("field %q: modifiers expand %q into more than %d values", field, text, maxExpansions)
		}
	}
	kids := make([]*bexpr, 0, len(vals))
	seen := map[string]bool{}
	for _, v := range vals {
		l := matchLeaf(field, v.s, v.cased)
		if k := l.key(); !seen[k] {
			seen[k] = true
			kids = append(kids, leafExpr(l))
		}
	}
	return combine(condOr, kids), nil
}

// matchLeaf classifies a pattern into the cheapest test that decides it.
func matchLeaf(field string, s sstr, cased bool) *leafSpec {
	if !cased {
		s = s.mapLit(foldString)
	}
	l := &leafSpec{kind: leafMatch, field: field, cased: cased, text: s.String()}
	if lit, ok := s.plain(); ok {
		if lit == "" {
			// '' means the field is absent or empty, which xsoc treats alike.
			return &leafSpec{kind: leafExists, field: field, want: false, text: "''"}
		}
		l.match, l.lit = matchExact, lit
		return l
	}
	n := len(s)
	star := func(i int) bool { return s[i].wild == '*' }
	switch {
	case n == 1 && star(0):
		l.match = matchAny
	case n == 2 && star(0) && s[1].wild == 0:
		l.match, l.lit = matchSuffix, s[1].lit
	case n == 2 && s[0].wild == 0 && star(1):
		l.match, l.lit = matchPrefix, s[0].lit
	case n == 3 && star(0) && s[1].wild == 0 && star(2):
		l.match, l.lit = matchContains, s[1].lit
	default:
		l.match, l.glob = matchGlob, s
	}
	return l
}

func applyTransform(t string, in []casedStr) ([]casedStr, error) {
	out := make([]casedStr, 0, len(in))
	for _, v := range in {
		switch t {
		case "contains":
			out = append(out, casedStr{v.s.withStar(true, true), v.cased})
		case "startswith":
			out = append(out, casedStr{v.s.withStar(false, true), v.cased})
		case "endswith":
			out = append(out, casedStr{v.s.withStar(true, false), v.cased})
		case "windash":
			for _, s := range windash(v.s) {
				out = append(out, casedStr{s, v.cased})
			}
			if len(out) > maxExpansions {
				return nil, fmt.Errorf("windash expands into more than %d values", maxExpansions)
			}
		case "utf16le", "wide":
			out = append(out, casedStr{v.s.mapLit(func(s string) string { return utf16Encode(s, false, false) }), v.cased})
		case "utf16be":
			out = append(out, casedStr{v.s.mapLit(func(s string) string { return utf16Encode(s, true, false) }), v.cased})
		case "utf16":
			bom := true
			out = append(out, casedStr{v.s.mapLit(func(s string) string {
				r := utf16Encode(s, false, bom)
				bom = false
				return r
			}), v.cased})
		case "base64":
			p, ok := v.s.plain()
			if !ok {
				return nil, fmt.Errorf("base64 cannot encode a value with wildcards (%s)", v.s)
			}
			out = append(out, casedStr{sstr{{lit: base64.StdEncoding.EncodeToString([]byte(p))}}, true})
		case "base64offset":
			p, ok := v.s.plain()
			if !ok {
				return nil, fmt.Errorf("base64offset cannot encode a value with wildcards (%s)", v.s)
			}
			for _, b := range base64Offsets(p) {
				out = append(out, casedStr{sstr{{lit: b}}, true})
			}
		}
	}
	return out, nil
}

// base64Offsets returns the three encodings of s that appear inside any
// base64 text containing s, whatever its byte offset modulo 3: the bytes
// that depend on neighbouring data are cut off.
func base64Offsets(s string) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters to drop at the end, by (len+i)%3
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		end := len(enc) - ends[(len(s)+i)%3]
		if starts[i] >= end {
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

func utf16Encode(s string, bigEndian, bom bool) string {
	var b []byte
	if bom {
		if bigEndian {
			b = append(b, 0xfe, 0xff)
		} else {
			b = append(b, 0xff, 0xfe)
		}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// windashChars are the characters Windows accepts to introduce a flag.
var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// windash returns every variant of s with each flag character replaced by
// each of windashChars.
func windash(s sstr) []sstr {
	out := []sstr{nil}
	for _, t := range s {
		if t.wild != 0 {
			for i := range out {
				out[i] = append(out[i], t)
			}
			continue
		}
		variants := windashString(t.lit)
		next := make([]sstr, 0, len(out)*len(variants))
		for _, o := range out {
			for _, v := range variants {
				c := append(append(sstr(nil), o...), tok{lit: v})
				next = append(next, c)
			}
		}
		out = next
		if len(out) > maxExpansions {
			return out
		}
	}
	return out
}

func windashString(s string) []string {
	out := []string{""}
	for len(s) > 0 {
		dash := ""
		for _, d := range windashChars {
			if strings.HasPrefix(s, d) {
				dash = d
				break
			}
		}
		if dash == "" {
			_, size := utf8.DecodeRuneInString(s)
			for i := range out {
				out[i] += s[:size]
			}
			s = s[size:]
			continue
		}
		next := make([]string, 0, len(out)*len(windashChars))
		for _, o := range out {
			for _, d := range windashChars {
				next = append(next, o+d)
			}
		}
		out = next
		s = s[len(dash):]
		if len(out) > maxExpansions {
			return out
		}
	}
	return out
}

// expandPlaceholders replaces %name% placeholders with each of their
// values (the product, for several placeholders). "\%" is a plain percent.
func expandPlaceholders(s string, ph map[string][]string) ([]string, error) {
	out := []string{""}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '%' {
			for j := range out {
				out[j] += "%"
			}
			i++
			continue
		}
		if c != '%' {
			for j := range out {
				out[j] += string(c)
			}
			continue
		}
		end := strings.IndexByte(s[i+1:], '%')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder in %q", s)
		}
		name := s[i+1 : i+1+end]
		vals, ok := ph[name]
		if !ok || len(vals) == 0 {
			return nil, fmt.Errorf("placeholder %%%s%% has no value (give it with --placeholder %s=VALUE, a --placeholders file or sigma_placeholders in the configuration)", name, name)
		}
		next := make([]string, 0, len(out)*len(vals))
		for _, o := range out {
			for _, v := range vals {
				next = append(next, o+v)
			}
		}
		if len(next) > maxExpansions {
			return nil, fmt.Errorf("placeholders expand %q into more than %d values", s, maxExpansions)
		}
		out = next
		i += end + 1
	}
	return out, nil
}

// compileRegex compiles an re value. Go's RE2 engine matches in time
// linear in the input, so no pattern can backtrack catastrophically; huge
// programs are still refused to bound memory and per-event cost.
func compileRegex(field, pattern, flags string) (*bexpr, error) {
	if len(pattern) > maxRegexLength {
		return nil, fmt.Errorf("field %q: regular expression is %d bytes, over the %d limit", field, len(pattern), maxRegexLength)
	}
	src := pattern
	if flags != "" {
		src = "(?" + flags + ")" + pattern
	}
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("field %q: regular expression %q: %v", field, pattern, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("field %q: regular expression %q: %v", field, pattern, err)
	}
	if len(prog.Inst) > maxRegexInsts {
		return nil, fmt.Errorf("field %q: regular expression compiles to %d instructions, over the %d limit", field, len(prog.Inst), maxRegexInsts)
	}
	cre, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("field %q: regular expression %q: %v", field, pattern, err)
	}
	l := &leafSpec{kind: leafRegex, field: field, re: cre, cased: true, text: "/" + src + "/"}
	// Any required literal helps: even one character such as '^' or '`'
	// is rare in most values, and a regex costs far more than a hit.
	if set, ok := requiredLiterals(re.Simplify()); ok && minLen(set) >= 1 {
		l.needles = set
	}
	return leafExpr(l), nil
}

// maxRegexNeedles bounds the alternatives a regular expression prefilter
// may list.
const maxRegexNeedles = 32

// requiredLiterals returns case-folded strings one of which appears in any
// text the expression matches, so that the automaton can prefilter it.
func requiredLiterals(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil, false
		}
		return []string{foldString(string(re.Rune))}, true
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		// The longest required literals are the best prefilter; among
		// equally long ones, the fewest alternatives, then the rarest
		// (in "\s-\s*<", "<" rather than "-", which most command lines
		// hold).
		var best []string
		consider := func(set []string) {
			if len(set) == 0 {
				return
			}
			if best == nil || minLen(set) > minLen(best) ||
				minLen(set) == minLen(best) && (len(set) < len(best) || len(set) == len(best) && setCost(set) < setCost(best)) {
				best = set
			}
		}
		run := ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run += foldString(string(sub.Rune))
				continue
			}
			if run != "" {
				consider([]string{run})
				run = ""
			}
			if set, ok := requiredLiterals(sub); ok {
				consider(set)
			}
		}
		if run != "" {
			consider([]string{run})
		}
		return best, best != nil
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			set, ok := requiredLiterals(sub)
			if !ok {
				return nil, false
			}
			out = append(out, set...)
		}
		if len(out) > maxRegexNeedles {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// setCost estimates how often any literal of set occurs (see needleCost).
func setCost(set []string) float64 {
	c := 0.0
	for _, s := range set {
		c += needleCost(s)
	}
	return c
}

func minLen(set []string) int {
	m := -1
	for _, s := range set {
		if m < 0 || len(s) < m {
			m = len(s)
		}
	}
	return m
}

// parseNumber reads a decimal or 0x-hexadecimal number without allocating
// (strconv allocates its error, and most values are not numbers).
func parseNumber(s string) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		var n uint64
		for i := 2; i < len(s); i++ {
			d := hexDigit(s[i])
			if d < 0 || n > (1<<60) {
				return 0, false
			}
			n = n<<4 | uint64(d)
		}
		return float64(n), true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' || c == '+':
			if i != 0 {
				return 0, false
			}
		case c == '.':
		default:
			return 0, false
		}
	}
	if digits == 0 || strings.Count(s, ".") > 1 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
