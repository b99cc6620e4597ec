package stixpattern

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/stix/pattern"
	"github.com/xsoc/xsoc/internal/tlp"
)

// defaultConfidence is used for indicators that state none (STIX's
// "unknown"), as the IOC feed does: a medium-severity alert.
const defaultConfidence = 50

// maxTitlePattern caps how much of a pattern an alert title quotes when
// the indicator has no name.
const maxTitlePattern = 120

// rule is one indicator version this detector evaluates: its compiled
// pattern and what an alert needs. Everything but the observers is fixed
// once the rule is built; a rule stays the same value for as long as its
// version is the indicator's latest, so that the partial matches its
// observers hold survive changes to other indicators.
type rule struct {
	id         string // the indicator's STIX id
	collection string
	owner      string
	named      []string
	level      tlp.Level
	validFrom  time.Time
	validUntil time.Time // zero: never expires

	title      string
	severity   alert.Severity
	techniques []string

	// matcher holds this pattern alone. A single-observation pattern is
	// decided by matcher.Match; a multi-observation one (multi) by an
	// observer per member made from matcher.
	matcher *pattern.Matcher
	multi   bool
	opts    pattern.ObserverOptions

	mu sync.Mutex
	// observers holds the partial matches of a multi-observation pattern,
	// one Observer per member, so that events of different members never
	// combine into one match. Guarded by mu; created on a member's first
	// event.
	observers map[string]*pattern.Observer
}

// observer returns member's observer of a multi-observation rule,
// creating it on first use.
func (r *rule) observer(member string) *pattern.Observer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.observers[member]; ok {
		return o
	}
	if r.observers == nil {
		r.observers = map[string]*pattern.Observer{}
	}
	o := r.matcher.NewObserver(r.opts)
	r.observers[member] = o
	return o
}

// verdict is what one indicator version means to this detector.
type verdict uint8

const (
	// complexPattern: a STIX pattern the IOC index cannot serve. The
	// version yields a rule unless it is revoked or fails to compile.
	complexPattern verdict = iota
	// simplePattern: left to the IOC index.
	simplePattern
	// otherType: a pattern language other than STIX (Sigma, YARA, Snort...).
	otherType
	// unreadable: not a readable indicator, or a pattern that does not
	// parse.
	unreadable
)

// errRevoked marks a complex-pattern version that is revoked: it yields
// no rule, but hides the older versions.
var errRevoked = errors.New("revoked")

// readVersion reads one stored indicator version. For a complexPattern
// verdict it returns the compiled rule, or nil and the reason the version
// must not match (errRevoked, a compile error); for unreadable, the
// reason.
func readVersion(o intel.Object, opts pattern.ObserverOptions) (*rule, verdict, error) {
	obj, err := stix.Decode(o.Raw)
	if err != nil {
		return nil, unreadable, err
	}
	ind, err := obj.Indicator()
	if err != nil {
		return nil, unreadable, err
	}
	if ind.PatternType != "stix" {
		return nil, otherType, nil
	}
	p, err := pattern.Parse(ind.Pattern)
	if err != nil {
		return nil, unreadable, err
	}
	if _, ok := pattern.Simple(p); ok {
		return nil, simplePattern, nil
	}
	if ind.Revoked {
		return nil, complexPattern, errRevoked
	}
	m := pattern.NewMatcher()
	if err := m.Add(o.ID, p); err != nil {
		return nil, complexPattern, err
	}
	_, multi := m.Len()
	confidence := defaultConfidence
	if ind.Confidence != nil {
		confidence = *ind.Confidence
	}
	return &rule{
		id:         o.ID,
		collection: o.Collection,
		owner:      o.Owner,
		named:      o.Named,
		level:      o.TLP,
		validFrom:  ind.ValidFrom.Time,
		validUntil: ind.ValidUntil.Time,
		title:      title(ind),
		severity:   ioc.SeverityOf(confidence),
		techniques: techniques(ind),
		matcher:    m,
		multi:      multi > 0,
		opts:       opts,
	}, complexPattern, nil
}

// title is the alert title of an indicator: its name, or else its
// pattern, shortened.
func title(ind stix.Indicator) string {
	if name := strings.TrimSpace(ind.Name); name != "" {
		return "STIX pattern: " + name
	}
	p := ind.Pattern
	if len(p) > maxTitlePattern {
		cut := maxTitlePattern
		for cut > 0 && !utf8.RuneStart(p[cut]) {
			cut--
		}
		p = p[:cut] + "…"
	}
	return "STIX pattern: " + p
}

// techniques lists the MITRE ATT&CK technique ids an indicator names:
// kill-chain phases whose phase_name is a technique id, and external
// references from a MITRE source ("mitre-attack") whose external_id is
// one. Kill-chain phases usually name tactics ("execution"); those are
// not techniques and are left out.
func techniques(ind stix.Indicator) []string {
	var out []string
	add := func(s string) {
		if id, ok := techniqueID(s); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, p := range ind.KillChainPhases {
		add(p.PhaseName)
	}
	for _, ref := range ind.ExternalReferences {
		if strings.HasPrefix(strings.ToLower(ref.SourceName), "mitre") {
			add(ref.ExternalID)
		}
	}
	return out
}

// techniqueID reports whether s is an ATT&CK technique or sub-technique id
// ("T1059", "t1059.001") and returns it in upper case.
func techniqueID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if (len(s) != 5 && len(s) != 9) || (s[0] != 'T' && s[0] != 't') || !digits(s[1:5]) {
		return "", false
	}
	if len(s) == 9 && (s[5] != '.' || !digits(s[6:])) {
		return "", false
	}
	return "T" + s[1:], true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
