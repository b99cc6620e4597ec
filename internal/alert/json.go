package alert

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Raise stores every alert it changes as JSON (the doc column) and sends
// the same bytes on the bus. encoding/json spent a tenth of a Raise on it,
// most of that in reflection and in the MarshalText and MarshalJSON calls
// of the severity, TLP level and times, each allocating. appendJSON writes
// the same bytes directly; stored documents do not change.

// marshal returns a's JSON, exactly as json.Marshal(a) does, appended to
// buf[:0].
func marshal(buf []byte, a *Alert) ([]byte, error) {
	if b, ok := appendJSON(buf[:0], a); ok {
		return b, nil
	}
	return json.Marshal(a)
}

// appendJSON appends a's JSON to b: byte for byte what json.Marshal(a)
// returns (TestAppendJSONMatchesMarshal, FuzzAppendJSON). ok is false when
// a holds a time json.Marshal refuses (a year outside 0–9999, a zone
// offset of 24 hours or more) or a triage it cannot encode; the caller
// then lets json.Marshal report it.
func appendJSON(b []byte, a *Alert) (_ []byte, ok bool) {
	b = appendField(b, `{"id":`, a.ID)
	b = appendField(b, `,"member":`, a.Member)
	if b, ok = appendTime(append(b, `,"event_time":`...), a.EventTime); !ok {
		return b, false
	}
	if b, ok = appendTime(append(b, `,"detected":`...), a.Detected); !ok {
		return b, false
	}
	if b, ok = appendTime(append(b, `,"last_seen":`...), a.LastSeen); !ok {
		return b, false
	}
	b = appendField(b, `,"detector":`, a.Detector)
	b = appendField(b, `,"rule_id":`, a.RuleID)
	b = appendField(b, `,"rule_title":`, a.RuleTitle)
	b = appendField(b, `,"severity":`, a.Severity.String())
	b = appendStrings(b, `,"techniques":`, a.Techniques)
	if len(a.Observables) > 0 {
		b = append(b, `,"observables":[`...)
		for i, o := range a.Observables {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendField(b, `{"type":`, o.Type)
			b = appendField(b, `,"value":`, o.Value)
			if o.Role != "" {
				b = appendField(b, `,"role":`, o.Role)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, `,"tlp":`, a.TLP.String())
	if a.Key != "" {
		b = appendField(b, `,"key":`, a.Key)
	}
	b = strconv.AppendInt(append(b, `,"count":`...), int64(a.Count), 10)
	b = appendStrings(b, `,"evidence":`, a.Evidence)
	b = appendStrings(b, `,"event_ids":`, a.EventIDs)
	b = appendField(b, `,"status":`, string(a.Status))
	if a.Incident != "" {
		b = appendField(b, `,"incident":`, a.Incident)
	}
	if b, ok = appendMilestone(b, `,"acknowledged":`, a.Acknowledged); !ok {
		return b, false
	}
	if a.AcknowledgedBy != "" {
		b = appendField(b, `,"acknowledged_by":`, a.AcknowledgedBy)
	}
	if b, ok = appendMilestone(b, `,"contained":`, a.Contained); !ok {
		return b, false
	}
	if b, ok = appendMilestone(b, `,"resolved":`, a.Resolved); !ok {
		return b, false
	}
	if b, ok = appendMilestone(b, `,"closed":`, a.Closed); !ok {
		return b, false
	}
	if a.ClosedBy != "" {
		b = appendField(b, `,"closed_by":`, a.ClosedBy)
	}
	if a.Verdict != "" {
		b = appendField(b, `,"verdict":`, string(a.Verdict))
	}
	if a.Triage != nil {
		doc, err := json.Marshal(a.Triage)
		if err != nil {
			return b, false
		}
		b = append(append(b, `,"triage":`...), doc...)
	}
	return append(b, '}'), true
}

// appendField appends name (the separator, key and colon) and s as a JSON
// string.
func appendField(b []byte, name, s string) []byte {
	return appendString(append(b, name...), s)
}

// appendStrings appends name and ss as a JSON array, or nothing for an
// empty ss (the fields are omitempty).
func appendStrings(b []byte, name string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, name...)
	for i, s := range ss {
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendMilestone appends name and t, or nothing for the zero t (the
// fields are omitzero).
func appendMilestone(b []byte, name string, t time.Time) ([]byte, bool) {
	if t.IsZero() {
		return b, true
	}
	return appendTime(append(b, name...), t)
}

// appendTime appends t as time.Time.MarshalJSON does, or reports false
// for a time it refuses.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	n0 := len(b) + 1
	b = append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	// time.Time.appendStrictRFC3339's checks: a year of exactly four
	// digits, and a zone offset under 24 hours.
	if b[n0+4] != '-' {
		return b, false
	}
	if z := b[len(b)-2]; z != 'Z' {
		off := b[len(b)-len(`07:00"`):]
		c := b[len(b)-len(`Z07:00"`)]
		if '0' <= c && c <= '9' || 10*(off[0]-'0')+(off[1]-'0') >= 24 {
			return b, false
		}
	}
	return b, true
}

// jsonEscapes holds, for each ASCII byte, what encoding/json writes for
// it in a string (json.Marshal escapes HTML): "" for the byte itself, a
// short escape for ", \ and five control characters, \u00XX for the
// other control characters and <, > and &.
var jsonEscapes = func() (t [utf8.RuneSelf]string) {
	short := map[byte]string{'"': `\"`, '\\': `\\`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}
	for c := range byte(utf8.RuneSelf) {
		if e, ok := short[c]; ok {
			t[c] = e
		} else if c < ' ' || c == '<' || c == '>' || c == '&' {
			t[c] = fmt.Sprintf(`\u%04x`, c)
		}
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: see jsonEscapes for ASCII; U+2028 and U+2029 become \u2028
// and \u2029, and each byte of invalid UTF-8 \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if e := jsonEscapes[c]; e != "" {
				b = append(append(b, s[start:i]...), e...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		var e string
		switch {
		case r == utf8.RuneError && size == 1:
			e = `\ufffd`
		case r == '\u2028':
			e = `\u2028`
		case r == '\u2029':
			e = `\u2029`
		}
		if e != "" {
			b = append(append(b, s[start:i]...), e...)
			start = i + size
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
