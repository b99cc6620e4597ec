package sigma

import (
	"slices"

	"github.com/xsoc/xsoc/internal/event"
)

// MatchDirect returns the ids of the rules ev matches when every rule of
// every group the event is routed to is evaluated and every leaf is
// decided from the event's values, without the prefilters: the reference
// the prefiltered Detect must agree with.
func (rs *RuleSet) MatchDirect(ev *event.Event) []string {
	x := rs.pool.Get().(*scratch)
	defer rs.pool.Put(x)
	x.begin(ev)
	rs.router.route(x)
	var ids []string
	for _, gi := range x.active {
		for _, r := range rs.groups[gi].rules {
			cr := rs.rules[r]
			if rs.evalDirect(x, cr.expr) {
				ids = append(ids, cr.rule.ID)
			}
		}
	}
	return ids
}

// DetectAndDirect returns, sorted, the ids of the rules Detect raises
// for ev and those MatchDirect finds; the two must be equal.
func (rs *RuleSet) DetectAndDirect(ev *event.Event) (detected, direct []string) {
	for _, a := range rs.Detect(ev, nil) {
		detected = append(detected, a.RuleID)
	}
	direct = rs.MatchDirect(ev)
	slices.Sort(detected)
	slices.Sort(direct)
	return detected, direct
}

func (rs *RuleSet) evalDirect(x *scratch, n *enode) bool {
	switch n.op {
	case condRef:
		return rs.compute(x, &rs.leaves[n.leaf])
	case condAnd:
		for _, k := range n.kids {
			if !rs.evalDirect(x, k) {
				return false
			}
		}
		return true
	case condOr:
		for _, k := range n.kids {
			if rs.evalDirect(x, k) {
				return true
			}
		}
		return false
	case condNot:
		return !rs.evalDirect(x, n.kids[0])
	case condOf:
		hits := 0
		for _, k := range n.kids {
			if rs.evalDirect(x, k) {
				hits++
			}
		}
		return hits >= n.n
	}
	return false
}

// updatesPerMatch reports the most correlation updates one match of a
// detection rule can cause in rs when every correlation fires, walking
// the feeds as feed does. It stops counting past limit.
func (rs *RuleSet) updatesPerMatch(limit int) int {
	most := 0
	for _, cr := range rs.rules {
		n := 0
		var walk func(feeds []corrFeed, depth int)
		walk = func(feeds []corrFeed, depth int) {
			for _, f := range feeds {
				if n > limit || depth >= maxChainDepth {
					return
				}
				n++
				walk(f.corr.feeds, depth+1)
			}
		}
		walk(cr.feeds, 0)
		most = max(most, n)
	}
	return most
}
