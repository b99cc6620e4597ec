// Package detect defines what every detection engine (detect/sigma,
// detect/ioc, detect/ml) offers the pipeline.
package detect

import (
	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// Detector inspects normalised events one at a time.
//
// Detect tests ev and appends one alert.Alert per detection to out,
// returning the extended slice; on the common no-detection path it must not
// allocate. Alerts carry Member, EventTime, Detector, RuleID, RuleTitle,
// Severity, Techniques, Observables, TLP, Key and the triggering event's id
// and JSON (EventIDs, Evidence); the alert package does the rest.
//
// Detectors are safe for concurrent use: the pipeline calls Detect from
// several goroutines. A detector that keeps state across events (Sigma
// correlations, ML baselines) guards it itself and bounds its memory.
type Detector interface {
	Name() string
	Detect(ev *event.Event, out []alert.Alert) []alert.Alert
}

// BatchSize is how many events the pipeline hands the detectors at a
// time, right after normalising them. An event is most of a kilobyte of
// slots plus its values; a thousand-line batch normalised in full would
// have pushed its first events out of the processor's cache by the time
// detection reached them, and reading the fields back from memory cost
// the Sigma engine 40 % of its time. Sixty-four events (about 200 KB) stay
// cached and still give a batch detector such as the IOC index enough
// events to overlap its memory reads. Benchmarks hand events over the
// same way.
const BatchSize = 64

// BatchDetector is a Detector that can also test many events at once,
// which lets it overlap work across events — the IOC index keeps dozens of
// memory reads in flight instead of one event's few. DetectBatch must
// append exactly the alerts that calling Detect on each event in order
// would append, in the same order.
type BatchDetector interface {
	Detector
	DetectBatch(evs []*event.Event, out []alert.Alert) []alert.Alert
}
