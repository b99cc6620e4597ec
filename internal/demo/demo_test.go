package demo

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/scenario"
)

// TestDemoReachesCrossBorderIncident runs the whole demonstration — node,
// members, intel, HTTP ingest, pipeline, detection, correlation — as fast
// as ingest takes it, and requires a cross-border incident at the end.
func TestDemoReachesCrossBorderIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a whole scenario")
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Config: cfg, Seed: 7, Speed: 0, Exit: true, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.CrossBorder == nil {
		t.Fatalf("no cross-border incident after %d events, %d alerts\n%s", res.Sent, res.Alerts, out.String())
	}
	if len(res.CrossBorder.Countries) < 2 {
		t.Errorf("cross-border incident spans %v", res.CrossBorder.Countries)
	}
	if res.Rejected != 0 {
		t.Errorf("%d scenario lines rejected by ingest", res.Rejected)
	}
	// The summary line counts the cross-border incidents the node holds.
	m := regexp.MustCompile(`(\d+) cross-border`).FindStringSubmatch(out.String())
	if m == nil || m[1] == "0" {
		t.Errorf("narration does not report a cross-border incident:\n%s", out.String())
	}
}

func TestRecentStartKeepsTimeOfDayAndIsInThePast(t *testing.T) {
	cfg := scenario.DemoConfig(1)
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC),
	} {
		s := recentStart(cfg, now)
		if s.Add(cfg.Duration).After(now) || now.Sub(s) > 48*time.Hour {
			t.Errorf("now %v: start %v", now, s)
		}
		if h1, m1, _ := s.Clock(); h1 != cfg.Start.Hour() || m1 != cfg.Start.Minute() {
			t.Errorf("start %v lost the time of day of %v", s, cfg.Start)
		}
	}
}

func TestPollEndsOnDoneErrorTimeoutOrContext(t *testing.T) {
	calls := 0
	err := poll(context.Background(), time.Minute, time.Millisecond, func() (bool, error) {
		calls++
		return calls == 3, nil
	})
	if err != nil || calls != 3 {
		t.Errorf("done at the third call: %v after %d calls", err, calls)
	}
	failed := errors.New("failed")
	if err := poll(context.Background(), time.Minute, time.Millisecond, func() (bool, error) { return false, failed }); err != failed {
		t.Errorf("check failed: %v", err)
	}
	never := func() (bool, error) { return false, nil }
	if err := poll(context.Background(), 20*time.Millisecond, time.Millisecond, never); err != errPollTimeout {
		t.Errorf("time up: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := poll(ctx, time.Minute, time.Millisecond, never); !errors.Is(err, context.Canceled) {
		t.Errorf("context ended: %v", err)
	}
}
