package ml

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
)

// The alert triage model.
//
// Every alert gets a score: the probability that an analyst will confirm
// it, by a logistic regression trained online on the verdicts of the
// alert's member (alert.Service.CloseWithVerdict). Each member has its own
// model and its own context counters, so one member's verdicts and alerts
// never move another's scores.
//
// Learning is FTRL-proximal (McMahan et al., "Ad Click Prediction: a View
// from the Trenches", KDD 2013): per-coordinate adaptive learning rates
// and an L1 term that keeps weights of features seen rarely at exactly
// zero, which suits a stream of sparse, binary features where a few
// hundred verdicts must already give a usable ranking. Features are
// hashed (64-bit FNV-1a of kind and value, taken modulo 2^16), so a
// new rule needs no vocabulary; a collision merely shares a weight.
//
// The features of an alert, all binary:
//
//   - bias; detector; rule (detector and rule id); severity;
//   - each ATT&CK tactic and technique (parent id) it names;
//   - source: raised here, or a federation warning from another member;
//   - entity rarity: how often this rule alerted on this entity (the
//     alert's deduplication key, by default its host) before, how often
//     the rule alerted for the member, and how many alerts the entity had,
//     each in powers-of-two buckets (count-min sketches, fixed size);
//   - co-occurrence: how many other rules, detectors and tactics alerted on
//     the same entity within the window before the alert (one hour by
//     default), in buckets;
//   - the highest triage score of the entity's alerts in the window (in
//     quarters): an intrusion's steps lend each other credibility;
//   - two crossings a linear model cannot form itself: rule × co-occurring
//     rules and severity × co-occurring rules (a noisy rule alone on a
//     host is noise; the same rule among others is an intrusion's step);
//   - residual: whether an analyst confirmed an alert of the same entity
//     within the window either side. It is learnt as a
//     residual (learn): the other weights learn as if it were absent, it
//     learns what they leave unexplained, and it is left out of the score
//     later alerts see as the entity's likeliest. When verdicts come soon
//     after alerts, as in the evaluation, it nearly gives the answer away
//     for an intrusion's later steps, and learnt jointly it would take
//     the weight the co-occurrence features need for the alerts nobody
//     has judged yet. After a verdict the alert service re-scores the
//     entity's open alerts (Rescore), so that a confirmation on a host
//     lifts the host's other alerts.
//
// xsoc holds no asset inventory, so asset criticality is not a feature.
//
// The score explains itself: the three features whose weights moved the
// log-odds most, with their signed weights.

// TriageModelVersion is the version of the triage model's features and
// file format: alerts scored by a version this one does not read cannot
// train the model. Version 2 added the residual verdict feature; the
// features and files of version 1 are version 2's without it, so both are
// read (see readableTriageModel).
const TriageModelVersion = 2

// readableTriageModel reports whether features and model files of version
// v mean to this model what they meant to the one that wrote them.
func readableTriageModel(v int) bool { return v == 1 || v == TriageModelVersion }

// TriageDetectorName is the kind recorded in triage model files.
const TriageDetectorName = "ml-triage"

const (
	triageBits    = 16
	triageWeights = 1 << triageBits
	// residualFeature flags, in an alert's features, one that learns only
	// what the others leave unexplained (see learn).
	residualFeature = 1 << 31
	// maxTriageFeatures bounds an alert's features (tactics and
	// techniques are capped at four each).
	maxTriageFeatures = 24
	// triageSlots is the size of the direct-mapped table of recent
	// alerts per entity, and triageRing how many each slot keeps.
	triageSlots = 1 << 12
	triageRing  = 16
	// sketchWidth is the width of each row of the count-min sketch.
	sketchWidth = 1 << 14
	sketchDepth = 4
)

// TriageOptions tune the triage model; zero values take defaults.
type TriageOptions struct {
	// Dir holds each member's model, <Dir>/<member>.model, saved after
	// every verdict. Empty keeps models in memory only.
	Dir string
	// Window is how far back alerts on the same entity count as
	// co-occurring (default 1 hour).
	Window time.Duration
	// FTRL-proximal parameters: learning rate Alpha (default 0.1), Beta
	// (default 1), L1 (default 0.1) and L2 (default 1) regularisation.
	// L1 was 0.5: at 0.1 a feature needs less evidence to get a weight,
	// and precision@10 % of xsoc ml eval triage rose or held at every
	// seed and profile (seed 1: 0.656 → 0.662; L1 0.2 and 0.03 were
	// measured too, and lower was better still, but not by much).
	Alpha, Beta, L1, L2 float64
	// OnLoadError, if set, is told (on its own goroutine) of a member's
	// model file that could not be used; the member's model then starts
	// without verdicts, and the caller may Retrain it from the verdicts
	// it stored.
	OnLoadError func(*TriageLoadError)
}

func (o *TriageOptions) setDefaults() {
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.1
	}
	if o.Beta <= 0 {
		o.Beta = 1
	}
	if o.L1 < 0 {
		o.L1 = 0
	} else if o.L1 == 0 {
		o.L1 = 0.1
	}
	if o.L2 <= 0 {
		o.L2 = 1
	}
}

// Triage is the per-member triage model; it implements alert.Triager. It
// is safe for concurrent use.
type Triage struct {
	opts    TriageOptions
	mu      sync.Mutex
	members map[string]*triageMember
}

// NewTriage returns a triage model with no verdicts learnt. Call Load to
// restore saved models.
func NewTriage(opts TriageOptions) *Triage {
	opts.setDefaults()
	return &Triage{opts: opts, members: map[string]*triageMember{}}
}

// Triage re-scores an entity's open alerts after a verdict on one of them.
var _ alert.Rescorer = (*Triage)(nil)

// triageMember is one member's model and context.
type triageMember struct {
	// z and n are FTRL's per-weight state, nil until the first verdict.
	z, n     []float64
	verdicts uint64
	// counts is a count-min sketch of rule×entity, rule and entity alert
	// counts.
	counts [sketchDepth][]uint32
	recent []entityRing
	// feats and descs are the alert being scored, reused.
	feats []uint32
	descs []featureDesc
}

// entityRing holds an entity's latest alerts.
type entityRing struct {
	key  uint64
	next uint8
	seen [triageRing]recentAlert
}

type recentAlert struct {
	at       int64 // event time, Unix nanoseconds; 0 is empty
	rule     uint32
	detector uint32
	tactics  uint16 // bit per kill-chain phase
	score    uint8  // its triage score in quarters, 0–3
	verdict  uint8  // verdictNone, verdictRefuted or verdictConfirmed
	// rarity holds the buckets of its rule-on-entity, entity and rule
	// counts when it was raised, for Rescore: the counters keep no time.
	rarity [3]uint8
	// lone is set when the entity had no context when it was raised
	// (its co-occurrence features were then all zero, tactics too).
	lone bool
}

// An alert's verdict as its entity's context remembers it; a confirmation
// outranks a refutation.
const (
	verdictNone uint8 = iota
	verdictRefuted
	verdictConfirmed
)

// Feature kinds; each names a feature in explanations.
const (
	fBias uint8 = iota
	fDetector
	fRule
	fSeverity
	fTactic
	fTechnique
	fSource
	fRuleOnEntity
	fRuleVolume
	fEntityVolume
	fCoRules
	fCoDetectors
	fCoTactics
	fRuleCo
	fSeverityCo
	fCoScore
	fCoVerdict
)

// featureDesc says what a feature is, for its explanation, without
// allocating: text points into the alert or into constant strings.
type featureDesc struct {
	kind   uint8
	bucket uint8
	text   string
}

func (t *Triage) member(id string) *triageMember {
	m := t.members[id]
	if m == nil {
		m = &triageMember{
			recent: make([]entityRing, triageSlots),
			feats:  make([]uint32, 0, maxTriageFeatures),
			descs:  make([]featureDesc, 0, maxTriageFeatures),
		}
		for i := range m.counts {
			m.counts[i] = make([]uint32, sketchWidth)
		}
		t.members[id] = m
		t.load(id, m)
	}
	return m
}

// load restores member id's saved model, once, when the member is first
// seen. A missing file is a member without verdicts yet.
func (t *Triage) load(id string, m *triageMember) {
	if t.opts.Dir == "" {
		return
	}
	path := t.path(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = m.unmarshal(data)
	}
	if err != nil && t.opts.OnLoadError != nil {
		go t.opts.OnLoadError(&TriageLoadError{Member: id, Path: path, Err: err})
	}
}

// Score sets a.Triage from its member's model, then remembers a as
// context for the member's later alerts.
func (t *Triage) Score(a *alert.Alert) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.member(a.Member)
	ctx := m.context(a, t.opts.Window, false)
	base := t.score(m, a, &ctx)
	m.observe(a, &ctx, base)
}

// Rescore scores a again: an open alert Score saw before, after an
// analyst's verdict on another alert of its entity (a confirmation on a
// host lifts the host's other open alerts). The context is what it was
// when a was raised — the alerts before it within the window, a itself
// left out — with the verdicts given since on the entity's alerts within
// the window either side. It returns whether the score changed; the
// counters do not move, for a is not new.
func (t *Triage) Rescore(a *alert.Alert) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.member(a.Member)
	ctx := m.context(a, t.opts.Window, true)
	if !ctx.found {
		return false // the context has forgotten a: nothing to re-score it on
	}
	before := -1.0
	if a.Triage != nil {
		before = a.Triage.Score
	}
	t.score(m, a, &ctx)
	return a.Triage.Score != before
}

// RescoreWindow is how far apart in event time an alert and a verdict on
// another alert of its entity may be for the verdict to move its score:
// the alert service re-scores the open alerts this close to an alert
// given a verdict.
func (t *Triage) RescoreWindow() time.Duration { return t.opts.Window }

// score sets a.Triage from the member's model and the context c, and
// returns the score without the residual features (the verdicts on the
// entity), which is what later alerts of the entity see of a: an
// analyst's verdict moves the alerts of its entity by its own learnt
// weight, not through theirs.
func (t *Triage) score(m *triageMember, a *alert.Alert, c *triageContext) float64 {
	m.features(a, c)
	base, logit := 0.0, 0.0
	for _, i := range m.feats {
		w := m.weight(i, &t.opts)
		logit += w
		if i&residualFeature == 0 {
			base += w
		}
	}
	a.Triage = &alert.Triage{Score: sigmoid(logit), Model: TriageModelVersion,
		Features: slices.Clone(m.feats), Factors: m.explain(a, &t.opts, 3)}
	return sigmoid(base)
}

// find returns the entity's remembered alert of c's rule at event time at,
// or nil when the context no longer holds it.
func (m *triageMember) find(c *triageContext, at int64) *recentAlert {
	if c.entity == 0 {
		return nil
	}
	slot := &m.recent[c.entity%triageSlots]
	if slot.key != c.entity {
		return nil
	}
	for i := range slot.seen {
		if r := &slot.seen[i]; r.at == at && r.rule == c.rule {
			return r
		}
	}
	return nil
}

// triageContext is what the member's earlier alerts say about a new one.
type triageContext struct {
	entity                          uint64
	rule, detector                  uint32
	tactics                         uint16
	ruleOnEntity, ruleVol, entVol   uint32
	coRules, coDetectors, coTactics int
	// coScore is the highest triage score (in quarters, plus one; 0 for
	// none) of the entity's alerts within the window.
	coScore uint8
	// coVerdict is the strongest verdict analysts gave on the entity's
	// alerts within the window.
	coVerdict uint8
	// found is set when re-scoring and the entity's context still holds
	// the alert itself.
	found bool
	// lone is set when the entity has no context: no earlier alert, or
	// its slot taken by another entity since.
	lone bool
}

// entityOf is the entity an alert is about: its deduplication key (the
// alert service sets it, by default the host), else its first host or
// user observable.
func entityOf(a *alert.Alert) string {
	if a.Key != "" {
		return a.Key
	}
	for _, o := range a.Observables {
		if o.Type == "host" || o.Role == "host" || o.Type == "user-account" || o.Role == "user" {
			return o.Value
		}
	}
	return ""
}

// context is what the member's alerts say about a: those before it within
// the window, and the verdicts on those within the window either side;
// when again (a was seen before and is being re-scored), a itself is left
// out.
func (m *triageMember) context(a *alert.Alert, window time.Duration, again bool) triageContext {
	var c triageContext
	c.rule = uint32(hashPair(a.Detector, a.RuleID))
	c.detector = uint32(hashPair(a.Detector, ""))
	for i, tech := range a.Techniques {
		if i == 4 {
			break
		}
		if p := correlate.TacticOf(tech).Phase(); p > 0 {
			c.tactics |= 1 << p
		}
	}
	c.ruleVol = m.count(uint64(c.rule) | 1<<40)
	ent := entityOf(a)
	if ent == "" {
		return c
	}
	c.entity = hashPair("entity", ent) | 1 // never 0: 0 marks an empty slot
	c.ruleOnEntity = m.count(c.entity ^ uint64(c.rule)*0x9e3779b97f4a7c15)
	c.entVol = m.count(c.entity)
	slot := &m.recent[c.entity%triageSlots]
	if slot.key != c.entity {
		c.lone = true
		return c
	}
	at := a.EventTime.UnixNano()
	since := a.EventTime.Add(-window).UnixNano()
	verdictsUntil := a.EventTime.Add(window).UnixNano()
	var rules [triageRing]uint32
	var dets [triageRing]uint32
	nr, nd := 0, 0
	tactics := c.tactics
	self := again
	for _, r := range slot.seen {
		if r.at == 0 || r.at < since || r.at > verdictsUntil {
			continue
		}
		if self && r.at == at && r.rule == c.rule {
			// a itself: its rarity as when it was raised, for the
			// counters have counted it and what came after.
			self, c.found, c.lone = false, true, r.lone
			c.ruleOnEntity, c.entVol, c.ruleVol = unbucket(r.rarity[0]), unbucket(r.rarity[1]), unbucket(r.rarity[2])
			continue
		}
		c.coVerdict = max(c.coVerdict, r.verdict)
		if r.at > at {
			continue // after a: only its verdict counts
		}
		tactics |= r.tactics
		c.coScore = max(c.coScore, r.score+1)
		if r.rule != c.rule && !slices.Contains(rules[:nr], r.rule) {
			rules[nr] = r.rule
			nr++
		}
		if r.detector != c.detector && !slices.Contains(dets[:nd], r.detector) {
			dets[nd] = r.detector
			nd++
		}
	}
	if c.lone {
		// Re-scoring an alert raised with no context on its entity:
		// it keeps none but the verdicts.
		c.coScore = 0
		return c
	}
	c.coRules, c.coDetectors = nr, nd
	for ; tactics != 0; tactics &= tactics - 1 {
		c.coTactics++
	}
	return c
}

// observe adds a to the member's context.
func (m *triageMember) observe(a *alert.Alert, c *triageContext, score float64) {
	m.add(uint64(c.rule) | 1<<40)
	if c.entity == 0 {
		return
	}
	m.add(c.entity ^ uint64(c.rule)*0x9e3779b97f4a7c15)
	m.add(c.entity)
	slot := &m.recent[c.entity%triageSlots]
	if slot.key != c.entity {
		// Another entity held the slot: it is forgotten (the table is
		// direct-mapped, so memory is fixed).
		*slot = entityRing{key: c.entity}
	}
	slot.seen[slot.next] = recentAlert{at: a.EventTime.UnixNano(), rule: c.rule, detector: c.detector, tactics: c.tactics,
		score: uint8(min(3, score*4)), rarity: [3]uint8{bucket(c.ruleOnEntity), bucket(c.entVol), bucket(c.ruleVol)}, lone: c.lone}
	slot.next = (slot.next + 1) % triageRing
}

func (m *triageMember) count(key uint64) uint32 {
	v := uint32(math.MaxUint32)
	for i := range m.counts {
		v = min(v, m.counts[i][sketchIndex(key, i)])
	}
	return v
}

func (m *triageMember) add(key uint64) {
	for i := range m.counts {
		c := &m.counts[i][sketchIndex(key, i)]
		if *c < math.MaxUint32 {
			*c++
		}
	}
}

func sketchIndex(key uint64, row int) uint64 {
	h := (key ^ uint64(row+1)*0xbf58476d1ce4e5b9) * 0x94d049bb133111eb
	return (h >> 32) % sketchWidth
}

// bucket maps a count to a power-of-two bucket: 0, 1, 2, 3–4, 5–8, …,
// up to 9 (over 128).
func bucket(n uint32) uint8 {
	if n == 0 {
		return 0
	}
	b := uint8(1)
	for v := n - 1; v > 0 && b < 9; v >>= 1 {
		b++
	}
	return b
}

// unbucket returns the least count in bucket b.
func unbucket(b uint8) uint32 {
	if b < 3 {
		return uint32(b)
	}
	return 1<<(b-2) + 1
}

// bucketText describes a bucket.
func bucketText(b uint8) string {
	switch b {
	case 0:
		return "0"
	case 1:
		return "1"
	case 2:
		return "2"
	case 9:
		return "over 128"
	}
	return fmt.Sprintf("%d–%d", 1<<(b-2)+1, 1<<(b-1))
}

var severityText = [...]string{"informational", "low", "medium", "high", "critical"}

// features fills m.feats and m.descs for a.
func (m *triageMember) features(a *alert.Alert, c *triageContext) {
	m.feats, m.descs = m.feats[:0], m.descs[:0]
	add := func(kind, b uint8, key1, key2, text string) {
		if len(m.feats) == maxTriageFeatures {
			return
		}
		h := fnvString(fnvString(fnvOffset^uint64(kind)*fnvPrime^uint64(b), key1)*fnvPrime, key2)
		f := uint32(h % triageWeights)
		if kind == fCoVerdict {
			f |= residualFeature
		}
		m.feats = append(m.feats, f)
		m.descs = append(m.descs, featureDesc{kind: kind, bucket: b, text: text})
	}
	sev := severityText[min(int(a.Severity), len(severityText)-1)]
	add(fBias, 0, "", "", "")
	add(fDetector, 0, a.Detector, "", a.Detector)
	add(fRule, 0, a.Detector, a.RuleID, a.RuleTitle)
	add(fSeverity, 0, sev, "", sev)
	var seen uint16
	for i, tech := range a.Techniques {
		if i == 4 {
			break
		}
		parent, _, _ := strings.Cut(tech, ".")
		add(fTechnique, 0, parent, "", parent)
		tac := correlate.TacticOf(tech)
		if p := tac.Phase(); p > 0 && seen&(1<<p) == 0 {
			seen |= 1 << p
			add(fTactic, 0, string(tac), "", string(tac))
		}
	}
	// Local alerts are the rule, so only a federation warning carries
	// the source feature: a constant feature would only repeat the bias.
	if a.Detector == federationDetector {
		add(fSource, 0, "federation", "", "federation")
	}
	co := bucket(uint32(c.coRules))
	if c.entity != 0 {
		add(fRuleOnEntity, bucket(c.ruleOnEntity), "", "", "")
		add(fEntityVolume, bucket(c.entVol), "", "", "")
		add(fCoRules, co, "", "", "")
		add(fCoDetectors, bucket(uint32(c.coDetectors)), "", "", "")
		add(fCoTactics, bucket(uint32(c.coTactics)), "", "", "")
		add(fCoScore, c.coScore, "", "", "")
		// Only a confirmation: intruded hosts have their benign
		// alerts too, and a refuted one says little about the others
		// (as a feature it sank an intrusion's steps on a host whose
		// background noise had just been refuted).
		if c.coVerdict == verdictConfirmed {
			add(fCoVerdict, c.coVerdict, "", "", "")
		}
	}
	add(fRuleVolume, bucket(c.ruleVol), "", "", "")
	add(fRuleCo, min(co, 3), a.Detector, a.RuleID, a.RuleTitle)
	add(fSeverityCo, min(co, 4), sev, "", sev)
}

// federationDetector is the detector name of federation warnings
// (federation.NoticeDetector, repeated so as not to import it).
const federationDetector = "federation"

// describe names feature d for people.
func describe(d featureDesc, window time.Duration) string {
	b := bucketText(d.bucket)
	switch d.kind {
	case fBias:
		return "prior (this member's share of confirmed alerts)"
	case fDetector:
		return "detector " + d.text
	case fRule:
		return fmt.Sprintf("rule %q", d.text)
	case fSeverity:
		return "severity " + d.text
	case fTactic:
		return "tactic " + d.text
	case fTechnique:
		return "technique " + d.text
	case fSource:
		return "a federation warning from another member"
	case fRuleOnEntity:
		return "the rule alerted " + b + " times on this entity before"
	case fRuleVolume:
		return "the rule alerted " + b + " times for this member before"
	case fEntityVolume:
		return b + " earlier alerts on this entity"
	case fCoRules:
		return b + " other rules on this entity within " + window.String()
	case fCoDetectors:
		return b + " other detectors on this entity within " + window.String()
	case fCoTactics:
		return b + " ATT&CK tactics on this entity within " + window.String()
	case fCoScore:
		if d.bucket == 0 {
			return "no other alert on this entity within " + window.String()
		}
		return fmt.Sprintf("the likeliest other alert on this entity within %s scored %d–%d %%", window, 25*(d.bucket-1), 25*d.bucket)
	case fCoVerdict:
		return "an analyst confirmed an alert on this entity within " + window.String()
	case fRuleCo:
		if d.bucket == 3 {
			b = "3 or more"
		}
		return fmt.Sprintf("rule %q with %s other rules on the entity", d.text, b)
	case fSeverityCo:
		if d.bucket == 4 {
			b = "5 or more"
		}
		return fmt.Sprintf("severity %s with %s other rules on the entity", d.text, b)
	}
	return "unknown feature"
}

// explain returns the n features of the alert being scored with the
// largest weights by magnitude (those at zero say nothing).
func (m *triageMember) explain(_ *alert.Alert, o *TriageOptions, n int) []alert.TriageFactor {
	if m.z == nil {
		return nil
	}
	var top [maxTriageFeatures]int
	k := 0
	for i, f := range m.feats {
		if m.weight(f, o) != 0 {
			top[k] = i
			k++
		}
	}
	order := top[:k]
	slices.SortStableFunc(order, func(x, y int) int {
		wx, wy := math.Abs(m.weight(m.feats[x], o)), math.Abs(m.weight(m.feats[y], o))
		switch {
		case wx > wy:
			return -1
		case wx < wy:
			return 1
		}
		return 0
	})
	out := make([]alert.TriageFactor, 0, min(n, k))
	for _, i := range order[:min(n, k)] {
		out = append(out, alert.TriageFactor{Feature: describe(m.descs[i], o.Window), Weight: round3(m.weight(m.feats[i], o))})
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// weight is FTRL-proximal's closed-form weight of coordinate i: zero while
// |z| is within L1, else the regularised step.
func (m *triageMember) weight(i uint32, o *TriageOptions) float64 {
	if m.z == nil {
		return 0
	}
	i &^= residualFeature
	z := m.z[i]
	if math.Abs(z) <= o.L1 {
		return 0
	}
	sign := 1.0
	if z < 0 {
		sign = -1
	}
	return -(z - sign*o.L1) / ((o.Beta+math.Sqrt(m.n[i]))/o.Alpha + o.L2)
}

// learn takes one FTRL-proximal step on the features feats with label y
// (1 confirmed, 0 not).
func (m *triageMember) learn(feats []uint32, y float64, o *TriageOptions) {
	if m.z == nil {
		m.z, m.n = make([]float64, triageWeights), make([]float64, triageWeights)
	}
	base, residual := 0.0, 0.0
	for _, i := range feats {
		if i&residualFeature != 0 {
			residual += m.weight(i, o)
		} else {
			base += m.weight(i, o)
		}
	}
	// The base features learn as if the residual ones were not there;
	// the residual ones learn what is left.
	g0, g1 := sigmoid(base)-y, sigmoid(base+residual)-y
	for _, i := range feats {
		g := g0
		if i&residualFeature != 0 {
			g, i = g1, i&^residualFeature
		}
		w := m.weight(i, o)
		sigma := (math.Sqrt(m.n[i]+g*g) - math.Sqrt(m.n[i])) / o.Alpha
		m.z[i] += g - sigma*w
		m.n[i] += g * g
	}
	m.verdicts++
}

func sigmoid(x float64) float64 {
	x = max(-35, min(35, x))
	return 1 / (1 + math.Exp(-x))
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashPair(a, b string) uint64 {
	return fnvString(fnvString(fnvOffset, a)*fnvPrime^0xff, b)
}

// Learn trains a's member's model with the verdict on a and saves the
// model; the verdict joins the context of a's entity (see Rescore). An
// alert without a triage score (raised before the model ran) or scored by
// a model version this one does not read teaches nothing: its features
// are not this model's.
func (t *Triage) Learn(a *alert.Alert, v alert.Verdict) error {
	if a.Triage == nil || len(a.Triage.Features) == 0 || !readableTriageModel(a.Triage.Model) {
		return nil
	}
	y := 0.0
	if v == alert.TruePositive {
		y = 1
	}
	t.mu.Lock()
	m := t.member(a.Member)
	feats := a.Triage.Features
	for i, f := range feats {
		if f&^residualFeature >= triageWeights {
			t.mu.Unlock()
			return fmt.Errorf("ml triage: alert %s: feature %d out of range", a.ID, i)
		}
	}
	m.learn(feats, y, &t.opts)
	ctx := m.context(a, t.opts.Window, true)
	if r := m.find(&ctx, a.EventTime.UnixNano()); r != nil {
		r.verdict = verdictRefuted
		if v == alert.TruePositive {
			r.verdict = verdictConfirmed
		}
	}
	var data []byte
	if t.opts.Dir != "" {
		data = m.marshal()
	}
	t.mu.Unlock()
	if data == nil {
		return nil
	}
	return writeFileAtomic(t.path(a.Member), data)
}

// Retrain rebuilds member's model from scratch from its alerts that carry
// verdicts, oldest first (alert.Service.Verdicts), and saves it: for a
// model file that was lost or damaged. It returns how many verdicts it
// learnt; alerts without usable features are skipped.
func (t *Triage) Retrain(member string, alerts []alert.Alert) (int, error) {
	t.mu.Lock()
	m := t.member(member)
	m.z, m.n, m.verdicts = nil, nil, 0
	n := 0
	for i := range alerts {
		a := &alerts[i]
		if a.Member != member || a.Verdict == "" || a.Triage == nil || !readableTriageModel(a.Triage.Model) ||
			slices.ContainsFunc(a.Triage.Features, func(f uint32) bool { return f&^residualFeature >= triageWeights }) {
			continue
		}
		y := 0.0
		if a.Verdict == alert.TruePositive {
			y = 1
		}
		m.learn(a.Triage.Features, y, &t.opts)
		n++
	}
	var data []byte
	if t.opts.Dir != "" && n > 0 {
		data = m.marshal()
	}
	t.mu.Unlock()
	if data == nil {
		return n, nil
	}
	return n, writeFileAtomic(t.path(member), data)
}

// Verdicts returns how many verdicts member's model has learnt.
func (t *Triage) Verdicts(member string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.members[member]; m != nil {
		return m.verdicts
	}
	return 0
}

var plainMember = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// path is member's model file: <Dir>/<member>.model, or a hash of the
// member id when it is not a plain file name.
func (t *Triage) path(member string) string {
	name := member
	if !plainMember.MatchString(member) {
		sum := sha256.Sum256([]byte(member))
		name = "member-" + hex.EncodeToString(sum[:12])
	}
	return filepath.Join(t.opts.Dir, name+".model")
}

// marshal encodes the member's model: the verdict count and the weights
// ever updated, as (index, z, n).
func (m *triageMember) marshal() []byte {
	used := 0
	for i := range m.n {
		if m.n[i] != 0 {
			used++
		}
	}
	w := newStateWriter(TriageDetectorName, used*20+32)
	w.u16(TriageModelVersion)
	w.u8(triageBits)
	w.u64(m.verdicts)
	w.u32(uint32(used))
	for i := range m.n {
		if m.n[i] != 0 {
			w.u32(uint32(i))
			w.f64(m.z[i])
			w.f64(m.n[i])
		}
	}
	return w.finish()
}

// unmarshal restores a model saved by marshal.
func (m *triageMember) unmarshal(data []byte) error {
	r, err := openState(data, TriageDetectorName)
	if err != nil {
		return err
	}
	if v := r.u16(); r.err == nil && !readableTriageModel(int(v)) {
		return fmt.Errorf("%w: triage model version %d, this xsoc uses %d", ErrStateIncompatible, v, TriageModelVersion)
	}
	if b := r.u8(); r.err == nil && b != triageBits {
		return fmt.Errorf("%w: %d hashed feature bits, this xsoc uses %d", ErrStateIncompatible, b, triageBits)
	}
	verdicts := r.u64()
	n := r.count(20)
	z, sq := make([]float64, triageWeights), make([]float64, triageWeights)
	for range n {
		i := r.u32()
		zi, ni := r.f64(), r.f64()
		if r.err != nil {
			break
		}
		if i >= triageWeights || ni <= 0 || math.IsNaN(zi) || math.IsInf(zi, 0) || math.IsInf(ni, 0) || math.IsNaN(ni) {
			return fmt.Errorf("weight %d: invalid value", i)
		}
		z[i], sq[i] = zi, ni
	}
	if err := r.done(); err != nil {
		return err
	}
	m.z, m.n, m.verdicts = z, sq, verdicts
	return nil
}

// TriageLoadError is a model file that could not be used: the member's
// model starts without verdicts until retrained (see Retrain).
type TriageLoadError struct {
	Member string
	Path   string
	Err    error
}

func (e *TriageLoadError) Error() string {
	return fmt.Sprintf("ml triage model %s (member %s): %v", e.Path, e.Member, e.Err)
}

func (e *TriageLoadError) Unwrap() error { return e.Err }

// writeFileAtomic writes data to path through a synced temporary file.
func writeFileAtomic(path string, data []byte) error {
	return SaveState(path, rawState(data))
}

// rawState is bytes already encoded.
type rawState []byte

// MarshalBinary returns the bytes.
func (r rawState) MarshalBinary() ([]byte, error) { return r, nil }
