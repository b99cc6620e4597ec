package ml

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

func TestLabel(t *testing.T) {
	for _, tc := range []struct {
		name, label string
		ok          bool
	}{
		{"www.google.com", "google", true},
		{"Mail.BBC.co.uk.", "bbc", true},
		{"xkqjvbt.dyndns.org", "xkqjvbt", true}, // private public suffix
		{"a.b.c.example.com.au", "example", true},
		{"co.uk", "", false},
		{"wpad", "", false},
		{"", "", false},
		{"10.1.2.3", "", false},
		{"4.3.2.1.in-addr.arpa", "", false},
		{"host.corp.local", "corp", true},
		{strings.Repeat("a.", 200) + "evil.com", "evil", true},
	} {
		l, ok := Label(tc.name)
		if l != tc.label || ok != tc.ok {
			t.Errorf("Label(%q) = %q, %v; want %q, %v", tc.name, l, ok, tc.label, tc.ok)
		}
	}
}

func TestBuiltInModelSeparates(t *testing.T) {
	m := DefaultDGAModel()
	for _, l := range []string{"google", "wikipedia", "microsoft", "europa", "bundesregierung", "spiegel", "lemonde"} {
		if s := m.Score(l); s >= m.Threshold {
			t.Errorf("benign %q scored %.3f, over the threshold %.3f", l, s, m.Threshold)
		}
	}
	// The campaign DGA of the scenario generator: random letters, 10–16.
	for _, l := range []string{"qwxkzjvbtrm", "zpxqjkvwhtnbc", "kxjqzvbwplmrt"} {
		if s := m.Score(l); s < m.Threshold {
			t.Errorf("generated %q scored %.3f, under the threshold %.3f", l, s, m.Threshold)
		}
	}
}

func TestModelFileErrors(t *testing.T) {
	good, _ := DefaultDGAModel().MarshalBinary()
	version := append([]byte(nil), good...)
	version[8] = 9
	flipped := append([]byte(nil), good...)
	flipped[100] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an xsoc DGA model"},
		{"json", []byte(`{"model":"x"}`), "not an xsoc DGA model"},
		{"version", version, "format version 9"},
		{"truncated", good[:len(good)-10], "truncated"},
		{"damaged", flipped, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dga.model")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDGAModel(path)
			if err == nil || !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want ErrModel naming %s and saying %q", err, path, tc.want)
			}
		})
	}
	// A model written by xsoc before the 4-gram features (format
	// version 1, kept in testdata as that version wrote it) is refused
	// with a request to retrain, naming the file.
	_, err := LoadDGAModel(filepath.Join("testdata", "dga-v1.model"))
	if err == nil || !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "dga-v1.model") ||
		!strings.Contains(err.Error(), "format version 1, this xsoc reads version 2 (retrain with xsoc ml train dga)") {
		t.Fatalf("version-1 model: error %v", err)
	}
	m := new(DGAModel)
	if err := m.UnmarshalBinary(good); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if again, _ := m.MarshalBinary(); string(again) != string(good) {
		t.Fatal("round trip changed the model")
	}
}

func dnsEvent(name string) *event.Event {
	ev := &event.Event{ID: "e1", Member: "m1", Time: time.Unix(1700000000, 0)}
	ev.SetKey(event.NetworkProtocol, "dns")
	ev.SetKey(event.SourceIp, "10.0.0.5")
	ev.SetKey(event.DnsQuestionName, name)
	return ev
}

func TestDGADetect(t *testing.T) {
	d := NewDGA(nil)
	out := d.Detect(dnsEvent("www.qwxkzjvbtrm.top"), nil)
	if len(out) != 1 {
		t.Fatalf("alerts = %d, want 1", len(out))
	}
	a := out[0]
	if a.Detector != DGADetectorName || a.Key != "qwxkzjvbtrm.top" || a.Techniques[0] != "T1568.002" ||
		!strings.Contains(a.RuleTitle, "likelihood") || len(a.Evidence) != 1 || a.EventIDs[0] != "e1" {
		t.Fatalf("alert %+v", a)
	}
	if out := d.Detect(dnsEvent("www.wikipedia.org"), nil); len(out) != 0 {
		t.Fatalf("benign name alerted: %s", out[0].RuleTitle)
	}
	// A DNS event without a usable name is skipped and counted; a
	// non-DNS event is not the detector's business.
	d.Detect(dnsEvent(""), nil)
	d.Detect(dnsEvent("wpad"), nil)
	d.Detect(&event.Event{}, nil)
	if s := d.Stats(); s.Scored.Load() != 2 || s.Skipped.Load() != 2 || s.Alerts.Load() != 1 {
		t.Fatalf("scored %d skipped %d alerts %d", s.Scored.Load(), s.Skipped.Load(), s.Alerts.Load())
	}
}

func TestDGADetectDoesNotAllocate(t *testing.T) {
	d := NewDGA(nil)
	ev := dnsEvent("update.microsoft.com")
	d.Detect(ev, nil) // fills the suffix cache
	if n := testing.AllocsPerRun(100, func() { d.Detect(ev, nil) }); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		pos, neg []float64
		want     float64
	}{
		{[]float64{0.9, 0.8}, []float64{0.1, 0.2}, 1},
		{[]float64{0.1}, []float64{0.9}, 0},
		{[]float64{0.5}, []float64{0.5}, 0.5},
		{[]float64{0.9, 0.3}, []float64{0.5, 0.1}, 0.75},
	} {
		if got := AUC(tc.pos, tc.neg); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, want %v", tc.pos, tc.neg, got, tc.want)
		}
	}
}

// sharedDir finds the read-only test data folder beside the checkout.
func sharedDir(t testing.TB) string {
	dir := os.Getenv("XSOC_SHARED")
	if dir == "" {
		dir = "../../../../shared"
	}
	if _, err := os.Stat(filepath.Join(dir, "misp", "warninglists")); err != nil {
		t.Skipf("shared test data not found at %s (set XSOC_SHARED)", dir)
	}
	return dir
}

// TestTrainReproducesBuiltInModel retrains from the warning lists and
// checks the result is byte-identical to the embedded model: the model
// in the binary is what "xsoc ml train dga" builds.
func TestTrainReproducesBuiltInModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	benign, err := LoadBenign(filepath.Join(sharedDir(t), "misp", "warninglists"))
	if err != nil {
		t.Fatal(err)
	}
	train, validate, _ := Split(benign, DefaultSplitSeed)
	var mal []string
	for _, f := range Families() {
		mal = append(mal, FamilyLabels(f)...)
	}
	data, _ := TrainDGA(train, mal, validate).MarshalBinary()
	if string(data) != string(embeddedDGA) {
		t.Fatal("retrained model differs from the embedded dga.model: run xsoc ml train dga")
	}
}

func TestFamiliesGenerate(t *testing.T) {
	for _, f := range Families() {
		labels := FamilyLabels(f)
		if len(labels) < 100 || f.Source == "" {
			t.Errorf("%s: %d distinct labels, source %q", f.Name, len(labels), f.Source)
		}
	}
}

func FuzzDGAScore(f *testing.F) {
	for _, s := range []string{"www.google.com", "xn--bcher-kva.example", "é.com", strings.Repeat("ab.", 120) + "com", "\x00\xff.top", "a..b.com", "."} {
		f.Add(s)
	}
	for _, s := range []string{strings.Repeat("ä", 200) + ".net", strings.Repeat("x", 300) + "." + strings.Repeat("y", 70) + ".com", "\xc3.\xa4.co.uk"} {
		f.Add(s)
	}
	m := DefaultDGAModel()
	d := NewDGA(m)
	burst := NewDGABurst(m, DGABurstOptions{Learn: time.Millisecond, MinDomains: 2, SeenBits: 1 << 12})
	at := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, name string) {
		// Every name is a new domain to the burst detector (a tiny seen
		// filter keeps it so), alerts quote cut names, and nothing panics.
		at = at.Add(time.Second)
		for _, rcode := range []string{"", "NXDOMAIN"} {
			ev := dnsEvent(name)
			ev.Time = at
			ev.SetKey(event.DnsResponseCode, rcode)
			for _, a := range burst.Detect(ev, nil) {
				if a.Detector != DGABurstDetectorName || a.Key != "10.0.0.5" {
					t.Fatalf("burst alert %+v", a)
				}
			}
		}
		l, ok := Label(name)
		var c suffixCache
		if l2, ok2 := labelOf(name, &c); l2 != l || ok2 != ok {
			t.Fatalf("cached label %q %v, uncached %q %v", l2, ok2, l, ok)
		}
		if l2, ok2 := labelOf(name, &c); l2 != l || ok2 != ok {
			t.Fatalf("cache hit label %q %v, uncached %q %v", l2, ok2, l, ok)
		}
		if ok {
			if s := m.Score(l); !(s >= 0 && s <= 1) {
				t.Fatalf("score %v for %q", s, name)
			}
		}
		d.Detect(dnsEvent(name), nil)
	})
}

func BenchmarkDGADetect(b *testing.B) {
	d := NewDGA(nil)
	names := []string{"www.google.com", "outlook.office365.com", "a.b.c.d.e.f.g.h.example.co.uk", "cdn.jsdelivr.net", "login.microsoftonline.com", "fonts.gstatic.com", "wpad", "www.spiegel.de"}
	evs := make([]*event.Event, len(names))
	for i, n := range names {
		evs[i] = dnsEvent(n)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Detect(evs[i%len(evs)], nil)
	}
}
