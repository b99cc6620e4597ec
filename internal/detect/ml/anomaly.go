package ml

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// AnomalyDetectorName is the detector name on anomaly alerts, and their
// rule id.
const AnomalyDetectorName = "ml-anomaly"

// The features of one entity's window, in the order of the model's
// dimensions.
const (
	featEvents = iota
	featBytesOut
	featDests
	featPorts
	featFailed
	featProcs
	featRarePairs
	anomalyFeatures
)

// anomalyFeatureNames name the features in alerts.
var anomalyFeatureNames = [anomalyFeatures]string{"events", "bytes out", "distinct destinations", "distinct destination ports",
	"failed logins", "new processes", "rare parent→child pairs"}

// featureFloor is the least value a feature must reach to be named as a
// cause: a jump from 0 to 3 failed logins is not news.
var featureFloor = [anomalyFeatures]float64{200, 50e6, 30, 30, 10, 30, 3}

// Entity kinds: each event updates its host, its user and its source
// address.
const (
	kindHost = iota
	kindUser
	kindSource
	entityKinds
)

var kindNames = [entityKinds]string{"host", "user", "source address"}

// AnomalyOptions tune the anomaly detector; zero values take defaults.
// Options that shape the model (Window, Trees, Depth, Psi, Seed) must
// match a saved state for it to be restored.
type AnomalyOptions struct {
	// Window is the length of an entity's feature window (default 5 min).
	Window time.Duration
	// MaxEntities caps the entities tracked at once (default 65,536;
	// about 400 bytes each, allocated as entities appear).
	MaxEntities int
	// Expire forgets an entity not seen for this long (default 24 h).
	Expire time.Duration
	// Realert is the least time between two alerts for one entity
	// (default 1 h).
	Realert time.Duration
	// Trees and Depth shape the Half-Space Trees (default 25 trees of
	// depth 10); Psi is the number of windows in the model's reference
	// (default 256).
	Trees, Depth, Psi int
	// Quantile is the share of windows, by mass score, below which a
	// window is anomalous (default 0.005): the adaptive threshold.
	Quantile float64
	// MinWindows is how many windows an entity needs behind it before it
	// can alert, so that it has a baseline (default 6).
	MinWindows int
	// Seed draws the trees (default 1).
	Seed uint64
}

func (o *AnomalyOptions) defaults() {
	if o.Window <= 0 {
		o.Window = 5 * time.Minute
	}
	if o.MaxEntities <= 0 {
		o.MaxEntities = 1 << 16
	}
	if o.Expire <= 0 {
		o.Expire = 24 * time.Hour
	}
	if o.Realert <= 0 {
		o.Realert = time.Hour
	}
	if o.Trees <= 0 {
		o.Trees = 25
	}
	if o.Depth <= 0 || o.Depth > 14 {
		o.Depth = 10
	}
	if o.Psi <= 0 {
		o.Psi = 256
	}
	if o.Quantile <= 0 || o.Quantile >= 1 {
		o.Quantile = 0.005
	}
	if o.MinWindows <= 0 {
		o.MinWindows = 6
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

const (
	anomalyShards = 64
	// histBins is the resolution of the score histogram behind the
	// adaptive threshold: bins of half a binary order of magnitude.
	histBins = 80
	// rareBelow: a parent→child pair seen fewer times than this (per
	// member) is rare, once the sketch has seen rareWarm process starts.
	rareBelow = 2
	rareWarm  = 20000
)

// Anomaly is the per-entity streaming anomaly detector: for every host,
// user and source address of every member it counts, over windows of
// Window, the events, bytes sent, distinct destinations and destination
// ports (HyperLogLog), failed logins, new processes and rare parent→child
// pairs (count-min), scores each window with Half-Space Trees per member
// and entity kind, and alerts when a window's mass falls below the
// adaptive threshold and the features above the entity's own baseline
// explain it. It is safe for concurrent use; memory is fixed by
// MaxEntities, the number of members and the sketch sizes.
type Anomaly struct {
	opt    AnomalyOptions
	forest *hstForest
	shards [anomalyShards]entityShard
	stats  Stats

	modelsMu sync.Mutex
	models   map[uint64]*anomModel

	pairsMu sync.Mutex
	pairs   *countMin
}

// anomModel is the model of one member's entities of one kind.
type anomModel struct {
	mu   sync.Mutex
	hst  *hstModel
	hist [histBins]float64 // decayed counts of log2(1+mass)/2 bins
	n    float64
}

// entityShard is one lock's worth of entities: its share of MaxEntities.
type entityShard struct {
	mu sync.Mutex
	slots[entity, *entity]
}

// entity is one host, user or source address: its current window and
// its baseline.
type entity struct {
	key       uint64
	model     uint64 // member and kind
	kind      uint8
	used      bool
	alerted   bool // in the current window
	windows   uint32
	start     int64 // current window start, Unix ms
	last      int64
	lastAlert int64
	count     [anomalyFeatures]float64 // the counters (distinct counts are in the sketches)
	dests     hll
	ports     hll
	// base is the baseline: a moving average of log(1+x) per feature
	// over the entity's past windows.
	base [anomalyFeatures]float32
}

// NewAnomaly returns an anomaly detector.
func NewAnomaly(opt AnomalyOptions) *Anomaly {
	opt.defaults()
	a := &Anomaly{opt: opt, forest: newForest(opt.Seed, opt.Trees, opt.Depth, anomalyFeatures),
		models: map[uint64]*anomModel{}, pairs: newCountMin(1 << 16)}
	per := max(1, opt.MaxEntities/anomalyShards)
	for i := range a.shards {
		a.shards[i].init(per)
		a.shards[i].trackSeen() // observe sets e.last = now
	}
	return a
}

// Name returns AnomalyDetectorName.
func (a *Anomaly) Name() string { return AnomalyDetectorName }

// Stats returns the detector's counters.
func (a *Anomaly) Stats() *Stats { return &a.stats }

// obs is what one event adds to an entity's window.
type obs struct {
	bytes            float64
	dest, port       uint64 // hashes
	hasDest, hasPort bool
	failed           bool
	proc, rare       bool
}

// Detect adds the event to the windows of its host, user and source
// address and scores a window when one of its counts reaches a power of
// two. It does not allocate unless it raises an alert.
func (a *Anomaly) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	host, user, src := ev.Key(event.HostName), anomalyUser(ev), ev.Key(event.SourceIp)
	if host == "" && user == "" && src == "" {
		return out
	}
	if ev.Time.IsZero() {
		a.stats.Skipped.Add(1)
		return out
	}
	a.stats.Scored.Add(1)
	var o obs
	o.bytes = float64(parseBytes(ev.Key(event.SourceBytes)))
	if d := ev.Key(event.DestinationIp); d != "" {
		o.dest, o.hasDest = hash64(1, d), true
	}
	if p := ev.Key(event.DestinationPort); p != "" {
		o.port, o.hasPort = hash64(2, p), true
	}
	o.failed = ev.Key(event.EventOutcome) == "failure" && strings.Contains(ev.Key(event.EventCategory), "authentication")
	if ev.Key(event.EventCategory) == "process" && ev.Key(event.EventType) == "start" {
		o.proc = true
		parent, child := ev.Key(event.ProcessParentName), ev.Key(event.ProcessName)
		if parent != "" && child != "" {
			h := mix64(hash64(3, ev.Member) ^ hashFold(4, parent)*31 ^ hashFold(5, child))
			a.pairsMu.Lock()
			seen := a.pairs.addEstimate(h)
			warm := a.pairs.total > rareWarm
			a.pairsMu.Unlock()
			o.rare = warm && seen < rareBelow
		}
	}
	now := ev.Time.UnixMilli()
	names := [entityKinds]string{host, user, src}
	var keys, mks [entityKinds]uint64
	var locked uint64 // the shards locked, a bit each
	n := 0
	for kind, name := range names {
		if name != "" {
			mks[kind] = hash64(uint64(kind)+10, ev.Member)
			keys[kind] = mix64(mks[kind] ^ hash64(uint64(kind)+20, name))
			locked |= 1 << (keys[kind] % anomalyShards)
			n++
		}
	}
	// The entities' shards are locked together, in ascending order (no
	// other holder of a shard lock takes a second one), and then their
	// entities looked up one after the other: a lock between two lookups
	// would make the second's cache misses wait for the first's, and
	// with many entities the misses are most of the detector's time.
	for m := locked; m != 0; m &= m - 1 {
		a.shards[bits.TrailingZeros64(m)].mu.Lock()
	}
	expire := a.opt.Expire.Milliseconds()
	var ents [entityKinds]*entity
	var found [entityKinds]*finding
	for kind := range names {
		if names[kind] != "" {
			ents[kind] = a.shards[keys[kind]%anomalyShards].lookup(keys[kind], now, expire)
			if bits.OnesCount64(locked) < n {
				// Two entities share a shard: the second lookup could
				// evict the first or move the slab, so each is observed
				// before the next is looked up.
				found[kind] = a.observe(ents[kind], mks[kind], uint8(kind), now, &o)
				ents[kind] = nil
			}
		}
	}
	for kind, e := range ents {
		if e != nil {
			found[kind] = a.observe(e, mks[kind], uint8(kind), now, &o)
		}
	}
	for m := locked; m != 0; m &= m - 1 {
		a.shards[bits.TrailingZeros64(m)].mu.Unlock()
	}
	for kind, f := range found {
		if f != nil {
			out = append(out, a.alert(ev, kind, names[kind], f))
		}
	}
	return out
}

// anomalyUser is the account an event is about: the target of a logon,
// else the acting user; service identities and machine accounts are not
// users.
func anomalyUser(ev *event.Event) string {
	u := ev.Key(event.UserTargetName)
	if u == "" {
		u = ev.Key(event.UserName)
	}
	switch u {
	case "", "-", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON":
		return ""
	}
	if strings.HasSuffix(u, "$") {
		return ""
	}
	return u
}

// finding is an alerting window's evidence.
type finding struct {
	window   int64
	rarity   float64 // share of windows with a higher mass
	mass     float64
	features [anomalyFeatures]float64
	base     [anomalyFeatures]float64
	causes   []int // features that drove it, strongest first
}

// observe adds o to entity e's window and judges the window when a
// count crossed a power of two. Its caller holds e's shard lock.
func (a *Anomaly) observe(e *entity, mk uint64, kind uint8, now int64, o *obs) *finding {
	win := a.opt.Window.Milliseconds()
	if e.windows == 0 && e.start == 0 {
		e.model, e.kind, e.start = mk, kind, now-now%win
	}
	if now >= e.start+win {
		closed := e.features()
		x := e.vector(&closed)
		a.closeWindow(e, &x, &closed)
		e.startWindow(now - now%win)
	}
	e.last = now
	c := &e.count
	c[featEvents]++
	trigger := pow2(c[featEvents]) && c[featEvents] >= 8
	if o.bytes > 0 {
		before := c[featBytesOut]
		c[featBytesOut] += o.bytes
		if c[featBytesOut] >= 1<<20 && bits.Len64(uint64(before)) != bits.Len64(uint64(c[featBytesOut])) {
			trigger = true
		}
	}
	if o.hasDest {
		e.dests.add(o.dest)
	}
	if o.hasPort {
		e.ports.add(o.port)
	}
	if o.failed {
		c[featFailed]++
		trigger = trigger || pow2(c[featFailed]) && c[featFailed] >= 4
	}
	if o.proc {
		c[featProcs]++
	}
	if o.rare {
		c[featRarePairs]++
		trigger = true
	}
	if !trigger || e.alerted || int(e.windows) < a.opt.MinWindows ||
		(e.lastAlert != 0 && now-e.lastAlert < a.opt.Realert.Milliseconds()) {
		return nil
	}
	feats := e.features()
	var base [anomalyFeatures]float64
	for i := range base {
		base[i] = math.Expm1(float64(e.base[i]))
	}
	x := e.vector(&feats)
	causes := e.above(&feats)
	if causes == 0 {
		return nil
	}
	m := a.model(mk)
	cf := x
	for i := 0; i < anomalyFeatures; i++ {
		if causes&(1<<i) != 0 {
			cf[i] = 0
		}
	}
	m.mu.Lock()
	ok, mass, rarity := a.judge(m, &x, &cf)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	e.alerted, e.lastAlert = true, now
	window := e.start
	a.stats.Alerts.Add(1)
	// Built only here: a finding escapes to the heap.
	return &finding{window: window, features: feats, base: base, mass: mass, rarity: rarity, causes: sortCauses(causes, &feats, &base)}
}

// pow2 reports whether x is a power of two.
func pow2(x float64) bool {
	n := uint64(x)
	return n&(n-1) == 0
}

// vector is the window's point in the model's unit cube: each feature's
// rise over the entity's baseline, as a ratio on a log scale, with the
// baseline (or less) at 0 and riseSpan at 1. Rises rather than
// raw counts put every entity's ordinary windows, a file server's and a
// quiet workstation's alike, in one corner, so that a random split of
// the trees almost always separates a window that rose; falls are not
// what this detector looks for and all map to 0.
func (e *entity) vector(f *[anomalyFeatures]float64) (x [anomalyFeatures]float32) {
	for i := range x {
		x[i] = float32(min(1, max(0, (math.Log1p(f[i])-float64(e.base[i]))/riseSpan[i])))
	}
	return x
}

// riseSpan is the log ratio mapped to 1 per feature: a thousandfold
// rise for counts, a millionfold for bytes, whose ordinary range is
// that much wider (a workstation sends kilobytes in a quiet window and
// gigabytes when it syncs a folder).
var riseSpan = [anomalyFeatures]float64{math.Log(1e3), math.Log(1e6), math.Log(1e3), math.Log(1e3), math.Log(1e3), math.Log(1e3), math.Log(1e3)}

// features are the window's raw feature values.
func (e *entity) features() (f [anomalyFeatures]float64) {
	f = e.count
	f[featDests] = math.Round(e.dests.estimate())
	f[featPorts] = math.Round(e.ports.estimate())
	return f
}

// above is the set (a bit mask) of features at least four times the
// entity's baseline and over their floor.
func (e *entity) above(f *[anomalyFeatures]float64) uint32 {
	var m uint32
	for i, v := range f {
		if v >= featureFloor[i] && math.Log1p(v)-float64(e.base[i]) >= math.Ln2*2 {
			m |= 1 << i
		}
	}
	return m
}

// sortCauses orders the features of mask by how far they exceed their
// baseline.
func sortCauses(mask uint32, f, base *[anomalyFeatures]float64) []int {
	var out []int
	for i := 0; i < anomalyFeatures; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	ratio := func(i int) float64 { return math.Log1p(f[i]) - math.Log1p(base[i]) }
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && ratio(out[j]) > ratio(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// judge scores x against m: anomalous when its mass is below the
// adaptive threshold and the counterfactual cf (the driving features at
// their baseline) is not. It returns the mass and the share of past
// windows with a higher mass.
func (a *Anomaly) judge(m *anomModel, x, cf *[anomalyFeatures]float32) (bool, float64, float64) {
	if !m.hst.ready() || m.n < float64(a.opt.Psi) {
		return false, 0, 0
	}
	limit := uint16(max(1, a.opt.Psi/10))
	mass := a.forest.score(m.hst, x, limit)
	threshold := m.threshold(a.opt.Quantile)
	if mass >= threshold {
		return false, mass, 0
	}
	if a.forest.score(m.hst, cf, limit) < threshold {
		return false, mass, 0 // the features above baseline do not explain it
	}
	return true, mass, 1 - m.cdf(mass)
}

// closeWindow scores the entity's finished window into its model and
// folds it into the entity's baseline (unless it alerted: the baseline
// should not learn the attack).
func (a *Anomaly) closeWindow(e *entity, x *[anomalyFeatures]float32, f *[anomalyFeatures]float64) {
	m := a.model(e.model)
	m.mu.Lock()
	if m.hst.ready() {
		m.record(a.forest.score(m.hst, x, uint16(max(1, a.opt.Psi/10))))
	}
	before := m.hst.windows
	a.forest.update(m.hst, x, a.opt.Psi)
	if m.hst.windows != before {
		m.decay()
	}
	m.mu.Unlock()
	if e.alerted {
		return
	}
	e.windows++
	rate := float32(max(0.1, 1/float64(e.windows)))
	for i, v := range f {
		e.base[i] += rate * (float32(math.Log1p(v)) - e.base[i])
	}
}

// startWindow starts a new window at start.
func (e *entity) startWindow(start int64) {
	e.start, e.alerted = start, false
	e.count = [anomalyFeatures]float64{}
	e.dests, e.ports = hll{}, hll{}
}

// model returns the model of member-and-kind mk, creating it.
func (a *Anomaly) model(mk uint64) *anomModel {
	a.modelsMu.Lock()
	defer a.modelsMu.Unlock()
	m := a.models[mk]
	if m == nil {
		m = &anomModel{hst: newModel(a.forest)}
		a.models[mk] = m
	}
	return m
}

func massBin(mass float64) int {
	return min(histBins-1, int(2*math.Log2(1+mass)))
}

// record adds a window's mass to the histogram.
func (m *anomModel) record(mass float64) {
	m.hist[massBin(mass)]++
	m.n++
}

// decay halves the histogram, so that the threshold follows the model.
func (m *anomModel) decay() {
	for i := range m.hist {
		m.hist[i] /= 2
	}
	m.n /= 2
}

// threshold is the mass at the q-quantile of recent windows: the lower
// edge of the bin where the cumulative share reaches q.
func (m *anomModel) threshold(q float64) float64 {
	var cum float64
	for i, c := range m.hist {
		cum += c
		if cum >= q*m.n {
			return math.Exp2(float64(i)/2) - 1
		}
	}
	return 0
}

// cdf is the share of recent windows with a mass at most mass's bin.
func (m *anomModel) cdf(mass float64) float64 {
	if m.n == 0 {
		return 0
	}
	var cum float64
	for i := 0; i <= massBin(mass); i++ {
		cum += m.hist[i]
	}
	return cum / m.n
}

func (e *entity) inUse() bool      { return e.used }
func (e *entity) slotKey() uint64  { return e.key }
func (e *entity) lastSeen() int64  { return e.last }
func (e *entity) reset(key uint64) { *e = entity{key: key, used: true} }

// alert renders a finding.
func (a *Anomaly) alert(ev *event.Event, kind int, name string, f *finding) alert.Alert {
	var why strings.Builder
	for i, c := range f.causes {
		if i > 0 {
			why.WriteString("; ")
		}
		fmt.Fprintf(&why, "%s %s vs baseline %s", anomalyFeatureNames[c], featureValue(c, f.features[c]), featureValue(c, f.base[c]))
	}
	start := time.UnixMilli(f.window).UTC()
	// A technique only where the leading feature implies one: many
	// destination ports are a scan, many failed logins guessing; bytes
	// out could leave by any channel.
	techniques := []string(nil)
	switch f.causes[0] {
	case featPorts:
		techniques = []string{"T1046"}
	case featFailed:
		techniques = []string{"T1110"}
	}
	return alert.Alert{
		Member:    ev.Member,
		EventTime: ev.Time,
		Detector:  AnomalyDetectorName,
		RuleID:    AnomalyDetectorName,
		RuleTitle: fmt.Sprintf("Anomalous %s %s in the %s window from %s (rarer than %.1f %% of windows): %s",
			kindNames[kind], name, a.opt.Window, start.Format("15:04"), 100*f.rarity, why.String()),
		Severity:    alert.Medium,
		Techniques:  techniques,
		Observables: detect.Observables(ev),
		Key:         kindNames[kind] + " " + name,
		Evidence:    []string{string(ev.AppendJSON(nil))},
		EventIDs:    eventIDs(ev),
	}
}

// featureValue prints a feature for people: counts with thousands
// separators, bytes in units.
func featureValue(i int, v float64) string {
	if i == featBytesOut {
		return byteSize(v)
	}
	return thousands(int64(math.Round(v)))
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func byteSize(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1f GB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1f MB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f kB", v/1e3)
	}
	return fmt.Sprintf("%.0f B", v)
}

// entityBytes is an entity's size in a state file.
const entityBytes = 8 + 8 + 1 + 1 + 4 + 8*3 + 8*anomalyFeatures + 2*(1<<hllP) + 4*anomalyFeatures

// MarshalBinary writes the detector's state: the parent→child sketch,
// every model's masses and threshold histogram, every entity's window
// and baseline. Run it when the detector is quiet (it locks each part in
// turn, so a concurrent event may land on either side of the snapshot).
func (a *Anomaly) MarshalBinary() ([]byte, error) {
	f := a.forest
	w := newStateWriter(AnomalyDetectorName, 1<<20)
	w.u64(uint64(a.opt.Window.Milliseconds()))
	w.u16(uint16(f.trees))
	w.u8(uint8(f.depth))
	w.u32(uint32(a.opt.Psi))
	w.u64(a.opt.Seed)
	a.pairsMu.Lock()
	w.u64(a.pairs.width)
	w.u64(a.pairs.total)
	for _, row := range a.pairs.rows {
		for _, c := range row {
			w.u32(c)
		}
	}
	a.pairsMu.Unlock()
	a.modelsMu.Lock()
	w.u32(uint32(len(a.models)))
	for key, m := range a.models {
		m.mu.Lock()
		w.u64(key)
		w.u32(uint32(m.hst.seen))
		w.u32(uint32(m.hst.windows))
		w.f64(m.n)
		for _, c := range m.hist {
			w.f64(c)
		}
		for _, v := range m.hst.ref {
			w.u16(v)
		}
		for _, v := range m.hst.latest {
			w.u16(v)
		}
		m.mu.Unlock()
	}
	a.modelsMu.Unlock()
	n := 0
	for i := range a.shards {
		a.shards[i].mu.Lock()
		n += len(a.shards[i].slab)
		a.shards[i].mu.Unlock()
	}
	w.u32(0) // entity count, patched below
	at := len(w.b) - 4
	written := 0
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		for j := range s.slab {
			e := &s.slab[j]
			if !e.used || written == n {
				continue
			}
			written++
			w.u64(e.key)
			w.u64(e.model)
			w.u8(e.kind)
			w.u8(b2u(e.alerted))
			w.u32(e.windows)
			w.u64(uint64(e.start))
			w.u64(uint64(e.last))
			w.u64(uint64(e.lastAlert))
			for _, c := range e.count {
				w.f64(c)
			}
			w.b = append(w.b, e.dests[:]...)
			w.b = append(w.b, e.ports[:]...)
			for _, b := range e.base {
				w.f32(b)
			}
		}
		s.mu.Unlock()
	}
	binary.LittleEndian.PutUint32(w.b[at:], uint32(written))
	return w.finish(), nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// UnmarshalBinary restores a state MarshalBinary wrote into a fresh
// detector. The state must come from a detector with the same Window,
// Trees, Depth, Psi and Seed; entities beyond MaxEntities are dropped.
// On error the detector is unchanged.
func (a *Anomaly) UnmarshalBinary(data []byte) error {
	r, err := openState(data, AnomalyDetectorName)
	if err != nil {
		return err
	}
	f := a.forest
	win, trees, depth, psi, seed := r.u64(), r.u16(), r.u8(), r.u32(), r.u64()
	if r.err != nil {
		return r.err
	}
	if int64(win) != a.opt.Window.Milliseconds() || int(trees) != f.trees || int(depth) != f.depth || int(psi) != a.opt.Psi || seed != a.opt.Seed {
		return fmt.Errorf("%w: saved with window %v, %d trees of depth %d, psi %d, seed %d; configured %v, %d, %d, %d, %d",
			ErrStateIncompatible, time.Duration(win)*time.Millisecond, trees, depth, psi, seed, a.opt.Window, f.trees, f.depth, a.opt.Psi, a.opt.Seed)
	}
	width, total := r.u64(), r.u64()
	if r.err == nil && width != a.pairs.width {
		return fmt.Errorf("%w: parent→child sketch of width %d, not %d", ErrStateIncompatible, width, a.pairs.width)
	}
	pairs := newCountMin(int(a.pairs.width))
	pairs.total = total
	for i := range pairs.rows {
		raw := r.take(4 * len(pairs.rows[i]))
		for j := range pairs.rows[i] {
			if raw != nil {
				pairs.rows[i][j] = binary.LittleEndian.Uint32(raw[4*j:])
			}
		}
	}
	nodes := f.trees * f.nodes
	modelBytes := 8 + 4 + 4 + 8 + 8*histBins + 2*2*nodes
	models := map[uint64]*anomModel{}
	for k := r.count(modelBytes); k > 0 && r.err == nil; k-- {
		key := r.u64()
		m := &anomModel{hst: newModel(f)}
		m.hst.seen, m.hst.windows = int(r.u32()), int(r.u32())
		m.n = r.f64()
		for i := range m.hist {
			m.hist[i] = r.f64()
		}
		for _, arr := range [][]uint16{m.hst.ref, m.hst.latest} {
			raw := r.take(2 * len(arr))
			for i := range arr {
				if raw != nil {
					arr[i] = binary.LittleEndian.Uint16(raw[2*i:])
				}
			}
		}
		if r.err == nil && (m.hst.seen >= a.opt.Psi || math.IsNaN(m.n) || m.n < 0) {
			return errors.New("a model's counts are out of range")
		}
		models[key] = m
	}
	var ents []entity
	for k := r.count(entityBytes); k > 0 && r.err == nil; k-- {
		e := entity{used: true, key: r.u64(), model: r.u64(), kind: r.u8(), alerted: r.u8() != 0, windows: r.u32(),
			start: int64(r.u64()), last: int64(r.u64()), lastAlert: int64(r.u64())}
		for i := range e.count {
			e.count[i] = r.f64()
		}
		copy(e.dests[:], r.take(len(e.dests)))
		copy(e.ports[:], r.take(len(e.ports)))
		for i := range e.base {
			e.base[i] = r.f32()
		}
		if r.err == nil && e.kind >= entityKinds {
			return fmt.Errorf("entity of unknown kind %d", e.kind)
		}
		ents = append(ents, e)
	}
	if err := r.done(); err != nil {
		return err
	}
	a.pairsMu.Lock()
	a.pairs = pairs
	a.pairsMu.Unlock()
	a.modelsMu.Lock()
	a.models = models
	a.modelsMu.Unlock()
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		s.clear()
		s.mu.Unlock()
	}
	for _, e := range ents {
		s := &a.shards[e.key%anomalyShards]
		s.restore(e.key, e)
	}
	return nil
}
