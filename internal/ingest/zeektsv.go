package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

// zeekTSV reads Zeek's default log format: tab-separated values under a
// header that names the log (#path), its fields (#fields) and their types
// (#types), with the separators and the empty and unset markers declared
// in #separator, #set_separator, #empty_field and #unset_field. Each data
// line becomes the line Zeek's JSON writer would have written for it
// (LogAscii::use_json), which the Zeek format then maps; a body may hold
// several logs one after the other, each with its header.
type zeekTSV struct {
	sep, setSep  []byte
	empty, unset string
	path         string
	fields       []string
	types        []string
	// open says a #fields header is in force (until #close).
	open bool
}

// zeekHeader reports whether line starts a Zeek TSV log for format f.
func zeekHeader(line []byte, f format.Format) bool {
	return (f == format.Auto || f == format.Zeek) &&
		(bytes.HasPrefix(line, []byte("#separator ")) || bytes.HasPrefix(line, []byte("#fields\t")))
}

// reset starts a log with Zeek's defaults.
func (z *zeekTSV) reset() {
	*z = zeekTSV{sep: []byte{'\t'}, setSep: []byte{','}, empty: "(empty)", unset: "-"}
}

// header reads a '#' line and returns why it cannot be used, or "".
func (z *zeekTSV) header(line []byte) string {
	if rest, ok := bytes.CutPrefix(line, []byte("#separator ")); ok {
		path := z.path
		z.reset()
		z.path = path
		sep := unescapeZeek(string(rest))
		if sep == "" {
			return "zeek #separator is empty"
		}
		z.sep = []byte(sep)
		return ""
	}
	name, value, _ := bytes.Cut(line[1:], z.sep)
	switch string(name) {
	case "set_separator":
		z.setSep = []byte(unescapeZeek(string(value)))
	case "empty_field":
		z.empty = unescapeZeek(string(value))
	case "unset_field":
		z.unset = unescapeZeek(string(value))
	case "path":
		z.path = string(value)
	case "fields":
		z.fields = splitZeek(value, z.sep)
		z.types = nil
		z.open = len(z.fields) > 0
		for _, f := range z.fields {
			if f == "" {
				z.open = false
				return "zeek #fields names an empty field"
			}
		}
	case "types":
		z.types = splitZeek(value, z.sep)
	case "close":
		z.open = false
	}
	return ""
}

func splitZeek(b, sep []byte) []string {
	parts := bytes.Split(b, sep)
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// convert appends the Zeek JSON form of a data line to dst.
func (z *zeekTSV) convert(dst, line []byte) ([]byte, error) {
	vals := bytes.Split(line, z.sep)
	if len(vals) != len(z.fields) {
		return dst, fmt.Errorf("zeek TSV line has %d fields, its #fields header names %d", len(vals), len(z.fields))
	}
	dst = append(dst, '{')
	if z.path != "" {
		dst = append(dst, `"_path":`...)
		dst = appendJSONString(dst, z.path)
	}
	for i, v := range vals {
		s := string(v)
		if s == z.unset || s == z.empty || s == "" {
			continue // Zeek's JSON writer leaves unset fields out
		}
		typ := ""
		if i < len(z.types) {
			typ = z.types[i]
		}
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, z.fields[i])
		dst = append(dst, ':')
		if elem, ok := containerType(typ); ok {
			dst = append(dst, '[')
			for j, e := range bytes.Split(v, z.setSep) {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendZeekValue(dst, elem, string(e))
			}
			dst = append(dst, ']')
			continue
		}
		dst = appendZeekValue(dst, typ, s)
	}
	return append(dst, '}'), nil
}

// containerType returns the element type of a set[T] or vector[T].
func containerType(typ string) (string, bool) {
	for _, p := range []string{"set[", "vector["} {
		if e, ok := strings.CutPrefix(typ, p); ok {
			return strings.TrimSuffix(e, "]"), true
		}
	}
	return "", false
}

// appendZeekValue writes one value as Zeek's JSON writer does: times,
// counts, integers, doubles, intervals and ports as numbers, booleans as
// true and false, everything else as a string with Zeek's \xHH escapes
// resolved.
func appendZeekValue(dst []byte, typ, v string) []byte {
	switch typ {
	case "time", "count", "int", "double", "interval", "port":
		if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXpP_") && !strings.EqualFold(v, "inf") && !strings.EqualFold(v, "nan") {
			return append(dst, v...)
		}
	case "bool":
		switch v {
		case "T":
			return append(dst, "true"...)
		case "F":
			return append(dst, "false"...)
		}
	}
	return appendJSONString(dst, unescapeZeek(v))
}

// unescapeZeek resolves the \xHH escapes Zeek writes for separators and
// non-printable bytes.
func unescapeZeek(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(dst, q...)
}
