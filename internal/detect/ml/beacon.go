package ml

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// BeaconDetectorName is the detector name on beaconing alerts, and their
// rule id.
const BeaconDetectorName = "ml-beacon"

// The beaconing detector keeps, per member, source and destination, the
// times and sizes of the last beatsKept contacts, and judges their
// regularity the way RITA does — the spread (median absolute deviation)
// and symmetry (Bowley skewness) of the intervals between contacts and of
// the sizes — made robust to missed beats: intervals are measured against
// the period, and an interval near a multiple of it counts as beats that
// did not happen, not as irregularity.
const (
	beatsKept = 64
	// mergeGap folds contacts closer than this into one beat: one
	// connection is often seen by several sensors (Zeek conn and ssl,
	// Suricata flow and tls, Sysmon, the firewall) within a second.
	mergeGap = 2 * time.Second
	// minBeats is how many beats a pair needs before it is judged.
	minBeats = 12
	// judgeEvery re-judges a pair every this many new beats.
	judgeEvery   = 4
	beaconShards = 64
)

// BeaconOptions tune the beaconing detector; zero values take defaults.
type BeaconOptions struct {
	// MaxPairs caps the pairs tracked at once (default 65,536; about
	// 850 bytes each, allocated as pairs appear). When full, an expired
	// pair or the least recently seen of a few sampled ones makes room.
	MaxPairs int
	// Expire forgets a pair not seen for this long (default 24 h).
	Expire time.Duration
	// Realert is the least time between two alerts for one pair
	// (default 6 h); the alert service also folds repeats.
	Realert time.Duration
	// Threshold is the score (0–1) at which a pair is reported
	// (default 0.8).
	Threshold float64
}

func (o *BeaconOptions) defaults() {
	if o.MaxPairs <= 0 {
		o.MaxPairs = 1 << 16
	}
	if o.Expire <= 0 {
		o.Expire = 24 * time.Hour
	}
	if o.Realert <= 0 {
		o.Realert = 6 * time.Hour
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.8
	}
}

// Beacon detects regular call-home traffic. It is safe for concurrent
// use; its memory is fixed by MaxPairs.
type Beacon struct {
	opt    BeaconOptions
	shards [beaconShards]beaconShard
	stats  Stats
}

// beaconShard is one lock's worth of pairs: its share of MaxPairs.
type beaconShard struct {
	mu sync.Mutex
	slots[pair, *pair]
}

// pair is one source→destination pair's recent contacts, a ring of beat
// times (Unix milliseconds) and sizes (bytes).
type pair struct {
	key     uint64
	used    bool
	n       int // beats in the ring, at most beatsKept
	head    int // next write position
	total   int // beats since the pair was first seen
	first   int64
	last    int64
	alerted int64
	times   [beatsKept]int64
	sizes   [beatsKept]uint32
}

// NewBeacon returns a beaconing detector.
func NewBeacon(opt BeaconOptions) *Beacon {
	opt.defaults()
	b := &Beacon{opt: opt}
	per := max(1, opt.MaxPairs/beaconShards)
	for i := range b.shards {
		b.shards[i].init(per)
	}
	return b
}

// Name returns BeaconDetectorName.
func (b *Beacon) Name() string { return BeaconDetectorName }

// Stats returns the detector's counters.
func (b *Beacon) Stats() *Stats { return &b.stats }

// endpoints returns the source and destination of a contact: the source
// address, and the destination's name when the event has one (the DNS
// question for DNS events, so that DNS tunnels are judged per name), else
// its address.
func endpoints(ev *event.Event) (src, dst string) {
	src = ev.Key(event.SourceIp)
	for _, k := range [...]event.Key{event.DnsQuestionName, event.TlsServerSni, event.UrlDomain, event.DestinationDomain, event.DestinationIp} {
		if dst = ev.Key(k); dst != "" {
			return src, dst
		}
	}
	return src, ""
}

// Detect records a contact and judges its pair. It does not allocate
// unless it raises an alert.
func (b *Beacon) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	src, dst := endpoints(ev)
	if dst == "" || (ev.Key(event.DnsQuestionName) == "" && ev.Key(event.DestinationIp) == "") {
		return out // not a contact
	}
	if src == "" || ev.Time.IsZero() {
		b.stats.Skipped.Add(1)
		return out
	}
	b.stats.Scored.Add(1)
	// Each sensor's records of a pair are judged apart: sensors time a
	// connection differently (its start, its end), and mixing them would
	// turn one beat into two.
	h := pairHash(ev.Member, src, dst, ev.Key(event.EventDataset), ev.Key(event.EventModule))
	now := ev.Time.UnixMilli()
	size := contactSize(ev)
	s := &b.shards[h%beaconShards]
	s.mu.Lock()
	p := s.lookup(h, now, b.opt.Expire.Milliseconds())
	if !p.add(now, size) || p.n < minBeats || p.total%judgeEvery != 0 ||
		(p.alerted != 0 && now-p.alerted < b.opt.Realert.Milliseconds()) {
		s.mu.Unlock()
		return out
	}
	v := p.judge()
	if v.Score < b.opt.Threshold {
		s.mu.Unlock()
		return out
	}
	p.alerted = now
	s.mu.Unlock()
	b.stats.Alerts.Add(1)
	return append(out, beaconAlert(ev, src, dst, v))
}

// contactSize is the bytes both ways, when the event says.
func contactSize(ev *event.Event) uint32 {
	return uint32(min(parseBytes(ev.Key(event.SourceBytes))+parseBytes(ev.Key(event.DestinationBytes)), math.MaxUint32))
}

// parseBytes reads a non-negative decimal count; anything else is 0.
func parseBytes(s string) uint64 {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > math.MaxUint32 {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// pairHash is FNV-1a over the member, source, destination and sensor,
// with separators.
func pairHash(member, src, dst, dataset, module string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{member, src, dst, dataset, module} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211
	}
	return h
}

func (p *pair) inUse() bool      { return p.used }
func (p *pair) slotKey() uint64  { return p.key }
func (p *pair) lastSeen() int64  { return p.last }
func (p *pair) reset(key uint64) { *p = pair{key: key, used: true} }

// add records a contact at now (ms). It returns whether the contact
// began a new beat; contacts within mergeGap of the last beat, and late
// ones, fold into it.
func (p *pair) add(now int64, size uint32) bool {
	if p.total > 0 && now-p.last < mergeGap.Milliseconds() {
		last := (p.head + beatsKept - 1) % beatsKept
		p.sizes[last] = max(p.sizes[last], size)
		return false
	}
	if p.total == 0 {
		p.first = now
	}
	p.times[p.head], p.sizes[p.head] = now, size
	p.head = (p.head + 1) % beatsKept
	p.n = min(p.n+1, beatsKept)
	p.total++
	p.last = now
	return true
}

// Verdict is the judgement of one pair's regularity.
type Verdict struct {
	// Score (0–1) combines the parts below; 1 is a metronome.
	Score float64
	// Period is the estimated beat period.
	Period time.Duration
	// Jitter is the median absolute deviation of intervals from the
	// period, as a share of it.
	Jitter float64
	// Regular is the share of intervals within half a period of a whole
	// number of periods (missed beats included).
	Regular float64
	// Missed is the share of beats that did not happen.
	Missed float64
	// Skew is the Bowley skewness of the intervals (0: symmetric).
	Skew float64
	// SizeSpread is the median absolute deviation of sizes as a share of
	// their median (0 when sizes are unknown).
	SizeSpread float64
	Beats      int
	Span       time.Duration
}

// judge scores the pair's ring of beats.
func (p *pair) judge() Verdict {
	var t [beatsKept]int64
	n := p.n
	start := (p.head + beatsKept - n) % beatsKept
	for i := 0; i < n; i++ {
		t[i] = p.times[(start+i)%beatsKept]
	}
	var d [beatsKept]float64
	for i := 1; i < n; i++ {
		d[i-1] = float64(t[i] - t[i-1])
	}
	iv := d[:n-1]
	var sorted [beatsKept]float64
	ss := sorted[:len(iv)]
	copy(ss, iv)
	slices.Sort(ss)
	// The period: the median of the intervals, refined as the median of
	// those within the central band around it; missed beats (intervals
	// of two or three periods) then barely move it.
	period := quantile(ss, 0.5)
	// With many missed beats the median can itself be a double period:
	// prefer the lower quartile when the median is about twice it.
	if q1 := quantile(ss, 0.25); q1 > 0 && math.Abs(period/q1-2) < 0.35 {
		period = q1
	}
	if period <= 0 {
		return Verdict{}
	}
	var dev [beatsKept]float64
	regular, beats := 0, 0
	for i, x := range iv {
		k := math.Max(1, math.Round(x/period))
		beats += int(k)
		e := x/period - k
		if math.Abs(e) <= 0.5 && k <= 4 {
			regular++
		}
		dev[i] = math.Abs(e / math.Sqrt(k)) // jitter adds up over missed beats
	}
	devs := dev[:len(iv)]
	slices.Sort(devs)
	v := Verdict{
		Period:  time.Duration(period) * time.Millisecond,
		Jitter:  quantile(devs, 0.5),
		Regular: float64(regular) / float64(len(iv)),
		Missed:  1 - float64(len(iv))/float64(beats),
		Beats:   n,
		Span:    time.Duration(t[n-1]-t[0]) * time.Millisecond,
	}
	// Bowley skewness of the single-period intervals.
	var one [beatsKept]float64
	m := 0
	for _, x := range ss {
		if x < 1.5*period {
			one[m] = x
			m++
		}
	}
	if m >= 4 {
		q1, q2, q3 := quantile(one[:m], 0.25), quantile(one[:m], 0.5), quantile(one[:m], 0.75)
		if q3 > q1 {
			v.Skew = (q3 + q1 - 2*q2) / (q3 - q1)
		}
	}
	v.SizeSpread = p.sizeSpread(start, n)
	// The parts, each 0–1: intervals on the period's grid; small
	// jitter (30 % uniform jitter has a median deviation of 0.15); few
	// missed beats; symmetric intervals; steady sizes.
	grid := math.Max(0, (v.Regular-0.6)/0.4)
	steady := math.Max(0, 1-v.Jitter/0.3)
	present := math.Max(0, 1-v.Missed/0.5)
	symmetric := 1 - math.Min(1, math.Abs(v.Skew))
	sizes := 1 - math.Min(1, v.SizeSpread)
	v.Score = grid * (0.45*steady + 0.2*present + 0.2*symmetric + 0.15*sizes)
	v.Score = math.Min(1, v.Score/0.85)
	return v
}

// sizeSpread is the MAD of the non-zero sizes over their median.
func (p *pair) sizeSpread(start, n int) float64 {
	var s [beatsKept]float64
	m := 0
	for i := 0; i < n; i++ {
		if x := p.sizes[(start+i)%beatsKept]; x > 0 {
			s[m] = float64(x)
			m++
		}
	}
	if m < minBeats/2 {
		return 0
	}
	xs := s[:m]
	slices.Sort(xs)
	med := quantile(xs, 0.5)
	for i := range xs {
		xs[i] = math.Abs(xs[i] - med)
	}
	slices.Sort(xs)
	return quantile(xs, 0.5) / med
}

// quantile interpolates the q-quantile of sorted xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

func beaconAlert(ev *event.Event, src, dst string, v Verdict) alert.Alert {
	return alert.Alert{
		Member:    ev.Member,
		EventTime: ev.Time,
		Detector:  BeaconDetectorName,
		RuleID:    BeaconDetectorName,
		RuleTitle: fmt.Sprintf("Beaconing %s → %s every %s (score %.2f): %d beats over %s, jitter %.0f %% of the period, %.0f %% of intervals on the period grid, %.0f %% beats missed, interval skew %.2f, size spread %.0f %%",
			src, dst, v.Period.Round(time.Second), v.Score, v.Beats, v.Span.Round(time.Second), 100*v.Jitter, 100*v.Regular, 100*v.Missed, v.Skew, 100*v.SizeSpread),
		Severity:    alert.Medium,
		Techniques:  []string{"T1071"},
		Observables: detect.Observables(ev),
		Key:         src + "→" + dst,
		Evidence:    []string{string(ev.AppendJSON(nil))},
		EventIDs:    eventIDs(ev),
	}
}
