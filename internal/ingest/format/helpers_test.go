package format

import (
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// fixedNow is the clock of the tests that depend on the current year.
var fixedNow = time.Date(2024, time.March, 15, 12, 0, 0, 0, time.UTC)

// parseCase is one record and what parsing it must give.
type parseCase struct {
	name   string
	format Format
	line   string
	want   map[string]string // fields that must have exactly these values
	absent []string          // fields that must not be set
	time   string            // RFC 3339 of ev.Time; "" means zero
	id     string            // ev.ID
	err    string            // substring of the error; "" means success
}

// runParseCases parses each case with a Parser whose clock is fixedNow.
func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Parser{Now: func() time.Time { return fixedNow }}
			var ev event.Event
			err := p.Parse(tc.format, []byte(tc.line), &ev)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Parse succeeded, want error containing %q; fields:\n%s", tc.err, fieldDump(&ev))
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %q does not contain %q", err, tc.err)
				}
				if ev.Len() != 0 || len(ev.Original) != 0 || !ev.Time.IsZero() {
					t.Fatalf("failed Parse changed the event:\n%s", fieldDump(&ev))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEvent(t, &ev, tc)
		})
	}
}

func checkEvent(t *testing.T, ev *event.Event, tc parseCase) {
	t.Helper()
	if string(ev.Original) != tc.line {
		t.Errorf("Original = %q, want the line", ev.Original)
	}
	for k, want := range tc.want {
		got, ok := ev.Get(k)
		if !ok {
			t.Errorf("%s absent, want %q", k, want)
		} else if got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range tc.absent {
		if v, ok := ev.Get(k); ok {
			t.Errorf("%s = %q, want absent", k, v)
		}
	}
	gotTime := ""
	if !ev.Time.IsZero() {
		gotTime = ev.Time.Format(time.RFC3339Nano)
	}
	if gotTime != tc.time {
		t.Errorf("Time = %q, want %q", gotTime, tc.time)
	}
	if ev.ID != tc.id {
		t.Errorf("ID = %q, want %q", ev.ID, tc.id)
	}
	if ev.Member != "" {
		t.Errorf("Member = %q, want it left to the caller", ev.Member)
	}
	if t.Failed() {
		t.Logf("fields:\n%s", fieldDump(ev))
	}
}

// values returns every value of the field name, in order.
func values(ev *event.Event, name string) []string {
	var out []string
	ev.Each(event.RefOf(name), func(v string) bool {
		out = append(out, v)
		return true
	})
	return out
}

func fieldDump(ev *event.Event) string {
	var sb strings.Builder
	ev.Fields(func(n, v string) bool {
		sb.WriteString("  " + n + " = " + v + "\n")
		return true
	})
	return sb.String()
}
