package archive

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func TestRetentionPerMember(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := openAt(t, open, base.Add(3*24*time.Hour)) // day 3 is today
			seq := uint64(0)
			for _, member := range []string{"m1", "m2", "m3"} {
				for day := range 4 {
					var evs []*event.Event
					for i := range 100 {
						at := base.Add(time.Duration(day)*24*time.Hour + time.Duration(i)*time.Second)
						ev := &event.Event{ID: fmt.Sprintf("%s-%d-%d", member, day, i), Member: member, Time: at, Ingested: at}
						ev.SetKey(event.HostName, "WS-1")
						evs = append(evs, ev)
					}
					seq++
					if err := a.Write(ctx, []Batch{{Stream: 1, Seq: seq, Member: member, Events: evs}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			p := NewPolicies(storetest.SQLite(t, RetentionSchema()))
			if err := p.Set(ctx, "m1", Retention{Days: 2}); err != nil {
				t.Fatal(err)
			}
			if err := p.Set(ctx, "m2", Retention{Bytes: 1}); err != nil { // over any size: all but today go
				t.Fatal(err)
			}
			if err := p.Set(ctx, "m3", Retention{Days: -1}); err == nil {
				t.Error("a negative retention was accepted")
			}
			if _, err := a.Enforce(ctx, p); err != nil {
				t.Fatal(err)
			}
			for member, want := range map[string]int64{"m1": 200, "m2": 100, "m3": 400} {
				if n, err := a.Total(ctx, member); err != nil || n != want {
					t.Errorf("%s keeps %d events (%v), want %d", member, n, err, want)
				}
			}
			n, err := a.Count(ctx, Query{Member: "m1", From: base, To: base.Add(4 * 24 * time.Hour), Filters: []Filter{{Field: "host.name", Op: Eq, Value: "ws-1"}}})
			if err != nil || n != 200 {
				t.Errorf("m1 finds %d events after retention (%v), want the last two days' 200", n, err)
			}
		})
	}
}
