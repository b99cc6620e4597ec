package ioc

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/tlp"
)

// received is the id the receiving node gives the indicator of a value
// whatever origin pushed it.
const received = "indicator--0b6e8a41-5f0c-5d5e-9a43-0c3c7d1f8a11"

// warning returns the entry of a value received from one origin: owned by
// the origin's member at the hub, from country, detected ago before the
// test clock, valid a week.
func warning(id string, k Kind, v, owner, country string, ago time.Duration) Indicator {
	return Indicator{ID: id, Kind: k, Value: v, Source: "cross-border warning from " + country, Owner: owner,
		Confidence: 60, TLP: tlp.Green, ValidFrom: testNow.Add(-ago), ValidUntil: testNow.Add(7 * 24 * time.Hour), WarnedFrom: country}
}

// TestWarningOrigins: an indicator several origins pushed raises one
// alert per event naming every origin the member may use, earliest
// first, as restricted as the most restricted one it names and as severe
// as the most confident; an origin expired, removed or hidden by TLP is
// not named; the alert of local intelligence on the same value takes the
// warnings in unless they are more restricted than it.
func TestWarningOrigins(t *testing.T) {
	fr := warning(received, KindIP, "192.0.2.1", "fr-node--h1", "FR", 3*time.Minute)
	de := warning(received, KindIP, "192.0.2.1", "de-node--h2", "DE", time.Minute)
	de.Confidence = 80
	frAmber := fr
	frAmber.TLP, frAmber.Named = tlp.Amber, []string{"m3"}
	deExpired := de
	deExpired.ValidFrom, deExpired.ValidUntil = testNow.Add(-8*24*time.Hour), testNow.Add(-time.Hour)
	de2 := warning(received, KindIP, "192.0.2.1", "de-node--h3", "DE", 2*time.Minute)
	feed := ind("indicator--feed", KindIP, "192.0.2.1")
	feedAmber := feed
	feedAmber.TLP, feedAmber.Owner = tlp.Amber, "m2"
	parent := warning("indicator--parent", KindDomain, "evil.example", "fr-node--h1", "FR", 3*time.Minute)
	child := warning("indicator--child", KindDomain, "www.evil.example", "de-node--h2", "DE", time.Minute)
	type want struct {
		rule, title string
		level       tlp.Level
		severity    alert.Severity
	}
	tests := []struct {
		name   string
		inds   []Indicator
		member string
		field  [2]string
		want   []want
	}{
		{"two origins", []Indicator{de, fr}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)", tlp.Green, alert.High}}},
		{"one origin", []Indicator{de}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in DE 1 min ago)", tlp.Green, alert.High}}},
		{"AMBER origin hidden from another member", []Indicator{frAmber, de}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in DE 1 min ago)", tlp.Green, alert.High}}},
		{"AMBER origin named to its member", []Indicator{frAmber, de}, "m3", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)", tlp.Amber, alert.High}}},
		{"AMBER origin alone, hidden", []Indicator{frAmber}, "m2", [2]string{"destination.ip", "192.0.2.1"}, nil},
		{"expired origin", []Indicator{deExpired, fr}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in FR 3 min ago)", tlp.Green, alert.Medium}}},
		{"two members of one country", []Indicator{de, de2}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{received,
			"IOC match: ip 192.0.2.1 — known from cross-border warnings (detected in DE 2 min ago)", tlp.Green, alert.High}}},
		{"local intelligence takes the warnings in", []Indicator{de, feed, fr}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{"indicator--feed",
			"IOC match: ip 192.0.2.1 (source feed) — also known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)", tlp.Green, alert.High}}},
		{"a more restricted warning keeps its alert", []Indicator{frAmber, feed}, "m3", [2]string{"destination.ip", "192.0.2.1"}, []want{
			{received, "IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in FR 3 min ago)", tlp.Amber, alert.Medium},
			{"indicator--feed", "IOC match: ip 192.0.2.1 (source feed)", tlp.Green, alert.High}}},
		{"restricted local intelligence", []Indicator{feedAmber, de}, "m2", [2]string{"destination.ip", "192.0.2.1"}, []want{{"indicator--feed",
			"IOC match: ip 192.0.2.1 (source feed) — also known from a cross-border warning (detected in DE 1 min ago)", tlp.Amber, alert.High}}},
		{"a domain and its parent", []Indicator{parent, child}, "m2", [2]string{"dns.question.name", "www.evil.example"}, []want{{"indicator--child",
			"IOC match: domain www.evil.example — known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)", tlp.Green, alert.Medium}}},
	}
	for _, l := range layouts {
		for _, tt := range tests {
			x := newIndex(t, l.compact, Options{}, tt.inds...)
			ev := newEvent(tt.field[0], tt.field[1])
			ev.Member = tt.member
			got := x.Detect(ev, []alert.Alert{{RuleID: "earlier"}})
			if batched := x.DetectBatch([]*event.Event{ev}, []alert.Alert{{RuleID: "earlier"}}); fmt.Sprint(batched) != fmt.Sprint(got) {
				t.Errorf("%s/%s: DetectBatch %+v, Detect %+v", l.name, tt.name, batched, got)
			}
			if len(got) != len(tt.want)+1 || got[0].RuleID != "earlier" {
				t.Errorf("%s/%s: %d alerts after the earlier one, want %d: %+v", l.name, tt.name, len(got)-1, len(tt.want), got)
				continue
			}
			for i, w := range tt.want {
				a := got[i+1]
				if a.RuleID != w.rule || a.RuleTitle != w.title || a.TLP != w.level || a.Severity != w.severity ||
					a.Key != tt.field[1] || len(a.Observables) != 1 || a.Observables[0].Value != tt.field[1] {
					t.Errorf("%s/%s: alert %d\n got %s %q %v %v %+v\nwant %s %q %v %v", l.name, tt.name, i, a.RuleID, a.RuleTitle, a.TLP, a.Severity,
						a.Observables, w.rule, w.title, w.level, w.severity)
				}
			}
		}
	}
}

// TestWarningOriginsUpdate: each origin of a received indicator is its
// own entry: pushed again it replaces its entry, and removed (its
// revocation) it leaves the others, until the last one goes.
func TestWarningOriginsUpdate(t *testing.T) {
	for _, l := range layouts {
		fr := warning(received, KindIP, "192.0.2.1", "fr-node--h1", "FR", 3*time.Minute)
		de := warning(received, KindIP, "192.0.2.1", "de-node--h2", "DE", 5*time.Minute)
		x := newIndex(t, l.compact, Options{Clock: func() time.Time { return testNow }}, fr, de)
		de.ValidFrom = testNow.Add(-time.Minute) // DE pushes it again
		if err := x.Add(de); err != nil {
			t.Fatal(err)
		}
		titles := func() []string {
			var out []string
			for _, a := range x.Detect(newEvent("source.ip", "192.0.2.1"), nil) {
				out = append(out, a.RuleTitle)
			}
			return out
		}
		if hits, _ := x.Lookup(KindIP, "192.0.2.1"); len(hits) != 2 || hits[0].ID != received || hits[1].ID != received {
			t.Errorf("%s: after DE pushed again the index holds %+v, want one indicator of two origins", l.name, hits)
		}
		if got := titles(); !slices.Equal(got, []string{"IOC match: ip 192.0.2.1 — known from cross-border warnings (detected in FR 3 min ago, DE 1 min ago)"}) {
			t.Errorf("%s: %q", l.name, got)
		}
		for _, step := range []struct {
			owner string
			want  []string
		}{
			{"fr-node--h1", []string{"IOC match: ip 192.0.2.1 — known from a cross-border warning (detected in DE 1 min ago)"}},
			{"de-node--h2", nil},
		} {
			b := x.NewBatch()
			if err := b.RemoveOwned(KindIP, "192.0.2.1", received, step.owner); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := titles(); !slices.Equal(got, step.want) {
				t.Errorf("%s: %s revoked: %q, want %q", l.name, step.owner, got, step.want)
			}
		}
		if x.Len() != 0 {
			t.Errorf("%s: %d entries left", l.name, x.Len())
		}
	}
}

// TestWarningTitleNamesOnlyUsableOrigins: whatever the mix of origins,
// an alert never names a country whose every origin the member may not
// use.
func TestWarningTitleNamesOnlyUsableOrigins(t *testing.T) {
	countries := []string{"DE", "FR", "SE", "NL", "AT"}
	levels := []tlp.Level{tlp.Clear, tlp.Green, tlp.Amber, tlp.AmberStrict, tlp.Red}
	for mask := range 1 << len(countries) {
		var inds []Indicator
		var visible []string
		for i, c := range countries {
			w := warning(received, KindIP, "192.0.2.1", strings.ToLower(c)+"-node--h", c, time.Duration(i+1)*time.Minute)
			w.TLP = levels[i]
			if mask&(1<<i) != 0 {
				w.Named = []string{"m2"}
			}
			if tlp.MayReceive(w.TLP, tlp.Recipient{Member: "m2"}.RelationTo(w.Owner, w.Named)) {
				visible = append(visible, c)
			}
			inds = append(inds, w)
		}
		x := newIndex(t, false, Options{}, inds...)
		got := x.Detect(newEvent("source.ip", "192.0.2.1"), nil)
		if len(got) != 1 {
			t.Fatalf("mask %b: %d alerts", mask, len(got))
		}
		for _, c := range countries {
			if strings.Contains(got[0].RuleTitle, c) != slices.Contains(visible, c) {
				t.Errorf("mask %b: %q, visible %v", mask, got[0].RuleTitle, visible)
			}
		}
	}
}

// BenchmarkDetectWarned raises one alert per event for an indicator
// received from two origins, which the alert names both (compare
// BenchmarkDetectMatch: one alert of local intelligence).
func BenchmarkDetectWarned(b *testing.B) {
	x := noMatchIndex(b)
	if err := x.Add(warning(received, KindDomain, "warned.example", "fr-node--h1", "FR", 3*time.Minute),
		warning(received, KindDomain, "warned.example", "de-node--h2", "DE", time.Minute)); err != nil {
		b.Fatal(err)
	}
	ev := noMatchEvent()
	ev.Set("dns.question.name", "www.warned.example")
	var out []alert.Alert
	b.ReportAllocs()
	for b.Loop() {
		out = x.Detect(ev, out[:0])
	}
	if len(out) != 1 || !strings.Contains(out[0].RuleTitle, "FR 3 min ago, DE 1 min ago") {
		b.Fatalf("alerts %+v, want one naming both origins", out)
	}
}
