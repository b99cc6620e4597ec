package alert_test

import (
	"context"
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
