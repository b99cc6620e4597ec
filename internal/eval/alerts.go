package eval

import (
	"strconv"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/scenario"
)

// Alerts replays the scenario of cfg through detectors, as Run does, and
// hands every detection to fn in event-time order with its ground truth:
// malicious when one of the records it names is labelled. It is for
// evaluating what consumes alerts (the triage model) rather than what
// raises them. fn must not keep a's slices.
func Alerts(cfg scenario.Config, detectors []detect.Detector, fn func(a *alert.Alert, malicious bool)) (Report, error) {
	r := newRun(cfg, detectors)
	hooks := &replayHooks{
		before: func(*event.Event) error { return nil },
		after: func(_ *event.Event, alerts []alert.Alert) {
			for i := range alerts {
				a := &alerts[i]
				malicious := false
				for _, id := range a.EventIDs {
					if n, err := strconv.Atoi(id); err == nil && r.labels[n] != nil {
						malicious = true
						break
					}
				}
				fn(a, malicious)
			}
		},
	}
	if err := r.replay(cfg, func(string) []detect.Detector { return detectors }, hooks); err != nil {
		return Report{}, err
	}
	return r.finish(), nil
}
