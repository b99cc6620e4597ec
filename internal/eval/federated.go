package eval

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/scenario"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Node is one member's own node in a federated replay: its detectors,
// and its IOC index (one of them), which early warnings are added to.
type Node struct {
	Detectors []detect.Detector
	Index     *ioc.Index
}

// FederatedOptions configure RunFederated.
type FederatedOptions struct {
	// Node builds a fresh node for a member; it is called once per
	// member and replay.
	Node func(member string) (Node, error)
	// Delay is the event time from a detection at one node to its
	// warning being active at the others.
	Delay time.Duration
}

// FederatedVictim is one victim's detection without and with the early
// warning. Durations are from the victim's first malicious record; -1
// means never.
type FederatedVictim struct {
	Campaign string    `json:"campaign"`
	Member   string    `json:"member"`
	Country  string    `json:"country"`
	Start    time.Time `json:"start"`
	// TimeToDetect is the time to the first alert of any detector.
	TimeToDetect       time.Duration `json:"time_to_detect"`
	TimeToDetectWarned time.Duration `json:"time_to_detect_warned"`
	FirstAlert         string        `json:"first_alert,omitempty"`
	FirstAlertWarned   string        `json:"first_alert_warned,omitempty"`
	// TimeToIOCAlert is the time to the first IOC alert: a value the
	// node knew (from its intel, or from a warning) seen at the victim.
	TimeToIOCAlert       time.Duration `json:"time_to_ioc_alert"`
	TimeToIOCAlertWarned time.Duration `json:"time_to_ioc_alert_warned"`
	// WarnedBy is the first alert a warning raised at this victim, and
	// WarnedFrom the country the warning came from.
	WarnedBy   string `json:"warned_by,omitempty"`
	WarnedFrom string `json:"warned_from,omitempty"`
	// WarnedAt is when that alert's record came, from Start.
	WarnedAt time.Duration `json:"warned_at"`
}

// FederatedReport compares two replays of one scenario with every member
// on its own node: without the early warning, and with it.
type FederatedReport struct {
	Seed  uint64        `json:"seed"`
	Delay time.Duration `json:"delay"`
	// Pushed counts the indicators the warnings carried, per receiving
	// node (each detected value once per node).
	Pushed int `json:"pushed"`
	// WarnedTruePositives and WarnedFalsePositives count the malicious
	// and the benign records that alerts raised by warnings named: what
	// the warnings caught, and the noise they brought.
	WarnedTruePositives  int               `json:"warned_true_positives"`
	WarnedFalsePositives int               `json:"warned_false_positives"`
	Victims              []FederatedVictim `json:"victims"`
}

// RunFederated replays the scenario twice, each member on its own node
// built by opts.Node: once as it is, once with the early warning — every
// alert's pushable observables (federation.Pushable: public addresses,
// domains, URLs, hashes, senders), except those of alerts a warning
// raised, become indicators in every other node's IOC index opts.Delay
// after the record that raised the alert (in event time, as the replay
// runs in event-time order). It compares, per victim, the time to the
// first alert and to the first IOC alert.
func RunFederated(cfg scenario.Config, opts FederatedOptions) (FederatedReport, error) {
	without, _, err := replayFederated(cfg, opts, false)
	if err != nil {
		return FederatedReport{}, err
	}
	with, w, err := replayFederated(cfg, opts, true)
	if err != nil {
		return FederatedReport{}, err
	}
	rep := FederatedReport{Seed: cfg.Seed, Delay: opts.Delay, Pushed: w.pushed,
		WarnedTruePositives: w.truePos, WarnedFalsePositives: w.falsePos}
	for key, v := range without.victims {
		wv := with.victims[key]
		fv := FederatedVictim{Campaign: v.Campaign, Member: v.Member, Country: v.Country, Start: v.Start,
			TimeToDetect: v.TimeToDetect, FirstAlert: v.FirstBy, TimeToIOCAlert: -1, TimeToIOCAlertWarned: -1,
			TimeToDetectWarned: -1, WarnedAt: -1}
		if d, ok := without.firstIOC[key]; ok {
			fv.TimeToIOCAlert = d
		}
		if wv != nil {
			fv.TimeToDetectWarned, fv.FirstAlertWarned = wv.TimeToDetect, wv.FirstBy
			if d, ok := with.firstIOC[key]; ok {
				fv.TimeToIOCAlertWarned = d
			}
		}
		if f, ok := w.first[key]; ok {
			fv.WarnedBy, fv.WarnedFrom, fv.WarnedAt = f.title, f.from, f.at.Sub(v.Start)
		}
		rep.Victims = append(rep.Victims, fv)
	}
	sort.Slice(rep.Victims, func(i, j int) bool { return rep.Victims[i].Start.Before(rep.Victims[j].Start) })
	return rep, nil
}

// warner plays the early warning in a federated replay.
type warner struct {
	delay  time.Duration
	nodes  map[string]Node
	labels map[int]*scenario.Label // the run's labels, by record index
	// queue holds warnings not yet active, in activation order (records
	// come in event-time order and the delay is fixed).
	queue []pendingWarning
	// known is, per node, the values it was warned of; warned the ids
	// of the indicators warnings made, whose alerts are not pushed on.
	known  map[string]map[string]bool
	warned map[string]string // indicator id → country it came from
	pushed int
	// first is, per victim, the first alert a warning raised on one of
	// its malicious records.
	first map[string]firstWarned
	// alerted counts the records warned alerts named, malicious and
	// benign (each record once).
	alerted           map[int]bool
	truePos, falsePos int
}

type pendingWarning struct {
	at   time.Time
	node string
	ind  ioc.Indicator
}

type firstWarned struct {
	title, from string
	at          time.Time
}

// replayFederated runs one replay, with or without warnings.
func replayFederated(cfg scenario.Config, opts FederatedOptions, warn bool) (*run, *warner, error) {
	nodes := map[string]Node{}
	var all []detect.Detector
	countries := map[string]string{}
	for _, m := range membersOf(cfg) {
		n, err := opts.Node(m.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("node of %s: %w", m.ID, err)
		}
		nodes[m.ID] = n
		countries[m.ID] = m.Country
		if len(all) == 0 {
			all = n.Detectors
		}
	}
	r := newRun(cfg, all)
	w := &warner{delay: opts.Delay, nodes: nodes, labels: r.labels, known: map[string]map[string]bool{},
		warned: map[string]string{}, first: map[string]firstWarned{}, alerted: map[int]bool{}}
	var hooks *replayHooks
	if warn {
		hooks = &replayHooks{
			before: w.activate,
			after: func(ev *event.Event, alerts []alert.Alert) {
				w.observe(ev, alerts, countries[ev.Member])
			},
		}
	}
	err := r.replay(cfg, func(member string) []detect.Detector { return nodes[member].Detectors }, hooks)
	return r, w, err
}

// membersOf returns the scenario's members.
func membersOf(cfg scenario.Config) []scenario.Member {
	if cfg.Members != nil {
		return cfg.Members
	}
	return scenario.DefaultMembers()
}

// activate makes the warnings due by ev's time active at their nodes.
func (w *warner) activate(ev *event.Event) error {
	n := 0
	for n < len(w.queue) && !w.queue[n].at.After(ev.Time) {
		n++
	}
	if n == 0 {
		return nil
	}
	batches := map[string]*ioc.Batch{}
	for _, p := range w.queue[:n] {
		b := batches[p.node]
		if b == nil {
			b = w.nodes[p.node].Index.NewBatch()
			batches[p.node] = b
		}
		if err := b.Add(p.ind); err != nil {
			return err
		}
	}
	w.queue = w.queue[n:]
	for _, b := range batches {
		if err := b.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// observe pushes the external observables of an event's alerts to the
// other nodes, as the member node's warner would, and notes the first
// alert a warning raised at each victim.
func (w *warner) observe(ev *event.Event, alerts []alert.Alert, country string) {
	for i := range alerts {
		a := &alerts[i]
		if from, ok := w.warned[a.RuleID]; ok && a.Detector == "ioc" {
			w.noteFirst(ev, a, from)
			continue // its origin's to share, not this node's
		}
		for _, o := range a.Observables {
			kind, ok := federation.ObservableKind(o.Type)
			if !ok || !federation.Pushable(a, o) {
				continue
			}
			value := strings.TrimSpace(o.Value)
			id := stix.NameID("indicator", "eval-warning|"+ev.Member+"|"+o.Type+"|"+strings.ToLower(value))
			for node := range w.nodes {
				key := kind.String() + "|" + strings.ToLower(value)
				if node == ev.Member || w.known[node][key] {
					continue
				}
				if w.known[node] == nil {
					w.known[node] = map[string]bool{}
				}
				w.known[node][key] = true
				w.warned[id] = country
				w.pushed++
				w.queue = append(w.queue, pendingWarning{at: ev.Time.Add(w.delay), node: node, ind: ioc.Indicator{
					ID: id, Kind: kind, Value: value, Source: "cross-border warning from " + country,
					Owner: "warning-from-" + ev.Member, Confidence: 80, TLP: tlp.Green,
				}})
			}
		}
	}
}

// noteFirst counts the records a warned alert names, and records it as
// a victim's first if it is.
func (w *warner) noteFirst(ev *event.Event, a *alert.Alert, from string) {
	for _, id := range a.EventIDs {
		i, err := strconv.Atoi(id)
		if err != nil || w.alerted[i] {
			continue
		}
		w.alerted[i] = true
		l := w.labels[i]
		if l == nil {
			w.falsePos++
			continue
		}
		w.truePos++
		if _, ok := w.first[victimKey(l)]; !ok {
			w.first[victimKey(l)] = firstWarned{title: a.RuleTitle, from: from, at: l.Time}
		}
	}
}

// Print writes the comparison as a table.
func (rep FederatedReport) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario seed %d, every member on its own node; early warning active %v after the detection (event time)\n", rep.Seed, rep.Delay)
	fmt.Fprintf(w, "%d indicators pushed; alerts they raised named %d malicious and %d benign records\n\n",
		rep.Pushed, rep.WarnedTruePositives, rep.WarnedFalsePositives)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tMEMBER\tCOUNTRY\tATTACK STARTED\tTIME TO DETECT\tWITH WARNING\tFIRST IOC ALERT\tWITH WARNING\tFIRST WARNED ALERT")
	for _, v := range rep.Victims {
		warned := "—"
		if v.WarnedBy != "" {
			warned = fmt.Sprintf("%s, after %s (warned from %s)", v.WarnedBy, span(v.WarnedAt), v.WarnedFrom)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Campaign, v.Member, v.Country, v.Start.UTC().Format(time.DateTime),
			span(v.TimeToDetect), span(v.TimeToDetectWarned), span(v.TimeToIOCAlert), span(v.TimeToIOCAlertWarned), warned)
	}
	tw.Flush()
}

// span renders a time to detect: "missed" for never.
func span(d time.Duration) string {
	if d < 0 {
		return "missed"
	}
	return d.String()
}
