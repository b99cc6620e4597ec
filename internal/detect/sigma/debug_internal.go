package sigma

import (
	"fmt"
	"strings"

	"github.com/xsoc/xsoc/internal/event"
)

func (rs *RuleSet) DebugAlways() string {
	var b strings.Builder
	for _, g := range rs.groups {
		for _, r := range g.always {
			fmt.Fprintf(&b, "always: %s\n", rs.rules[r].rule.Title)
		}
	}
	return b.String()
}

func (rs *RuleSet) DebugCands(evs []*event.Event) string {
	total := 0
	per := map[string]int{}
	for _, ev := range evs {
		x := rs.pool.Get().(*scratch)
		x.begin(ev)
		rs.router.route(x)
		for _, gi := range x.active {
			g := rs.groups[gi]
			for i := range g.scans {
				rs.runScan(x, &g.scans[i])
			}
			for _, r := range g.always {
				x.addCand(r)
			}
		}
		total += len(x.cands)
		for _, c := range x.cands {
			per[rs.rules[c].rule.Title]++
		}
		rs.pool.Put(x)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cands/event %.2f\n", float64(total)/float64(len(evs)))
	for k, v := range per {
		if v > len(evs)/20 {
			fmt.Fprintf(&b, "%6d %s\n", v, k)
		}
	}
	return b.String()
}
