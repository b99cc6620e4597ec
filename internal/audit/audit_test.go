package audit

import (
	"context"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func TestRecordAndList(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := New(db)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		entries := []Entry{
			{At: t0, Actor: "operator", Role: "operator", Via: "api", Remote: "10.0.0.1:5000", Action: "POST members", Target: "de-energie", Status: 201},
			{At: t0.Add(time.Minute), Actor: "root@host", Role: "cli", Via: "cli", Remote: "root@host", Action: "POST members/{id}/rotate-key", Target: "de-energie"},
			{At: t0.Add(2 * time.Minute), Actor: "fr-soc", Role: "member", Via: "api", Remote: "10.0.0.2:6000", Action: "GET alerts/{id}", Target: "a1", Owner: "de-energie", Status: 200},
			{At: t0.Add(3 * time.Minute), Actor: "operator", Role: "operator", Via: "api", Remote: "10.0.0.1:5000", Action: "POST members/{id}/alert_tlp", Target: "x", Status: 200},
		}
		for _, e := range entries {
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name string
			f    Filter
			want []string // targets, newest first
		}{
			{"all", Filter{}, []string{"x", "a1", "de-energie", "de-energie"}},
			{"actor", Filter{Actor: "operator"}, []string{"x", "de-energie"}},
			{"action", Filter{Action: "rotate-key"}, []string{"de-energie"}},
			{"underscore is literal", Filter{Action: "alert_tlp"}, []string{"x"}},
			{"owner", Filter{Owner: "de-energie"}, []string{"a1"}},
			{"time", Filter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"a1", "de-energie"}},
			{"page", Filter{Limit: 1, Before: 3}, []string{"de-energie"}},
		}
		for _, tt := range tests {
			got, err := l.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var targets []string
			for _, e := range got {
				targets = append(targets, e.Target)
			}
			if len(targets) != len(tt.want) || len(targets) > 0 && targets[0] != tt.want[0] || len(targets) > 1 && targets[1] != tt.want[1] {
				t.Errorf("%s: %v, want %v", tt.name, targets, tt.want)
			}
		}
		got, _ := l.List(ctx, Filter{Owner: "de-energie"})
		if e := got[0]; e.Actor != "fr-soc" || e.Remote != "10.0.0.2:6000" || !e.At.Equal(t0.Add(2*time.Minute)) || e.Status != 200 {
			t.Errorf("entry read back as %+v", e)
		}
	})
}
