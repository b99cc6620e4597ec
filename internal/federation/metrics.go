package federation

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the early warning path of one node: what it sent,
// forwarded (hub), received, applied and refused (by reason), and the
// delay from detection at the origin to the indicator being active here.
// Status reads the same numbers.
type Metrics struct {
	sent      prometheus.Counter
	withheld  prometheus.Counter
	forwarded prometheus.Counter
	received  prometheus.Counter
	applied   prometheus.Counter
	expired   prometheus.Counter
	revoked   prometheus.Counter
	refused   *prometheus.CounterVec
	delay     prometheus.Histogram
	corr      *corrMetrics

	mu        sync.Mutex
	refusals  map[string]int64
	lastApply atomic.Int64 // unix nanos of the last indicator applied
	lastDelay atomic.Int64 // its delay
}

// NewMetrics creates the counters and registers them with reg (nil
// registers nothing).
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		sent:      c("xsoc_federation_warnings_sent_total", "Indicators this node pushed to the hub as early warnings (stored by the hub)."),
		withheld:  c("xsoc_federation_warnings_withheld_total", "Alerts with external observables kept home: TLP:AMBER without an information-sharing agreement."),
		forwarded: c("xsoc_federation_warnings_forwarded_total", "Warning messages the hub forwarded to member nodes, one per recipient node."),
		received:  c("xsoc_federation_warnings_received_total", "Indicators received in warnings from the hub."),
		applied:   c("xsoc_federation_warnings_applied_total", "Indicators from warnings made active in this node's IOC index."),
		expired:   c("xsoc_federation_warnings_expired_total", "Indicators from warnings not applied because they had expired on arrival."),
		revoked:   c("xsoc_federation_warnings_revoked_total", "Indicators from warnings removed because their origin revoked them."),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xsoc_federation_warnings_refused_total",
			Help: "Warning messages refused, by reason: signature, forged-origin, not-from-hub, replayed, stale, over-tlp, malformed, private-address, no-agreement, loop."}, []string{"reason"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "xsoc_federation_warning_delay_seconds",
			Help:    "From detection at the origin node to the indicator being active in this node's IOC index.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}}),
		refusals: map[string]int64{},
		corr:     newCorrMetrics(),
	}
	if reg != nil {
		for _, col := range append([]prometheus.Collector{m.sent, m.withheld, m.forwarded, m.received, m.applied, m.expired, m.revoked, m.refused, m.delay}, m.corr.collectors()...) {
			if err := reg.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// refuse counts a refused message.
func (m *Metrics) refuse(reason string) {
	m.refused.WithLabelValues(reason).Inc()
	m.mu.Lock()
	m.refusals[reason]++
	m.mu.Unlock()
}

// Refusals returns the refused messages so far, by reason.
func (m *Metrics) Refusals() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.refusals))
	for k, v := range m.refusals {
		out[k] = v
	}
	return out
}

// observeApplied records indicators applied now, detected at the origin
// at the given times.
func (m *Metrics) observeApplied(now time.Time, detected []time.Time) {
	m.applied.Add(float64(len(detected)))
	for _, d := range detected {
		m.delay.Observe(now.Sub(d).Seconds())
	}
	if len(detected) > 0 {
		m.lastApply.Store(now.UnixNano())
		m.lastDelay.Store(int64(now.Sub(detected[len(detected)-1])))
	}
}
