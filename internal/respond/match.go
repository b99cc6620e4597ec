package respond

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/xsoc/xsoc/internal/alert"
)

// alertView is an alert under evaluation. Its JSON form is decoded only
// when a playbook tests a field path, and then once for all playbooks.
type alertView struct {
	a       *alert.Alert
	doc     any
	decoded bool
}

func (v *alertView) document() any {
	if !v.decoded {
		v.decoded = true
		// Decoding into a local keeps v itself off the heap on the path
		// where no playbook looks at fields.
		var doc any
		b, err := json.Marshal(*v.a) // a copy: the alert itself stays on the stack
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber() // keep numbers as written, for string comparison
			if dec.Decode(&doc) == nil {
				v.doc = doc
			}
		}
	}
	return v.doc
}

// matches reports whether every condition of m holds for the alert.
func (m *match) matches(v *alertView) bool {
	a := v.a
	if len(m.members) > 0 && !slices.Contains(m.members, a.Member) {
		return false
	}
	if len(m.detectors) > 0 && !slices.Contains(m.detectors, a.Detector) {
		return false
	}
	if len(m.rules) > 0 && !slices.ContainsFunc(m.rules, func(g string) bool { return glob(g, a.RuleID) }) {
		return false
	}
	if a.Severity < m.minSeverity || a.TLP > m.maxTLP {
		return false
	}
	if len(m.techniques) > 0 && !anyTechnique(m.techniques, a.Techniques) {
		return false
	}
	if len(m.observableTypes) > 0 && !slices.ContainsFunc(a.Observables, func(o alert.Observable) bool {
		return slices.Contains(m.observableTypes, o.Type)
	}) {
		return false
	}
	for i := range m.fields {
		if !m.fields[i].holds(v.document()) {
			return false
		}
	}
	return true
}

// anyTechnique reports whether one of the alert's techniques falls under
// one of the wanted ones: T1059 covers T1059 and T1059.001, not T10590.
func anyTechnique(want, have []string) bool {
	for _, h := range have {
		for _, w := range want {
			if len(h) >= len(w) && strings.EqualFold(h[:len(w)], w) && (len(h) == len(w) || h[len(w)] == '.') {
				return true
			}
		}
	}
	return false
}

// holds reports whether any value found at the path satisfies the
// condition. A path crossing a list fans out over its elements, so
// "observables.role" looks at every observable.
func (fc *fieldCond) holds(doc any) bool {
	found := false
	walkPath(doc, fc.path, func(v string) bool {
		found = fc.test(v)
		return found
	})
	return found
}

func (fc *fieldCond) test(v string) bool {
	switch fc.op {
	case "glob":
		return slices.ContainsFunc(fc.values, func(g string) bool { return glob(g, v) })
	default: // equals, in
		return slices.Contains(fc.values, v)
	}
}

// walkPath calls fn with the string form of every scalar reached by path
// from node, stopping when fn returns true.
func walkPath(node any, path []string, fn func(string) bool) bool {
	if list, ok := node.([]any); ok {
		for _, e := range list {
			if walkPath(e, path, fn) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		s, ok := scalarString(node)
		return ok && fn(s)
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return false
	}
	next, ok := obj[path[0]]
	if !ok {
		return false
	}
	return walkPath(next, path[1:], fn)
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// glob matches s against a pattern where '*' stands for any run of
// characters and '?' for exactly one; every other character stands for
// itself. It runs in O(len(pattern)*len(s)) at worst, with no recursion.
func glob(pattern, s string) bool {
	px, sx := 0, 0
	// Where to resume after a mismatch: just past the last '*' seen, and
	// the position in s it is currently assumed to have consumed up to.
	starPx, starSx := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starPx, starSx = px, sx
			px++
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case starPx >= 0:
			// Let the last star swallow one more character and retry.
			starSx++
			px, sx = starPx+1, starSx
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
