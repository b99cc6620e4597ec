package federation

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// corrMetrics count the corroborated release and the pseudonym key's
// epoch: at a member node the pseudonyms it reported, the values it
// withholds, released and kept home, and its current epoch; at the hub
// the pseudonyms reported to it, those corroborated, the release requests
// it sent, the pseudonyms waiting, and the latest epoch it saw.
type corrMetrics struct {
	reported     prometheus.Counter
	corroborated prometheus.Counter
	requested    prometheus.Counter
	released     prometheus.Counter
	declined     prometheus.Counter
	pending      prometheus.Gauge
	epoch        prometheus.Gauge

	epochSeen atomic.Int64
}

func newCorrMetrics() *corrMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	return &corrMetrics{
		reported: c("xsoc_federation_pseudonyms_reported_total",
			"Member node: pseudonymised observables of members in corroborated mode the hub stored. Hub: pseudonyms recorded from reports and warnings."),
		corroborated: c("xsoc_federation_corroborations_total", "Hub: pseudonyms reported by enough members in at least two countries."),
		requested:    c("xsoc_federation_release_requests_total", "Hub: release requests sent to member nodes."),
		released:     c("xsoc_federation_values_released_total", "Member node: withheld values released as warnings at the hub's request."),
		declined:     c("xsoc_federation_values_declined_total", "Member node: withheld values the hub asked for that the member's policy kept home."),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "xsoc_federation_corroborations_pending",
			Help: "Member node: values withheld awaiting corroboration. Hub: pseudonyms withheld at some node and not corroborated yet."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{Name: "xsoc_federation_pseudonym_epoch",
			Help: "Member node: the pseudonym key's current epoch. Hub: the latest epoch of a pseudonym it received."}),
	}
}

func (c *corrMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.reported, c.corroborated, c.requested, c.released, c.declined, c.pending, c.epoch}
}

// setEpoch records the current (member node) or latest seen (hub) epoch.
func (c *corrMetrics) setEpoch(n int64) {
	c.epochSeen.Store(n)
	c.epoch.Set(float64(n))
}

func (c *corrMetrics) epochValue() int64 { return c.epochSeen.Load() }
