package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/xsoc/xsoc/internal/intel/stix"
)

// A warning's bundle is read by a scanner of its own rather than by
// encoding/json: the warning's body was checked to be valid JSON as a
// whole when it was decoded (decodeWarning), and reading each of up to
// 401 objects through reflection, checking its bytes again every time,
// cost more than everything else the hub and the receiving node do with
// an indicator. The scanner reads the properties wireObject holds and
// skips the others; it still refuses anything that is not what it
// expects, so it is safe on any input (FuzzOpenWarning).

// errScan is what the scanner returns for input it does not accept.
var errScan = errors.New("not a JSON object of the expected shape")

// scanner reads JSON from data at pos.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return errScan
	}
	s.pos++
	return nil
}

// rawString returns the bytes of the string at pos without its quotes
// and whether they hold an escape.
func (s *scanner) rawString() ([]byte, bool, error) {
	if s.peek() != '"' {
		return nil, false, errScan
	}
	start := s.pos + 1
	escaped := false
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '\\':
			escaped = true
			i++
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], escaped, nil
		case c < 0x20:
			return nil, false, errScan
		}
	}
	return nil, false, errScan
}

// str reads a string into v; null reads as "".
func (s *scanner) str(v *string) error {
	if s.null() {
		*v = ""
		return nil
	}
	start := s.pos
	b, escaped, err := s.rawString()
	if err != nil {
		return err
	}
	if escaped {
		if err := json.Unmarshal(s.data[start:s.pos], v); err != nil {
			return errScan
		}
		return nil
	}
	*v = intern(b)
	return nil
}

// null consumes a JSON null.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.pos+4 <= len(s.data) && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// strs reads an array of strings; null reads as none.
func (s *scanner) strs() ([]string, error) {
	if s.null() {
		return nil, nil
	}
	var out []string
	for i := 0; ; i++ {
		more, err := s.next(i)
		if !more || err != nil {
			return out, err
		}
		out = append(out, "")
		if err := s.str(&out[i]); err != nil {
			return nil, err
		}
	}
}

// integer reads a JSON integer; null reads as nil.
func (s *scanner) integer() (*int, error) {
	if s.null() {
		return nil, nil
	}
	s.ws()
	start := s.pos
	for s.pos < len(s.data) && (s.data[s.pos] == '-' || s.data[s.pos] >= '0' && s.data[s.pos] <= '9') {
		s.pos++
	}
	n, err := strconv.Atoi(string(s.data[start:s.pos]))
	if err != nil || s.pos-start > 12 {
		return nil, errScan
	}
	return &n, nil
}

// boolean reads true or false; null reads as false.
func (s *scanner) boolean() (bool, error) {
	s.ws()
	for _, lit := range []string{"true", "false", "null"} {
		if s.pos+len(lit) <= len(s.data) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
			s.pos += len(lit)
			return lit == "true", nil
		}
	}
	return false, errScan
}

// maxDepth bounds the nesting of what skip passes over.
const maxDepth = 32

// skip passes over one value of any kind, checking that it is valid
// JSON.
func (s *scanner) skip() error { return s.skipDepth(0) }

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return errScan
	}
	switch c := s.peek(); {
	case c == '"':
		return s.skipString()
	case c == '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		for i := 0; ; i++ {
			more, err := s.next(i)
			if !more || err != nil {
				return err
			}
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if s.pos+len(lit) <= len(s.data) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
				s.pos += len(lit)
				return nil
			}
		}
		return errScan
	case c == '-' || c >= '0' && c <= '9':
		return s.skipNumber()
	}
	return errScan
}

// skipString passes over a string, checking its escapes.
func (s *scanner) skipString() error {
	b, escaped, err := s.rawString()
	if err != nil || !escaped {
		return err
	}
	return checkEscapes(b)
}

// checkEscapes checks the escapes of a string's bytes.
func checkEscapes(b []byte) error {
	for j := 0; j < len(b); j++ {
		if b[j] != '\\' {
			continue
		}
		j++
		if j >= len(b) {
			return errScan
		}
		switch b[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if j+5 > len(b) {
				return errScan
			}
			for _, h := range b[j+1 : j+5] {
				if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
					return errScan
				}
			}
			j += 4
		default:
			return errScan
		}
	}
	return nil
}

// skipNumber passes over a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) skipNumber() error {
	d := s.data
	i := s.pos
	digits := func() bool {
		start := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return errScan
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return errScan
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return errScan
		}
	}
	s.pos = i
	return nil
}

// object calls field for each property of the object at pos, with the
// scanner at its value; field consumes the value.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, escaped, err := s.rawString()
		if err == nil && escaped {
			err = checkEscapes(key)
		}
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return errScan
		}
	}
}

// next steps through an array: called before its element i, it
// consumes the opening bracket (i == 0) or the comma before the element,
// and reports false after consuming the closing bracket.
func (s *scanner) next(i int) (bool, error) {
	if i == 0 {
		if err := s.expect('['); err != nil {
			return false, err
		}
		if s.peek() == ']' {
			s.pos++
			return false, nil
		}
		return true, nil
	}
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case ']':
		s.pos++
		return false, nil
	}
	return false, errScan
}

// scanObject reads raw, one JSON object and nothing after it, calling
// field for each of its properties.
func scanObject(raw []byte, field func(s *scanner, key []byte) error) error {
	s := &scanner{data: raw}
	err := s.object(func(key []byte) error { return field(s, key) })
	if err == nil {
		err = s.end()
	}
	return err
}

// end reports an error if anything but white space follows.
func (s *scanner) end() error {
	if s.peek() != 0 || s.pos != len(s.data) {
		return errScan
	}
	return nil
}

// cutBundle checks that a warning's body is valid JSON and returns it
// with its bundle's value replaced by null, and that value: the rest is
// small, for encoding/json, and the bundle is read by the scanner.
func cutBundle(data []byte) (rest, bundle []byte, err error) {
	s := &scanner{data: data}
	start, end := -1, -1
	err = s.object(func(key []byte) error {
		if string(key) != "bundle" {
			return s.skip()
		}
		s.ws()
		start = s.pos
		if err := s.skip(); err != nil {
			return err
		}
		end = s.pos
		return nil
	})
	if err == nil {
		err = s.end()
	}
	if err != nil || start < 0 {
		return data, nil, err
	}
	rest = make([]byte, 0, len(data)-(end-start)+4)
	rest = append(rest, data[:start]...)
	rest = append(rest, "null"...)
	rest = append(rest, data[end:]...)
	if bundle = data[start:end]; string(bundle) == "null" {
		bundle = nil
	}
	return rest, bundle, nil
}

// splitBundle reads a warning's bundle: its type, its id and its objects
// as they came.
func splitBundle(raw []byte) (wireBundle, error) {
	var b wireBundle
	err := scanObject(raw, func(s *scanner, key []byte) error {
		switch string(key) {
		case "type":
			return s.str(&b.Type)
		case "id":
			return s.str(&b.ID)
		case "objects":
			b.Objects = b.Objects[:0]
			if s.null() {
				return nil
			}
			for i := 0; ; i++ {
				more, err := s.next(i)
				if !more || err != nil {
					return err
				}
				if i >= maxBundleObjects {
					return fmt.Errorf("more than %d objects", maxBundleObjects)
				}
				if s.peek() != '{' {
					return errScan
				}
				start := s.pos
				if err := s.skip(); err != nil {
					return err
				}
				b.Objects = append(b.Objects, json.RawMessage(raw[start:s.pos]))
			}
		}
		return s.skip()
	})
	return b, err
}

// decodeObject reads a STIX object of a warning into o: the properties
// wireObject holds; others are skipped.
func decodeObject(raw []byte, o *wireObject) error {
	return scanObject(raw, func(s *scanner, key []byte) error {
		var err error
		switch string(key) {
		case "type":
			return s.str(&o.Type)
		case "spec_version":
			return s.str(&o.SpecVersion)
		case "id":
			return s.str(&o.ID)
		case "created":
			return s.str(&o.Created)
		case "modified":
			return s.str(&o.Modified)
		case "name":
			return s.str(&o.Name)
		case "identity_class":
			return s.str(&o.IdentityClass)
		case "pattern":
			return s.str(&o.Pattern)
		case "pattern_type":
			return s.str(&o.PatternType)
		case "valid_from":
			return s.str(&o.ValidFrom)
		case "valid_until":
			return s.str(&o.ValidUntil)
		case "sighting_of_ref":
			return s.str(&o.SightingOfRef)
		case "first_seen":
			return s.str(&o.FirstSeen)
		case "last_seen":
			return s.str(&o.LastSeen)
		case "indicator_types":
			o.IndicatorTypes, err = s.strs()
		case "labels":
			o.Labels, err = s.strs()
		case "where_sighted_refs":
			o.WhereSightedRefs, err = s.strs()
		case "object_marking_refs":
			o.ObjectMarkingRefs, err = s.strs()
		case "confidence":
			o.Confidence, err = s.integer()
		case "count":
			o.Count, err = s.integer()
		case "revoked":
			o.Revoked, err = s.boolean()
		default:
			err = s.skip()
		}
		return err
	})
}

// interned are the values every warning repeats: read, they share one
// string instead of allocating their own.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, v := range []string{"identity", "indicator", "sighting", "2.1", "stix", "organization", "malicious-activity",
		"xsoc-early-warning", stix.TLPClearRef, stix.TLPGreenRef, stix.TLPAmberRef, stix.TLPAmberStrictRef, stix.TLPRedRef} {
		m[v] = v
	}
	return m
}()

// intern returns b as a string, shared if it is a common value.
func intern(b []byte) string {
	if v, ok := interned[string(b)]; ok {
		return v
	}
	return string(b)
}
