package ml

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// BeaconEvalConfig describes the synthetic traffic EvalBeacon generates:
// beaconing pairs with uniform jitter and missed beats among benign pairs
// of several kinds, all observed for one day.
type BeaconEvalConfig struct {
	Seed        uint64
	BenignPairs int
	BeaconPairs int
	// Jitter is each interval's uniform relative deviation (0.3: the
	// interval is the period ×0.7 to ×1.3).
	Jitter float64
	// Missed is the chance that a beat does not happen.
	Missed float64
}

// DefaultBeaconEval is the measurement the README quotes.
func DefaultBeaconEval() BeaconEvalConfig {
	return BeaconEvalConfig{Seed: 1, BenignPairs: 20000, BeaconPairs: 1000, Jitter: 0.3, Missed: 0.1}
}

// BeaconEvaluation is EvalBeacon's outcome.
type BeaconEvaluation struct {
	Config  BeaconEvalConfig `json:"config"`
	Events  int              `json:"events"`
	Alerts  int              `json:"alerts"`
	Caught  int              `json:"beacons_detected"`
	FalsePs int              `json:"benign_pairs_alerted"`
	// ByKind counts alerted benign pairs per kind of benign traffic.
	ByKind map[string]int `json:"false_positives_by_kind"`
	Recall float64        `json:"recall"`
	// FPPer10k is alerted benign pairs per 10,000 benign pairs.
	FPPer10k float64 `json:"false_positives_per_10k_pairs"`
	// Delay is the median time from a beacon's first beat to its alert,
	// in beats and in time.
	DelayBeats int           `json:"median_delay_beats"`
	Delay      time.Duration `json:"median_delay"`
	// PeriodError is the median relative error of the reported period.
	PeriodError float64 `json:"median_period_error"`
}

// benignKinds are the benign traffic shapes of the evaluation.
var benignKinds = []string{"poisson", "sessions", "lognormal", "office-hours"}

// contact is one generated connection.
type contact struct {
	at   time.Time
	pair int
	size uint32
}

// EvalBeacon generates the traffic of cfg, runs it through a fresh
// beaconing detector in time order, and scores the alerts by pair.
func EvalBeacon(cfg BeaconEvalConfig, opt BeaconOptions) BeaconEvaluation {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	start := time.Date(2025, time.March, 11, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var cs []contact
	n := cfg.BenignPairs + cfg.BeaconPairs
	kinds := make([]string, n)
	periods := make([]time.Duration, n)
	for p := 0; p < cfg.BenignPairs; p++ {
		kinds[p] = benignKinds[p%len(benignKinds)]
		cs = benignContacts(r, kinds[p], p, start, day, cs)
	}
	for p := cfg.BenignPairs; p < n; p++ {
		kinds[p] = "beacon"
		// Periods log-uniform from 30 s to 1 h: at least 24 beats a day.
		periods[p] = time.Duration(math.Exp(math.Log(30)+r.Float64()*math.Log(120))) * time.Second
		cs = beaconContacts(r, cfg, p, periods[p], start, day, cs)
	}
	slices.SortStableFunc(cs, func(a, b contact) int { return a.at.Compare(b.at) })
	d := NewBeacon(opt)
	ev := new(event.Event)
	firstBeat := make([]time.Time, n)
	beatsSeen := make([]int, n)
	alerted := make([]bool, n)
	var delays []time.Duration
	var delayBeats, periodErr []float64
	res := BeaconEvaluation{Config: cfg, ByKind: map[string]int{}}
	var out []alert.Alert
	for _, c := range cs {
		if firstBeat[c.pair].IsZero() {
			firstBeat[c.pair] = c.at
		}
		beatsSeen[c.pair]++
		contactEvent(ev, c)
		out = d.Detect(ev, out[:0])
		res.Events++
		for _, a := range out {
			res.Alerts++
			if alerted[c.pair] {
				continue
			}
			alerted[c.pair] = true
			if kinds[c.pair] != "beacon" {
				res.FalsePs++
				res.ByKind[kinds[c.pair]]++
				continue
			}
			res.Caught++
			delays = append(delays, c.at.Sub(firstBeat[c.pair]))
			delayBeats = append(delayBeats, float64(beatsSeen[c.pair]))
			if got := reportedPeriod(a.RuleTitle); got > 0 {
				periodErr = append(periodErr, math.Abs(float64(got-periods[c.pair]))/float64(periods[c.pair]))
			}
		}
	}
	res.Recall = float64(res.Caught) / float64(max(1, cfg.BeaconPairs))
	res.FPPer10k = 10000 * float64(res.FalsePs) / float64(max(1, cfg.BenignPairs))
	if len(delays) > 0 {
		slices.Sort(delays)
		res.Delay = delays[len(delays)/2]
		slices.Sort(delayBeats)
		res.DelayBeats = int(delayBeats[len(delayBeats)/2])
	}
	if len(periodErr) > 0 {
		slices.Sort(periodErr)
		res.PeriodError = periodErr[len(periodErr)/2]
	}
	return res
}

// reportedPeriod reads the period back from an alert title ("every 1m0s").
func reportedPeriod(title string) time.Duration {
	const marker = " every "
	for i := 0; i+len(marker) < len(title); i++ {
		if title[i:i+len(marker)] == marker {
			rest := title[i+len(marker):]
			for j := 0; j < len(rest); j++ {
				if rest[j] == ' ' {
					d, _ := time.ParseDuration(rest[:j])
					return d
				}
			}
		}
	}
	return 0
}

// contactEvent fills ev as a firewall connection record of c.
func contactEvent(ev *event.Event, c contact) {
	ev.Reset()
	ev.Member, ev.Time = "m"+strconv.Itoa(c.pair%4), c.at
	src := netip.AddrFrom4([4]byte{10, byte(c.pair >> 16), byte(c.pair >> 8), byte(c.pair)})
	dst := netip.AddrFrom4([4]byte{198, 51, byte(c.pair >> 8), byte(c.pair)})
	ev.SetKey(event.SourceIp, src.String())
	ev.SetKey(event.DestinationIp, dst.String())
	ev.SetKey(event.DestinationPort, "443")
	if c.size > 0 {
		ev.SetKey(event.SourceBytes, strconv.Itoa(int(c.size/3)))
		ev.SetKey(event.DestinationBytes, strconv.Itoa(int(c.size-c.size/3)))
	}
}

// benignContacts appends a day of one benign pair's contacts.
func benignContacts(r *rand.Rand, kind string, p int, start time.Time, day time.Duration, cs []contact) []contact {
	size := func() uint32 { return uint32(math.Exp(6 + 2.5*r.Float64())) }
	switch kind {
	case "poisson": // independent contacts, 15 to 400 a day
		rate := (15 + r.Float64()*385) / day.Seconds()
		for t := r.ExpFloat64() / rate; t < day.Seconds(); t += r.ExpFloat64() / rate {
			cs = append(cs, contact{start.Add(time.Duration(t * float64(time.Second))), p, size()})
		}
	case "sessions": // a few visits a day, each a burst of requests
		rate := (3 + r.Float64()*20) / day.Seconds()
		for t := r.ExpFloat64() / rate; t < day.Seconds(); t += r.ExpFloat64() / rate {
			u := t
			for k := 2 + r.IntN(30); k > 0; k-- {
				cs = append(cs, contact{start.Add(time.Duration(u * float64(time.Second))), p, size()})
				u += r.ExpFloat64() * 20
			}
		}
	case "lognormal": // heavy-tailed gaps (a renewal process), median 1 to 30 min
		med := 60 + r.Float64()*1740
		sigma := 0.6 + r.Float64()*0.9
		for t := med * math.Exp(sigma*r.NormFloat64()); t < day.Seconds(); t += med * math.Exp(sigma*r.NormFloat64()) {
			cs = append(cs, contact{start.Add(time.Duration(t * float64(time.Second))), p, size()})
		}
	case "office-hours": // Poisson by day, nothing at night
		rate := (20 + r.Float64()*200) / (9 * time.Hour).Seconds()
		for t := 8*3600 + r.ExpFloat64()/rate; t < 17*3600; t += r.ExpFloat64() / rate {
			cs = append(cs, contact{start.Add(time.Duration(t * float64(time.Second))), p, size()})
		}
	}
	return cs
}

// beaconContacts appends a day of one beaconing pair's contacts: each
// interval the period times 1 ± Jitter (uniform), each beat missed with
// probability Missed, sizes steady within ±20 % with occasional tasking,
// and a third of the pairs seen twice per beat (two sensors).
func beaconContacts(r *rand.Rand, cfg BeaconEvalConfig, p int, period time.Duration, start time.Time, day time.Duration, cs []contact) []contact {
	base := 200 + r.Float64()*800
	twice := r.IntN(3) == 0
	t := time.Duration(r.Float64() * float64(period))
	for t < day {
		if r.Float64() >= cfg.Missed {
			size := uint32(base * (0.8 + 0.4*r.Float64()))
			if r.IntN(20) == 0 {
				size = uint32(20000 + r.IntN(200000))
			}
			cs = append(cs, contact{start.Add(t), p, size})
			if twice {
				cs = append(cs, contact{start.Add(t + time.Duration(r.IntN(800))*time.Millisecond), p, size})
			}
		}
		t += time.Duration(float64(period) * (1 + cfg.Jitter*(2*r.Float64()-1)))
	}
	return cs
}
