package federation

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRotation: a key rotating daily with an hour of overlap gives one
// pseudonym per value outside the overlap and two (this epoch's, the
// previous one's) within it; epoch 0, before the schedule starts, is the
// master secret's, as without rotation.
func TestRotation(t *testing.T) {
	secret := []byte(strings.Repeat("k", SecretSize))
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := NewRotatingPseudonymiser(secret, Schedule{Every: 24 * time.Hour, Overlap: time.Hour, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := NewPseudonymiser(secret)
	legacy, _ := plain.Pseudonym("domain-name", "evil.example")
	in := func(at time.Time) []EpochPseudonym {
		ps, _ := p.PseudonymsAt(at, "domain-name", "Evil.Example")
		return ps
	}
	tests := []struct {
		name   string
		at     time.Time
		epochs []int64
	}{
		{"before the schedule", since.Add(-time.Minute), []int64{0}},
		{"first hour of epoch 1", since.Add(10 * time.Minute), []int64{1, 0}},
		{"epoch 1 after the overlap", since.Add(2 * time.Hour), []int64{1}},
		{"last minute of epoch 1", since.Add(24*time.Hour - time.Minute), []int64{1}},
		{"first minute of epoch 2", since.Add(24*time.Hour + time.Minute), []int64{2, 1}},
		{"end of epoch 2's overlap", since.Add(25 * time.Hour), []int64{2}},
	}
	for _, tt := range tests {
		ps := in(tt.at)
		var epochs []int64
		for _, e := range ps {
			epochs = append(epochs, e.Epoch)
		}
		if !slices.Equal(epochs, tt.epochs) {
			t.Errorf("%s: epochs %v, want %v", tt.name, epochs, tt.epochs)
		}
	}
	if got := in(since.Add(-time.Hour))[0].Value; got != legacy {
		t.Errorf("epoch 0 gives %s, the secret without rotation %s", got, legacy)
	}
	e1, e2 := in(since.Add(2 * time.Hour))[0].Value, in(since.Add(26 * time.Hour))[0].Value
	if e1 == e2 || e1 == legacy {
		t.Error("epochs share a pseudonym")
	}
	if in(since.Add(24*time.Hour + time.Minute))[1].Value != e1 {
		t.Error("the overlap's previous pseudonym is not the previous epoch's")
	}
	if e := p.Schedule().EpochAt(since.Add(30 * time.Hour)); e.N != 2 || !e.Start.Equal(since.Add(24*time.Hour)) ||
		!e.End.Equal(since.Add(48*time.Hour)) || !e.OverlapUntil.Equal(since.Add(25*time.Hour)) {
		t.Errorf("epoch %+v", e)
	}
}

func TestSchedules(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		s  Schedule
		ok bool
	}{
		{Schedule{}, true},
		{Schedule{Every: 720 * time.Hour, Overlap: 24 * time.Hour, Since: now}, true},
		{Schedule{Every: 720 * time.Hour, Since: now}, true},
		{Schedule{Every: time.Minute, Since: now}, false},
		{Schedule{Every: 24 * time.Hour, Overlap: 24 * time.Hour, Since: now}, false},
		{Schedule{Every: 24 * time.Hour, Overlap: -time.Hour, Since: now}, false},
		{Schedule{Every: 24 * time.Hour}, false},
		{Schedule{Overlap: time.Hour}, false},
	} {
		_, err := NewRotatingPseudonymiser(make([]byte, SecretSize), tt.s)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadSchedule)) {
			t.Errorf("%+v: %v", tt.s, err)
		}
	}
}

// TestSecretFileSchedule: a secret file keeps its schedule; one without
// gets one, keeping its pseudonyms until the schedule starts; one that
// rotates already is not given another.
func TestSecretFileSchedule(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := Schedule{Every: 720 * time.Hour, Overlap: 24 * time.Hour, Since: since}
	path := filepath.Join(dir, "rotating")
	if err := WriteSecretSchedule(path, s); err != nil {
		t.Fatal(err)
	}
	p, err := LoadSecret(path)
	if err != nil || p.Schedule() != s {
		t.Fatalf("loaded %+v, %v", p, err)
	}
	if err := SetSchedule(path, s); err == nil {
		t.Error("a rotating secret got another schedule")
	}
	plain := filepath.Join(dir, "plain")
	if err := WriteSecret(plain); err != nil {
		t.Fatal(err)
	}
	before, _ := LoadSecret(plain)
	if err := SetSchedule(plain, s); err != nil {
		t.Fatal(err)
	}
	after, err := LoadSecret(plain)
	if err != nil || after.Schedule() != s {
		t.Fatalf("after SetSchedule: %+v, %v", after, err)
	}
	old, _ := before.PseudonymsAt(since.Add(-time.Hour), "ipv4-addr", "185.220.101.7")
	same, _ := after.PseudonymsAt(since.Add(-time.Hour), "ipv4-addr", "185.220.101.7")
	overlap, _ := after.PseudonymsAt(since.Add(time.Hour), "ipv4-addr", "185.220.101.7")
	if old[0] != same[0] || len(overlap) != 2 || overlap[1] != old[0] {
		t.Errorf("pseudonyms before %v, after %v, in the overlap %v", old, same, overlap)
	}
	if st, _ := os.Stat(plain); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte(NewSecret()+"\nrotate-every soon\n"), 0o600)
	if _, err := LoadSecret(bad); err == nil {
		t.Error("a bad schedule was accepted")
	}
}

// TestDescribeDuringOverlap: during the overlap an alert's observables
// leave with both epochs' pseudonyms, so the hub's correlator links the
// alert with those of before the switch.
func TestDescribeDuringOverlap(t *testing.T) {
	a := sampleAlert()
	since := a.Detected.Add(-10 * time.Minute)
	p, err := NewRotatingPseudonymiser([]byte(strings.Repeat("s", SecretSize)), Schedule{Every: 24 * time.Hour, Overlap: time.Hour, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	plain := testPseudonymiser(t, "s")
	out := Describe("de-node", &a, "DE", "energy", p)
	prev, _ := plain.Pseudonym("domain-name", "evil-c2.example")
	cur, _ := p.PseudonymsAt(a.Detected, "domain-name", "evil-c2.example")
	var got []string
	for _, o := range out.Observables {
		if o.Type == "domain-name" {
			got = append(got, o.Pseudonym)
		}
	}
	if !slices.Equal(got, []string{cur[0].Value, prev}) {
		t.Errorf("domain pseudonyms %v, want %s and %s", got, cur[0].Value, prev)
	}
	a.Detected = since.Add(2 * time.Hour)
	if n := len(Describe("de-node", &a, "DE", "energy", p).Observables); n != 5 {
		t.Errorf("%d observables after the overlap, want 5", n)
	}
}
