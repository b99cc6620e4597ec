package ml

import (
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
)

// DGABurstDetectorName is the detector name on DGA burst alerts, and
// their rule id.
const DGABurstDetectorName = "ml-dga-burst"

// The burst detector catches what the lexical model cannot: dictionary
// DGAs (Suppobox, Matsnu) whose names read like benign ones. A host
// walking a DGA resolves many registrable domains that nobody at its
// member resolved before, in a short time, and most of them do not
// exist; that context gives it away whatever the names look like.
const (
	// burstRing is how many of a host's latest new domains it keeps; a
	// burst is judged over those inside the window.
	burstRing = 32
	// burstExamples is how many of the latest new names an alert quotes.
	burstExamples = 3
	// exampleLen caps a quoted name (longer ones are cut).
	exampleLen  = 48
	burstShards = 64
	// maxBurstMembers caps the members whose learning period is kept.
	maxBurstMembers = 4096
	nxdomainCode    = "NXDOMAIN"
)

// DGABurstOptions tune the burst detector; zero values take defaults.
type DGABurstOptions struct {
	// Window is the span over which a host's new domains are counted
	// (default 60 s).
	Window time.Duration
	// MinDomains is how many distinct new registrable domains a host
	// must resolve within Window to be judged (default 16, at most
	// burstRing).
	MinDomains int
	// NXShare is the share of them answered NXDOMAIN that makes a burst
	// (default 0.5); MeanScore the mean lexical DGA probability that
	// makes one without NXDOMAIN answers (default 0.5, for sensors that
	// log no response code).
	NXShare, MeanScore float64
	// Learn is how long after a member's first DNS event its bursts are
	// not reported: at first every domain is new (default 30 min).
	Learn time.Duration
	// MaxHosts caps the hosts tracked at once (default 16,384; about
	// 1 KB each, allocated as hosts appear). When full, an expired host
	// or the least recently seen of a few sampled ones makes room.
	MaxHosts int
	// Expire forgets a host that resolved no new domain for this long
	// (default 10 min).
	Expire time.Duration
	// SeenBits sizes each generation of the Bloom filter of domains
	// seen per member (default 2^22 bits, 512 KB; about 420,000 domains
	// a generation at 1 % false positives).
	SeenBits int
}

func (o *DGABurstOptions) defaults() {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.MinDomains <= 0 {
		o.MinDomains = 16
	}
	o.MinDomains = min(o.MinDomains, burstRing)
	if o.NXShare <= 0 {
		o.NXShare = 0.5
	}
	if o.MeanScore <= 0 {
		o.MeanScore = 0.5
	}
	if o.Learn <= 0 {
		o.Learn = 30 * time.Minute
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = 1 << 14
	}
	if o.Expire <= 0 {
		o.Expire = 10 * time.Minute
	}
	if o.SeenBits < 1<<12 {
		o.SeenBits = 1 << 22
	}
	o.SeenBits = 1 << (bits.Len(uint(o.SeenBits)) - 1) // a power of two, for the Bloom mask
}

// DGABurst raises one alert per burst of never-seen domains from a host.
// It is safe for concurrent use; its memory is fixed by MaxHosts and
// SeenBits.
type DGABurst struct {
	opt      DGABurstOptions
	model    *DGAModel
	seen     bloomPair
	shards   [burstShards]burstShard
	suffixes suffixCache
	stats    Stats

	membersMu sync.Mutex
	members   map[string]int64 // member → end of its learning, Unix ms
}

// burstShard is one lock's worth of hosts.
type burstShard struct {
	mu sync.Mutex
	slots[burstHost, *burstHost]
}

// newDomain is one new registrable domain a host resolved.
type newDomain struct {
	hash  uint64
	at    int64 // Unix ms
	score float32
	nx    bool
}

// burstHost is one host's recent new domains: a ring of the latest
// burstRing, and the latest few names for the alert.
type burstHost struct {
	key      uint64
	used     bool
	last     int64 // Unix ms of the latest new domain
	alerted  int64 // Unix ms of the alert on the current burst, 0 if none
	head     int
	n        int
	ring     [burstRing]newDomain
	examples [burstExamples][exampleLen]byte
	exLen    [burstExamples]uint8
	exHead   int
}

func (h *burstHost) inUse() bool     { return h.used }
func (h *burstHost) slotKey() uint64 { return h.key }
func (h *burstHost) lastSeen() int64 { return h.last }
func (h *burstHost) reset(key uint64) {
	*h = burstHost{key: key, used: true}
}

// NewDGABurst returns a burst detector scoring names with model
// (DefaultDGAModel when nil).
func NewDGABurst(model *DGAModel, opt DGABurstOptions) *DGABurst {
	opt.defaults()
	if model == nil {
		model = DefaultDGAModel()
	}
	d := &DGABurst{opt: opt, model: model, members: map[string]int64{},
		seen: bloomPair{cur: make([]uint64, opt.SeenBits/64), old: make([]uint64, opt.SeenBits/64)}}
	for i := range d.shards {
		d.shards[i].init(max(1, opt.MaxHosts/burstShards)) // each shard its share of the hosts
	}
	return d
}

// burstVerdict is what a judged burst found.
type burstVerdict struct {
	domains, nx int
	span        time.Duration
	mean        float64
}

// Detect records the registrable domain of a DNS event's question for
// its host and judges the host's recent new domains. It does not
// allocate unless it raises an alert, the name has upper-case letters,
// its zone is not in the suffix cache yet, or the member is new.
func (d *DGABurst) Detect(ev *event.Event, out []alert.Alert) []alert.Alert {
	name := ev.Key(event.DnsQuestionName)
	if name == "" {
		return out
	}
	host := ev.Key(event.SourceIp)
	if host == "" {
		host = ev.Key(event.HostName)
	}
	domain, ok := registrableOf(name, &d.suffixes)
	if !ok || host == "" || ev.Time.IsZero() {
		d.stats.Skipped.Add(1)
		return out
	}
	d.stats.Scored.Add(1)
	now := ev.Time.UnixMilli()
	dh := hash64(hash64(0, ev.Member), domain)
	nx := isNXDOMAIN(ev.Key(event.DnsResponseCode))
	hh := hash64(hash64(1, ev.Member), host)
	s := &d.shards[hh%burstShards]
	if !d.seen.add(dh) {
		// Seen before: only an NXDOMAIN answer to one of the host's
		// recent new domains matters (sensors log the question before
		// the answer, and its first record may carry no response code).
		if nx {
			s.mu.Lock()
			if h, ok := s.find(hh); ok {
				h.markNX(dh)
			}
			s.mu.Unlock()
		}
		return out
	}
	// Only a new domain asks for the member's learning period, under a
	// lock all workers share: a member's first DNS event is a new domain,
	// so the period still starts there.
	learning := d.learning(ev.Member, now)
	var score float64
	if label, ok := labelOf(domain, &d.suffixes); ok {
		score = d.model.Score(label)
	}
	s.mu.Lock()
	h := s.lookup(hh, now, d.opt.Expire.Milliseconds())
	window := d.opt.Window.Milliseconds()
	if h.alerted != 0 && now-h.last > window {
		h.alerted = 0 // the burst ended: the next one may alert
	}
	h.add(newDomain{hash: dh, at: now, score: float32(score), nx: nx}, domain)
	if learning || h.alerted != 0 {
		s.mu.Unlock()
		return out
	}
	v := h.judge(now, window)
	if v.domains < d.opt.MinDomains || (float64(v.nx) < d.opt.NXShare*float64(v.domains) && v.mean < d.opt.MeanScore) {
		s.mu.Unlock()
		return out
	}
	h.alerted = now
	examples := h.exampleNames()
	s.mu.Unlock()
	d.stats.Alerts.Add(1)
	return append(out, d.alert(ev, host, v, examples))
}

// Name returns DGABurstDetectorName.
func (d *DGABurst) Name() string { return DGABurstDetectorName }

// Stats returns the detector's counters.
func (d *DGABurst) Stats() *Stats { return &d.stats }

// find returns the entry of key h if the shard holds it.
func (s *burstShard) find(h uint64) (*burstHost, bool) {
	i, ok := s.index.get(h)
	if !ok {
		return nil, false
	}
	return &s.slab[i], true
}

// isNXDOMAIN reports whether a response code says the name does not
// exist: by name (Zeek, Suricata) or number (3).
func isNXDOMAIN(code string) bool {
	return code == "3" || strings.EqualFold(code, nxdomainCode)
}

// learning reports whether member is still in its learning period,
// starting it at now for a member not seen before.
func (d *DGABurst) learning(member string, now int64) bool {
	d.membersMu.Lock()
	defer d.membersMu.Unlock()
	end, ok := d.members[member]
	if !ok {
		if len(d.members) >= maxBurstMembers {
			return true // bounded memory: members beyond the cap only learn
		}
		end = now + d.opt.Learn.Milliseconds()
		d.members[member] = end
	}
	return now < end
}

// add files a new domain and keeps its name as the latest example.
func (h *burstHost) add(nd newDomain, name string) {
	h.ring[h.head] = nd
	h.head = (h.head + 1) % burstRing
	h.n = min(h.n+1, burstRing)
	h.last = nd.at
	ex := &h.examples[h.exHead]
	h.exLen[h.exHead] = uint8(copy(ex[:], name))
	h.exHead = (h.exHead + 1) % burstExamples
}

// markNX flags the recent new domain of hash dh as answered NXDOMAIN.
func (h *burstHost) markNX(dh uint64) {
	for i := 0; i < h.n; i++ {
		if h.ring[i].hash == dh {
			h.ring[i].nx = true
			return
		}
	}
}

// judge counts the new domains inside the window ending at now.
func (h *burstHost) judge(now, window int64) burstVerdict {
	var v burstVerdict
	first := now
	var sum float64
	for i := 0; i < h.n; i++ {
		nd := &h.ring[i]
		if now-nd.at > window {
			continue
		}
		v.domains++
		if nd.nx {
			v.nx++
		}
		sum += float64(nd.score)
		first = min(first, nd.at)
	}
	if v.domains > 0 {
		v.mean = sum / float64(v.domains)
	}
	v.span = time.Duration(now-first) * time.Millisecond
	return v
}

// exampleNames returns the latest new names, the latest first.
func (h *burstHost) exampleNames() []string {
	var out []string
	for k := 1; k <= min(h.n, burstExamples); k++ {
		i := (h.exHead - k + burstExamples) % burstExamples
		out = append(out, string(h.examples[i][:h.exLen[i]]))
	}
	return out
}

func (d *DGABurst) alert(ev *event.Event, host string, v burstVerdict, examples []string) alert.Alert {
	span := v.span.Round(time.Second)
	if span < time.Second {
		span = time.Second
	}
	return alert.Alert{
		Member:    ev.Member,
		EventTime: ev.Time,
		Detector:  DGABurstDetectorName,
		RuleID:    DGABurstDetectorName,
		RuleTitle: fmt.Sprintf("DGA-like burst from %s: %d distinct new domains in %s, %d NXDOMAIN, mean name score %.2f, e.g. %s",
			host, v.domains, span, v.nx, v.mean, strings.Join(examples, ", ")),
		Severity:    alert.Medium,
		Techniques:  []string{"T1568.002"},
		Observables: detect.Observables(ev),
		Key:         host,
		Evidence:    []string{string(ev.AppendJSON(nil))},
		EventIDs:    eventIDs(ev),
	}
}
