package sigma_test

import (
	"sort"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/sigma/sigmabench"
)

func TestDebugFP(t *testing.T) {
	t0 := time.Now()
	pc := loadRules(t, "rules/windows/process_creation")
	t.Logf("loaddir %v", time.Since(t0))
	t0 = time.Now()
	eng := sigma.NewEngine(sigma.Options{})
	eng.Load(pc)
	t.Logf("load %v", time.Since(t0))
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 3})
	cnt := map[string]int{}
	for _, ev := range events {
		for _, a := range eng.Detect(ev, nil) {
			cnt[a.RuleTitle]++
		}
	}
	var ks []string
	for k := range cnt {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return cnt[ks[i]] > cnt[ks[j]] })
	for _, k := range ks {
		t.Logf("%5d %s", cnt[k], k)
	}
	t.Logf("%s", eng.RuleSet().Stats())
}

func TestDebugAlways(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	rs, _ := sigma.Compile(pc, sigma.Options{})
	t.Log(rs.DebugAlways())
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 3})
	t.Log(rs.DebugCands(events))
}

func TestDebugRegex(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	rs, _ := sigma.Compile(pc, sigma.Options{})
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 3})
	t.Log(rs.DebugRegex(events))
}

func TestDebugStages(t *testing.T) {
	pc := loadRules(t, "rules/windows/process_creation")
	rs, _ := sigma.Compile(pc, sigma.Options{})
	events := sigmabench.Generate(sigmabench.Config{Events: 2000, Seed: 3})
	t.Log(rs.DebugStages(events, 5))
}
