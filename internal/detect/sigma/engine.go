package sigma

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// Engine is the Sigma detector. It holds the compiled rule set behind an
// atomic pointer: Load compiles a new set and swaps it in while Detect
// keeps running on whichever set it started with. Correlation state and
// enabled/disabled choices follow rules by id across loads.
type Engine struct {
	opts Options
	set  atomic.Pointer[RuleSet]

	mu       sync.Mutex // serialises Load and SetEnabled
	disabled map[string]bool
}

var _ detect.BatchDetector = (*Engine)(nil)

// NewEngine returns an engine with no rules.
func NewEngine(opts Options) *Engine {
	e := &Engine{opts: opts, disabled: map[string]bool{}}
	rs, _ := Compile(nil, opts)
	e.set.Store(rs)
	return e
}

// Options returns the options the engine compiles rules with.
func (e *Engine) Options() Options { return e.opts }

// Name returns "sigma".
func (e *Engine) Name() string { return "sigma" }

// Detect tests ev against every rule whose logsource fits it and appends
// one alert per match (and per correlation that fires). It does not
// allocate when nothing matches, and is safe for concurrent use.
func (e *Engine) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	return e.set.Load().Detect(ev, out)
}

// DetectBatch tests evs in order and appends exactly the alerts Detect
// would append for each (detect.BatchDetector); reading the next events'
// fields ahead, it loses less time to cache misses.
func (e *Engine) DetectBatch(evs []*event.Event, out []alert.Alert) []alert.Alert {
	return e.set.Load().DetectBatch(evs, out)
}

// RuleSet returns the rule set in use.
func (e *Engine) RuleSet() *RuleSet { return e.set.Load() }

// Load compiles rules and replaces the engine's rule set with them. Rules
// that do not compile are left out and reported; the rest are loaded.
// Correlations whose id (and type) is unchanged keep their state.
func (e *Engine) Load(rules []*Rule) []LoadError {
	rs, errs := Compile(rules, e.opts)
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.set.Load()
	for _, c := range rs.corrs {
		if prev, ok := old.corrByID[c.key]; ok && prev.state.typ == c.state.typ {
			c.state = prev.state
		}
	}
	for id := range e.disabled {
		rs.setEnabled(id, false)
	}
	e.set.Store(rs)
	return errs
}

// SetEnabled turns the rule (or correlation) with the given id on or off.
// The choice survives Load.
func (e *Engine) SetEnabled(id string, on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.set.Load().setEnabled(id, on) {
		return fmt.Errorf("sigma: no rule with id %q", id)
	}
	if on {
		delete(e.disabled, id)
	} else {
		e.disabled[id] = true
	}
	return nil
}

func (rs *RuleSet) setEnabled(id string, on bool) bool {
	found := false
	if cr, ok := rs.byID[id]; ok {
		cr.enabled.Store(on)
		found = true
	}
	if c, ok := rs.corrByID[id]; ok {
		c.enabled.Store(on)
		found = true
	}
	return found
}

// RuleInfo describes a loaded rule.
type RuleInfo struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Level      string    `json:"level"`
	Tags       []string  `json:"tags,omitempty"`
	Techniques []string  `json:"techniques,omitempty"`
	Logsource  Logsource `json:"logsource"`
	// Kind is "detection" or "correlation".
	Kind    string `json:"kind"`
	Enabled bool   `json:"enabled"`
	// Silent rules only feed a correlation and raise no alert of their own.
	Silent bool `json:"silent,omitempty"`
	// Filters lists the meta-filters applied to the rule.
	Filters []string `json:"filters,omitempty"`
	Source  string   `json:"source,omitempty"`
}

// Rules describes the loaded rules, detection rules first.
func (e *Engine) Rules() []RuleInfo { return e.set.Load().Rules() }

// Rules describes the rule set's rules, detection rules first.
func (rs *RuleSet) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(rs.rules)+len(rs.corrs))
	for _, cr := range rs.rules {
		out = append(out, info(cr.rule, "detection", cr.enabled.Load(), cr.silent, cr.filters))
	}
	for _, c := range rs.corrs {
		i := info(c.rule, "correlation", c.enabled.Load(), c.silent, nil)
		i.ID = c.key
		i.Logsource = c.ls
		out = append(out, i)
	}
	return out
}

func info(r *Rule, kind string, enabled, silent bool, filters []string) RuleInfo {
	return RuleInfo{
		ID: r.ID, Title: r.Title, Level: r.Level, Tags: r.Tags, Techniques: r.Techniques,
		Logsource: r.Logsource, Kind: kind, Enabled: enabled, Silent: silent,
		Filters: filters, Source: r.Source,
	}
}

// Len reports the number of detection and correlation rules in the set.
func (rs *RuleSet) Len() int { return len(rs.rules) + len(rs.corrs) }

// matched handles a rule match: an alert unless the rule is silent, and
// the correlations it feeds.
//
// The alerts of one event share its JSON evidence, x.evidence, rendered at
// the event's first match: an event often matches several rules, and
// rendering it is most of what a match costs.
func (rs *RuleSet) matched(x *scratch, cr *compiledRule, ev *event.Event, out []alert.Alert) []alert.Alert {
	if !cr.enabled.Load() {
		return out
	}
	if !cr.silent {
		if x.evidence == "" {
			x.evidence = evidenceOf(ev)
		}
		out = append(out, newAlert(cr.rule, cr.severity, ev, x.evidence))
	}
	for _, f := range cr.feeds {
		out = rs.feed(f, ev, out, 0)
	}
	return out
}

// newAlert builds the alert of a rule match on ev, whose JSON form
// (evidenceOf) is evidence.
func newAlert(r *Rule, sev alert.Severity, ev *event.Event, evidence string) alert.Alert {
	id := r.ID
	if id == "" {
		id = r.Title
	}
	return alert.Alert{
		Member:      ev.Member,
		EventTime:   ev.Time,
		Detector:    "sigma",
		RuleID:      id,
		RuleTitle:   r.Title,
		Severity:    sev,
		Techniques:  slices.Clone(r.Techniques),
		Observables: detect.Observables(ev),
		Key:         hostKey(ev),
		Evidence:    []string{evidence},
		EventIDs:    []string{ev.ID},
	}
}

// evidenceOf renders ev as JSON for an alert's evidence. The buffer is
// sized from the event's fields up front, so rendering allocates once
// instead of growing the buffer step by step, and becomes the string
// without a copy: nothing else refers to it.
func evidenceOf(ev *event.Event) string {
	size := 128 + 2*len(ev.Original)
	ev.Fields(func(name, value string) bool {
		size += len(name) + len(value) + 8
		return true
	})
	b := ev.AppendJSON(make([]byte, 0, size))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// hostKey is the default deduplication key: the event's host.
func hostKey(ev *event.Event) string {
	for _, k := range [...]event.Key{event.HostName, event.HostHostname, event.WinlogComputerName} {
		if v := ev.Key(k); v != "" {
			return v
		}
	}
	return ""
}
