package sigma

import (
	"cmp"
	"fmt"
	"strings"
)

// Correlations may name other correlations (chains). A match of a rule
// updates every correlation naming it; each of those that fires updates
// the correlations naming it, and so on, so the work one match causes is
// the number of paths from the rule up through the chains. Two
// correlations naming each other K times cost K^8 updates per event even
// with the depth guard in feed, so the shape of the references is checked
// when rules load, and what would be too costly is refused with a reason.

// maxChainDepth bounds how many correlations may stand on top of each
// other (a correlation over detection rules only is 1 deep).
const maxChainDepth = 8

// maxFanOut bounds the correlation updates one match of one rule may
// cause, over all correlations and chains that use it.
const maxFanOut = 256

// corrGraph walks the references between correlations, depth first, to
// order them (references before the correlations naming them) and to find
// loops.
type corrGraph struct {
	targets map[string]corrTarget
	loaded  map[*correlation]bool // resolved correlations; others are refused
	state   map[*correlation]int  // 0 unseen, 1 on the walk's path, 2 done
	path    []*correlation
	order   []*correlation
	loop    map[*correlation]string // why a correlation in a loop is refused
}

func (g *corrGraph) visit(corr *correlation) {
	g.state[corr] = 1
	g.path = append(g.path, corr)
	for _, ref := range corr.rule.Correlation.Rules {
		next := g.targets[ref].corr
		if next == nil || !g.loaded[next] {
			continue
		}
		switch g.state[next] {
		case 0:
			g.visit(next)
		case 1:
			g.markLoop(next)
		}
	}
	g.path = g.path[:len(g.path)-1]
	g.state[corr] = 2
	g.order = append(g.order, corr)
}

// markLoop records the loop from start (on the walk's path) to the end of
// the path and back to start.
func (g *corrGraph) markLoop(start *correlation) {
	i := len(g.path) - 1
	for g.path[i] != start {
		i--
	}
	loop := g.path[i:]
	names := make([]string, 0, len(loop)+1)
	for _, corr := range loop {
		names = append(names, ruleRef(corr.rule))
	}
	names = append(names, ruleRef(start.rule))
	reason := "correlations name each other in a loop, which would feed them without end: " + strings.Join(names, " → ")
	for _, corr := range loop {
		if _, seen := g.loop[corr]; !seen {
			g.loop[corr] = reason
		}
	}
}

// ruleRef names a rule for a message: "title" (file:line).
func ruleRef(r *Rule) string {
	return fmt.Sprintf("%q (%s:%d)", r.Title, r.Source, r.Line)
}

// checkCorrelationGraph returns the correlations of corrs that may load,
// each after the correlations it names, and refuses the others: those in
// a loop, those naming a refused correlation, those stacked more than
// maxChainDepth deep, and those that would let one match of some rule
// cause more than maxFanOut correlation updates. The fan-out is counted
// as correlations are accepted, in order, so the one refused is the one
// that would go past the limit.
func (c *compiler) checkCorrelationGraph(corrs []*correlation, targets map[string]corrTarget) []*correlation {
	g := &corrGraph{
		targets: targets,
		loaded:  make(map[*correlation]bool, len(corrs)),
		state:   make(map[*correlation]int, len(corrs)),
		loop:    map[*correlation]string{},
	}
	for _, corr := range corrs {
		g.loaded[corr] = true
	}
	for _, corr := range corrs {
		if g.state[corr] == 0 {
			g.visit(corr)
		}
	}
	fc := fanOutCounter{
		targets:  targets,
		accepted: map[*correlation]bool{},
		depth:    map[*correlation]int{},
		down:     map[*correlation]map[any]int{},
		up:       map[any]int{},
	}
	var out []*correlation
	refused := map[*correlation]string{}
	for _, corr := range g.order {
		reason, inLoop := g.loop[corr]
		if !inLoop {
			reason = fc.add(corr)
		}
		if reason != "" {
			refused[corr] = reason
			continue
		}
		out = append(out, corr)
	}
	for _, corr := range corrs { // errors in the order the rules came
		if reason, ok := refused[corr]; ok {
			c.fail(corr.rule, false, "%s", reason)
		}
	}
	return out
}

// fanOutCounter counts, for every rule and correlation, how many
// correlation updates one of its matches causes (up), from the paths
// down from each accepted correlation to what it reaches (down).
type fanOutCounter struct {
	targets  map[string]corrTarget
	accepted map[*correlation]bool
	depth    map[*correlation]int
	down     map[*correlation]map[any]int
	up       map[any]int
}

// add accepts corr, whose references have all been offered before, or
// says why not.
func (fc *fanOutCounter) add(corr *correlation) string {
	depth := 1
	paths := map[any]int{}
	for _, ref := range corr.rule.Correlation.Rules {
		t := fc.targets[ref]
		paths[t.node()]++
		if t.corr == nil {
			continue
		}
		if !fc.accepted[t.corr] {
			return fmt.Sprintf("names correlation %s, which is not loaded", ruleRef(t.corr.rule))
		}
		depth = max(depth, fc.depth[t.corr]+1)
		for n, k := range fc.down[t.corr] {
			paths[n] += k
		}
	}
	if depth > maxChainDepth {
		return fmt.Sprintf("correlations stacked %d deep (the limit is %d)", depth, maxChainDepth)
	}
	var worst any
	for n, k := range paths {
		if fc.up[n]+k <= maxFanOut {
			continue
		}
		if worst == nil || fc.up[n]+k > fc.up[worst]+paths[worst] ||
			fc.up[n]+k == fc.up[worst]+paths[worst] && cmp.Compare(nodeRef(n), nodeRef(worst)) < 0 {
			worst = n
		}
	}
	if worst != nil {
		return fmt.Sprintf("fans out too far: one match of %s would update correlations %d times, this one and those loaded before it counted (the limit is %d)",
			nodeRef(worst), fc.up[worst]+paths[worst], maxFanOut)
	}
	for n, k := range paths {
		fc.up[n] += k
	}
	fc.accepted[corr] = true
	fc.depth[corr] = depth
	fc.down[corr] = paths
	return ""
}

// nodeRef names a rule or correlation of the graph for a message.
func nodeRef(n any) string {
	switch n := n.(type) {
	case *compiledRule:
		return ruleRef(n.rule)
	case *correlation:
		return ruleRef(n.rule)
	}
	return ""
}
