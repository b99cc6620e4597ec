package format

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

func TestDecodeJSONErrors(t *testing.T) {
	cases := []struct {
		in, err string
	}{
		{``, "json: empty record"},
		{`   `, "json: empty record"},
		{`[1]`, "json: line 1 col 1: the record is an array, not a JSON object"},
		{`"x"`, "the record is a string, not a JSON object"},
		{`42`, "the record is a number"},
		{`true`, "the record is a boolean"},
		{`null`, "the record is null"},
		{`hello`, "not JSON (it starts with 'h')"},
		{`{"a":1`, "json: line 1 col 7: unexpected end of JSON input"},
		{`{"a":"b`, "unexpected end of JSON input"},
		{`{"a":1,}`, "line 1 col 8: invalid character '}' looking for beginning of object key string"},
		{`{"a" 1}`, "col 6: invalid character '1' after object key"},
		{`{"a":1 "b":2}`, "col 8: invalid character '\"' after object key:value pair"},
		{`{"a":[1 2]}`, "invalid character '2' after array element"},
		{`{"a":01}`, "invalid character '1' after object key:value pair"},
		{`{"a":1.}`, "invalid character '}' after decimal point in numeric literal"},
		{`{"a":1e}`, "invalid character '}' in exponent of numeric literal"},
		{`{"a":-}`, "invalid character '}' in numeric literal"},
		{`{"a":tru}`, "invalid character '}' in literal true (expecting 'e')"},
		{`{"a":nul`, "unexpected end of JSON input"},
		{`{"a":"\x"}`, `invalid character 'x' in string escape code`},
		{`{"a":"\u12g4"}`, `invalid character 'g' in \u hexadecimal character escape`},
		{"{\"a\":\"x\x01\"}", `invalid character '\x01' in string literal`},
		{`{"a":1} x`, "col 9: invalid character 'x' after top-level value"},
		{`{"a":1}{}`, "invalid character '{' after top-level value"},
		{"{\n  \"a\": 1,\n  \"b\": ?\n}", "json: line 3 col 8: invalid character '?' looking for beginning of value"},
		{strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1), "nesting deeper than 64 levels"},
		{`{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + "}", "nesting deeper than 64 levels"},
		{`{"` + strings.Repeat("k", maxPath+1) + `":1}`, "is longer than 512 bytes"},
		{`{"` + strings.Repeat("k", 300) + `":{"` + strings.Repeat("j", 300) + `":1}}`, "is longer than 512 bytes"},
		{`{"a":[` + strings.Repeat("1,", maxLeaves) + `1]}`, "more than 20000 values in one record"},
	}
	for _, tc := range cases {
		var p Parser
		err := p.decodeJSON([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("decode %q: error %v, want %q", tc.in, err, tc.err)
		}
		limit := strings.Contains(tc.err, "nesting") || strings.Contains(tc.err, "longer than") || strings.Contains(tc.err, "values in one record")
		if err != nil && json.Valid([]byte(tc.in)) && tc.in[0] == '{' && !limit {
			t.Errorf("decode %q failed but encoding/json accepts it", tc.in)
		}
	}
}

func TestDecodeJSONValues(t *testing.T) {
	cases := []struct {
		in   string
		want []string // path=value, in order
	}{
		{`{}`, nil},
		{` {"a":{} , "b":[] , "c":null} `, nil},
		{`{"a":"x","b":{"c":1,"d":[true,false,null,"y"]}}`, []string{"a=x", "b.c=1", "b.d=true", "b.d=false", "b.d=y"}},
		{`{"n":-0.5e+10,"m":0,"k":12345678901234567890}`, []string{"n=-0.5e+10", "m=0", "k=12345678901234567890"}},
		{`{"s":"a\"b\\c\/d\b\f\n\r\t"}`, []string{"s=a\"b\\c/d\b\f\n\r\t"}},
		{`{"u":"\u00e9\u4e2d\ud83d\ude00"}`, []string{"u=é中😀"}},
		{`{"lone":"\ud800x","pair":"\udc00\ud800"}`, []string{"lone=\uFFFDx", "pair=\uFFFD\uFFFD"}},
		{"{\"bad\":\"a\xffb\xc3\"}", []string{"bad=a\uFFFDb\uFFFD"}},
		{`{"k\u002ey":"dotted by escape","a.b":{"c":"x"}}`, []string{"k.y=dotted by escape", "a.b.c=x"}},
		{`{"arr":[{"n":"a","v":1},{"n":"b"}]}`, []string{"arr.n=a", "arr.v=1", "arr.n=b"}},
		{"\xEF\xBB\xBF{\"bom\":1}\r\n", []string{"bom=1"}},
		{`{"":"empty key"}`, []string{"=empty key"}},
	}
	for _, tc := range cases {
		var p Parser
		if err := p.decodeJSON([]byte(tc.in)); err != nil {
			t.Errorf("decode %q: %v", tc.in, err)
			continue
		}
		got := leafStrings(&p)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("decode %q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestDecodeJSONObjectGroups checks that the members of one object share an
// object number and those of different objects do not: the Windows format
// pairs EventData.Data names with their values by it.
func TestDecodeJSONObjectGroups(t *testing.T) {
	var p Parser
	if err := p.decodeJSON([]byte(`{"d":[{"n":"a","v":1},{"n":"b","v":2}],"x":3}`)); err != nil {
		t.Fatal(err)
	}
	l := p.leaves
	if len(l) != 5 {
		t.Fatalf("got %d leaves", len(l))
	}
	if l[0].obj != l[1].obj || l[2].obj != l[3].obj || l[1].obj == l[2].obj || l[4].obj == l[0].obj || l[4].obj == l[2].obj {
		t.Errorf("object numbers %d %d %d %d %d", l[0].obj, l[1].obj, l[2].obj, l[3].obj, l[4].obj)
	}
	if l[0].kind != kindString || l[1].kind != kindNumber {
		t.Errorf("kinds %d %d", l[0].kind, l[1].kind)
	}
}

func leafStrings(p *Parser) []string {
	var out []string
	for _, l := range p.leaves {
		out = append(out, string(p.paths[l.path.lo:l.path.hi])+"="+string(p.b.buf[l.val.lo:l.val.hi]))
	}
	return out
}

// flattenStd flattens data with encoding/json, the reference: numbers as
// their JSON text, nulls dropped, arrays repeated under their path.
func flattenStd(data []byte) ([]string, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, false
	}
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		case json.Number:
			out = append(out, path+"="+v.String())
		case string:
			out = append(out, path+"="+v)
		case bool:
			if v {
				out = append(out, path+"=true")
			} else {
				out = append(out, path+"=false")
			}
		}
	}
	walk("", obj)
	return out, true
}

// checkAgainstStd compares the decoder with encoding/json on data: both
// accept or both reject it, and every path=value that encoding/json finds
// is found by the decoder (which, unlike a Go map, also keeps duplicate
// keys).
func checkAgainstStd(t *testing.T, data []byte) {
	var p Parser
	err := p.decodeJSON(data)
	std, stdOK := flattenStd(data)
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) && json.Valid(data[3:]) {
		// The decoder tolerates a byte order mark; encoding/json does not.
		std, stdOK = flattenStd(data[3:])
	}
	tooDeep := err != nil && (strings.Contains(err.Error(), "nesting deeper") ||
		strings.Contains(err.Error(), "longer than") || strings.Contains(err.Error(), "values in one record"))
	if (err == nil) != stdOK && !tooDeep {
		t.Fatalf("decoder error %v, encoding/json ok=%v, on %q", err, stdOK, data)
	}
	if err != nil {
		if !strings.HasPrefix(err.Error(), "json: ") {
			t.Fatalf("error %q lacks the json: prefix", err)
		}
		return
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("decoder accepted a non-object %q", data)
	}
	got := leafStrings(&p)
	have := make(map[string]int, len(got))
	for _, s := range got {
		have[s]++
	}
	for _, s := range std {
		if have[s] == 0 {
			sort.Strings(got)
			t.Fatalf("on %q: encoding/json has %q, decoder has %q", data, s, got)
		}
	}
	if len(got) < len(std) {
		t.Fatalf("on %q: decoder has %d leaves, encoding/json %d", data, len(got), len(std))
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":{"b":[1,"x",null,true,{"c":-1.5e3}]}}`,
		`{"s":"\ud83d\ude00\u0000\n"}`, `{"a":1,"a":{"b":2}}`, "{\"x\":\"\xff\"}",
		`[1]`, `{"a":`, `{"a":1}}`, "\xEF\xBB\xBF{\"a\":1}", ` {"k":"v"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstStd(t, data)
	})
}

func TestDecodeJSONAgainstStd(t *testing.T) {
	for _, c := range []string{
		suricataAlert, suricataDNSv2, zeekConnRecord, zeekHTTPRecord, winlogbeatSysmon1, evtxSysmon3, ecsNested,
		`{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":2}}`,
	} {
		checkAgainstStd(t, []byte(c))
	}
}

// TestDecodeStringsAtEveryAlignment runs strings through the decoder's
// scan eight bytes at a time, with every escape it decodes in place or
// not, with multi-byte and invalid UTF-8 and control bytes, in keys and
// values, nested and duplicated, each shifted by 0 to 15 bytes so that
// what the scan stops at falls at every position of a word, at its ends
// and across two; the decoder must agree with encoding/json on each.
func TestDecodeStringsAtEveryAlignment(t *testing.T) {
	values := []string{
		``, `a`, `abcdefg`, `abcdefgh`, `abcdefghi`, strings.Repeat(`x`, 40),
		`C:\\Windows\\System32\\cmd.exe`, `\\\\server\\share\\`, `\\`, `\"`, `\"\"\\\\`,
		`say \"hi\" now`, `\/\b\f\n\r\t`, `\u00e9\u4e2d\ud83d\ude00`, `\ud83d`, `\ude00x`, `\u0000`,
		`héllo wörld`, "\xff\xfe tail", "é\xc3", `€€€€€€€€`, `tab\there`,
		"ctl\x01", "ctl\x1f after", "\x7f del is fine",
		`trailing backslash \\`, `\q bad escape`, `\u12`, `unterminated`,
	}
	for _, v := range values {
		for pad := 0; pad < 16; pad++ {
			key := strings.Repeat("k", pad)
			docs := []string{
				`{"` + key + `":"` + v + `"}`,
				`{"` + key + v + `":1}`,
				`{"a":{"` + key + `":["` + v + `","` + v + `"]},"a":{"` + key + `":"` + v + `"}}`,
				`{"` + key + `":"` + v,
			}
			for _, d := range docs {
				checkAgainstStd(t, []byte(d))
			}
		}
	}
}
