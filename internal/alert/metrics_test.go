package alert_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func TestMetrics(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{}
		reg := prometheus.NewRegistry()
		s := newService(t, db, nil, c, reg)
		// Each row: member, severity, detection delay, ack delay,
		// containment delay, resolution delay (0: not reached).
		rows := []struct {
			member                 string
			sev                    alert.Severity
			detect, ack, cont, res time.Duration
		}{
			{"m1", alert.High, 10 * time.Second, time.Minute, time.Hour, 2 * time.Hour},
			{"m1", alert.High, 30 * time.Second, 3 * time.Minute, 0, 0},
			{"m1", alert.Low, 50 * time.Second, 0, 0, 0},
			{"m2", alert.High, 20 * time.Second, 2 * time.Minute, 3 * time.Hour, 4 * time.Hour},
		}
		for i, r := range rows {
			ev := t0.Add(time.Duration(i) * time.Hour)
			c.Set(ev.Add(r.detect))
			d := detection(r.member, "r", "h", "e", ev)
			d.RuleID, d.Severity = string(rune('a'+i)), r.sev
			out, err := s.Raise(ctx, []alert.Alert{d})
			if err != nil {
				t.Fatal(err)
			}
			det := out[0].Detected
			if r.ack > 0 {
				c.Set(det.Add(r.ack))
				if _, err := s.Ack(ctx, alert.Viewer{Member: r.member}, out[0].ID, "x"); err != nil {
					t.Fatal(err)
				}
			}
			if r.cont > 0 {
				if err := s.Record(ctx, nil, alert.MilestoneContained, det.Add(r.cont), "x", out[0].ID); err != nil {
					t.Fatal(err)
				}
				// Recording again keeps the first time.
				if err := s.Record(ctx, nil, alert.MilestoneContained, det.Add(10*r.cont), "x", out[0].ID); err != nil {
					t.Fatal(err)
				}
			}
			if r.res > 0 {
				if err := s.Record(ctx, nil, alert.MilestoneResolved, det.Add(r.res), "x", out[0].ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		rep, err := s.Metrics(ctx, alert.Viewer{Operator: true}, t0, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			member, sev string
			alerts      int
			detect      alert.Times
			ack         alert.Times
			resolve     alert.Times
		}{
			{"", "", 4,
				alert.Times{Count: 4, Mean: 27500 * time.Millisecond, P50: 20 * time.Second, P90: 50 * time.Second, P99: 50 * time.Second, Max: 50 * time.Second},
				alert.Times{Count: 3, Mean: 2 * time.Minute, P50: 2 * time.Minute, P90: 3 * time.Minute, P99: 3 * time.Minute, Max: 3 * time.Minute},
				alert.Times{Count: 2, Mean: 3 * time.Hour, P50: 2 * time.Hour, P90: 4 * time.Hour, P99: 4 * time.Hour, Max: 4 * time.Hour}},
			{"m1", "high", 2,
				alert.Times{Count: 2, Mean: 20 * time.Second, P50: 10 * time.Second, P90: 30 * time.Second, P99: 30 * time.Second, Max: 30 * time.Second},
				alert.Times{Count: 2, Mean: 2 * time.Minute, P50: time.Minute, P90: 3 * time.Minute, P99: 3 * time.Minute, Max: 3 * time.Minute},
				alert.Times{Count: 1, Mean: 2 * time.Hour, P50: 2 * time.Hour, P90: 2 * time.Hour, P99: 2 * time.Hour, Max: 2 * time.Hour}},
			{"", "low", 1,
				alert.Times{Count: 1, Mean: 50 * time.Second, P50: 50 * time.Second, P90: 50 * time.Second, P99: 50 * time.Second, Max: 50 * time.Second},
				alert.Times{}, alert.Times{}},
		}
		for _, tt := range tests {
			g, ok := rep.Group(tt.member, tt.sev)
			if !ok {
				t.Fatalf("no group %q/%q in %+v", tt.member, tt.sev, rep.Groups)
			}
			if g.Alerts != tt.alerts || g.Detect != tt.detect || g.Acknowledge != tt.ack || g.Resolve != tt.resolve {
				t.Errorf("group %q/%q = %+v\nwant alerts %d detect %+v ack %+v resolve %+v", tt.member, tt.sev, g, tt.alerts, tt.detect, tt.ack, tt.resolve)
			}
		}
		if g, _ := rep.Group("m2", ""); g.Contain.Max != 3*time.Hour {
			t.Errorf("m2 containment %+v, want 3h (the first record)", g.Contain)
		}
		// A member sees only what it may: m2 does not see m1's AMBER alerts.
		own, err := s.Metrics(ctx, alert.Viewer{Member: "m2"}, t0, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if g, _ := own.Group("", ""); g.Alerts != 1 {
			t.Errorf("m2 sees %d alerts in metrics, want 1", g.Alerts)
		}
		// The histograms saw the same durations.
		want := map[string]struct {
			count uint64
			sum   float64
		}{
			"xsoc_alert_time_to_detect_seconds/m1/high":      {2, 40},
			"xsoc_alert_time_to_acknowledge_seconds/m1/high": {2, 240},
			"xsoc_alert_time_to_contain_seconds/m2/high":     {1, 3 * 3600},
			"xsoc_alert_time_to_resolve_seconds/m1/high":     {1, 2 * 3600},
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				var member, sev string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "member":
						member = l.GetValue()
					case "severity":
						sev = l.GetValue()
					}
				}
				key := f.GetName() + "/" + member + "/" + sev
				if w, ok := want[key]; ok {
					h := m.GetHistogram()
					if h.GetSampleCount() != w.count || h.GetSampleSum() != w.sum {
						t.Errorf("%s: count %d sum %v, want %d %v", key, h.GetSampleCount(), h.GetSampleSum(), w.count, w.sum)
					}
					got[key] = true
				}
			}
		}
		if len(got) != len(want) {
			t.Errorf("found histograms %v, want all of %v", got, want)
		}
		if _, err := s.Metrics(ctx, alert.Viewer{Operator: true}, t0, t0); err == nil {
			t.Error("empty period accepted")
		}
	})
}
