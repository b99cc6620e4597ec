package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/scenario"
)

// TestDemoReachesCrossBorderIncident runs the whole demonstration — node,
// members, intel, HTTP ingest, pipeline, detection, correlation — as fast
// as ingest takes it, requires a cross-border incident at the end, and
// requires the summary the README shows: the demonstration is
// deterministic, so its counts and its incident are the same at every
// speed and on every run.
func TestDemoReachesCrossBorderIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a whole scenario")
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Config: cfg, Seed: 1, Speed: 0, Exit: true, Out: &out})
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
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := summaryLines(string(readme))
	got := summaryLines(out.String())
	if len(want) != 3 {
		t.Fatalf("README shows no demo summary (want the lines from \"replayed\" on):\n%q", want)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README shows\n%s\nbut a run prints\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
}

// summaryLines returns the single-node demonstration's summary in text:
// the "replayed" line and the cross-border incident's two lines, with the
// incident's id (new on every run) left out.
func summaryLines(text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "replayed ") || strings.Contains(l, "member nodes") {
			continue
		}
		out := []string{l}
		if i+2 < len(lines) {
			out = append(out, incidentID.ReplaceAllString(lines[i+1], "cross-border incident ID:"), lines[i+2])
		}
		return out
	}
	return nil
}

var incidentID = regexp.MustCompile(`^cross-border incident [0-9a-z]+:`)

func TestRecentStartKeepsWeekdayTimeOfDayAndIsInThePast(t *testing.T) {
	cfg := scenario.DemoConfig(1)
	for _, now := range []time.Time{
		time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), // a Sunday
		time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC), // a Tuesday, after the scenario's hours
	} {
		s := recentStart(cfg, now)
		if s.Add(cfg.Duration).After(now) || now.Sub(s) > 8*24*time.Hour {
			t.Errorf("now %v: start %v", now, s)
		}
		if s.Weekday() != cfg.Start.Weekday() {
			t.Errorf("now %v: start %v is a %v, the scenario's a %v", now, s, s.Weekday(), cfg.Start.Weekday())
		}
		if h1, m1, _ := s.Clock(); h1 != cfg.Start.Hour() || m1 != cfg.Start.Minute() {
			t.Errorf("start %v lost the time of day of %v", s, cfg.Start)
		}
	}
}

// TestDemoScenarioIsTheSameOnEveryDate replays the demonstration's
// scenario as of two dates weeks apart: apart from the times its lines
// carry, every line must be the same (the DGA's names included).
func TestDemoScenarioIsTheSameOnEveryDate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the scenario twice")
	}
	lines := func(now time.Time) []string {
		var out []string
		digits := regexp.MustCompile(`[0-9]+|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b`)
		err := scenario.Stream(demoScenario(1, now), func(r scenario.Record) error {
			out = append(out, r.Member+" "+digits.ReplaceAllString(string(r.Line), "#"))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := lines(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	b := lines(time.Date(2027, 2, 14, 20, 0, 0, 0, time.UTC))
	if len(a) != len(b) {
		t.Fatalf("%d lines one date, %d the other", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("line %d differs:\n%s\n%s", i, a[i], b[i])
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
