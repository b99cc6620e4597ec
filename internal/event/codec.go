package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The reserved field names that map to Event's struct members rather than to
// fields.
const (
	FieldTimestamp = "@timestamp"
	FieldID        = "event.id"
	FieldIngested  = "event.ingested"
	FieldMember    = "observer.organization.id"
	FieldOriginal  = "event.original"
)

// AppendJSON appends the event as one flat JSON object with dotted ECS keys
// ({"@timestamp":...,"source.ip":...}), the form the store keeps and the API
// serves. A field with several values becomes a JSON array. Timestamps are
// RFC 3339 with nanoseconds in UTC.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendTimeMember(b, FieldTimestamp, e.Time)
	b = appendStringMember(b, FieldID, e.ID)
	b = appendStringMember(b, FieldMember, e.Member)
	if !e.Ingested.IsZero() {
		b = appendTimeMember(b, FieldIngested, e.Ingested)
	}
	for k := Key(0); k < numKeys; k++ {
		v := e.slot(k)
		switch {
		case v == "":
		case e.slotLists && e.hasMore(k):
			b = AppendJSONString(b, keyNames[k])
			b = append(b, ':', '[')
			b = AppendJSONString(b, v)
			for _, f := range e.extras {
				if f.Key == keyNames[k] {
					b = append(b, ',')
					b = AppendJSONString(b, f.Value)
				}
			}
			b = append(b, ']', ',')
		default:
			b = appendStringMember(b, keyNames[k], v)
		}
	}
	b = e.appendExtras(b)
	if len(e.Original) > 0 {
		b = appendStringMember(b, FieldOriginal, string(e.Original))
	}
	b[len(b)-1] = '}'
	return b
}

// appendExtras writes extra fields, gathering repeated keys into arrays.
// Extras are few, so the quadratic grouping costs less than a map would.
func (e *Event) appendExtras(b []byte) []byte {
	for i, f := range e.extras {
		if seenBefore(e.extras[:i], f.Key) {
			continue
		}
		if _, slotted := keyByName[f.Key]; slotted && e.slotLists {
			continue // written with its slot
		}
		n := 0
		for _, g := range e.extras[i:] {
			if g.Key == f.Key {
				n++
			}
		}
		if n == 1 {
			b = appendStringMember(b, f.Key, f.Value)
			continue
		}
		b = AppendJSONString(b, f.Key)
		b = append(b, ':', '[')
		for _, g := range e.extras[i:] {
			if g.Key == f.Key {
				b = AppendJSONString(b, g.Value)
				b = append(b, ',')
			}
		}
		b[len(b)-1] = ']'
		b = append(b, ',')
	}
	return b
}

// hasMore reports whether slotted field k has values past its slot.
func (e *Event) hasMore(k Key) bool {
	for i, t := range e.tags {
		if t == keyHashes[k] && e.extras[i].Key == keyNames[k] {
			return true
		}
	}
	return false
}

func seenBefore(fs []Field, key string) bool {
	for _, f := range fs {
		if f.Key == key {
			return true
		}
	}
	return false
}

func appendStringMember(b []byte, key, value string) []byte {
	b = AppendJSONString(b, key)
	b = append(b, ':')
	b = AppendJSONString(b, value)
	return append(b, ',')
}

func appendTimeMember(b []byte, key string, t time.Time) []byte {
	b = AppendJSONString(b, key)
	b = append(b, ':', '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"', ',')
}

// needsEscape8 returns, for eight bytes of a string loaded little-endian,
// a word whose lowest set bit lies in the first byte that is not plain
// printable ASCII other than '"' and '\\' (0 when there is none). Each test
// is exact for the lowest flagged byte: a borrow only runs towards higher
// bytes.
func needsEscape8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(lo*'"'), x^(lo*'\\')
	return ((x - lo*0x20) | (quote-lo)&^quote | (backslash-lo)&^backslash | x) & hi
}

// AppendJSONString appends s as a JSON string. It escapes only what JSON
// requires and passes valid UTF-8 through, so it is cheaper than
// json.Marshal; invalid UTF-8 becomes U+FFFD as encoding/json does. Runs
// of plain ASCII, most of what events hold, are skipped eight bytes at a
// time.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) {
			m := needsEscape8(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8)))
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == badRune && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ParseJSON fills e (which should be Reset) from one flat JSON object as
// written by AppendJSON. Numbers and booleans become their JSON text; arrays
// become repeated values; nested objects are flattened with dotted keys, so
// that ECS documents in nested form are accepted too.
func (e *Event) ParseJSON(data []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc == nil {
		return errors.New("event: not a JSON object")
	}
	return e.SetObject("", doc)
}

// SetObject sets every member of a decoded JSON object, flattening nested
// objects into dotted names under prefix. The reserved names (@timestamp,
// event.id, event.ingested, observer.organization.id, event.original) fill
// the struct members.
func (e *Event) SetObject(prefix string, doc map[string]any) error {
	for k, v := range doc {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if err := e.setAny(name, v); err != nil {
			return err
		}
	}
	return nil
}

func (e *Event) setAny(name string, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return e.SetObject(name, v)
	case []any:
		for _, x := range v {
			if err := e.setAny(name, x); err != nil {
				return err
			}
		}
		return nil
	case string:
		return e.setReserved(name, v)
	case float64:
		return e.setReserved(name, strconv.FormatFloat(v, 'f', -1, 64))
	case json.Number:
		return e.setReserved(name, v.String())
	case bool:
		return e.setReserved(name, strconv.FormatBool(v))
	default:
		return fmt.Errorf("event: field %s: unsupported JSON value %T", name, v)
	}
}

func (e *Event) setReserved(name, v string) error {
	switch name {
	case FieldTimestamp:
		t, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("event: %s: %w", FieldTimestamp, err)
		}
		e.Time = t
	case FieldIngested:
		t, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("event: %s: %w", FieldIngested, err)
		}
		e.Ingested = t
	case FieldID:
		e.ID = v
	case FieldMember:
		e.Member = v
	case FieldOriginal:
		e.Original = append(e.Original[:0], v...)
	default:
		e.Add(name, v) // a JSON array is a list, in slots too
	}
	return nil
}

// ParseTime parses the timestamp forms found in security telemetry:
// RFC 3339 with or without fraction and zone, the space-separated variant,
// and Unix epoch seconds or milliseconds (with fraction).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		if f > 1e11 { // milliseconds
			f /= 1000
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", s)
}

var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

const badRune = '\uFFFD'

// decodeRune is utf8.DecodeRuneInString, named here to keep the escaping
// loop readable.
func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
