package eventlog

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func TestAppendIsIdempotentAndSearchable(t *testing.T) {
	storetest.Each(t, []store.Schema{Schema()}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := New(db)
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var evs []*event.Event
		for i := range 450 { // more than two multi-row statements
			ev := &event.Event{ID: fmt.Sprintf("e%03d", i), Member: "m1", Time: base.Add(time.Duration(i) * time.Second)}
			ev.SetKey(event.SourceIp, fmt.Sprintf("10.0.%d.%d", i/250, i%250))
			ev.Set("process.command_line", `C:\Windows\System32\cmd.exe /c user_100%`)
			ev.SetKey(event.EventDataset, "windows.sysmon")
			evs = append(evs, ev)
		}
		for round, want := range []int{450, 0} { // the replay stores nothing new
			var n int
			err := db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				n, _, err = l.Append(ctx, tx, evs, nil)
				return err
			})
			if err != nil || n != want {
				t.Fatalf("round %d: Append = %d, %v; want %d", round, n, err, want)
			}
		}
		if n, err := l.Count(ctx, "m1"); err != nil || n != 450 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		tests := []struct {
			q    Query
			want int
		}{
			{Query{Member: "m1", Fields: map[string]string{"source.ip": "10.0.1.7"}}, 1},
			{Query{Member: "m2", Fields: map[string]string{"source.ip": "10.0.1.7"}}, 0},
			{Query{Member: "m1", Text: `system32\cmd.exe`, Limit: 1000}, 450},
			{Query{Member: "m1", Text: `user_100%`, Limit: 5}, 5},
			{Query{Member: "m1", Text: `userx100`}, 0},
			{Query{Member: "m1", From: base.Add(440 * time.Second), Limit: 1000}, 10},
		}
		for _, tt := range tests {
			got, err := l.Search(ctx, tt.q)
			if err != nil || len(got) != tt.want {
				t.Errorf("Search(%+v) = %d events, %v; want %d", tt.q, len(got), err, tt.want)
			}
		}
		if _, err := l.Search(ctx, Query{Member: "m1", Fields: map[string]string{"x') OR 1=1 --": "y"}}); err == nil ||
			!strings.Contains(err.Error(), "bad field name") {
			t.Errorf("injection-shaped field name accepted: %v", err)
		}
	})
}
