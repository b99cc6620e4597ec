package format

import "bytes"

// Sniff decides the format of one record by its content, for Auto:
//
//   - a JSON object with event_type is Suricata EVE;
//   - one with _path, id.orig_h (flat or nested) is Zeek;
//   - one with EventID, EventId, winlog, LogName or Event.System is Windows;
//   - any other JSON (objects, and arrays so that they are rejected with a
//     clear reason) is ECS;
//   - a record starting with "CEF:", or with "CEF:" after a short syslog
//     header that has no PRI, is CEF;
//   - anything else is syslog (which parses CEF inside syslog itself).
//
// Sniff looks at top-level keys only and does not validate: Parse reports
// what is wrong with the record.
func Sniff(line []byte) Format {
	s := trimLeft(line)
	if len(s) == 0 {
		return Syslog
	}
	switch s[0] {
	case '{':
		return sniffJSON(s)
	case '[':
		return ECS
	case '<':
		return Syslog
	}
	if bytes.HasPrefix(s, []byte("CEF:")) || cefAfterHeader(s) >= 0 {
		return CEF
	}
	return Syslog
}

// cefAfterHeader returns the index of "CEF:" when it follows a short
// header (a syslog timestamp and host without PRI), or -1.
func cefAfterHeader(s []byte) int {
	const maxHeader = 128
	head := s
	if len(head) > maxHeader {
		head = head[:maxHeader]
	}
	i := bytes.Index(head, []byte(" CEF:"))
	if i < 0 {
		return -1
	}
	return i + 1
}

// trimLeft drops a UTF-8 byte order mark and leading white space.
// The mark is compared byte by byte: bytes.TrimPrefix called bytes.Equal,
// which cost 2 % of normalising a Sysmon record.
func trimLeft(s []byte) []byte {
	if len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF {
		s = s[3:]
	}
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	return s
}

// jsonShape records which of the top-level names that Sniff decides by a
// JSON record has: a bit per format.
type jsonShape uint8

const (
	shapeSuricata jsonShape = 1 << iota
	shapeZeek
	shapeWindows
)

// sniffKey notes a member name (raw, still escaped, as Sniff compares
// them) that the decoder met at depth 1 (the record's own members) or 2
// (members of a top-level member's object), for the same decision as
// sniffJSON. top is the raw name of the enclosing top-level member.
func sniffKey(raw, top []byte, depth int) jsonShape {
	if depth == 1 {
		switch string(raw) {
		case "event_type":
			return shapeSuricata
		case "_path", "id.orig_h":
			return shapeZeek
		case "EventID", "EventId", "winlog", "LogName":
			return shapeWindows
		}
		return 0
	}
	switch {
	case string(raw) == "orig_h" && string(top) == "id":
		return shapeZeek
	case string(raw) == "System" && string(top) == "Event":
		return shapeWindows
	}
	return 0
}

// sniffJSON chooses among the JSON formats by the object's top-level keys.
func sniffJSON(s []byte) Format {
	var zeek, windows bool
	suricata := false
	eachMember(s, func(key, val []byte) bool {
		switch string(key) {
		case "event_type":
			suricata = true
			return false
		case "_path", "id.orig_h":
			zeek = true
		case "id":
			zeek = zeek || hasMember(val, "orig_h")
		case "EventID", "EventId", "winlog", "LogName":
			windows = true
		case "Event":
			windows = windows || hasMember(val, "System")
		}
		return true
	})
	switch {
	case suricata:
		return Suricata
	case zeek:
		return Zeek
	case windows:
		return Windows
	}
	return ECS
}

// hasMember reports whether the JSON object obj has a member named key.
func hasMember(obj []byte, key string) bool {
	found := false
	eachMember(obj, func(k, _ []byte) bool {
		found = string(k) == key
		return !found
	})
	return found
}

// eachMember calls fn with the raw (still escaped) name and the raw value of
// each member of the JSON object at the start of obj, until fn returns false
// or the object ends or turns out malformed.
func eachMember(obj []byte, fn func(key, val []byte) bool) {
	if len(obj) == 0 || obj[0] != '{' {
		return
	}
	i := 1
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return
		}
		end := skipString(obj, i)
		if end < 0 {
			return
		}
		key := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		i = skipSpace(obj, i+1)
		end = skipValue(obj, i)
		if end < 0 || !fn(key, obj[i:end]) {
			return
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at s[i], or
// -1 if it does not end.
func skipString(s []byte, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at s[i], or -1
// if it does not end. Containers are skipped by counting brackets outside
// strings, without validating.
func skipValue(s []byte, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i = skipString(s, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1
}
