package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"time"
)

// gen is the state of one scenario generation.
type gen struct {
	cfg      Config
	sites    []*site
	pool     *domainPool
	camps    []*Campaign
	dgaSeeds []uint64
}

// newGen validates cfg and lays out the members and campaigns.
func newGen(cfg Config) (*gen, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	g := &gen{cfg: cfg, pool: newDomainPool(cfg.Seed, cfg.BenignDomains)}
	for i := range g.cfg.Members {
		g.sites = append(g.sites, buildSite(cfg.Seed, &g.cfg.Members[i]))
	}
	g.planCampaigns()
	return g, nil
}

func (g *gen) siteByID(id string) *site {
	for _, s := range g.sites {
		if s.m.ID == id {
			return s
		}
	}
	return nil
}

// emitter collects the records one generator step produces for a member.
type emitter struct {
	s   *site
	r   *rand.Rand
	w   jsonw
	out []Record
	// label, when set, marks every record emitted as malicious.
	label *Label
}

func (g *gen) newEmitter(s *site, r *rand.Rand) *emitter {
	return &emitter{s: s, r: r, w: jsonw{b: make([]byte, 0, 2048)}}
}

// buf returns the emitter's scratch JSON writer, emptied.
func (e *emitter) buf() *jsonw {
	e.w.b = e.w.b[:0]
	return &e.w
}

// emit records one line. host is the machine or sensor that wrote it.
func (e *emitter) emit(format string, t time.Time, line []byte, host string) {
	t = t.UTC()
	rec := Record{Member: e.s.m.ID, Format: format, Time: t, Line: bytes.Clone(line)}
	if cap(line) > cap(e.w.b) {
		e.w.b = line[:0] // keep the larger buffer for the next record
	}
	if e.label != nil {
		l := *e.label
		l.Host, l.Format, l.Time = host, format, t
		rec.Label = &l
	}
	e.out = append(e.out, rec)
}

// Campaigns returns the campaigns cfg describes, without generating any
// telemetry: their infrastructure, indicators and victims.
func Campaigns(cfg Config) ([]*Campaign, error) {
	g, err := newGen(cfg)
	if err != nil {
		return nil, err
	}
	return g.camps, nil
}

// Stream generates the scenario hour by hour and calls fn for every record
// in time order (ties keep generation order). Labels carry their final
// Index, File, Line and SHA256. Memory stays bounded by one hour of
// records. Stream stops at the first error fn returns.
func Stream(cfg Config, fn func(Record) error) error {
	g, err := newGen(cfg)
	if err != nil {
		return err
	}
	return g.stream(fn)
}

// byTime orders records by time only, so a stable sort keeps generation
// order among equal times.
func byTime(a, b Record) int { return a.Time.Compare(b.Time) }

func (g *gen) stream(fn func(Record) error) error {
	attacks := g.attackRecords()
	start, end := g.cfg.Start, g.cfg.Start.Add(g.cfg.Duration)
	n := newNumberer()
	var pending []Record
	flush := func(limit time.Time) error {
		slices.SortStableFunc(pending, byTime)
		i := 0
		for ; i < len(pending) && pending[i].Time.Before(limit); i++ {
			r := pending[i]
			if r.Time.Before(start) {
				continue
			}
			n.number(&r)
			if err := fn(r); err != nil {
				return err
			}
		}
		pending = append(pending[:0], pending[i:]...)
		return nil
	}
	for hour := 0; ; hour++ {
		from := start.Add(time.Duration(hour) * time.Hour)
		if !from.Before(end) {
			break
		}
		to := from.Add(time.Hour)
		if to.After(end) {
			to = end
		}
		for i, s := range g.sites {
			e := g.newEmitter(s, newRand(g.cfg.Seed, strHash("background"), uint64(i), uint64(hour)))
			g.background(e, from, to)
			pending = append(pending, e.out...)
			if g.cfg.Extras.ImpossibleTravel {
				e := g.newEmitter(s, newRand(g.cfg.Seed, strHash("signin"), uint64(i), uint64(hour)))
				g.signIns(e, from, to)
				pending = append(pending, e.out...)
			}
		}
		for len(attacks) > 0 && attacks[0].Time.Before(to) {
			pending = append(pending, attacks[0])
			attacks = attacks[1:]
		}
		if err := flush(to); err != nil {
			return err
		}
	}
	return flush(end)
}

// attackRecords generates every campaign's records, in time order.
func (g *gen) attackRecords() []Record {
	var out []Record
	for ci, c := range g.camps {
		for vi := range c.Victims {
			out = append(out, g.attack(c, ci, vi)...)
		}
	}
	slices.SortStableFunc(out, byTime)
	return out
}

// numberer assigns stream positions and file line numbers.
type numberer struct {
	index int
	lines map[string]int
}

func newNumberer() *numberer { return &numberer{lines: make(map[string]int)} }

func (n *numberer) number(r *Record) {
	file := FileName(r.Member, r.Format)
	n.lines[file]++
	if r.Label != nil {
		l := *r.Label
		l.Index, l.File, l.Line = n.index, file, n.lines[file]
		sum := sha256.Sum256(r.Line)
		l.SHA256 = hex.EncodeToString(sum[:])
		r.Label = &l
	}
	n.index++
}

// Scenario is a generated scenario held in memory.
type Scenario struct {
	// Config is the configuration with defaults filled in.
	Config Config
	// Campaigns are the attack campaigns.
	Campaigns []*Campaign
	// Records are all records in time order.
	Records []Record
	// Labels are the labels of the malicious records, in stream order.
	Labels []Label
}

// Generate builds the whole scenario in memory. Use Stream or WriteDir
// for long durations.
func Generate(cfg Config) (*Scenario, error) {
	g, err := newGen(cfg)
	if err != nil {
		return nil, err
	}
	sc := &Scenario{Config: g.cfg, Campaigns: g.camps}
	err = g.stream(func(r Record) error {
		sc.Records = append(sc.Records, r)
		if r.Label != nil {
			sc.Labels = append(sc.Labels, *r.Label)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// Indicators returns the indicators of every campaign.
func (s *Scenario) Indicators() []Indicator {
	var out []Indicator
	for _, c := range s.Campaigns {
		out = append(out, c.Indicators()...)
	}
	return out
}
