package stixpattern

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/tlp"
)

var _ detect.Detector = (*Detector)(nil)

const encodedPowerShell = `[process:name = 'powershell.exe' AND process:command_line MATCHES '(?i) -e(nc|ncodedcommand) ']`

func TestSingleObservation(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{
		name: "Encoded PowerShell", pattern: encodedPowerShell, level: tlp.Green, confidence: intp(85),
		phases: []stix.KillChainPhase{{KillChainName: "mitre-attack", PhaseName: "execution"},
			{KillChainName: "mitre-attack", PhaseName: "t1059.001"}},
		refs: []stix.ExternalReference{{SourceName: "mitre-attack", ExternalID: "T1027"},
			{SourceName: "capec", ExternalID: "T9999"}},
	}))
	d := synced(t, repo, Options{})
	if single, multi := d.Len(); single != 1 || multi != 0 {
		t.Fatalf("Len() = %d, %d; want 1 single pattern", single, multi)
	}
	at := base.Add(time.Hour)
	tests := []struct {
		name string
		ev   *event.Event
		want bool
	}{
		{"both comparisons hold", ev("e1", frSOC, at, "process.name", "powershell.exe",
			"process.command_line", "powershell.exe -NoP -Enc SQBFAFgA", "source.ip", "10.1.2.3", "url.full", "http://x.example/a"), true},
		{"community member, TLP:GREEN", ev("e2", nlBank, at, "process.name", "powershell.exe",
			"process.command_line", "powershell -encodedcommand AAAA"), true},
		{"other process", ev("e3", frSOC, at, "process.name", "pwsh.exe",
			"process.command_line", "pwsh -enc AAAA"), false},
		{"no encoded command", ev("e4", frSOC, at, "process.name", "powershell.exe",
			"process.command_line", "powershell -File x.ps1"), false},
		{"command line absent", ev("e5", frSOC, at, "process.name", "powershell.exe"), false},
		{"empty event", ev("e6", frSOC, at), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Detect(tt.ev, nil)
			if !tt.want {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one alert, got %d: %+v", len(got), got)
			}
			a := got[0]
			want := alert.Alert{
				Member: tt.ev.Member, EventTime: at, Detector: "stix-pattern",
				RuleID: id("Encoded PowerShell"), RuleTitle: "STIX pattern: Encoded PowerShell",
				Severity: alert.High, Techniques: []string{"T1059.001", "T1027"}, TLP: tlp.Green,
				Key: id("Encoded PowerShell"), EventIDs: []string{tt.ev.ID},
				Evidence: []string{string(tt.ev.AppendJSON(nil))},
			}
			if a.Member != want.Member || !a.EventTime.Equal(want.EventTime) || a.Detector != want.Detector ||
				a.RuleID != want.RuleID || a.RuleTitle != want.RuleTitle || a.Severity != want.Severity ||
				!slices.Equal(a.Techniques, want.Techniques) || a.TLP != want.TLP || a.Key != want.Key ||
				!slices.Equal(a.EventIDs, want.EventIDs) || !slices.Equal(a.Evidence, want.Evidence) {
				t.Errorf("alert\n got %+v\nwant %+v", a, want)
			}
			wantObs := detect.Observables(tt.ev)
			if !slices.Equal(a.Observables, wantObs) {
				t.Errorf("observables %v, want %v", a.Observables, wantObs)
			}
		})
	}
}

const certutilThenC2 = `([process:name = 'certutil.exe'] FOLLOWEDBY [network-traffic:dst_ref.value = '203.0.113.9']) WITHIN 300 SECONDS`

func TestFollowedByWithin(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "certutil download", pattern: certutilThenC2, level: tlp.Green}))
	download := func(id, member string, at time.Duration) *event.Event {
		return ev(id, member, base.Add(at), "process.name", "certutil.exe")
	}
	c2 := func(id, member string, at time.Duration) *event.Event {
		return ev(id, member, base.Add(at), "destination.ip", "203.0.113.9")
	}
	tests := []struct {
		name   string
		events []*event.Event
		// want lists, per event, the event ids of the match it completes
		// (nil: no alert).
		want [][]string
	}{
		{"in order within the window",
			[]*event.Event{download("a", frSOC, time.Minute), c2("b", frSOC, 3*time.Minute)},
			[][]string{nil, {"a", "b"}}},
		{"delivered late but in order by event time",
			[]*event.Event{c2("b", frSOC, 3*time.Minute), download("a", frSOC, time.Minute)},
			[][]string{nil, {"a", "b"}}},
		{"wrong order",
			[]*event.Event{c2("b", frSOC, time.Minute), download("a", frSOC, 3*time.Minute)},
			[][]string{nil, nil}},
		{"too far apart",
			[]*event.Event{download("a", frSOC, time.Minute), c2("b", frSOC, 7*time.Minute)},
			[][]string{nil, nil}},
		{"different members never combine",
			[]*event.Event{download("a", frSOC, time.Minute), c2("b", nlBank, 2*time.Minute), c2("c", frSOC, 3*time.Minute)},
			[][]string{nil, nil, {"a", "c"}}},
		{"a match is reported once",
			[]*event.Event{download("a", frSOC, time.Minute), c2("b", frSOC, 2*time.Minute), c2("c", frSOC, 3*time.Minute)},
			[][]string{nil, {"a", "b"}, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := synced(t, repo, Options{})
			if single, multi := d.Len(); single != 0 || multi != 1 {
				t.Fatalf("Len() = %d, %d; want 1 multi-observation pattern", single, multi)
			}
			for i, e := range tt.events {
				got := d.Detect(e, nil)
				if tt.want[i] == nil {
					if len(got) != 0 {
						t.Fatalf("event %s: want no alert, got %+v", e.ID, got)
					}
					continue
				}
				if len(got) != 1 {
					t.Fatalf("event %s: want one alert, got %+v", e.ID, got)
				}
				a := got[0]
				if !slices.Equal(a.EventIDs, tt.want[i]) || a.Member != e.Member || a.RuleID != id("certutil download") ||
					a.Severity != alert.Medium || !a.EventTime.Equal(e.Time) || len(a.Techniques) != 0 {
					t.Errorf("event %s: alert %+v; want events %v", e.ID, a, tt.want[i])
				}
			}
		})
	}
}

func TestTLP(t *testing.T) {
	repo := newRepo(t)
	probe := func(level string) string {
		return `[process:name = 'tool-` + level + `.exe' AND process:command_line LIKE '%payload%']`
	}
	add(t, repo, frSOC,
		indicator(t, spec{name: "clear", pattern: probe("clear"), level: tlp.Clear}),
		indicator(t, spec{name: "green", pattern: probe("green"), level: tlp.Green}),
		indicator(t, spec{name: "amber", pattern: probe("amber"), level: tlp.Amber}),
		indicator(t, spec{name: "amber-strict", pattern: probe("amber-strict"), level: tlp.AmberStrict}),
		indicator(t, spec{name: "red-named", pattern: probe("red-named"), level: tlp.Red, named: []string{nlBank}}),
	)
	withRelations := synced(t, repo, Options{Relations: relations})
	without := synced(t, repo, Options{})
	tests := []struct {
		level  string
		member string
		d      *Detector
		want   bool
	}{
		{"clear", nlBank, withRelations, true},
		{"green", nlBank, withRelations, true},
		{"amber", frSOC, withRelations, true},    // the owner
		{"amber", nlBank, withRelations, false},  // the community
		{"amber", beClient, withRelations, true}, // a client of the owner
		{"amber", beClient, without, false},      // no relations known
		{"amber-strict", frSOC, withRelations, true},
		{"amber-strict", beClient, withRelations, false},
		{"red-named", nlBank, withRelations, true}, // a named recipient
		{"red-named", beClient, withRelations, false},
		{"red-named", frSOC, withRelations, true},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.member, func(t *testing.T) {
			e := ev("e", tt.member, base.Add(time.Hour), "process.name", "tool-"+tt.level+".exe",
				"process.command_line", "run payload now")
			got := tt.d.Detect(e, nil)
			if tt.want != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("want match %v, got %v", tt.want, ruleIDs(got))
			}
			if tt.want && got[0].RuleID != id(tt.level) {
				t.Errorf("matched %s, want %s", got[0].RuleID, id(tt.level))
			}
		})
	}
}

// TestTLPMultiObservation checks that the TLP rule applies to patterns
// over several events too: a member that may not receive the indicator
// never records observations for it.
func TestTLPMultiObservation(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "amber chain", pattern: certutilThenC2, level: tlp.Amber}))
	d := synced(t, repo, Options{Relations: relations})
	for _, tt := range []struct {
		member string
		want   int
	}{{frSOC, 1}, {beClient, 1}, {nlBank, 0}} {
		t.Run(tt.member, func(t *testing.T) {
			d.Detect(ev("a", tt.member, base.Add(time.Minute), "process.name", "certutil.exe"), nil)
			got := d.Detect(ev("b", tt.member, base.Add(2*time.Minute), "destination.ip", "203.0.113.9"), nil)
			if len(got) != tt.want {
				t.Errorf("want %d alerts, got %v", tt.want, ruleIDs(got))
			}
		})
	}
}

func TestValidity(t *testing.T) {
	const pat = `[process:name = 'loader.exe' AND process:parent_ref.name = 'winword.exe']`
	tests := []struct {
		name        string
		from, until time.Time
		event       time.Time
		clock       time.Time
		want        bool
	}{
		{"in force", base, base.Add(24 * time.Hour), base.Add(time.Hour), base.Add(time.Hour), true},
		{"no valid_until", base, time.Time{}, base.Add(1000 * time.Hour), base.Add(1000 * time.Hour), true},
		{"expired at the event's time", base, base.Add(24 * time.Hour), base.Add(25 * time.Hour), base.Add(25 * time.Hour), false},
		{"expires at the event's time", base, base.Add(24 * time.Hour), base.Add(24 * time.Hour), base.Add(24 * time.Hour), false},
		{"late event before expiry", base, base.Add(24 * time.Hour), base.Add(23 * time.Hour), base.Add(48 * time.Hour), true},
		{"not yet valid by the clock", base.Add(48 * time.Hour), time.Time{}, base.Add(time.Hour), base.Add(time.Hour), false},
		{"event before valid_from, published since", base.Add(48 * time.Hour), time.Time{}, base.Add(time.Hour), base.Add(49 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := newRepo(t)
			add(t, repo, frSOC, indicator(t, spec{name: "loader", pattern: pat, level: tlp.Green, from: tt.from, until: tt.until}))
			d := synced(t, repo, Options{Now: func() time.Time { return tt.clock }})
			got := d.Detect(ev("e", frSOC, tt.event, "process.name", "loader.exe", "process.parent.name", "winword.exe"), nil)
			if tt.want != (len(got) == 1) || len(got) > 1 {
				t.Errorf("want match %v, got %v", tt.want, ruleIDs(got))
			}
		})
	}
}

func TestAppendsToOut(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC, indicator(t, spec{name: "Encoded PowerShell", pattern: encodedPowerShell, level: tlp.Green}))
	d := synced(t, repo, Options{})
	prior := []alert.Alert{{RuleID: id("Encoded PowerShell"), Detector: "sigma"}}
	got := d.Detect(ev("e", frSOC, base.Add(time.Hour), "process.name", "powershell.exe",
		"process.command_line", "powershell -enc AAAA"), prior)
	if len(got) != 2 || got[0].Detector != "sigma" || got[1].Detector != Name {
		t.Errorf("want the prior alert kept and one appended, got %+v", got)
	}
}

func TestOneAlertPerIndicatorAcrossCollections(t *testing.T) {
	repo := newRepo(t)
	const other = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	ctx := t.Context()
	if _, err := repo.CreateCollection(ctx, intel.Collection{ID: other, Title: "second", CommunityRead: true}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetRights(ctx, other, frSOC, intel.Rights{Read: true, Write: true}); err != nil {
		t.Fatal(err)
	}
	add(t, repo, frSOC, indicator(t, spec{name: "Encoded PowerShell", pattern: encodedPowerShell, level: tlp.Amber}))
	raw := indicator(t, spec{name: "Encoded PowerShell", pattern: encodedPowerShell, level: tlp.Green})
	if st, err := repo.AddObjects(ctx, intel.Viewer{Member: frSOC}, other, []json.RawMessage{raw}); err != nil || len(st.Failures) > 0 {
		t.Fatalf("add to second collection: %v %+v", err, st.Failures)
	}
	d := synced(t, repo, Options{})
	if single, _ := d.Len(); single != 2 {
		t.Fatalf("want the indicator loaded from both collections, got %d", single)
	}
	got := d.Detect(ev("e", frSOC, base.Add(time.Hour), "process.name", "powershell.exe",
		"process.command_line", "powershell -enc AAAA"), nil)
	if len(got) != 1 || got[0].TLP != tlp.Green {
		t.Errorf("want one alert at TLP:GREEN, got %+v", got)
	}
}

func TestNoAllocationWithoutMatch(t *testing.T) {
	repo := newRepo(t)
	add(t, repo, frSOC,
		indicator(t, spec{name: "Encoded PowerShell", pattern: encodedPowerShell, level: tlp.Green}),
		indicator(t, spec{name: "amber single", pattern: `[process:name = 'x.exe' AND process:pid = 4]`, level: tlp.Amber}),
		indicator(t, spec{name: "certutil download", pattern: certutilThenC2, level: tlp.Amber}),
	)
	clientOf := []string{"someone"}
	d := synced(t, repo, Options{Relations: func(string) []string { return clientOf }})
	tests := []struct {
		name string
		ev   *event.Event
	}{
		{"other process", ev("e1", beClient, base.Add(time.Hour), "process.name", "svchost.exe",
			"process.command_line", "svchost -k netsvcs", "destination.ip", "198.51.100.1")},
		{"owner's event", ev("e2", frSOC, base.Add(time.Hour), "process.name", "explorer.exe")},
		{"event before valid_from", ev("e3", nlBank, base.Add(-time.Hour), "process.name", "explorer.exe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make([]alert.Alert, 0, 4)
			d.Detect(tt.ev, out) // the member's first event builds its observers
			if n := testing.AllocsPerRun(100, func() { out = d.Detect(tt.ev, out[:0]) }); n != 0 || len(out) != 0 {
				t.Errorf("%v allocations, %d alerts; want none", n, len(out))
			}
		})
	}
}

func TestTechniqueID(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"T1059", "T1059", true}, {"t1059.001", "T1059.001", true}, {" T1027 ", "T1027", true},
		{"execution", "", false}, {"T105", "", false}, {"T1059.01", "", false}, {"T1059-001", "", false},
		{"TA0002", "", false}, {"", "", false}, {"T10a9", "", false},
	}
	for _, tt := range tests {
		got, ok := techniqueID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("techniqueID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTitle(t *testing.T) {
	long := "[process:command_line MATCHES '" + strings.Repeat("é", 100) + "' AND process:name = 'a']"
	tests := []struct {
		ind  stix.Indicator
		want string
	}{
		{stix.Indicator{Name: "Loader", Pattern: "[a:b = 'c']"}, "STIX pattern: Loader"},
		{stix.Indicator{Name: "  ", Pattern: "[a:b = 'c']"}, "STIX pattern: [a:b = 'c']"},
		{stix.Indicator{Pattern: long}, "STIX pattern: " + long[:119] + "…"},
	}
	for _, tt := range tests {
		if got := title(tt.ind); got != tt.want {
			t.Errorf("title = %q, want %q", got, tt.want)
		}
	}
}
