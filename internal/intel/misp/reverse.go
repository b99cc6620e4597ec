package misp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
)

// TypeValue is a MISP attribute's type and value.
type TypeValue struct {
	Type, Value string
}

// PatternAttributes returns the MISP attributes a STIX pattern stands
// for: the reverse of AttributePattern. The pattern must be one
// observation without qualifiers whose tests are equalities (or IN sets,
// or ISSUBSET for networks) joined by OR, each branch a single test or the
// AND of the tests one compound MISP type holds (filename|<hash>,
// domain|ip, ip-dst|port, hostname|port, regkey|value). The error says
// what in the pattern no MISP attribute can hold.
func PatternAttributes(p *pattern.Pattern) ([]TypeValue, error) {
	obs, ok := p.Root.(*pattern.Observation)
	if !ok {
		return nil, fmt.Errorf("pattern %s has several observations or qualifiers: a MISP attribute holds one value", p.Source)
	}
	var out []TypeValue
	for _, branch := range orBranches(obs.Comparison) {
		tests, ok := andTests(branch)
		if !ok {
			return nil, fmt.Errorf("pattern %s uses NOT, EXISTS or OR inside AND: no MISP attribute type holds it", p.Source)
		}
		tvs, err := branchAttributes(tests)
		if err != nil {
			return nil, fmt.Errorf("pattern %s: %w", p.Source, err)
		}
		out = append(out, tvs...)
	}
	return out, nil
}

func orBranches(c pattern.Comparison) []pattern.Comparison {
	if b, ok := c.(*pattern.BoolOp); ok && !b.And {
		return append(orBranches(b.Left), orBranches(b.Right)...)
	}
	return []pattern.Comparison{c}
}

func andTests(c pattern.Comparison) ([]*pattern.Test, bool) {
	switch c := c.(type) {
	case *pattern.BoolOp:
		if !c.And {
			return nil, false
		}
		l, ok1 := andTests(c.Left)
		r, ok2 := andTests(c.Right)
		return append(l, r...), ok1 && ok2
	case *pattern.Test:
		return []*pattern.Test{c}, !c.Not
	}
	return nil, false
}

// pathKey names a tested property the way the MISP mapping needs it:
// "file:hashes.SHA-256", "domain-name:resolves_to_refs[*].value".
func pathKey(p pattern.Path) string {
	if len(p.Steps) == 2 && p.Steps[0].Key == "hashes" && !p.Steps[1].IsIndex {
		return p.Type + ":hashes." + pattern.HashName(p.Steps[1].Key)
	}
	return p.Type + ":" + p.Property()
}

// singleTypes maps a tested property to the MISP type that holds its
// value alone.
var singleTypes = map[string]string{
	"ipv4-addr:value": "ip-dst", "ipv6-addr:value": "ip-dst", "domain-name:value": "domain",
	"url:value": "url", "email-addr:value": "email-src", "file:name": "filename",
	"email-message:subject": "email-subject", "windows-registry-key:key": "regkey",
	"mutex:name": "mutex", "autonomous-system:number": "AS", "mac-addr:value": "mac-address",
	"network-traffic:extensions.http-request-ext.request_header.User-Agent": "user-agent",
}

// hashTypes maps STIX hash names to MISP hash types.
var hashTypes = map[string]string{
	"MD5": "md5", "SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384",
	"SHA-512": "sha512", "SSDEEP": "ssdeep", "TLSH": "tlsh",
}

// singleType returns the MISP type of a property tested alone.
func singleType(key string) (string, bool) {
	if t, ok := singleTypes[key]; ok {
		return t, true
	}
	if algo, ok := strings.CutPrefix(key, "file:hashes."); ok {
		t, ok := hashTypes[algo]
		return t, ok
	}
	if algo, ok := strings.CutPrefix(key, "x509-certificate:hashes."); ok {
		t, ok := hashTypes[algo]
		if ok && (t == "md5" || t == "sha1" || t == "sha256") {
			return "x509-fingerprint-" + t, true
		}
	}
	return "", false
}

// literalValues returns a test's values as MISP writes them.
func literalValues(t *pattern.Test) ([]string, error) {
	switch t.Op {
	case pattern.Equal, pattern.IsSubset:
	case pattern.In:
		out := make([]string, 0, len(t.Value.Set))
		for _, l := range t.Value.Set {
			out = append(out, literalText(l))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s %s tests more than equality: a MISP attribute holds one value", t.Path, t.Op)
	}
	return []string{literalText(t.Value)}, nil
}

func literalText(l pattern.Literal) string {
	if l.Kind == pattern.IntLit {
		return strconv.FormatInt(l.Int, 10)
	}
	return l.Text()
}

// branchAttributes maps the tests of one AND branch.
func branchAttributes(tests []*pattern.Test) ([]TypeValue, error) {
	if len(tests) == 1 {
		t := tests[0]
		key := pathKey(t.Path)
		typ, ok := singleType(key)
		if !ok {
			return nil, fmt.Errorf("no MISP attribute type holds %s", key)
		}
		vals, err := literalValues(t)
		if err != nil {
			return nil, err
		}
		out := make([]TypeValue, len(vals))
		for i, v := range vals {
			if typ == "AS" {
				v = "AS" + v
			}
			out[i] = TypeValue{typ, v}
		}
		return out, nil
	}
	if len(tests) != 2 {
		return nil, fmt.Errorf("%d properties tested together: no MISP attribute type holds them", len(tests))
	}
	vals := map[string]string{}
	for _, t := range tests {
		v, err := literalValues(t)
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("%s IN a set inside AND: no MISP attribute type holds it", t.Path)
		}
		vals[pathKey(t.Path)] = v[0]
	}
	pair := func(a, b string) (string, string, bool) {
		va, oka := vals[a]
		vb, okb := vals[b]
		return va, vb, oka && okb
	}
	if d, ip, ok := pair("domain-name:value", "domain-name:resolves_to_refs[*].value"); ok {
		return []TypeValue{{"domain|ip", d + "|" + ip}}, nil
	}
	for _, dir := range []string{"dst", "src"} {
		if host, port, ok := pair("network-traffic:"+dir+"_ref.value", "network-traffic:"+dir+"_port"); ok {
			typ := "ip-" + dir + "|port"
			if _, err := netip.ParseAddr(host); err != nil {
				if dir == "src" {
					break
				}
				typ = "hostname|port"
			}
			return []TypeValue{{typ, host + "|" + port}}, nil
		}
	}
	if k, d, ok := pair("windows-registry-key:key", "windows-registry-key:values[*].data"); ok {
		return []TypeValue{{"regkey|value", k + "|" + d}}, nil
	}
	if name, ok := vals["file:name"]; ok {
		for key, v := range vals {
			if algo, isHash := strings.CutPrefix(key, "file:hashes."); isHash {
				if t, known := hashTypes[algo]; known {
					return []TypeValue{{"filename|" + t, name + "|" + v}}, nil
				}
			}
		}
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	return nil, fmt.Errorf("no MISP attribute type holds %s together", strings.Join(keys, " AND "))
}

// scoAttribute returns the MISP attribute an observable stands for.
func scoAttribute(o stix.Object) (typ, value string, ok bool) {
	switch o.Type() {
	case "ipv4-addr", "ipv6-addr":
		return "ip-dst", o.String("value"), true
	case "domain-name":
		return "domain", o.String("value"), true
	case "url":
		return "url", o.String("value"), true
	case "email-addr":
		return "email-src", o.String("value"), true
	case "mac-addr":
		return "mac-address", o.String("value"), true
	case "mutex":
		return "mutex", o.String("name"), true
	case "windows-registry-key":
		return "regkey", o.String("key"), true
	case "email-message":
		return "email-subject", o.String("subject"), o.String("subject") != ""
	case "autonomous-system":
		n, ok := o.Int("number")
		return "AS", "AS" + strconv.FormatInt(n, 10), ok
	case "file":
		hashes, _ := o.Get("hashes")
		m, _ := hashes.(map[string]any)
		name := o.String("name")
		for algo, v := range m {
			if t, known := hashTypes[pattern.HashName(algo)]; known {
				if s, _ := v.(string); s != "" {
					if name != "" {
						return "filename|" + t, name + "|" + s, true
					}
					return t, s, true
				}
			}
		}
		return "filename", name, name != ""
	}
	return "", "", false
}
