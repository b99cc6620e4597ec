package sigma

import (
	"fmt"
	"strings"
	"time"

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

func (rs *RuleSet) DebugRegex(evs []*event.Event) string {
	counts := map[int32]int{}
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
		for _, c := range x.cands {
			rs.eval(x, rs.rules[c].expr)
		}
		for id := range rs.leaves {
			if x.leafGen[id] == x.gen && rs.leaves[id].spec.kind == leafRegex {
				counts[int32(id)]++
			}
		}
		rs.pool.Put(x)
	}
	var b strings.Builder
	for id, n := range counts {
		if n > len(evs)/50 {
			fmt.Fprintf(&b, "%5d %s needles=%q\n", n, rs.leaves[id].spec.text, rs.leaves[id].needles)
		}
	}
	return b.String()
}

func (rs *RuleSet) DebugStages(evs []*event.Event, rounds int) string {
	var tFold, tScan, tEval, tRoute int64
	x := rs.pool.Get().(*scratch)
	bytes := 0
	for r := 0; r < rounds; r++ {
		for _, ev := range evs {
			c0 := time.Now().UnixNano()
			x.begin(ev)
			rs.router.route(x)
			c1 := time.Now().UnixNano()
			for _, gi := range x.active {
				g := rs.groups[gi]
				for i := range g.scans {
					for _, v := range rs.values(x, g.scans[i].slot) {
						bytes += len(v)
					}
				}
			}
			c2 := time.Now().UnixNano()
			for _, gi := range x.active {
				g := rs.groups[gi]
				for i := range g.scans {
					rs.runScan(x, &g.scans[i])
				}
				for _, r := range g.always {
					x.addCand(r)
				}
			}
			c3 := time.Now().UnixNano()
			for _, c := range x.cands {
				rs.eval(x, rs.rules[c].expr)
			}
			c4 := time.Now().UnixNano()
			tRoute += c1 - c0
			tFold += c2 - c1
			tScan += c3 - c2
			tEval += c4 - c3
		}
	}
	n := int64(len(evs) * rounds)
	return fmt.Sprintf("per event ns: route %d fold %d scan %d eval %d; bytes/event %d", tRoute/n, tFold/n, tScan/n, tEval/n, bytes/int(n))
}
