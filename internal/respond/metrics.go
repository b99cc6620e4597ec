package respond

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Responder's Prometheus counters.
type metrics struct {
	// deliveries counts delivery attempts by kind (webhook, email) and
	// result: ok, retried (failed, will retry) or dead (dead-lettered).
	deliveries *prometheus.CounterVec
	// firings counts playbook firings by outcome: fired, dry_run,
	// throttled, duplicate.
	firings *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xsoc", Subsystem: "respond", Name: "deliveries_total",
			Help: "Webhook and e-mail delivery attempts by result: ok, retried, dead.",
		}, []string{"kind", "result"}),
		firings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xsoc", Subsystem: "respond", Name: "playbook_firings_total",
			Help: "Playbooks matching an alert, by outcome: fired, dry_run, throttled, duplicate.",
		}, []string{"outcome"}),
	}
	// Create the series up front so dashboards see zeros, not gaps.
	for _, kind := range []string{KindWebhook, KindEmail} {
		for _, res := range []string{"ok", "retried", "dead"} {
			m.deliveries.WithLabelValues(kind, res)
		}
	}
	for _, o := range []string{outcomeFired, outcomeDryRun, outcomeThrottled, outcomeDuplicate} {
		m.firings.WithLabelValues(o)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.firings} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("respond: metrics: %w", err)
			}
		}
	}
	return m, nil
}
