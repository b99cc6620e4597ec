package ml

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// DGADetectorName is the detector name on DGA alerts, and their rule id.
const DGADetectorName = "ml-dga"

// Stats counts what a detector did with the events it was handed.
type Stats struct {
	// Scored events had the fields the detector needs.
	Scored atomic.Uint64
	// Skipped events were of the detector's kind (a DNS event, a
	// connection) but lacked a field it needs or held an unusable value.
	Skipped atomic.Uint64
	// Alerts raised.
	Alerts atomic.Uint64
}

// DGA flags DNS queries for names that look machine-generated. It is
// stateless apart from its counters and safe for concurrent use.
type DGA struct {
	model    *DGAModel
	stats    Stats
	suffixes suffixCache
}

// NewDGA returns a detector scoring with model (DefaultDGAModel when nil).
func NewDGA(model *DGAModel) *DGA {
	if model == nil {
		model = DefaultDGAModel()
	}
	return &DGA{model: model}
}

// Name returns DGADetectorName.
func (d *DGA) Name() string { return DGADetectorName }

// Stats returns the detector's counters.
func (d *DGA) Stats() *Stats { return &d.stats }

// Model returns the model the detector scores with.
func (d *DGA) Model() *DGAModel { return d.model }

// Detect scores the query name of a DNS event. It does not allocate
// unless it raises an alert, the name has upper-case letters, or its zone
// is not in the suffix cache yet.
func (d *DGA) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	name := ev.Key(event.DnsQuestionName)
	if name == "" {
		if isDNS(ev) {
			d.stats.Skipped.Add(1)
		}
		return out
	}
	label, ok := labelOf(name, &d.suffixes)
	if !ok {
		d.stats.Skipped.Add(1)
		return out
	}
	d.stats.Scored.Add(1)
	f := d.model.Features(label)
	p := d.model.Probability(&f)
	if p < d.model.Threshold {
		return out
	}
	d.stats.Alerts.Add(1)
	return append(out, d.alert(ev, name, label, p, &f))
}

// isDNS reports whether ev is a DNS event by its protocol or dataset.
func isDNS(ev *event.Event) bool {
	return ev.Key(event.NetworkProtocol) == "dns" || strings.HasSuffix(ev.Key(event.EventDataset), "dns")
}

func (d *DGA) alert(ev *event.Event, name, label string, p float64, f *DGAFeatures) alert.Alert {
	registrable := strings.ToLower(strings.TrimSuffix(name, "."))
	if i := strings.LastIndex(registrable, label+"."); i >= 0 {
		registrable = registrable[i:]
	}
	return alert.Alert{
		Member:      ev.Member,
		EventTime:   ev.Time,
		Detector:    DGADetectorName,
		RuleID:      DGADetectorName,
		RuleTitle:   fmt.Sprintf("DGA-like domain %s (score %.3f): %s", registrable, p, Describe(d.model.Explain(f, 3))),
		Severity:    alert.Medium,
		Techniques:  []string{"T1568.002"},
		Observables: detect.Observables(ev),
		Key:         registrable,
		Evidence:    []string{string(ev.AppendJSON(nil))},
		EventIDs:    eventIDs(ev),
	}
}

// Describe renders contributions for people: "length 19 vs 11.2, …".
func Describe(cs []Contribution) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s vs %s", c.Feature, number(c.Value), number(c.Baseline))
	}
	return b.String()
}

// number prints a feature value briefly: integers as integers.
func number(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func eventIDs(ev *event.Event) []string {
	if ev.ID == "" {
		return nil
	}
	return []string{ev.ID}
}

// RegisterStats exposes a detector's counters as Prometheus metrics
// xsoc_ml_events_total{detector, outcome="scored"|"skipped"} and
// xsoc_ml_alerts_total{detector}.
func RegisterStats(reg prometheus.Registerer, detector string, s *Stats) {
	labels := prometheus.Labels{"detector": detector}
	for outcome, c := range map[string]*atomic.Uint64{"scored": &s.Scored, "skipped": &s.Skipped} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "xsoc_ml_events_total", Help: "Events an ML detector scored, or skipped for lacking the fields it needs.",
			ConstLabels: prometheus.Labels{"detector": detector, "outcome": outcome},
		}, func() float64 { return float64(c.Load()) }))
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "xsoc_ml_alerts_total", Help: "Alerts an ML detector raised.", ConstLabels: labels,
	}, func() float64 { return float64(s.Alerts.Load()) }))
}
