// Package eval measures detection against ground truth: it replays a
// labelled scenario (internal/scenario) through the input parsers and
// every detector, then reports, per detector and per ATT&CK technique,
// what was detected, what was missed, what fired on benign telemetry, and
// how long after the attack began each victim's first alert came.
//
// Replay is in-process and in event-time order, without the bus or the
// store, so the numbers isolate detection quality; the throughput it
// reports is that of parsing plus detection on one goroutine.
package eval

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/scenario"
)

// DetectorScore is one detector's record-level outcome.
type DetectorScore struct {
	Detector string `json:"detector"`
	// Alerts is the number of detections raised (before deduplication).
	Alerts int `json:"alerts"`
	// TruePositives are labelled records that raised at least one of the
	// detector's alerts; FalsePositives are benign records that did.
	TruePositives  int `json:"true_positives"`
	FalsePositives int `json:"false_positives"`
	// Rules lists the rules that fired on benign records, with counts:
	// where to tune.
	NoisyRules map[string]int `json:"noisy_rules,omitempty"`
	// CaughtRules are the alert titles on labelled records, with counts.
	CaughtRules map[string]int `json:"caught_rules,omitempty"`
}

// Precision is TP / (TP + FP) over records.
func (d DetectorScore) Precision() float64 {
	if d.TruePositives+d.FalsePositives == 0 {
		return 0
	}
	return float64(d.TruePositives) / float64(d.TruePositives+d.FalsePositives)
}

// TechniqueScore is one ATT&CK technique's outcome over all victims.
type TechniqueScore struct {
	Technique string `json:"technique"`
	Phase     string `json:"phase"`
	// Labelled and Detected count records; Victims and VictimsDetected
	// count (campaign, member) pairs that saw the technique.
	Labelled        int      `json:"labelled"`
	Detected        int      `json:"detected"`
	Victims         int      `json:"victims"`
	VictimsDetected int      `json:"victims_detected"`
	By              []string `json:"by,omitempty"` // detectors that caught it
}

// VictimScore is one campaign's attack on one member.
type VictimScore struct {
	Campaign string `json:"campaign"`
	Member   string `json:"member"`
	Country  string `json:"country"`
	// Start is the event time of the first malicious record.
	Start time.Time `json:"start"`
	// TimeToDetect is the event time from Start to the first alerted
	// malicious record; negative means never detected.
	TimeToDetect time.Duration `json:"time_to_detect"`
	FirstBy      string        `json:"first_by,omitempty"`
}

// TechniqueVictim is one technique at one victim: when its first record
// came and how long until one of its records was alerted.
type TechniqueVictim struct {
	Technique string    `json:"technique"`
	Campaign  string    `json:"campaign"`
	Member    string    `json:"member"`
	Start     time.Time `json:"start"`
	// TimeToDetect is the event time from Start to the first alerted
	// record of the technique; negative means never detected.
	TimeToDetect time.Duration `json:"time_to_detect"`
}

// Report is the outcome of a replay.
type Report struct {
	Seed       uint64           `json:"seed"`
	Records    int              `json:"records"`
	Malicious  int              `json:"malicious"`
	Rejected   int              `json:"rejected"` // records the parsers refused
	Detectors  []DetectorScore  `json:"detectors"`
	Techniques []TechniqueScore `json:"techniques"`
	Victims    []VictimScore    `json:"victims"`
	// TechniqueVictims are the techniques per victim, in order of
	// technique, then start.
	TechniqueVictims []TechniqueVictim `json:"technique_victims"`
	// EventsPerSecond is parse + detect throughput of the replay.
	EventsPerSecond float64 `json:"events_per_second"`
}

// Run generates the scenario of cfg and replays it through detectors.
func Run(cfg scenario.Config, detectors []detect.Detector) (Report, error) {
	r := newRun(cfg, detectors)
	if err := r.replay(cfg, func(string) []detect.Detector { return detectors }, nil); err != nil {
		return Report{}, err
	}
	return r.finish(), nil
}

func newRun(cfg scenario.Config, detectors []detect.Detector) *run {
	r := &run{
		report:   Report{Seed: cfg.Seed},
		byDet:    map[string]*DetectorScore{},
		byTech:   map[string]*TechniqueScore{},
		victims:  map[string]*VictimScore{},
		labels:   map[int]*scenario.Label{},
		firstIOC: map[string]time.Duration{},
	}
	for _, d := range detectors {
		r.byDet[d.Name()] = &DetectorScore{Detector: d.Name(), NoisyRules: map[string]int{}}
	}
	return r
}

// replay streams the scenario in event-time order through the detectors
// of each record's member, scoring every alert. before, if set, runs
// before an event is detected; after with its alerts.
func (r *run) replay(cfg scenario.Config, detectorsOf func(member string) []detect.Detector, hooks *replayHooks) error {
	var parser format.Parser
	ev := new(event.Event)
	var alerts []alert.Alert
	started := time.Now()
	index := 0
	err := scenario.Stream(cfg, func(rec scenario.Record) error {
		i := index
		index++
		r.report.Records++
		if rec.Label != nil {
			r.label(rec.Label)
		}
		ev.Reset()
		f, err := format.ParseFormat(rec.Format)
		if err == nil {
			err = parser.Parse(f, rec.Line, ev)
		}
		if err != nil {
			r.report.Rejected++
			return nil
		}
		ev.Member, ev.ID = rec.Member, strconv.Itoa(i)
		if ev.Time.IsZero() {
			ev.Time = rec.Time
		}
		if hooks != nil {
			if err := hooks.before(ev); err != nil {
				return err
			}
		}
		alerts = alerts[:0]
		for _, d := range detectorsOf(rec.Member) {
			alerts = d.Detect(ev, alerts)
		}
		for _, a := range alerts {
			r.score(a)
		}
		if hooks != nil {
			hooks.after(ev, alerts)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if secs := time.Since(started).Seconds(); secs > 0 {
		r.report.EventsPerSecond = float64(r.report.Records) / secs
	}
	return nil
}

// replayHooks let a replay act around each event's detection.
type replayHooks struct {
	before func(ev *event.Event) error
	after  func(ev *event.Event, alerts []alert.Alert)
}

type run struct {
	report  Report
	byDet   map[string]*DetectorScore
	byTech  map[string]*TechniqueScore
	victims map[string]*VictimScore
	labels  map[int]*scenario.Label
	// alerted remembers which records raised which detectors' alerts, so
	// that a record counts once per detector and once per technique.
	alerted map[int]map[string]bool
	// techVictims records (technique, victim) pairs seen and detected.
	techVictims map[[2]string]bool
	techCaught  map[[2]string]bool
	// techTimes holds each (technique, victim)'s first record time and
	// its time to detect.
	techTimes map[[2]string]*TechniqueVictim
	// firstIOC is, per victim, the time from its first malicious record
	// to the first one an IOC alert named: when its contact with the
	// campaign's infrastructure was first seen.
	firstIOC map[string]time.Duration
}

func victimKey(l *scenario.Label) string { return l.Campaign + "/" + l.Member }

func (r *run) label(l *scenario.Label) {
	r.report.Malicious++
	r.labels[l.Index] = l
	t := r.tech(l.Technique, l.Phase)
	t.Labelled++
	if r.techVictims == nil {
		r.techVictims, r.techCaught = map[[2]string]bool{}, map[[2]string]bool{}
	}
	tv := [2]string{l.Technique, victimKey(l)}
	r.techVictims[tv] = true
	if r.techTimes == nil {
		r.techTimes = map[[2]string]*TechniqueVictim{}
	}
	if r.techTimes[tv] == nil {
		r.techTimes[tv] = &TechniqueVictim{Technique: l.Technique, Campaign: l.Campaign, Member: l.Member, Start: l.Time, TimeToDetect: -1}
	}
	if _, ok := r.victims[victimKey(l)]; !ok {
		r.victims[victimKey(l)] = &VictimScore{Campaign: l.Campaign, Member: l.Member, Country: l.Country,
			Start: l.Time, TimeToDetect: -1}
	}
}

func (r *run) tech(id, phase string) *TechniqueScore {
	t, ok := r.byTech[id]
	if !ok {
		t = &TechniqueScore{Technique: id, Phase: phase}
		r.byTech[id] = t
	}
	return t
}

// score attributes one alert to the records it names.
func (r *run) score(a alert.Alert) {
	d := r.byDet[a.Detector]
	if d == nil {
		d = &DetectorScore{Detector: a.Detector, NoisyRules: map[string]int{}}
		r.byDet[a.Detector] = d
	}
	d.Alerts++
	if r.alerted == nil {
		r.alerted = map[int]map[string]bool{}
	}
	for _, id := range a.EventIDs {
		i, err := strconv.Atoi(id)
		if err != nil {
			continue
		}
		seen := r.alerted[i]
		if seen == nil {
			seen = map[string]bool{}
			r.alerted[i] = seen
		}
		first := !seen[a.Detector]
		seen[a.Detector] = true
		l := r.labels[i]
		if l == nil {
			if first {
				d.FalsePositives++
				d.NoisyRules[a.RuleTitle]++
			}
			continue
		}
		if first {
			d.TruePositives++
			if d.CaughtRules == nil {
				d.CaughtRules = map[string]int{}
			}
			d.CaughtRules[a.RuleTitle]++
			t := r.tech(l.Technique, l.Phase)
			if len(seen) == 1 {
				t.Detected++
			}
			if !slices.Contains(t.By, a.Detector) {
				t.By = append(t.By, a.Detector)
			}
			r.techCaught[[2]string{l.Technique, victimKey(l)}] = true
		}
		if tv := r.techTimes[[2]string{l.Technique, victimKey(l)}]; tv != nil && tv.TimeToDetect < 0 {
			tv.TimeToDetect = l.Time.Sub(tv.Start)
		}
		v := r.victims[victimKey(l)]
		if v.TimeToDetect < 0 {
			v.TimeToDetect = l.Time.Sub(v.Start)
			v.FirstBy = a.Detector + ": " + a.RuleTitle
		}
		if _, ok := r.firstIOC[victimKey(l)]; !ok && a.Detector == "ioc" {
			r.firstIOC[victimKey(l)] = l.Time.Sub(v.Start)
		}
	}
}

func (r *run) finish() Report {
	rep := r.report
	for tv := range r.techVictims {
		t := r.byTech[tv[0]]
		t.Victims++
		if r.techCaught[tv] {
			t.VictimsDetected++
		}
	}
	for _, d := range r.byDet {
		rep.Detectors = append(rep.Detectors, *d)
	}
	sort.Slice(rep.Detectors, func(i, j int) bool { return rep.Detectors[i].Detector < rep.Detectors[j].Detector })
	for _, t := range r.byTech {
		sort.Strings(t.By)
		rep.Techniques = append(rep.Techniques, *t)
	}
	sort.Slice(rep.Techniques, func(i, j int) bool { return rep.Techniques[i].Technique < rep.Techniques[j].Technique })
	for _, v := range r.victims {
		rep.Victims = append(rep.Victims, *v)
	}
	sort.Slice(rep.Victims, func(i, j int) bool { return rep.Victims[i].Start.Before(rep.Victims[j].Start) })
	for _, tv := range r.techTimes {
		rep.TechniqueVictims = append(rep.TechniqueVictims, *tv)
	}
	sort.Slice(rep.TechniqueVictims, func(i, j int) bool {
		a, b := rep.TechniqueVictims[i], rep.TechniqueVictims[j]
		return a.Technique < b.Technique || a.Technique == b.Technique && a.Start.Before(b.Start)
	})
	return rep
}

// Print writes the report as tables.
func (rep Report) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario seed %d: %d records, %d malicious, %d refused by parsers; replay %.0f events/s (parse + detect, one goroutine)\n\n",
		rep.Seed, rep.Records, rep.Malicious, rep.Rejected, rep.EventsPerSecond)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTOR\tALERTS\tTRUE POS (records)\tFALSE POS (records)\tPRECISION")
	for _, d := range rep.Detectors {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\n", d.Detector, d.Alerts, d.TruePositives, d.FalsePositives, d.Precision())
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TECHNIQUE\tPHASE\tRECORDS\tDETECTED\tVICTIMS\tVICTIMS DETECTED\tBY")
	for _, t := range rep.Techniques {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", t.Technique, t.Phase, t.Labelled, t.Detected, t.Victims, t.VictimsDetected, strings.Join(t.By, ","))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tMEMBER\tCOUNTRY\tATTACK STARTED\tTIME TO DETECT\tFIRST ALERT")
	for _, v := range rep.Victims {
		ttd := "missed"
		if v.TimeToDetect >= 0 {
			ttd = v.TimeToDetect.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Campaign, v.Member, v.Country, v.Start.UTC().Format(time.DateTime), ttd, v.FirstBy)
	}
	tw.Flush()
	for _, d := range rep.Detectors {
		if len(d.NoisyRules) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s rules that fired on benign records:\n", d.Detector)
		type kv struct {
			k string
			v int
		}
		var list []kv
		for k, v := range d.NoisyRules {
			list = append(list, kv{k, v})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v || list[i].v == list[j].v && list[i].k < list[j].k })
		for _, e := range list[:min(len(list), 10)] {
			fmt.Fprintf(w, "  %6d  %s\n", e.v, e.k)
		}
	}
}
