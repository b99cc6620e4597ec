package correlate_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

var countries = map[string]string{"fr1": "FR", "fr2": "fr", "de1": "DE", "nl1": "NL", "se1": "SE"}
var sectors = map[string]string{"fr1": "energy", "de1": "health", "fr2": "bakeries"}

func schemas() []store.Schema { return []store.Schema{alert.Schema(), correlate.Schema()} }

// env is a correlator over a real store with its alert service.
type env struct {
	t      *testing.T
	ctx    context.Context
	clock  *clock
	alerts *alert.Service
	c      *correlate.Correlator
	seq    int
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	c := &clock{now: t0}
	as, err := alert.NewService(db, nil, alert.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	co, err := correlate.NewCorrelator(db, as, correlate.Options{
		Now:           c.Now,
		MemberCountry: func(m string) string { return countries[m] },
		MemberSector:  func(m string) string { return sectors[m] },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), clock: c, alerts: as, c: co}
}

// spec describes a detection in tests.
type spec struct {
	member, rule, host, user string
	at                       time.Duration // after t0
	techniques               []string
	obs                      []alert.Observable
	level                    tlp.Level
	sev                      alert.Severity
}

// raise raises and processes detections, returning the alerts in order.
func (e *env) raise(specs ...spec) []alert.Alert {
	e.t.Helper()
	var batch []alert.Alert
	for _, s := range specs {
		e.seq++
		a := alert.Alert{
			Member: s.member, EventTime: t0.Add(s.at), Detector: "sigma", RuleID: s.rule, RuleTitle: "Rule " + s.rule,
			Severity: s.sev, Techniques: s.techniques, TLP: s.level, Observables: s.obs,
			EventIDs: []string{"ev" + string(rune('A'+e.seq%26)) + time.Duration(e.seq).String()},
		}
		if a.Severity == 0 {
			a.Severity = alert.Medium
		}
		if s.host != "" {
			a.Observables = append(a.Observables, alert.Observable{Type: "host", Value: s.host})
		}
		if s.user != "" {
			a.Observables = append(a.Observables, alert.Observable{Type: "user-account", Value: s.user})
		}
		batch = append(batch, a)
	}
	var out []alert.Alert
	for _, a := range batch {
		// One batch per detection keeps output aligned with specs even
		// where two would fold.
		raised, err := e.alerts.Raise(e.ctx, []alert.Alert{a})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, raised...)
	}
	if err := e.c.Process(e.ctx, out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

var operator = alert.Viewer{Operator: true}

// incidents lists every incident of kind an operator sees.
func (e *env) incidents(kind correlate.Kind) []correlate.Incident {
	e.t.Helper()
	page, err := e.c.Incidents(e.ctx, operator, correlate.Filter{Kind: kind, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Incidents
}

// sharedDir finds the shared test data beside the repository.
func sharedDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}
