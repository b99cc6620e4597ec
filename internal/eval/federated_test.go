package eval_test

import (
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/demo"
	"github.com/xsoc/xsoc/internal/eval"
	"github.com/xsoc/xsoc/internal/scenario"
)

// TestFederatedComparesWithAndWithoutWarning replays the demo scenario
// with every member on its own node (the national SOC's intel on its
// node only). With a warning active a second after each detection, the
// victims after the first have their contact with the campaign alerted
// by a warning from the first victim's country, never later than without
// it; with a warning that comes too late for the scenario, nothing
// changes.
func TestFederatedComparesWithAndWithoutWarning(t *testing.T) {
	cfg := scenario.DemoConfig(1)
	for _, tc := range []struct {
		name   string
		delay  time.Duration
		warned bool
	}{
		{"one second", time.Second, true},
		{"after the scenario", 48 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := eval.RunFederated(cfg, eval.FederatedOptions{Delay: tc.delay, Node: func(member string) (eval.Node, error) {
				dets, index, err := demo.NodeDetectors(cfg, member, nil)
				return eval.Node{Detectors: dets, Index: index}, err
			}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pushed == 0 || len(rep.Victims) < 2 {
				t.Fatalf("nothing pushed or fewer than two victims: %+v", rep)
			}
			first := rep.Victims[0]
			if first.Member != demo.IntelOwner || first.WarnedBy != "" || first.TimeToIOCAlert < 0 {
				t.Errorf("first victim %+v: want the intel owner, alerted by its own intel, warned by nobody", first)
			}
			for _, v := range rep.Victims[1:] {
				if v.TimeToDetect < 0 || v.TimeToDetectWarned < 0 || v.TimeToDetectWarned > v.TimeToDetect {
					t.Errorf("%s: time to detect %v without the warning, %v with it", v.Member, v.TimeToDetect, v.TimeToDetectWarned)
				}
				if v.TimeToIOCAlert >= 0 {
					t.Errorf("%s: an IOC alert without the warning (its node holds no intel)", v.Member)
				}
				switch {
				case tc.warned && (v.WarnedBy == "" || v.WarnedFrom != first.Country || v.TimeToIOCAlertWarned < 0 || v.WarnedAt < v.TimeToIOCAlertWarned):
					t.Errorf("%s: warned by %q from %q after %v, first IOC alert after %v; want a warning from %s",
						v.Member, v.WarnedBy, v.WarnedFrom, v.WarnedAt, v.TimeToIOCAlertWarned, first.Country)
				case !tc.warned && (v.WarnedBy != "" || v.TimeToIOCAlertWarned >= 0 || v.TimeToDetectWarned != v.TimeToDetect):
					t.Errorf("%s: a warning active after the scenario changed its detection: %+v", v.Member, v)
				}
			}
			if tc.warned != (rep.WarnedTruePositives > 0) || !tc.warned && rep.WarnedFalsePositives != 0 {
				t.Errorf("records named by warned alerts: %d malicious, %d benign", rep.WarnedTruePositives, rep.WarnedFalsePositives)
			}
		})
	}
}
