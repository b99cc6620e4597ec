package ml

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

// TriageEvalOptions set up EvalTriage; zero values take defaults.
type TriageEvalOptions struct {
	// Detector restricts the alerts ranked (and counted for precision) to
	// one detector's, such as "sigma"; every alert is still context for
	// the others. Empty ranks all.
	Detector string
	// DedupWindow folds detections as the alert service does (same
	// member, detector, rule and key within the window); default 15
	// minutes, negative folds nothing (every detection is an alert).
	DedupWindow time.Duration
	// Top is the share of the test alerts whose precision is reported
	// (default 0.1).
	Top float64
	// Triage tunes the model.
	Triage TriageOptions
}

// TriageEval is the outcome of EvalTriage.
type TriageEval struct {
	Detections int `json:"detections"`
	// Alerts after folding; Train and Test are the halves (the ranked
	// detector's alerts only), TrainConfirmed and TestConfirmed how many
	// of each are malicious.
	Alerts         int `json:"alerts"`
	Train          int `json:"train"`
	TrainConfirmed int `json:"train_confirmed"`
	Test           int `json:"test"`
	TestConfirmed  int `json:"test_confirmed"`
	// Baseline is the precision of all test alerts: what an analyst
	// working through them in any order confirms.
	Baseline float64 `json:"baseline_precision"`
	// TopN is the number of test alerts in the top share of each
	// member's list (summed over members); PrecisionAtTop their precision
	// when each list is ranked by triage score, and SeverityAtTop when
	// ranked by severity (then newest first), the order a console sorts
	// by without the model.
	TopN           int     `json:"top_n"`
	PrecisionAtTop float64 `json:"precision_at_top"`
	// BestAtTop is the highest precision the top share can have (all
	// confirmed alerts first: fewer of them than TopN caps it), and
	// RecallAtTop the share of the confirmed test alerts the top holds.
	BestAtTop     float64 `json:"best_precision_at_top"`
	RecallAtTop   float64 `json:"recall_at_top"`
	SeverityAtTop float64 `json:"severity_precision_at_top"`
	// AUC is the ROC AUC of the triage score over each member's test
	// alerts, averaged over the AUCMembers members whose list holds both
	// malicious and benign alerts.
	AUC        float64 `json:"auc"`
	AUCMembers int     `json:"auc_members"`
	// Examples are the best-scored test alerts, with their factors.
	Examples []TriageExample `json:"examples"`
}

// TriageExample is one scored alert of an evaluation.
type TriageExample struct {
	Rule      string               `json:"rule"`
	Severity  string               `json:"severity"`
	Malicious bool                 `json:"malicious"`
	Score     float64              `json:"score"`
	Factors   []alert.TriageFactor `json:"factors"`
}

// TriageEvaluator collects a replay's detections for EvalTriage.
type TriageEvaluator struct {
	opts       TriageEvalOptions
	detections int
	alerts     []evalAlert
	open       map[string]int // fingerprint → index of its open alert
}

type evalAlert struct {
	a         alert.Alert
	lastSeen  time.Time
	malicious bool
}

// NewTriageEvaluator returns an evaluator to Add a replay's detections
// to, in event-time order.
func NewTriageEvaluator(opts TriageEvalOptions) *TriageEvaluator {
	if opts.DedupWindow == 0 {
		opts.DedupWindow = 15 * time.Minute
	}
	if opts.Top <= 0 || opts.Top > 1 {
		opts.Top = 0.1
	}
	return &TriageEvaluator{opts: opts, open: map[string]int{}}
}

// Add folds one detection, with its ground truth, into the alerts: into
// the open alert of its member, detector, rule and key when one was seen
// within the window, else as a new alert. An alert is malicious when any
// detection it folds is.
func (e *TriageEvaluator) Add(a *alert.Alert, malicious bool) {
	e.detections++
	key := alert.KeyOf(a)
	fp := a.Member + "\x00" + a.Detector + "\x00" + a.RuleID + "\x00" + key
	if i, ok := e.open[fp]; ok && e.opts.DedupWindow > 0 {
		ea := &e.alerts[i]
		if !a.EventTime.After(ea.lastSeen.Add(e.opts.DedupWindow)) {
			ea.lastSeen = maxTime(ea.lastSeen, a.EventTime)
			ea.malicious = ea.malicious || malicious
			ea.a.Count++
			return
		}
	}
	e.open[fp] = len(e.alerts)
	e.alerts = append(e.alerts, evalAlert{a: alert.Alert{
		Member: a.Member, EventTime: a.EventTime, Detector: a.Detector, RuleID: a.RuleID, RuleTitle: a.RuleTitle,
		Severity: a.Severity, Techniques: slices.Clone(a.Techniques), Key: key, Count: 1,
	}, lastSeen: a.EventTime, malicious: malicious})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Evaluate runs the protocol over the alerts added: in order of opening,
// every alert is scored when opened, as the alert service does; the
// first half of the ranked detector's alerts get their verdicts (the
// ground truth) right after they are scored, the second half none. It
// reports how well the scores of the second half rank the malicious ones
// first.
func (e *TriageEvaluator) Evaluate() TriageEval {
	t := NewTriage(e.opts.Triage)
	ev := TriageEval{Detections: e.detections, Alerts: len(e.alerts)}
	ranked := 0
	for i := range e.alerts {
		if e.ranked(&e.alerts[i]) {
			ranked++
		}
	}
	type scored struct {
		i     int
		score float64
	}
	var test []scored
	seen := 0
	for i := range e.alerts {
		ea := &e.alerts[i]
		t.Score(&ea.a)
		if !e.ranked(ea) {
			continue
		}
		seen++
		if seen <= ranked/2 {
			ev.Train++
			v := alert.FalsePositive
			if ea.malicious {
				ev.TrainConfirmed++
				v = alert.TruePositive
			}
			t.Learn(&ea.a, v) // cannot fail: scored just now, kept in memory
			continue
		}
		ev.Test++
		if ea.malicious {
			ev.TestConfirmed++
		}
		test = append(test, scored{i, ea.a.Triage.Score})
	}
	if ev.Test == 0 {
		return ev
	}
	ev.Baseline = float64(ev.TestConfirmed) / float64(ev.Test)
	// Each member works its own list (sort=triage lists the caller's own
	// alerts, ranked by its own model): the top share is taken of each
	// member's list and the precision pooled over those tops. Ties keep
	// the order alerts were raised in, newest first, as a console lists
	// them.
	byMember := map[string][]scored{}
	var members []string
	for _, s := range test {
		m := e.alerts[s.i].a.Member
		if byMember[m] == nil {
			members = append(members, m)
		}
		byMember[m] = append(byMember[m], s)
	}
	slices.Sort(members)
	confirmed := func(list []scored) int {
		n := 0
		for _, s := range list {
			if e.alerts[s.i].malicious {
				n++
			}
		}
		return n
	}
	var hits, sevHits, best int
	var aucs float64
	for _, m := range members {
		list := byMember[m]
		top := int(math.Ceil(e.opts.Top * float64(len(list))))
		ev.TopN += top
		slices.SortStableFunc(list, func(x, y scored) int {
			return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(y.i, x.i))
		})
		hits += confirmed(list[:top])
		all := confirmed(list)
		best += min(all, top)
		bySeverity := slices.Clone(list)
		slices.SortStableFunc(bySeverity, func(x, y scored) int {
			return cmp.Or(cmp.Compare(e.alerts[y.i].a.Severity, e.alerts[x.i].a.Severity), cmp.Compare(y.i, x.i))
		})
		sevHits += confirmed(bySeverity[:top])
		var pos, neg []float64
		for _, s := range list {
			if e.alerts[s.i].malicious {
				pos = append(pos, s.score)
			} else {
				neg = append(neg, s.score)
			}
		}
		// A member whose list holds one class only has no ranking to
		// judge.
		if auc := AUC(pos, neg); !math.IsNaN(auc) {
			aucs += auc
			ev.AUCMembers++
		}
	}
	ev.PrecisionAtTop = float64(hits) / float64(ev.TopN)
	ev.SeverityAtTop = float64(sevHits) / float64(ev.TopN)
	ev.BestAtTop = float64(best) / float64(ev.TopN)
	if ev.TestConfirmed > 0 {
		ev.RecallAtTop = float64(hits) / float64(ev.TestConfirmed)
	}
	if ev.AUCMembers > 0 {
		ev.AUC = aucs / float64(ev.AUCMembers)
	}
	byScore := slices.Clone(test)
	slices.SortStableFunc(byScore, func(x, y scored) int {
		return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(y.i, x.i))
	})
	for _, s := range byScore[:min(5, len(byScore))] {
		ea := &e.alerts[s.i]
		ev.Examples = append(ev.Examples, TriageExample{Rule: ea.a.RuleTitle, Severity: ea.a.Severity.String(),
			Malicious: ea.malicious, Score: s.score, Factors: ea.a.Triage.Factors})
	}
	return ev
}

// ranked reports whether an alert is among those ranked and counted.
func (e *TriageEvaluator) ranked(ea *evalAlert) bool {
	return e.opts.Detector == "" || ea.a.Detector == e.opts.Detector
}
