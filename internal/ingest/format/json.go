package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON formats (ECS, Suricata EVE, Zeek, Windows) share one decoder. It
// validates the record as strictly as encoding/json and flattens it into
// leaves: one per scalar value, named by its dotted path ("alert.signature",
// "id.orig_h"), with values unescaped into the builder's buffer. The format
// code then maps leaves to fields by switching on the path. This avoids
// encoding/json's reflection and its map of interface values, which cost
// more than everything else a record goes through.

// Limits that keep a hostile record from costing more than a bounded
// multiple of its size. Every leaf carries its full path, so without them
// a long key above many small members would cost its length once per
// member, in the decoder and again in the field names.
const (
	maxDepth  = 64        // nesting levels
	maxPath   = 512       // bytes in a dotted field path (ECS names are far shorter)
	maxLeaves = maxFields // values in one record
)

// maxFields bounds the fields of one record in every format: real events
// have hundreds at most, and each field costs the event far more than the
// few bytes it may take in the record.
const maxFields = 20_000

// pathBudget bounds the bytes of all distinct leaf paths of a record of n
// bytes. Real records stay well under twice their size; the budget only
// stops records made of tiny members under one long key.
func pathBudget(n int) int { return 8*n + 4096 }

// kind is the JSON type of a leaf's value.
type kind uint8

const (
	kindString kind = iota
	kindNumber
	kindBool
)

// leaf is one scalar value of a decoded JSON record.
type leaf struct {
	path span  // dotted path in Parser.paths
	val  span  // value in builder.buf: unescaped string, number text or true/false
	kind kind  // JSON type of the value
	obj  int32 // innermost enclosing object; members of one object share it
}

// jsonDecoder holds the state of one decode. It works on its own copies
// of the parser's slices (buf is p.b.buf, stack p.stack, paths p.paths,
// leaves p.leaves), written back when the decode ends, so that each string
// appends through one pointer (d) instead of two (d.p.b). Stores to them
// still take write barriers while a collection marks: the methods do not
// know that d is on the stack (turning the appends into stores of the
// length alone, when nothing was reallocated, measured no faster).
type jsonDecoder struct {
	p      *Parser
	data   []byte
	pos    int
	depth  int
	buf    []byte
	stack  []byte
	paths  []byte
	leaves []leaf
	// sniff says to note in p.shape the names Sniff decides by (see
	// sniffKey); top is the raw name of the top-level member being
	// decoded.
	sniff bool
	top   []byte
}

// decodeJSON flattens the JSON object in data into p.leaves and p.paths,
// with the values in p.b.buf. Null values and empty containers produce no
// leaf; the elements of an array are leaves with the array's path. Numbers
// keep their JSON text. Invalid UTF-8 and lone surrogates in strings become
// U+FFFD, as with encoding/json.
func (p *Parser) decodeJSON(data []byte) error {
	p.leaves = p.leaves[:0]
	p.paths = p.paths[:0]
	p.objs = 0
	p.shape = 0
	return p.appendJSONSniffing(data, true)
}

// appendJSON is decodeJSON without the reset: the leaves of data are added
// to those already decoded, for a JSON document nested in a string.
func (p *Parser) appendJSON(data []byte) error {
	return p.appendJSONSniffing(data, false)
}

// appendJSONSniffing is appendJSON, noting the record's shape in p.shape
// when sniff is set.
func (p *Parser) appendJSONSniffing(data []byte, sniff bool) error {
	p.pathGen++
	d := jsonDecoder{p: p, data: data, sniff: sniff, buf: p.b.buf, stack: p.stack[:0], paths: p.paths, leaves: p.leaves}
	err := d.document()
	p.b.buf, p.stack, p.paths, p.leaves = d.buf, d.stack, d.paths, d.leaves
	return err
}

// document decodes the whole of d.data, an object.
func (d *jsonDecoder) document() error {
	data := d.data
	d.skipBOM()
	d.skipSpace()
	if d.pos == len(data) {
		return errors.New("json: empty record")
	}
	if c := data[d.pos]; c != '{' {
		return d.errorf("the record is %s, not a JSON object", describeValue(c))
	}
	if err := d.object(); err != nil {
		return err
	}
	d.skipSpace()
	if d.pos < len(data) {
		return d.errorf("invalid character %s after top-level value", quoteChar(data[d.pos]))
	}
	return nil
}

// describeValue names the JSON value that starts with c, for the error on
// a record that is not an object.
func describeValue(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || isDigit(c):
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "not JSON (it starts with " + quoteChar(c) + ")"
}

func (d *jsonDecoder) skipBOM() {
	if len(d.data) >= 3 && d.data[0] == 0xEF && d.data[1] == 0xBB && d.data[2] == 0xBF {
		d.pos = 3
	}
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the byte at the read position, or 0 at the end (which no
// caller compares against: a NUL byte is always invalid there).
func (d *jsonDecoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// object decodes the object at the read position. The current path is in
// p.stack; each member's name is appended to it while its value decodes.
func (d *jsonDecoder) object() error {
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	d.p.objs++
	obj := d.p.objs
	p := d.p
	base := len(d.stack)
	d.pos++ // '{'
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.unexpected("looking for beginning of object key string")
		}
		p.pathGen++
		if base > 0 {
			d.stack = append(d.stack, '.')
		}
		var err error
		keyStart := d.pos
		if d.stack, err = d.str(d.stack); err != nil {
			return err
		}
		if d.sniff && d.depth <= 2 {
			raw := d.data[keyStart+1 : d.pos-1]
			if d.depth == 1 {
				d.top = raw
			}
			p.shape |= sniffKey(raw, d.top, d.depth)
		}
		if len(d.stack) > maxPath {
			return d.errorf("field name %.40q... is longer than %d bytes", d.stack, maxPath)
		}
		d.skipSpace()
		if d.peek() != ':' {
			return d.unexpected("after object key")
		}
		d.pos++
		d.skipSpace()
		if err := d.value(obj); err != nil {
			return err
		}
		d.stack = d.stack[:base]
		p.pathGen++
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.unexpected("after object key:value pair")
		}
	}
}

// array decodes the array at the read position; its elements take the
// array's path.
func (d *jsonDecoder) array(obj int32) error {
	if d.depth++; d.depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	d.pos++ // '['
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if err := d.value(obj); err != nil {
			return err
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return d.unexpected("after array element")
		}
	}
}

// value decodes one value of the object numbered obj.
func (d *jsonDecoder) value(obj int32) error {
	if d.pos >= len(d.data) {
		return d.unexpected("looking for beginning of value")
	}
	start := len(d.buf)
	var err error
	k := kindString
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array(obj)
	case c == '"':
		d.buf, err = d.str(d.buf)
	case c == 't':
		err = d.literal("true")
		d.buf = append(d.buf, "true"...)
		k = kindBool
	case c == 'f':
		err = d.literal("false")
		d.buf = append(d.buf, "false"...)
		k = kindBool
	case c == 'n':
		return d.literal("null")
	case c == '-' || isDigit(c):
		d.buf, err = d.number(d.buf)
		k = kindNumber
	default:
		return d.unexpected("looking for beginning of value")
	}
	if err != nil {
		return err
	}
	if len(d.leaves) >= maxLeaves {
		return d.errorf("more than %d values in one record", maxLeaves)
	}
	path, err := d.leafPath()
	if err != nil {
		return err
	}
	l := extend(&d.leaves) // filled in place: see extend
	l.path, l.val, l.kind, l.obj = path, span{start, len(d.buf)}, k, obj
	return nil
}

// leafPath returns the span of the current path in p.paths, copying it
// there unless the previous leaf had the same one (the elements of an
// array), and keeps the copies within the record's path budget.
func (d *jsonDecoder) leafPath() (span, error) {
	p := d.p
	if p.pathGen == p.leafGen && len(d.leaves) > 0 {
		return d.leaves[len(d.leaves)-1].path, nil
	}
	if len(d.paths)+len(d.stack) > pathBudget(len(d.data)) {
		return span{}, d.errorf("field names add up to more than %d bytes", pathBudget(len(d.data)))
	}
	lo := len(d.paths)
	d.paths = append(d.paths, d.stack...)
	p.leafGen = p.pathGen
	return span{lo, len(d.paths)}, nil
}

// literal consumes the keyword lit (true, false or null).
func (d *jsonDecoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) {
			return d.unexpected("")
		}
		if d.data[d.pos] != lit[i] {
			return d.errorf("invalid character %s in literal %s (expecting %s)",
				quoteChar(d.data[d.pos]), lit, quoteChar(lit[i]))
		}
		d.pos++
	}
	return nil
}

// number validates the number at the read position and appends its text
// to dst.
func (d *jsonDecoder) number(dst []byte) ([]byte, error) {
	data := d.data
	i := d.pos
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		d.pos = i
		return dst, d.unexpected("")
	case data[i] == '0':
		i++
	case isDigit(data[i]):
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		d.pos = i
		return dst, d.errorf("invalid character %s in numeric literal", quoteChar(data[i]))
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return dst, d.unexpected("after decimal point in numeric literal")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return dst, d.unexpected("in exponent of numeric literal")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	dst = append(dst, data[d.pos:i]...)
	d.pos = i
	return dst, nil
}

// str decodes the string at the read position and appends its value to dst.
// The run of verbatim bytes is found eight bytes at a time in the loop
// itself (plainASCIIRun's scan, without a call per run), and the escapes
// that Windows paths are full of, \\ and \", are decoded in place.
func (d *jsonDecoder) str(dst []byte) ([]byte, error) {
	data := d.data
	i := d.pos + 1
	for {
		start := i
		for i+8 <= len(data) {
			if m := specialBytes(binary.LittleEndian.Uint64(data[i:]), highs); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto stop
			}
			i += 8
		}
		for i < len(data) {
			if c := data[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				break
			}
			i++
		}
		if i >= len(data) {
			d.pos = i
			return append(dst, data[start:i]...), d.unexpected("")
		}
	stop:
		dst = append(dst, data[start:i]...)
		switch c := data[i]; {
		case c == '"':
			d.pos = i + 1
			return dst, nil
		case c == '\\' && i+1 < len(data) && (data[i+1] == '\\' || data[i+1] == '"'):
			dst = append(dst, data[i+1])
			i += 2
		case c == '\\':
			var err error
			if dst, i, err = d.escape(dst, i); err != nil {
				return dst, err
			}
		case c < 0x20:
			d.pos = i
			return dst, d.errorf("invalid character %s in string literal", quoteChar(c))
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, data[i:i+size]...)
			}
			i += size
		}
	}
}

// escape decodes the escape sequence at data[i] (a backslash), appends the
// character to dst and returns the index after the sequence.
func (d *jsonDecoder) escape(dst []byte, i int) ([]byte, int, error) {
	data := d.data
	if i+1 >= len(data) {
		d.pos = len(data)
		return dst, i, d.unexpected("")
	}
	c := data[i+1]
	switch c {
	case '"', '\\', '/':
		return append(dst, c), i + 2, nil
	case 'b':
		return append(dst, '\b'), i + 2, nil
	case 'f':
		return append(dst, '\f'), i + 2, nil
	case 'n':
		return append(dst, '\n'), i + 2, nil
	case 'r':
		return append(dst, '\r'), i + 2, nil
	case 't':
		return append(dst, '\t'), i + 2, nil
	case 'u':
		r, err := d.hex4(i + 2)
		if err != nil {
			return dst, i, err
		}
		i += 6
		if utf16.IsSurrogate(r) {
			// A surrogate pair is two escapes; a lone half is U+FFFD.
			if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
				if r2, err := d.hex4(i + 2); err == nil {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						return utf8.AppendRune(dst, dec), i + 6, nil
					}
				}
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(dst, r), i, nil
	}
	d.pos = i + 1
	return dst, i, d.errorf("invalid character %s in string escape code", quoteChar(c))
}

// hex4 decodes the four hexadecimal digits of a \u escape at data[i:].
func (d *jsonDecoder) hex4(i int) (rune, error) {
	var r rune
	for j := i; j < i+4; j++ {
		if j >= len(d.data) {
			d.pos = j
			return 0, d.unexpected("")
		}
		c := d.data[j]
		var v byte
		switch {
		case isDigit(c):
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			d.pos = j
			return 0, d.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(c))
		}
		r = r<<4 | rune(v)
	}
	return r, nil
}

// unexpected reports the byte at the read position, or the end of input.
func (d *jsonDecoder) unexpected(context string) error {
	if d.pos >= len(d.data) {
		return d.errorf("unexpected end of JSON input")
	}
	msg := "invalid character " + quoteChar(d.data[d.pos])
	if context != "" {
		msg += " " + context
	}
	return d.errorf("%s", msg)
}

// errorf returns a syntax error at the read position, as line and column
// (both from 1, the column in bytes) so that a user can find it in the
// record.
func (d *jsonDecoder) errorf(format string, args ...any) error {
	line, col := position(d.data, d.pos)
	return fmt.Errorf("json: line %d col %d: %s", line, col, fmt.Sprintf(format, args...))
}

// position converts a byte offset into a line and a column, both from 1.
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line, start := 1, 0
	for i, c := range data[:off] {
		if c == '\n' {
			line++
			start = i + 1
		}
	}
	return line, off - start + 1
}

// quoteChar formats c for an error message as encoding/json does: printable
// ASCII in single quotes, anything else as an escape.
func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf(`'\x%02x'`, c)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
