package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/ingest"
)

// metrics are the pipeline's Prometheus series. A nil *metrics records
// nothing.
type metrics struct {
	events   *prometheus.CounterVec
	rejects  *prometheus.CounterVec
	alerts   *prometheus.CounterVec
	toDetect prometheus.Histogram
	batches  prometheus.Histogram
	// leased is the number of detection partitions this worker reads.
	leased prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xsoc_pipeline_events_total", Help: "Events normalised and stored, by member.",
		}, []string{"member"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xsoc_pipeline_rejects_total", Help: "Accepted lines that could not be normalised, by member.",
		}, []string{"member"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xsoc_pipeline_alerts_total", Help: "Detections raised, by detector.",
		}, []string{"detector"}),
		toDetect: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xsoc_ingest_to_alert_seconds",
			Help:    "Time from accepting an event to raising its alert.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xsoc_pipeline_batch_events",
			Help:    "Events per processed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		leased: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xsoc_pipeline_partitions", Help: "Detection partitions of the ingest stream this worker reads (external NATS).",
		}),
	}
	reg.MustRegister(m.events, m.rejects, m.alerts, m.toDetect, m.batches, m.leased)
	return m
}

func (m *metrics) observe(b ingest.Batch, events, rejects int, alerts []alert.Alert) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(b.Member).Add(float64(events))
	if rejects > 0 {
		m.rejects.WithLabelValues(b.Member).Add(float64(rejects))
	}
	m.batches.Observe(float64(events))
	now := time.Now()
	for _, a := range alerts {
		m.alerts.WithLabelValues(a.Detector).Inc()
		m.toDetect.Observe(now.Sub(b.Received).Seconds())
	}
}

func (m *metrics) partitions(n int) {
	if m == nil {
		return
	}
	m.leased.Set(float64(n))
}
