package eval

import (
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/scenario"
)

// commandLine flags every event whose command line contains needle.
type commandLine struct{ needle string }

func (commandLine) Name() string { return "probe" }
func (c commandLine) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	if v, ok := ev.Get("process.command_line"); ok && strings.Contains(v, c.needle) {
		out = append(out, alert.Alert{Detector: "probe", RuleTitle: "needle", EventIDs: []string{ev.ID}})
	}
	return out
}

// TestScenarioParsesAndScores replays the demo scenario: every record of
// every wire format must pass the input parsers, and a probe that knows
// the campaign's LSASS dump must be scored as detecting exactly that
// technique at every victim.
func TestScenarioParsesAndScores(t *testing.T) {
	cfg := scenario.DemoConfig(3)
	rep, err := Run(cfg, []detect.Detector{commandLine{"comsvcs.dll, MiniDump"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 0 {
		t.Fatalf("%d of %d scenario records refused by the parsers", rep.Rejected, rep.Records)
	}
	if rep.Malicious == 0 || len(rep.Victims) < 2 {
		t.Fatalf("scenario without attacks: %+v", rep)
	}
	var probe DetectorScore
	for _, d := range rep.Detectors {
		if d.Detector == "probe" {
			probe = d
		}
	}
	if probe.FalsePositives != 0 {
		t.Errorf("probe fired on %d benign records", probe.FalsePositives)
	}
	for _, tech := range rep.Techniques {
		caught := tech.Detected > 0
		if tech.Technique != "T1003.001" && caught {
			t.Errorf("technique %s scored as detected by a probe for T1003.001", tech.Technique)
		}
	}
	if probe.TruePositives == 0 {
		// The campaign dumps LSASS with comsvcs or with a renamed
		// Mimikatz; with this seed at least one victim sees comsvcs.
		t.Errorf("probe for comsvcs MiniDump caught nothing")
	}
}
