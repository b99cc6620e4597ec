package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/member"
)

// summary is the dashboard's data: what the viewer's alerts add up to over
// a period, the members' countries, and the pipeline's throughput and
// detection latency.
type summary struct {
	alert.Tally
	StepSeconds float64 `json:"step_seconds"`
	// Countries maps the members in the tally to their countries.
	Countries map[string]string `json:"countries"`
	// Events is how many events the viewer's member had stored since the
	// node started (every member's, for operators); pages sample it to
	// show the ingest rate.
	Events float64 `json:"events"`
	// LatencyP50Ms and LatencyP99Ms are the node's ingest-to-alert times
	// since it started, read from its histogram; NaN-free (-1 when no
	// alert was raised yet).
	LatencyP50Ms float64   `json:"latency_p50_ms"`
	LatencyP99Ms float64   `json:"latency_p99_ms"`
	Now          time.Time `json:"now"`
}

// summary serves GET /web/summary?hours=N (1 to 720, default 24).
func (c *Console) summary(w http.ResponseWriter, r *http.Request) {
	hours := 24
	if s := r.URL.Query().Get("hours"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 720 {
			api.Error(w, http.StatusBadRequest, "hours: want a whole number from 1 to 720")
			return
		}
		hours = n
	}
	p, _ := api.PrincipalFrom(r.Context())
	now := time.Now().UTC()
	period := time.Duration(hours) * time.Hour
	step := period / 48
	from := now.Add(-period).Truncate(step)
	t, err := c.cfg.Alerts.Tally(r.Context(), api.Viewer(p), from, now.Add(time.Nanosecond), step)
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := summary{Tally: t, StepSeconds: step.Seconds(), Countries: map[string]string{}, Now: now,
		LatencyP50Ms: -1, LatencyP99Ms: -1}
	if err := c.countries(r, out.Countries); err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.pipelineFigures(p, &out)
	w.Header().Set("Cache-Control", "no-store")
	api.JSON(w, http.StatusOK, out)
}

// countries fills in every member's country: member countries are the
// public profile the API shows every member anyway.
func (c *Console) countries(r *http.Request, out map[string]string) error {
	ms, err := c.cfg.Members.List(r.Context())
	if err != nil {
		return err
	}
	for _, m := range ms {
		out[m.ID] = m.Country
	}
	return nil
}

// pipelineFigures reads the event count and the latency histogram from
// the node's metrics.
func (c *Console) pipelineFigures(p member.Principal, out *summary) {
	if c.cfg.Metrics == nil {
		return
	}
	families, err := c.cfg.Metrics.Gather()
	if err != nil {
		return
	}
	for _, f := range families {
		switch f.GetName() {
		case "xsoc_pipeline_events_total":
			for _, m := range f.GetMetric() {
				if p.Operator() || labelValue(m, "member") == p.Member.ID {
					out.Events += m.GetCounter().GetValue()
				}
			}
		case "xsoc_ingest_to_alert_seconds":
			if ms := f.GetMetric(); len(ms) > 0 {
				h := ms[0].GetHistogram()
				out.LatencyP50Ms = quantile(h, 0.50) * 1000
				out.LatencyP99Ms = quantile(h, 0.99) * 1000
			}
		}
	}
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile estimates the q-quantile of a cumulative histogram by linear
// interpolation within its bucket, as Prometheus's histogram_quantile
// does; -1 when it is empty.
func quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return -1
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		upper, count := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if count >= rank {
			if count == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(count-below)
		}
		lower, below = upper, count
	}
	if math.IsInf(lower, 0) {
		return -1
	}
	return lower // beyond the last bucket: its bound is all we know
}
