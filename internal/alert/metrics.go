package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/store"
)

// measure is one of the four response times. The three after
// timeToDetect share their values with the Milestone they end at.
type measure uint8

const (
	timeToDetect measure = iota
	timeToAcknowledge
	timeToContain
	timeToResolve
	measures // count
)

var measureNames = [measures]string{"detect", "acknowledge", "contain", "resolve"}

// milestone returns the time at which a reached the end of m (zero if not
// yet).
func (a *Alert) milestone(m measure) time.Time {
	switch m {
	case timeToDetect:
		return a.Detected
	case timeToAcknowledge:
		return a.Acknowledged
	case timeToContain:
		return a.Contained
	case timeToResolve:
		return a.Resolved
	}
	return time.Time{}
}

// duration returns how long a took to reach the end of m, and false if it
// has not. Time to detect runs from the event; the others from detection.
// Clock skew between sources can put an event after its detection: such
// durations count as zero rather than negative.
func (a *Alert) duration(m measure) (time.Duration, bool) {
	end := a.milestone(m)
	if end.IsZero() {
		return 0, false
	}
	start := a.Detected
	if m == timeToDetect {
		start = a.EventTime
	}
	return max(end.Sub(start), 0), true
}

// histograms are the Prometheus side of the response times.
type histograms struct {
	vec [measures]*prometheus.HistogramVec
}

// Buckets from one second to about seven weeks, by factors of four:
// detection is measured in seconds, resolution in days.
var responseBuckets = prometheus.ExponentialBuckets(1, 4, 13)

func newHistograms(reg *prometheus.Registry) (*histograms, error) {
	h := &histograms{}
	help := [measures]string{
		"Seconds from the triggering event to the alert being raised.",
		"Seconds from an alert being raised to its acknowledgement.",
		"Seconds from an alert being raised to the containment of its threat.",
		"Seconds from an alert being raised to its resolution.",
	}
	for m := range measures {
		vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "xsoc",
			Subsystem: "alert",
			Name:      "time_to_" + measureNames[m] + "_seconds",
			Help:      help[m],
			Buckets:   responseBuckets,
		}, []string{"member", "severity"})
		if reg != nil {
			if err := reg.Register(vec); err != nil {
				// A second service on the same registry shares the first
				// one's histograms.
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, fmt.Errorf("alert: register metrics: %w", err)
				}
				existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
				if !ok {
					return nil, fmt.Errorf("alert: register metrics: %w", err)
				}
				vec = existing
			}
		}
		h.vec[m] = vec
	}
	return h, nil
}

// observe records the duration of m for a, ending at end.
func (h *histograms) observe(m measure, a *Alert, end time.Time) {
	start := a.Detected
	if m == timeToDetect {
		start = a.EventTime
	}
	d := max(end.Sub(start), 0)
	h.vec[m].WithLabelValues(a.Member, a.Severity.String()).Observe(d.Seconds())
}

// Times summarises one response time over a set of alerts.
type Times struct {
	// Count is the number of alerts that reached the milestone.
	Count int           `json:"count"`
	Mean  time.Duration `json:"mean"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

// GroupTimes holds the four response times of one group of alerts. An
// empty Member or Severity means the group spans all of them.
type GroupTimes struct {
	Member   string `json:"member,omitempty"`
	Severity string `json:"severity,omitempty"`
	// Alerts is the number of alerts in the group.
	Alerts      int   `json:"alerts"`
	Detect      Times `json:"time_to_detect"`
	Acknowledge Times `json:"time_to_acknowledge"`
	Contain     Times `json:"time_to_contain"`
	Resolve     Times `json:"time_to_resolve"`
}

// Report is the response-time report over alerts detected in [From, To).
// Groups holds, in order: all visible alerts; each member; each severity;
// each member and severity. Empty groups are left out.
type Report struct {
	From   time.Time    `json:"from"`
	To     time.Time    `json:"to"`
	Groups []GroupTimes `json:"groups"`
}

// Group returns the group of member and severity ("" for all) and whether
// the report has it.
func (r *Report) Group(member, severity string) (GroupTimes, bool) {
	for _, g := range r.Groups {
		if g.Member == member && g.Severity == severity {
			return g, true
		}
	}
	return GroupTimes{}, false
}

// Metrics computes the response times of the alerts v may see that were
// detected in [from, to); a zero to means now.
func (s *Service) Metrics(ctx context.Context, v Viewer, from, to time.Time) (Report, error) {
	if to.IsZero() {
		to = s.opts.Now().UTC()
	}
	if !from.Before(to) {
		return Report{}, fmt.Errorf("%w: metrics period %v to %v is empty", ErrInvalid, from, to)
	}
	vis, args := v.Where("member", "tlp")
	rows, err := s.db.Query(ctx, `SELECT member, severity, tlp, event_time, detected, acknowledged, contained, resolved
		FROM alerts WHERE detected >= ? AND detected < ? AND `+vis,
		append([]any{store.Nanos(from), store.Nanos(to)}, args...)...)
	if err != nil {
		return Report{}, fmt.Errorf("alert: metrics: %w", err)
	}
	defer rows.Close()
	type key struct{ member, severity string }
	groups := map[key]*samples{}
	for rows.Next() {
		var a Alert
		var sev, level, et, det, ack, con, res int64
		if err := rows.Scan(&a.Member, &sev, &level, &et, &det, &ack, &con, &res); err != nil {
			return Report{}, fmt.Errorf("alert: metrics: %w", err)
		}
		a.Severity, a.TLP = Severity(sev), tlpLevel(level)
		if !v.MaySee(&a) {
			continue
		}
		a.EventTime, a.Detected = store.Time(et), store.Time(det)
		a.Acknowledged, a.Contained, a.Resolved = store.Time(ack), store.Time(con), store.Time(res)
		for _, k := range []key{{}, {a.Member, ""}, {"", a.Severity.String()}, {a.Member, a.Severity.String()}} {
			g := groups[k]
			if g == nil {
				g = &samples{}
				groups[k] = g
			}
			g.add(&a)
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("alert: metrics: %w", err)
	}
	rep := Report{From: from, To: to}
	for k, g := range groups {
		rep.Groups = append(rep.Groups, g.summary(k.member, k.severity))
	}
	slices.SortFunc(rep.Groups, compareGroups)
	return rep, nil
}

// compareGroups orders the overall group first, then members, then
// severities (gravest first), then member × severity.
func compareGroups(a, b GroupTimes) int {
	rank := func(g GroupTimes) int {
		switch {
		case g.Member == "" && g.Severity == "":
			return 0
		case g.Severity == "":
			return 1
		case g.Member == "":
			return 2
		}
		return 3
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	if c := strings.Compare(a.Member, b.Member); c != 0 {
		return c
	}
	sa, _ := ParseSeverity(a.Severity)
	sb, _ := ParseSeverity(b.Severity)
	return int(sb) - int(sa)
}

// samples collects the durations of one group.
type samples struct {
	alerts int
	d      [measures][]time.Duration
}

func (s *samples) add(a *Alert) {
	s.alerts++
	for m := range measures {
		if d, ok := a.duration(m); ok {
			s.d[m] = append(s.d[m], d)
		}
	}
}

func (s *samples) summary(member, severity string) GroupTimes {
	return GroupTimes{
		Member: member, Severity: severity, Alerts: s.alerts,
		Detect:      summarise(s.d[timeToDetect]),
		Acknowledge: summarise(s.d[timeToAcknowledge]),
		Contain:     summarise(s.d[timeToContain]),
		Resolve:     summarise(s.d[timeToResolve]),
	}
}

// summarise computes mean and nearest-rank percentiles.
func summarise(ds []time.Duration) Times {
	if len(ds) == 0 {
		return Times{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Times{
		Count: len(ds), Mean: sum / time.Duration(len(ds)),
		P50: percentile(ds, 50), P90: percentile(ds, 90), P99: percentile(ds, 99),
		Max: ds[len(ds)-1],
	}
}

// percentile returns the nearest-rank p-th percentile of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}
