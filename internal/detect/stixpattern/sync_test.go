package stixpattern

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/tlp"
)

// probe is an event that matches the pattern probePattern(name).
func probe(name string) *event.Event {
	return ev("e-"+name, frSOC, base.Add(time.Hour), "process.name", name+".exe", "process.pid", "1")
}

func probePattern(name string) string {
	return `[process:name = '` + name + `.exe' AND process:pid = 1]`
}

func TestVersions(t *testing.T) {
	repo := newRepo(t)
	d := New(Options{})
	const name = "loader"
	version := func(pattern string, modified time.Duration, revoked bool) func(t *testing.T) {
		return func(t *testing.T) {
			add(t, repo, frSOC, indicator(t, spec{name: name, pattern: pattern, level: tlp.Green,
				modified: base.Add(modified), revoked: revoked}))
		}
	}
	remove := func(versions string) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := repo.DeleteObject(context.Background(), intel.Viewer{Member: frSOC}, coll, id(name),
				intel.Filter{Versions: []string{versions}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		name   string
		do     func(t *testing.T)
		probes []string // the probe events that match afterwards
	}{
		{"first version", version(probePattern("a"), 0, false), []string{"a"}},
		{"new pattern", version(probePattern("b"), time.Hour, false), []string{"b"}},
		{"revoked", version(probePattern("b"), 2*time.Hour, true), nil},
		{"revocation deleted: back to the version before", remove("last"), []string{"b"}},
		{"an older version arriving late changes nothing", version(probePattern("c"), -time.Hour, false), []string{"b"}},
		{"a simple pattern hides the complex one", version(`[domain-name:value = 'x.example']`, 3*time.Hour, false), nil},
		{"complex again", version(probePattern("d"), 4*time.Hour, false), []string{"d"}},
		{"an older version deleted changes nothing", remove(intel.FormatTimestamp(base.Add(-time.Hour))), []string{"d"}},
		{"every version deleted", remove("all"), nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			load(t, d, repo)
			var matched []string
			for _, p := range []string{"a", "b", "c", "d"} {
				if got := d.Detect(probe(p), nil); len(got) > 0 {
					if got[0].RuleID != id(name) {
						t.Errorf("probe %s matched %s", p, got[0].RuleID)
					}
					matched = append(matched, p)
				}
			}
			if !slices.Equal(matched, st.probes) {
				t.Errorf("probes matching: %v, want %v", matched, st.probes)
			}
		})
	}
	want := Stats{Loaded: 3, Simple: 1, Revoked: 1, Superseded: 1, Deleted: 2}
	if got := d.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestNotLoaded(t *testing.T) {
	tests := []struct {
		name  string
		spec  spec
		probe *event.Event
		want  Stats
	}{
		{"simple domain", spec{pattern: `[domain-name:value = 'evil.example']`},
			ev("e", frSOC, base.Add(time.Hour), "dns.question.name", "evil.example"), Stats{Simple: 1}},
		{"simple set of addresses", spec{pattern: `[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.8']`},
			ev("e", frSOC, base.Add(time.Hour), "destination.ip", "198.51.100.8"), Stats{Simple: 1}},
		{"another pattern language", spec{pattern: `title: x`, patternType: "sigma"},
			probe("a"), Stats{Other: 1}},
		{"pattern does not parse", spec{set: map[string]any{"pattern": "[process:name = "}},
			probe("placeholder"), Stats{Rejected: 1}},
		{"object path events do not carry", spec{pattern: `[artifact:mime_type = 'x' AND process:name = 'a.exe']`},
			probe("a"), Stats{Rejected: 1}},
		{"regular expression Go cannot compile", spec{pattern: `[process:name = 'a.exe' AND process:command_line MATCHES '(?<=x)y']`},
			probe("a"), Stats{Rejected: 1}},
		{"unreadable valid_from", spec{set: map[string]any{"valid_from": "yesterday"}},
			probe("placeholder"), Stats{Rejected: 1}},
		{"revoked from the start", spec{pattern: probePattern("a"), revoked: true},
			probe("a"), Stats{Revoked: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := newRepo(t)
			tt.spec.name = tt.name
			add(t, repo, frSOC, indicator(t, tt.spec))
			d := synced(t, repo, Options{})
			if got := d.Stats(); got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
			if single, multi := d.Len(); single+multi != 0 {
				t.Errorf("Len() = %d, %d; want nothing loaded", single, multi)
			}
			if got := d.Detect(tt.probe, nil); len(got) != 0 {
				t.Errorf("want no alert, got %v", ruleIDs(got))
			}
		})
	}
}

func TestDeletion(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "a", pattern: probePattern("a"), level: tlp.Green}),
		indicator(t, spec{name: "b", pattern: probePattern("b"), level: tlp.Green}))
	d := synced(t, repo, Options{})
	if _, err := repo.DeleteObject(context.Background(), intel.Viewer{Member: frSOC}, coll, id("a"), intel.Filter{}); err != nil {
		t.Fatal(err)
	}
	load(t, d, repo)
	for _, tt := range []struct {
		probe string
		want  int
	}{{"a", 0}, {"b", 1}} {
		if got := d.Detect(probe(tt.probe), nil); len(got) != tt.want {
			t.Errorf("probe %s: %d alerts, want %d", tt.probe, len(got), tt.want)
		}
	}
}

// TestPartialMatchesSurviveSync checks that a Sync keeps the partial
// matches of the patterns it did not change, and drops those of the
// patterns it replaced.
func TestPartialMatchesSurviveSync(t *testing.T) {
	tests := []struct {
		name   string
		change spec
		want   int
	}{
		{"another indicator added", spec{name: "other", pattern: probePattern("z"), level: tlp.Green}, 1},
		{"the pattern's own indicator updated", spec{name: "chain", pattern: certutilThenC2, level: tlp.Green,
			modified: base.Add(time.Hour)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := newRepo(t)
			add(t, repo, frSOC, indicator(t, spec{name: "chain", pattern: certutilThenC2, level: tlp.Green}))
			d := synced(t, repo, Options{})
			d.Detect(ev("a", frSOC, base.Add(time.Minute), "process.name", "certutil.exe"), nil)
			add(t, repo, frSOC, indicator(t, tt.change))
			load(t, d, repo)
			got := d.Detect(ev("b", frSOC, base.Add(2*time.Minute), "destination.ip", "203.0.113.9"), nil)
			if len(got) != tt.want {
				t.Errorf("%d alerts after the Sync, want %d", len(got), tt.want)
			}
		})
	}
}

func TestRunFollowsTheRepository(t *testing.T) {
	repo := newRepo(t)
	d := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx, repo, time.Hour) // the poll never fires: only commits wake Run
		close(done)
	}()
	add(t, repo, frSOC, indicator(t, spec{name: "a", pattern: probePattern("a"), level: tlp.Green}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if single, _ := d.Len(); single == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not load the indicator added to the repository")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := d.Detect(probe("a"), nil); len(got) != 1 {
		t.Errorf("want the loaded indicator to match, got %v", ruleIDs(got))
	}
	cancel()
	<-done
}

// TestConcurrentDetectAndSync runs Detect from several goroutines while
// Sync replaces the rule set; run it with -race.
func TestConcurrentDetectAndSync(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "chain", pattern: certutilThenC2, level: tlp.Green}))
	d := synced(t, repo, Options{})
	const workers, rounds = 4, 200
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			member := []string{frSOC, nlBank}[w%2]
			var out []alert.Alert
			for i := range rounds {
				at := base.Add(time.Duration(i) * time.Second)
				out = d.Detect(ev("a", member, at, "process.name", "certutil.exe", "process.pid", "1"), out[:0])
				out = d.Detect(ev("b", member, at, "destination.ip", "203.0.113.9"), out)
				for _, a := range out {
					if a.Member != member {
						errs <- "alert of member " + a.Member + " raised on an event of " + member
						return
					}
				}
			}
		}()
	}
	for i := range 10 {
		name := string(rune('a' + i))
		add(t, repo, frSOC, indicator(t, spec{name: name, pattern: probePattern(name), level: tlp.Green}))
		load(t, d, repo)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if single, multi := d.Len(); single != 10 || multi != 1 {
		t.Errorf("Len() = %d, %d; want 10, 1", single, multi)
	}
}

// TestOfficialExamples loads the indicators of the OASIS example bundles:
// every version is accounted for, the complex ones that name event fields
// load and match.
func TestOfficialExamples(t *testing.T) {
	dir := sharedDir(t, "stix", "examples")
	repo := newRepo(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("no example bundles in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := repo.AddObjects(context.Background(), intel.Viewer{Member: frSOC}, coll, bundle.Objects); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	changes, _, err := repo.Since(context.Background(), 0, 100000, "indicator")
	if err != nil {
		t.Fatal(err)
	}
	d := New(Options{})
	n, err := d.Sync(context.Background(), repo)
	if err != nil || n != len(changes) {
		t.Fatalf("Sync read %d changes (%v), want %d", n, err, len(changes))
	}
	st := d.Stats()
	if sum := st.Loaded + st.Simple + st.Other + st.Revoked + st.Rejected; sum != len(changes) {
		t.Errorf("Stats %+v account for %d versions, want %d", st, sum, len(changes))
	}
	if st.Simple == 0 || st.Loaded == 0 {
		t.Errorf("Stats %+v: want both simple and complex patterns among the examples", st)
	}
	// '^[IMPORTANT] Please Review Before': the brackets are a character
	// class, as in the example's own regular expression.
	subject := ev("m", frSOC, time.Now(), "email.subject", "T Please Review Before Friday")
	got := d.Detect(subject, nil)
	if len(got) != 1 || !strings.HasPrefix(got[0].RuleTitle, "STIX pattern: ") {
		t.Errorf("want the malicious e-mail indicator to match, got %+v", got)
	}
}
