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
	// stages times each step a batch takes on its way to its alerts,
	// so that a latency tail can be pinned on the step that causes it.
	stages [numStages]prometheus.Observer
}

// Steps of a batch through detection, timed by xsoc_pipeline_stage_seconds.
const (
	// StageQueued: accepted by ingest → taken by a detection worker
	// (publishing, delivery, and waiting for a free worker).
	StageQueued = iota
	// StagePrepare: normalising the batch's lines and running the
	// detectors over them.
	StagePrepare
	// StageWait: prepared → its group's commit begins (waiting for the
	// committer to finish the previous group).
	StageWait
	// StageCommit: recording rejects, raising, storing and correlating
	// the alerts of the batch's group.
	StageCommit
	// StageAck: acknowledging the batch on the bus.
	StageAck
	numStages
)

// StageNames are the stage label values of xsoc_pipeline_stage_seconds,
// indexed by the Stage constants.
var StageNames = [numStages]string{"queued", "prepare", "wait", "commit", "ack"}

// StageMetric is the name of the histogram of per-batch stage times.
const StageMetric = "xsoc_pipeline_stage_seconds"

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
	stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: StageMetric,
		Help: "Time a batch spends in each step of detection: queued (accepted → taken by a worker), prepare (normalise and detect), wait (for the committer), commit (raise and correlate the alerts of its group), ack.",
		// Fine buckets (×1.25 from 100 µs to about 2 minutes): the
		// benchmark reads percentiles back from them.
		Buckets: prometheus.ExponentialBuckets(0.0001, 1.25, 64),
	}, []string{"stage"})
	for i, name := range StageNames {
		m.stages[i] = stages.WithLabelValues(name)
	}
	reg.MustRegister(m.events, m.rejects, m.alerts, m.toDetect, m.batches, m.leased, stages)
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

// stage records that a batch spent d in stage.
func (m *metrics) stage(stage int, d time.Duration) {
	if m == nil {
		return
	}
	m.stages[stage].Observe(d.Seconds())
}

func (m *metrics) partitions(n int) {
	if m == nil {
		return
	}
	m.leased.Set(float64(n))
}
