package alert_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// hostTriage scores every alert 0.1, and 0.9 once an alert of the same
// member and key was confirmed: the least a Rescorer needs to show which
// alerts the service re-scores after a verdict.
type hostTriage struct {
	mu        sync.Mutex
	confirmed map[string]bool
}

func (h *hostTriage) score(a *alert.Alert) float64 {
	if h.confirmed[a.Member+"/"+a.Key] {
		return 0.9
	}
	return 0.1
}

func (h *hostTriage) Score(a *alert.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a.Triage = &alert.Triage{Score: h.score(a), Model: 1}
}

func (h *hostTriage) Learn(a *alert.Alert, v alert.Verdict) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v == alert.TruePositive {
		h.confirmed[a.Member+"/"+a.Key] = true
	}
	return nil
}

func (h *hostTriage) Rescore(a *alert.Alert) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.score(a)
	changed := a.Triage.Score != s
	a.Triage.Score = s
	return changed
}

func (h *hostTriage) RescoreWindow() time.Duration { return time.Hour }

// TestVerdictRescoresEntity checks that a confirmation re-scores, and
// stores, the member's open alerts on the same host within the window —
// and no closed alert, none on another host, of another member or
// outside the window.
func TestVerdictRescoresEntity(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0}
		locked := 0 // re-scores run under the raise lock (Options.Exclusive)
		s, err := alert.NewService(db, nil, alert.Options{Now: c.Now, Triage: &hostTriage{confirmed: map[string]bool{}},
			Exclusive: func(_ context.Context, fn func() error) error { locked++; return fn() }})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, d := range []struct {
			name, member, rule, host string
			at                       time.Duration
		}{
			{"judged", "a", "r1", "h", 0},
			{"open on the host", "a", "r2", "h", 10 * time.Minute},
			{"earlier on the host", "a", "r3", "h", -50 * time.Minute},
			{"closed on the host", "a", "r4", "h", 20 * time.Minute},
			{"too late", "a", "r5", "h", 3 * time.Hour},
			{"other host", "a", "r6", "g", 5 * time.Minute},
			{"other member", "b", "r7", "h", 5 * time.Minute},
		} {
			out, err := s.Raise(ctx, []alert.Alert{detection(d.member, d.rule, d.host, d.name, t0.Add(d.at))})
			if err != nil {
				t.Fatal(err)
			}
			ids[d.name] = out[0].ID
		}
		op := alert.Viewer{Operator: true}
		if _, err := s.Close(ctx, op, ids["closed on the host"], "ann"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CloseWithVerdict(ctx, alert.Viewer{Member: "a"}, ids["judged"], "ann", alert.TruePositive); err != nil {
			t.Fatal(err)
		}
		if locked != 1 {
			t.Errorf("the verdict's re-score took the raise lock %d times, want 1", locked)
		}
		want := map[string]float64{"open on the host": 0.9, "earlier on the host": 0.9, "closed on the host": 0.1,
			"too late": 0.1, "other host": 0.1, "other member": 0.1}
		for name, score := range want {
			a, err := s.Get(ctx, op, ids[name])
			if err != nil {
				t.Fatal(err)
			}
			if a.Triage == nil || a.Triage.Score != score {
				t.Errorf("%s: triage %+v, want score %.1f", name, a.Triage, score)
			}
		}
		// The triage column moved with the document: the list sorted
		// by score puts the lifted alerts first.
		page, err := s.List(ctx, alert.Viewer{Member: "a"}, alert.Filter{Limit: 2, Sort: alert.Sort{Key: alert.SortTriage}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Alerts {
			if a.ID != ids["open on the host"] && a.ID != ids["earlier on the host"] {
				t.Errorf("sorted by triage, %s (%s) came before the lifted alerts", a.ID, a.RuleID)
			}
		}
	})
}
