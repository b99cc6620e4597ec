package alert_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0190a1b2c3d4e5f60718293a4b5c", "nope", strings.Repeat("g", alert.IDLen), "0190A1B2C3D4E5F60718293A4B5C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := alert.ParseCursor(s)
		if err == nil && got != s {
			t.Fatalf("ParseCursor(%q) = %q", s, got)
		}
		if err == nil && s != "" && !alert.ValidID(s) {
			t.Fatalf("ParseCursor accepted %q", s)
		}
	})
}

// FuzzRaiseEvidence feeds arbitrary evidence documents (the key of an
// alert without one is read from them) through Raise.
func FuzzRaiseEvidence(f *testing.F) {
	for _, s := range []string{`{"host.name":"h1"}`, `{"host":{"name":"x"}}`, `{`, `[]`, `{"host.name":12}`, ``} {
		f.Add(s)
	}
	db := fuzzDB(f)
	s, err := alert.NewService(db, nil, alert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, evidence string) {
		d := detection("m1", "r1", "", "e", time.Unix(1, 0))
		d.Observables, d.Evidence = nil, []string{evidence}
		out, err := s.Raise(context.Background(), []alert.Alert{d})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 {
			t.Fatalf("Raise returned %d alerts", len(out))
		}
	})
}

// FuzzListSortCursor feeds arbitrary sort keys, orders and cursors from
// clients to List: each is answered with a page or ErrInvalid, never
// another error or a panic.
func FuzzListSortCursor(f *testing.F) {
	for _, s := range [][3]string{{"", "", ""}, {"severity", "asc", "severity.asc.3.0190a1b2c3d4e5f60718293a4b5c"},
		{"status", "desc", "status.desc.new.0190a1b2c3d4e5f60718293a4b5c"}, {"detected", "asc", "detected.asc..0190a1b2c3d4e5f60718293a4b5c"},
		{"count", "", "count.desc.-1.0190a1b2c3d4e5f60718293a4b5c"}, {"rule", "up", "x.y.z"}} {
		f.Add(s[0], s[1], s[2])
	}
	db := fuzzDB(f)
	s, err := alert.NewService(db, nil, alert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key, order, cursor string) {
		sort, err := alert.ParseSort(key, order)
		if err != nil {
			if !errors.Is(err, alert.ErrInvalid) {
				t.Fatalf("ParseSort(%q, %q): %v", key, order, err)
			}
			return
		}
		if _, err := s.List(context.Background(), alert.Viewer{Member: "m"}, alert.Filter{Sort: sort, Cursor: cursor}); err != nil && !errors.Is(err, alert.ErrInvalid) {
			t.Fatalf("List(%s, %q): %v", sort, cursor, err)
		}
	})
}
