package alert_test

import (
	"context"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestRepeatTakesLatestTitle: a repeat folded into an alert gives it its
// title (an IOC match naming a warning that arrived since), in a batch
// and across batches; a repeat without one leaves the title.
func TestRepeatTakesLatestTitle(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		s := newService(t, db, &recorder{}, &clock{now: t0}, nil)
		ctx := context.Background()
		titled := func(id, title string, at time.Time) alert.Alert {
			a := detection("m1", "r1", "h1", id, at)
			a.RuleTitle = title
			return a
		}
		for _, step := range []struct {
			batch []alert.Alert
			want  string
		}{
			{[]alert.Alert{titled("e1", "first", t0), titled("e2", "second", t0.Add(time.Minute))}, "second"},
			{[]alert.Alert{titled("e3", "third", t0.Add(2*time.Minute))}, "third"},
			{[]alert.Alert{titled("e4", "", t0.Add(3*time.Minute))}, "third"},
		} {
			out, err := s.Raise(ctx, step.batch)
			if err != nil || len(out) != 1 {
				t.Fatalf("raise: %v %v", out, err)
			}
			got, err := s.Get(ctx, alert.Viewer{Operator: true}, out[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.RuleTitle != step.want {
				t.Errorf("after %d detections the title is %q, want %q", got.Count, got.RuleTitle, step.want)
			}
		}
	})
}
