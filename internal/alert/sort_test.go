package alert_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

// sortValue is what a sort key compares, computed from a listed alert.
func sortValue(k alert.SortKey, a *alert.Alert) string {
	switch k {
	case alert.SortLastSeen:
		return fmt.Sprintf("%020d", a.LastSeen.UnixNano())
	case alert.SortSeverity:
		return fmt.Sprint(int(a.Severity))
	case alert.SortCount:
		return fmt.Sprintf("%06d", a.Count)
	case alert.SortStatus:
		return string(a.Status)
	case alert.SortTriage:
		return fmt.Sprintf("%.6f", a.Triage.Score)
	}
	return ""
}

// ruleTriage scores alerts by their rule number modulo 4, in quarters,
// so that the triage sort meets ties.
type ruleTriage struct{}

func (ruleTriage) Score(a *alert.Alert) {
	var n int
	fmt.Sscanf(a.RuleID, "r%d", &n)
	a.Triage = &alert.Triage{Score: float64(n%4) / 4}
}

func (ruleTriage) Learn(*alert.Alert, alert.Verdict) error { return nil }

func TestListSorts(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := &clock{now: t0}
		s, err := alert.NewService(db, nil, alert.Options{Now: c.Now, Triage: ruleTriage{}})
		if err != nil {
			t.Fatal(err)
		}
		// Fourteen alerts of two members with ties in every sort column:
		// severity i%3, i%4 further events folded in, every third
		// acknowledged and every fifth closed; b's AMBER alerts stay
		// hidden from a.
		for i := range 14 {
			c.Set(t0.Add(time.Duration(i) * time.Minute))
			owner := []string{"a", "b"}[i%2]
			rule := fmt.Sprintf("r%d", i)
			d := detection(owner, rule, "h", fmt.Sprintf("e%d", i), t0)
			d.Severity = alert.Severity(i % 3)
			if i%4 == 1 {
				d.TLP = tlp.Green
			}
			out, err := s.Raise(ctx, []alert.Alert{d})
			if err != nil {
				t.Fatal(err)
			}
			for j := range i % 4 {
				more := detection(owner, rule, "h", fmt.Sprintf("e%d-%d", i, j), t0.Add(time.Duration(j+i%3)*time.Hour))
				more.Severity = d.Severity
				more.TLP = d.TLP
				if _, err := s.Raise(ctx, []alert.Alert{more}); err != nil {
					t.Fatal(err)
				}
			}
			op := alert.Viewer{Operator: true}
			if i%3 == 0 {
				if _, err := s.Ack(ctx, op, out[0].ID, "ann"); err != nil {
					t.Fatal(err)
				}
			}
			if i%5 == 0 {
				if _, err := s.Close(ctx, op, out[0].ID, "ann"); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, v := range []alert.Viewer{{Operator: true}, {Member: "a"}} {
			all, err := s.List(ctx, v, alert.Filter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range alert.SortKeys() {
				for _, asc := range []bool{false, true} {
					sort := alert.Sort{Key: k, Asc: asc}
					want := slices.Clone(all.Alerts)
					if k == alert.SortTriage && !v.Operator {
						// A score is its owner's: only the viewer's
						// own alerts are listed in its order.
						want = slices.DeleteFunc(want, func(a alert.Alert) bool { return a.Member != v.Member })
					}
					slices.SortFunc(want, func(x, y alert.Alert) int {
						c := cmp.Or(strings.Compare(sortValue(k, &x), sortValue(k, &y)), strings.Compare(x.ID, y.ID))
						if !asc {
							c = -c
						}
						return c
					})
					var walked []alert.Alert
					f := alert.Filter{Limit: 3, Sort: sort}
					for pages := 0; ; pages++ {
						if pages > len(want) {
							t.Fatalf("%+v %s: paging does not end", v, sort)
						}
						page, err := s.List(ctx, v, f)
						if err != nil {
							t.Fatalf("%+v %s: %v", v, sort, err)
						}
						walked = append(walked, page.Alerts...)
						if page.Next == "" {
							break
						}
						f.Cursor = page.Next
					}
					if !slices.EqualFunc(walked, want, func(x, y alert.Alert) bool { return x.ID == y.ID }) {
						t.Errorf("viewer %+v, sort %s: pages walked %v, want %v", v, sort, rules(walked), rules(want))
					}
				}
			}
		}
		// A cursor carries its sort: one used with another sort, or
		// broken, is refused.
		first, err := s.List(ctx, alert.Viewer{Operator: true}, alert.Filter{Limit: 2, Sort: alert.Sort{Key: alert.SortSeverity}})
		if err != nil || first.Next == "" {
			t.Fatalf("first page: %+v %v", first, err)
		}
		plain, err := s.List(ctx, alert.Viewer{Operator: true}, alert.Filter{Limit: 2})
		if err != nil || plain.Next == "" {
			t.Fatalf("first page: %+v %v", plain, err)
		}
		bad := []alert.Filter{
			{Cursor: first.Next},
			{Cursor: first.Next, Sort: alert.Sort{Key: alert.SortSeverity, Asc: true}},
			{Cursor: first.Next, Sort: alert.Sort{Key: alert.SortCount}},
			{Cursor: plain.Next, Sort: alert.Sort{Key: alert.SortSeverity}},
			{Cursor: plain.Next, Sort: alert.Sort{Asc: true}},
			{Cursor: "severity.desc.x." + plain.Next, Sort: alert.Sort{Key: alert.SortSeverity}},
			{Cursor: "status.desc.open." + plain.Next, Sort: alert.Sort{Key: alert.SortStatus}},
			{Cursor: "triage.desc.0x1." + plain.Next, Sort: alert.Sort{Key: alert.SortTriage}},
			{Cursor: "triage.desc.-1." + plain.Next, Sort: alert.Sort{Key: alert.SortTriage}},
			{Cursor: "severity.desc.3.nope", Sort: alert.Sort{Key: alert.SortSeverity}},
		}
		for _, f := range bad {
			if _, err := s.List(ctx, alert.Viewer{Operator: true}, f); !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), "cursor") {
				t.Errorf("List(%+v) err = %v, want ErrInvalid about the cursor", f, err)
			}
		}
	})
}

func TestParseSort(t *testing.T) {
	tests := []struct {
		key, order string
		want       alert.Sort
		err        string
	}{
		{"", "", alert.Sort{Key: alert.SortDetected}, ""},
		{"severity", "asc", alert.Sort{Key: alert.SortSeverity, Asc: true}, ""},
		{"last_seen", "desc", alert.Sort{Key: alert.SortLastSeen}, ""},
		{"rule", "", alert.Sort{}, "detected, last_seen, severity, count, status, triage"},
		{"triage", "desc", alert.Sort{Key: alert.SortTriage}, ""},
		{"count", "up", alert.Sort{}, "asc or desc"},
	}
	for _, tt := range tests {
		got, err := alert.ParseSort(tt.key, tt.order)
		if tt.err != "" {
			if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSort(%q, %q) err = %v, want one naming %q", tt.key, tt.order, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSort(%q, %q) = %+v, %v, want %+v", tt.key, tt.order, got, err, tt.want)
		}
	}
}

// rules lists the alerts' rule ids, for messages.
func rules(as []alert.Alert) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.RuleID)
	}
	return out
}
