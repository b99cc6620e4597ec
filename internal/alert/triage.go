package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Verdict is an analyst's final word on an alert, given when closing it:
// whether the threat it reports was real. Verdicts train the triage model
// of the alert's member.
type Verdict string

// The verdicts. An alert closed without one has the empty Verdict.
const (
	TruePositive  Verdict = "true-positive"
	FalsePositive Verdict = "false-positive"
)

// ParseVerdict reads a verdict from a client: "true-positive" or
// "false-positive" ("tp" and "fp" for short); "" is no verdict.
func ParseVerdict(s string) (Verdict, error) {
	switch s {
	case "":
		return "", nil
	case string(TruePositive), "tp":
		return TruePositive, nil
	case string(FalsePositive), "fp":
		return FalsePositive, nil
	}
	return "", fmt.Errorf("%w: verdict %q is not true-positive or false-positive", ErrInvalid, s)
}

// Triage is an alert's triage score: the probability, by its member's
// triage model when the alert was raised, that an analyst will confirm it,
// with the factors that weighed most.
type Triage struct {
	// Score is the probability, 0 to 1; 0.5 until the member has given
	// verdicts.
	Score float64 `json:"score"`
	// Factors are the features that moved the score most, largest effect
	// first.
	Factors []TriageFactor `json:"factors,omitempty"`
	// Model is the model format the features were hashed for, and
	// Features the hashed features themselves: a verdict trains the model
	// on what the score saw when the alert was raised (the co-occurring
	// alerts then, not at closing time).
	Model    int      `json:"model"`
	Features []uint32 `json:"features,omitempty"`
}

// TriageFactor is one feature's contribution to a triage score.
type TriageFactor struct {
	// Feature describes the feature: `rule "Whoami Execution"`,
	// "3–4 other rules on the entity within 1h".
	Feature string `json:"feature"`
	// Weight is its contribution to the log-odds: positive makes a
	// confirmation likelier.
	Weight float64 `json:"weight"`
}

// Triager scores alerts as they are raised and learns from verdicts; the
// ML package's triage model is one. Options.Triage plugs it into a Service.
type Triager interface {
	// Score sets a.Triage for a newly opened alert. It runs inside Raise
	// for every new alert, so it must be quick and must not block.
	Score(a *Alert)
	// Learn trains the alert's member's model with a verdict on a (which
	// holds the Triage Score set). It runs after the verdict is stored.
	Learn(a *Alert, v Verdict) error
}

// Rescorer is a Triager whose scores depend on the verdicts given on
// other alerts of the same entity: after a verdict the service re-scores
// the member's open alerts with the same deduplication key (the same
// host, by default) within RescoreWindow of it in event time, so that an
// analyst confirming one alert on a host lifts the others still open on
// it.
type Rescorer interface {
	Triager
	// Rescore scores a again (it holds the Triage Score set when it was
	// raised) and reports whether the score changed.
	Rescore(a *Alert) bool
	// RescoreWindow is how far apart in event time a verdict reaches.
	RescoreWindow() time.Duration
}

// CloseWithVerdict closes an alert of v's own (operators: any) as Close
// does, and records the analyst's verdict, which trains the triage model
// of the alert's member. A verdict may be given or corrected on a closed
// alert; the model learns each change. An empty verdict is Close.
func (s *Service) CloseWithVerdict(ctx context.Context, v Viewer, id, who string, verdict Verdict) (Alert, error) {
	if verdict == "" {
		return s.Close(ctx, v, id, who)
	}
	if _, err := ParseVerdict(string(verdict)); err != nil {
		return Alert{}, err
	}
	learn := false
	a, err := s.transition(ctx, v, id, func(a *Alert, now time.Time) ([]measure, bool, error) {
		ms, closed := closing(a, who, now)
		if a.Verdict != verdict {
			a.Verdict, learn = verdict, true
		}
		return ms, closed || learn, nil
	})
	if err != nil || !learn || s.opts.Triage == nil || a.Triage == nil {
		return a, err
	}
	if err := s.opts.Triage.Learn(&a, verdict); err != nil {
		return a, fmt.Errorf("alert %s: verdict stored, but the triage model did not learn it: %w", id, err)
	}
	if err := s.rescoreEntity(ctx, &a); err != nil {
		return a, fmt.Errorf("alert %s: verdict stored and learnt, but the entity's open alerts were not re-scored: %w", id, err)
	}
	return a, nil
}

// rescoreEntity re-scores the open alerts of a's member and key within
// the Rescorer's window of a, after a verdict on a, and stores the scores
// that changed.
func (s *Service) rescoreEntity(ctx context.Context, a *Alert) error {
	r, ok := s.opts.Triage.(Rescorer)
	if !ok || a.Key == "" {
		return nil
	}
	w := r.RescoreWindow()
	if s.opts.Exclusive == nil {
		return s.rescoreIn(ctx, r, a, w)
	}
	return s.opts.Exclusive(ctx, func() error { return s.rescoreIn(ctx, r, a, w) })
}

// rescoreIn is rescoreEntity's transaction.
func (s *Service) rescoreIn(ctx context.Context, r Rescorer, a *Alert, w time.Duration) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		open, err := s.selectAlerts(ctx, tx, "member = ? AND status <> 'closed' AND id <> ? AND event_time >= ? AND event_time <= ?",
			[]any{a.Member, a.ID, store.Nanos(a.EventTime.Add(-w)), store.Nanos(a.EventTime.Add(w))})
		if err != nil {
			return err
		}
		for i := range open {
			o := &open[i]
			if o.Key != a.Key || o.Triage == nil || !r.Rescore(o) {
				continue
			}
			doc, err := json.Marshal(o)
			if err != nil {
				return fmt.Errorf("encode alert %s: %w", o.ID, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE alerts SET triage = ?, doc = ? WHERE id = ?`, triageScore(o), string(doc), o.ID); err != nil {
				return fmt.Errorf("alert: re-score %s: %w", o.ID, err)
			}
		}
		return nil
	})
}

// Verdicts returns the alerts of member that carry a verdict, oldest
// closing first, for retraining the member's triage model.
func (s *Service) Verdicts(ctx context.Context, member string) ([]Alert, error) {
	return s.selectAlerts(ctx, s.db, "member = ? AND verdict <> '' ORDER BY closed, id", []any{member})
}

// triageMigration adds the triage score (sorted on) and the verdict to
// the alerts table.
const triageMigration = `ALTER TABLE alerts ADD COLUMN triage DOUBLE PRECISION NOT NULL DEFAULT 0;
		ALTER TABLE alerts ADD COLUMN verdict TEXT NOT NULL DEFAULT '';
		CREATE INDEX IF NOT EXISTS alerts_sort_triage ON alerts (triage, id)`

// triageRescoreMigration indexes the alerts a verdict re-scores: a
// member's, by event time.
const triageRescoreMigration = `CREATE INDEX IF NOT EXISTS alerts_member_event_time ON alerts (member, event_time)`

// triageScore is the value of the triage column for a.
func triageScore(a *Alert) float64 {
	if a.Triage == nil {
		return 0
	}
	return a.Triage.Score
}

// hideTriage removes from a what only its owner may see: the triage
// score, which is derived from the owner's verdicts and alerts, and the
// verdict itself.
func (v Viewer) hideTriage(a *Alert) {
	if !v.Owns(a.Member) {
		a.Triage, a.Verdict = nil, ""
	}
}

// KeyOf returns the deduplication key the service gives a detection: its
// Key, else its host (an observable, else host.name in its evidence).
func KeyOf(a *Alert) string { return dedupKey(a) }
