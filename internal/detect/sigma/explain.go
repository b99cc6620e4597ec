package sigma

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xsoc/xsoc/internal/event"
)

// Explain tells whether ev matches rule and why: whether the logsource
// accepts the event, then each search and field match with the event
// values it saw, then the condition. It ignores whether the rule is
// enabled. The optional Options supply placeholders.
func Explain(rule *Rule, ev *event.Event, opts ...Options) (matched bool, why []string) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if rule.Detection == nil {
		return false, []string{"only detection rules can be explained; correlations and filters act on other rules' matches"}
	}
	pred, known := logsourcePredicate(rule.Logsource)
	routed := predHolds(pred, ev)
	line := fmt.Sprintf("logsource %s: event %s (%s)", rule.Logsource, map[bool]string{true: "accepted", false: "rejected"}[routed], pred.describe())
	if !known {
		line += " [routed generically]"
	}
	why = append(why, line)
	ok, err := matchDetection(rule, rule.Detection, ev, o)
	if err != nil {
		return false, append(why, "rule does not compile: "+err.Error())
	}
	for _, name := range rule.Detection.Order {
		s := rule.Detection.Searches[name]
		sub := &Detection{Searches: map[string]*Search{name: s}, Order: []string{name}, Conditions: []string{name}}
		hit, _ := matchDetection(rule, sub, ev, o)
		why = append(why, fmt.Sprintf("search %s: %v", name, hit))
		for ai, alt := range s.Alternatives {
			for _, fm := range alt {
				one := &Search{Name: name, Alternatives: [][]*FieldMatch{{fm}}}
				d := &Detection{Searches: map[string]*Search{name: one}, Order: []string{name}, Conditions: []string{name}}
				fhit, _ := matchDetection(rule, d, ev, o)
				prefix := "  "
				if len(s.Alternatives) > 1 {
					prefix = fmt.Sprintf("  [alternative %d] ", ai+1)
				}
				why = append(why, prefix+describeFieldMatch(rule.Logsource, fm, ev)+fmt.Sprintf(": %v", fhit))
			}
		}
	}
	why = append(why, fmt.Sprintf("condition %q: %v", strings.Join(rule.Detection.Conditions, " | "), ok))
	matched = ok && routed
	why = append(why, fmt.Sprintf("result: %v", matched))
	return matched, why
}

func predHolds(p srcPred, ev *event.Event) bool {
	if p == nil {
		return true
	}
	for _, alt := range p {
		all := true
		for _, t := range alt {
			ct := compiledTest{ref: event.RefOf(t.field), values: t.values, prefix: t.prefix}
			if !ct.holds(ev) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// matchDetection compiles d alone (under rule's logsource) and evaluates
// it on ev, ignoring routing.
func matchDetection(rule *Rule, d *Detection, ev *event.Event, opts Options) (bool, error) {
	r := &Rule{ID: "explain", Title: rule.Title, Logsource: rule.Logsource, Detection: d}
	rs, errs := Compile([]*Rule{r}, opts)
	if len(errs) > 0 {
		if e := errs[0]; e.Line > 0 {
			return false, fmt.Errorf("line %d: %s", e.Line, e.Reason)
		}
		return false, errors.New(errs[0].Reason)
	}
	return rs.evalIgnoringRoute(ev, 0), nil
}

// evalIgnoringRoute runs the scans of rule n's group and evaluates it.
func (rs *RuleSet) evalIgnoringRoute(ev *event.Event, n int) bool {
	if n >= len(rs.rules) {
		return false
	}
	cr := rs.rules[n]
	x := rs.pool.Get().(*scratch)
	defer rs.pool.Put(x)
	x.begin(ev)
	g := rs.groups[cr.group]
	for i := range g.scans {
		rs.runScan(x, &g.scans[i])
	}
	return rs.eval(x, cr.expr)
}

func describeFieldMatch(ls Logsource, fm *FieldMatch, ev *event.Event) string {
	key := fm.Field
	if key == "" {
		key = "keywords"
	}
	if len(fm.Modifiers) > 0 {
		key += "|" + strings.Join(fm.Modifiers, "|")
	}
	vals := make([]string, len(fm.Values))
	for i, v := range fm.Values {
		if v.Null {
			vals[i] = "null"
		} else {
			vals[i] = fmt.Sprintf("%q", v.Text)
		}
	}
	s := key + " " + strings.Join(vals, ", ")
	if fm.Field == "" {
		return s + " (searched in every field)"
	}
	cands := FieldCandidates(ls, fm.Field)
	for _, c := range cands {
		if v, ok := ev.Get(c); ok {
			return s + fmt.Sprintf(" on %s=%q", c, v)
		}
	}
	return s + fmt.Sprintf(" (absent: none of %s)", strings.Join(cands, ", "))
}
