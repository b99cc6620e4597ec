package ml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
)

var triageT0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// toyAlert is an alert of rule on host at minute i.
func toyAlert(member, rule string, sev alert.Severity, host string, i int) *alert.Alert {
	return &alert.Alert{Member: member, Detector: "sigma", RuleID: rule, RuleTitle: "Rule " + rule, Severity: sev,
		Key: host, EventTime: triageT0.Add(time.Duration(i) * time.Minute), Techniques: []string{"T1059.001"}}
}

// TestTriageLearnsSeparable trains on toy sets where one feature decides
// the verdict and checks that the model ranks fresh alerts by it and names
// it first among the factors.
func TestTriageLearnsSeparable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// make returns the i-th training alert and whether it is
		// confirmed.
		make func(i int) (*alert.Alert, bool)
		// good and bad are fresh alerts to score after training.
		good, bad *alert.Alert
		// factor is a word the top factor of good must contain.
		factor string
	}{
		{
			name: "by rule",
			make: func(i int) (*alert.Alert, bool) {
				if i%2 == 0 {
					return toyAlert("m1", "evil", alert.Medium, fmt.Sprintf("h%d", i), i), true
				}
				return toyAlert("m1", "noisy", alert.Medium, fmt.Sprintf("h%d", i), i), false
			},
			good:   toyAlert("m1", "evil", alert.Medium, "fresh1", 5000),
			bad:    toyAlert("m1", "noisy", alert.Medium, "fresh2", 5001),
			factor: "Rule evil",
		},
		{
			name: "by severity",
			make: func(i int) (*alert.Alert, bool) {
				rule := fmt.Sprintf("r%d", i%50) // rules say nothing: each is both
				if i%2 == 0 {
					return toyAlert("m1", rule, alert.Critical, fmt.Sprintf("h%d", i), i), true
				}
				return toyAlert("m1", rule, alert.Low, fmt.Sprintf("h%d", i), i), false
			},
			good:   toyAlert("m1", "new-rule", alert.Critical, "fresh1", 5000),
			bad:    toyAlert("m1", "new-rule", alert.Low, "fresh2", 5001),
			factor: "critical",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTriage(TriageOptions{})
			for i := range 400 {
				a, confirmed := tc.make(i)
				tr.Score(a)
				v := alert.FalsePositive
				if confirmed {
					v = alert.TruePositive
				}
				if err := tr.Learn(a, v); err != nil {
					t.Fatal(err)
				}
			}
			tr.Score(tc.good)
			tr.Score(tc.bad)
			g, b := tc.good.Triage, tc.bad.Triage
			if g.Score < 0.8 || b.Score > 0.2 {
				t.Fatalf("scores: confirmed kind %.3f, refuted kind %.3f; want > 0.8 and < 0.2", g.Score, b.Score)
			}
			if len(g.Factors) == 0 || !strings.Contains(g.Factors[0].Feature, tc.factor) || g.Factors[0].Weight <= 0 {
				t.Fatalf("top factor of the confirmed kind: %+v; want a positive one naming %q", g.Factors, tc.factor)
			}
		})
	}
}

// TestTriageCoOccurrence checks that other rules alerting on the same
// entity within the window are counted, and older ones are not.
func TestTriageCoOccurrence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		earlier []int // minutes of earlier alerts (other rules) on host h
		at      int
		want    string
	}{
		{"alone", nil, 100, "0 other rules"},
		{"two within the hour", []int{50, 60}, 100, "2 other rules"},
		{"too old", []int{10, 20}, 100, "0 other rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTriage(TriageOptions{})
			for i, m := range tc.earlier {
				tr.Score(toyAlert("m1", fmt.Sprint("other", i), alert.Low, "h", m))
			}
			a := toyAlert("m1", "x", alert.Low, "h", tc.at)
			tr.Score(a)
			m := tr.members["m1"]
			ctx := m.context(a, time.Hour, false)
			found := false
			for _, d := range m.descs {
				found = found || d.kind == fCoRules && describe(d, time.Hour) == tc.want+" on this entity within 1h0m0s"
			}
			if !found {
				t.Fatalf("co-occurring rules %d; want %q", ctx.coRules, tc.want)
			}
		})
	}
}

// TestTriageMemberIsolation checks that one member's verdicts and alerts
// leave another member's scores exactly as they were.
func TestTriageMemberIsolation(t *testing.T) {
	tr := NewTriage(TriageOptions{})
	scoreB := func() []float64 {
		var out []float64
		for i := range 5 {
			// A copy of the same alert each time: scoring must not
			// depend on what B's context saw in the previous call, so a
			// fresh model for B is built per call.
			a := toyAlert("b", "evil", alert.High, fmt.Sprint("bh", i), i)
			tr.Score(a)
			out = append(out, a.Triage.Score)
		}
		return out
	}
	before := scoreB()
	delete(tr.members, "b")
	for i := range 300 {
		a := toyAlert("a", "evil", alert.High, fmt.Sprint("bh", i%5), i)
		tr.Score(a)
		if err := tr.Learn(a, alert.TruePositive); err != nil {
			t.Fatal(err)
		}
	}
	after := scoreB()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("member b's scores changed with a's verdicts: %v → %v", before, after)
	}
	a := toyAlert("a", "evil", alert.High, "x", 1000)
	tr.Score(a)
	if a.Triage.Score < 0.9 {
		t.Fatalf("member a's own model did not learn: %.3f", a.Triage.Score)
	}
	if tr.Verdicts("b") != 0 || tr.Verdicts("a") != 300 {
		t.Fatalf("verdicts a %d, b %d", tr.Verdicts("a"), tr.Verdicts("b"))
	}
}

// TestTriagePersistence saves a member's model through its verdicts,
// restores it in a new model, and checks that a damaged file is reported
// by name and that Retrain rebuilds the model from stored verdicts.
func TestTriagePersistence(t *testing.T) {
	dir := t.TempDir()
	tr := NewTriage(TriageOptions{Dir: dir})
	var labelled []alert.Alert
	for i := range 200 {
		a := toyAlert("de-energie", fmt.Sprint("r", i%2), alert.Medium, "h", i*30)
		tr.Score(a)
		a.Verdict = alert.FalsePositive
		if i%2 == 0 {
			a.Verdict = alert.TruePositive
		}
		if err := tr.Learn(a, a.Verdict); err != nil {
			t.Fatal(err)
		}
		labelled = append(labelled, *a)
	}
	// probe is the score the model gives the first alert's features:
	// the weights alone, not the context counters, which a restored or
	// retrained model starts without.
	probe := func(tr *Triage) float64 {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		m := tr.member("de-energie")
		logit := 0.0
		for _, f := range labelled[0].Triage.Features {
			logit += m.weight(f, &tr.opts)
		}
		return sigmoid(logit)
	}
	want := probe(tr)
	path := filepath.Join(dir, "de-energie.model")
	if got := probe(NewTriage(TriageOptions{Dir: dir})); got != want {
		t.Fatalf("restored model scores %.6f, saved one %.6f", got, want)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "checksum"},
		{"flipped byte", append(append([]byte{}, good[:40]...), append([]byte{good[40] ^ 1}, good[41:]...)...), "checksum"},
		{"not a model", []byte("hello, this is not a model at all"), "not an xsoc ML state file"},
		{"another detector's state", newStateWriter("ml-anomaly", 0).finish(), "incompatible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			errs := make(chan *TriageLoadError, 1)
			fresh := NewTriage(TriageOptions{Dir: dir, OnLoadError: func(e *TriageLoadError) { errs <- e }})
			if got := probe(fresh); got != 0.5 {
				t.Fatalf("a damaged model scored %.3f, want 0.5 (no verdicts)", got)
			}
			e := <-errs
			if e.Path != path || !strings.Contains(e.Error(), path) || !strings.Contains(e.Error(), tc.want) {
				t.Fatalf("error %q; want it to name %s and say %q", e, path, tc.want)
			}
			n, err := fresh.Retrain("de-energie", labelled)
			if err != nil || n != len(labelled) {
				t.Fatalf("retrain: %d, %v", n, err)
			}
			if got := probe(fresh); got != want {
				t.Fatalf("retrained model scores %.6f, want %.6f", got, want)
			}
		})
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	old := alert.Alert{Member: "de-energie", ID: "x", Triage: &alert.Triage{Model: TriageModelVersion + 1, Features: []uint32{1}}}
	if err := tr.Learn(&old, alert.TruePositive); err != nil || tr.Verdicts("de-energie") != 200 {
		t.Fatalf("an alert of another model version: %v, %d verdicts", err, tr.Verdicts("de-energie"))
	}
}

// TestTriageVerdictLiftsEntity trains a member whose hosts are either
// intruded (every alert confirmed) or noisy (every alert refuted), by the
// same two rules, so that only a confirmation of a host's earlier alert
// tells them apart; then a confirmation of a fresh host's later alert
// must lift the score of its earlier, still open alert when re-scored,
// naming the confirmation as the top factor, while a refutation is no
// feature (intruded hosts have benign alerts too) and a verdict on
// another host leaves it as it was.
func TestTriageVerdictLiftsEntity(t *testing.T) {
	tr := NewTriage(TriageOptions{})
	for i := range 300 {
		host := fmt.Sprint("h", i)
		v := alert.FalsePositive
		if i%2 == 0 {
			v = alert.TruePositive
		}
		for j, rule := range []string{"a", "b"} {
			a := toyAlert("m1", rule, alert.Medium, host, i*100+j*5)
			tr.Score(a)
			if err := tr.Learn(a, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	judge := func(host string, v alert.Verdict) (open *alert.Alert, before float64, changed bool) {
		open = toyAlert("m1", "a", alert.Medium, host, 50000)
		tr.Score(open)
		before = open.Triage.Score
		judged := toyAlert("m1", "b", alert.Medium, host, 50005)
		tr.Score(judged)
		if err := tr.Learn(judged, v); err != nil {
			t.Fatal(err)
		}
		return open, before, tr.Rescore(open)
	}
	open, before, changed := judge("intruded", alert.TruePositive)
	if !changed || open.Triage.Score < before+0.2 {
		t.Fatalf("score %.3f → %.3f after a confirmation on the host", before, open.Triage.Score)
	}
	if f := open.Triage.Factors; len(f) == 0 || !strings.HasPrefix(f[0].Feature, "an analyst confirmed an alert on this entity") || f[0].Weight <= 0 {
		t.Fatalf("factors %v; want the confirmation first", f)
	}
	// A refutation teaches the model (the weights move), but lends the
	// host's other alerts no feature.
	open, before, _ = judge("noisy", alert.FalsePositive)
	for _, f := range open.Triage.Features {
		if f&residualFeature != 0 {
			t.Fatalf("a refutation gave the host's open alert the verdict feature; score %.3f → %.3f", before, open.Triage.Score)
		}
	}
	other := toyAlert("m1", "a", alert.Medium, "elsewhere", 50001)
	tr.Score(other)
	if tr.Rescore(other) {
		t.Fatal("a confirmation on another host moved the alert")
	}
	// The context forgets an alert whose entity's slot is taken: it is
	// not re-scored.
	if tr.Rescore(toyAlert("m1", "a", alert.Medium, "never-seen", 50000)) {
		t.Fatal("re-scored an alert the context never saw")
	}
}

// TestTriageReadsVersion1 checks that a model file and alert features of
// version 1 (no residual feature) still load and train.
func TestTriageReadsVersion1(t *testing.T) {
	w := newStateWriter(TriageDetectorName, 64)
	w.u16(1)
	w.u8(triageBits)
	w.u64(7)
	w.u32(1)
	w.u32(42)
	w.f64(-3)
	w.f64(2)
	var m triageMember
	if err := m.unmarshal(w.finish()); err != nil || m.verdicts != 7 || m.z[42] != -3 {
		t.Fatalf("version 1 file: %v", err)
	}
	tr := NewTriage(TriageOptions{})
	old := alert.Alert{Member: "m1", ID: "x", Triage: &alert.Triage{Model: 1, Features: []uint32{1, 42}}}
	if err := tr.Learn(&old, alert.TruePositive); err != nil || tr.Verdicts("m1") != 1 {
		t.Fatalf("an alert scored by version 1: %v, %d verdicts", err, tr.Verdicts("m1"))
	}
}

// TestTriagePathOfOddMember checks that a member id that is no plain
// file name cannot steer where its model is written.
func TestTriagePathOfOddMember(t *testing.T) {
	tr := NewTriage(TriageOptions{Dir: "/var/x"})
	for _, id := range []string{"../etc/passwd", "a/b", ".hidden", ""} {
		p := tr.path(id)
		if filepath.Dir(p) != "/var/x" || strings.Contains(filepath.Base(p), "/") || strings.HasPrefix(filepath.Base(p), ".") {
			t.Errorf("member %q → %s", id, p)
		}
	}
	if got := tr.path("de-energie"); got != "/var/x/de-energie.model" {
		t.Errorf("plain member → %s", got)
	}
}

// TestTriageUnmarshalRejectsBadWeights checks values a checksum cannot
// vouch for (a file written by a buggy or hostile writer).
func TestTriageUnmarshalRejectsBadWeights(t *testing.T) {
	for _, tc := range []struct {
		name  string
		index uint32
		n     float64
	}{
		{"index out of range", triageWeights, 1},
		{"negative count", 3, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newStateWriter(TriageDetectorName, 64)
			w.u16(TriageModelVersion)
			w.u8(triageBits)
			w.u64(1)
			w.u32(1)
			w.u32(tc.index)
			w.f64(0.5)
			w.f64(tc.n)
			var m triageMember
			if err := m.unmarshal(w.finish()); err == nil || m.z != nil {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
	var m triageMember
	w := newStateWriter(TriageDetectorName, 64)
	w.u16(TriageModelVersion + 1)
	if err := m.unmarshal(w.finish()); !errors.Is(err, ErrStateIncompatible) {
		t.Fatalf("another version: %v", err)
	}
}

// BenchmarkTriageScore measures scoring one alert, as the alert service
// does for every new alert.
func BenchmarkTriageScore(b *testing.B) {
	tr := NewTriage(TriageOptions{})
	for i := range 200 {
		a := toyAlert("m", fmt.Sprint("r", i%7), alert.Medium, fmt.Sprint("h", i%13), i)
		tr.Score(a)
		tr.Learn(a, alert.TruePositive)
	}
	a := toyAlert("m", "r1", alert.High, "h1", 300)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.EventTime = triageT0.Add(time.Duration(i) * time.Second)
		tr.Score(a)
	}
}
