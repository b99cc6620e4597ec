package correlate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func TestNIS2Clocks(t *testing.T) {
	aware := t0.Add(2 * time.Hour)
	type submit struct {
		report correlate.Report
		after  time.Duration // after aware
	}
	type want struct {
		due       time.Time
		left      time.Duration
		overdue   bool
		submitted bool
		late      bool
	}
	tests := []struct {
		name    string
		now     time.Duration // after aware
		submits []submit
		want    map[correlate.Report]want
	}{
		{"just marked", time.Hour, nil, map[correlate.Report]want{
			correlate.EarlyWarning: {due: aware.Add(24 * time.Hour), left: 23 * time.Hour},
			correlate.Notification: {due: aware.Add(72 * time.Hour), left: 71 * time.Hour},
			correlate.FinalReport:  {due: aware.Add(72*time.Hour).AddDate(0, 1, 0), left: aware.Add(72*time.Hour).AddDate(0, 1, 0).Sub(aware.Add(time.Hour))},
		}},
		{"early warning overdue", 30 * time.Hour, nil, map[correlate.Report]want{
			correlate.EarlyWarning: {due: aware.Add(24 * time.Hour), left: -6 * time.Hour, overdue: true},
			correlate.Notification: {due: aware.Add(72 * time.Hour), left: 42 * time.Hour},
		}},
		{"submissions stop the clocks; the final report follows the notification", 100 * time.Hour,
			[]submit{{correlate.EarlyWarning, 20 * time.Hour}, {correlate.Notification, 80 * time.Hour}},
			map[correlate.Report]want{
				correlate.EarlyWarning: {due: aware.Add(24 * time.Hour), submitted: true},
				correlate.Notification: {due: aware.Add(72 * time.Hour), submitted: true, late: true},
				correlate.FinalReport:  {due: aware.Add(80*time.Hour).AddDate(0, 1, 0), left: aware.Add(80*time.Hour).AddDate(0, 1, 0).Sub(aware.Add(100 * time.Hour))},
			}},
		{"final report overdue", 40 * 24 * time.Hour,
			[]submit{{correlate.EarlyWarning, time.Hour}, {correlate.Notification, 48 * time.Hour}},
			map[correlate.Report]want{
				correlate.FinalReport: {due: aware.Add(48*time.Hour).AddDate(0, 1, 0), overdue: true,
					left: aware.Add(48*time.Hour).AddDate(0, 1, 0).Sub(aware.Add(40 * 24 * time.Hour))},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				e.raise(spec{member: "fr1", rule: "a", host: "h1"})
				id := e.incidents(correlate.KindLocal)[0].ID
				me := alert.Viewer{Member: "fr1"}
				if _, err := e.c.SubmitReport(e.ctx, me, id, correlate.EarlyWarning, "ana", time.Time{}); !isInvalid(err) {
					t.Fatalf("submission before marking: %v", err)
				}
				if _, err := e.c.MarkSignificant(e.ctx, me, id, "ciso", aware); err != nil {
					t.Fatal(err)
				}
				if _, err := e.c.MarkSignificant(e.ctx, me, id, "ciso", aware.Add(time.Hour)); !isInvalid(err) {
					t.Fatalf("second marking: %v", err)
				}
				for _, s := range tt.submits {
					if _, err := e.c.SubmitReport(e.ctx, me, id, s.report, "ana", aware.Add(s.after)); err != nil {
						t.Fatal(err)
					}
				}
				e.clock.Set(aware.Add(tt.now))
				in, err := e.c.Incident(e.ctx, me, id)
				if err != nil {
					t.Fatal(err)
				}
				if in.NIS2 == nil || !in.NIS2.AwareAt.Equal(aware) || in.NIS2.MarkedBy != "ciso" {
					t.Fatalf("NIS2 state %+v", in.NIS2)
				}
				for r, w := range tt.want {
					c := in.NIS2.Clock(r)
					if !c.Due.Equal(w.due) || c.Left != w.left || c.Overdue != w.overdue || c.Submitted.IsZero() == w.submitted || c.Late != w.late {
						t.Errorf("%s: %+v, want %+v", r, c, w)
					}
				}
				entries, _ := e.c.Audit(e.ctx, me, id)
				var n int
				for _, en := range entries {
					if strings.HasPrefix(en.What, "nis2 ") {
						n++
					}
				}
				if n != 1+len(tt.submits) {
					t.Errorf("%d NIS2 audit entries, want %d", n, 1+len(tt.submits))
				}
			})
		})
	}
}

func TestNIS2Draft(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ip := alert.Observable{Type: "ipv4-addr", Value: "203.0.113.50"}
		e.raise(
			spec{member: "fr1", rule: "phish", host: "fr-h1", user: "alice", techniques: []string{"T1566.001"}, obs: []alert.Observable{ip}, sev: alert.High},
			spec{member: "fr1", rule: "ransom", host: "fr-h2", user: "alice", techniques: []string{"T1486"}, at: time.Hour, sev: alert.Critical},
			spec{member: "de1", rule: "phish2", host: "de-h1", techniques: []string{"T1566.002"}, obs: []alert.Observable{ip}, at: 2 * time.Hour},
		)
		var campaign string
		for _, in := range e.incidents(correlate.KindCampaign) {
			campaign = in.ID
		}
		me := alert.Viewer{Member: "fr1"}
		if _, err := e.c.MarkSignificant(e.ctx, me, campaign, "ciso", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Update(e.ctx, me, campaign, correlate.Change{Status: correlate.StatusTriage,
			Evidence: []correlate.Note{{Kind: "text", Value: "blocked 203.0.113.50 at the perimeter"}}}, "ana"); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(t0.Add(5 * time.Hour))
		d, err := e.c.NIS2Draft(e.ctx, me, campaign)
		if err != nil {
			t.Fatal(err)
		}
		md := d.Markdown()
		for _, want := range []string{
			"fr1", "de1", "country FR", "country DE", "Energy (energy)", "Health (health)",
			"Cross-border impact:** yes", "T1566.001", "T1566.002", "203.0.113.50",
			`nis2:impact-sectors-impacted="energy"`, `nis2:nature-root-cause="malicious-actions"`,
			`nis2:nature-severity="high"`, `nis2:impact-outlook="worsening"`, "early-warning", "final-report",
			"blocked 203.0.113.50 at the perimeter", "triage started", "Affected hosts: 2", "initial-access",
			stampOf(t0), // first seen
		} {
			if !strings.Contains(md, want) {
				t.Errorf("markdown lacks %q", want)
			}
		}
		raw, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"entities", "countries", "cross_border", "first_seen", "detected", "severity",
			"techniques", "affected_hosts", "affected_users", "indicators", "taxonomy", "deadlines", "status"} {
			if _, ok := back[k]; !ok {
				t.Errorf("draft JSON lacks %q", k)
			}
		}
		// The campaign groups the two phishing alerts (their shared IP);
		// the ransomware alert stays in fr1's local incident.
		if d.AffectedUsers != 1 || d.AffectedHosts != 2 || d.Severity != alert.High || !d.CrossBorder || d.Alerts != 2 {
			t.Errorf("draft facts: hosts %d users %d severity %v cross-border %v", d.AffectedHosts, d.AffectedUsers, d.Severity, d.CrossBorder)
		}
		// A member that sees only part of the campaign gets a draft of
		// that part, with a warning.
		e.raise(spec{member: "fr2", rule: "x", host: "h", obs: []alert.Observable{ip}, at: 4 * time.Hour})
		d2, err := e.c.NIS2Draft(e.ctx, alert.Viewer{Member: "fr2"}, campaign)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(d2.Warnings, func(w string) bool { return strings.Contains(w, `"bakeries"`) }) {
			t.Errorf("unknown sector not flagged: %v", d2.Warnings)
		}
	})
}

func stampOf(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// TestVocabularyMatchesTaxonomy checks the built-in nis2 vocabulary
// against the MISP taxonomy file.
func TestVocabularyMatchesTaxonomy(t *testing.T) {
	path := filepath.Join(sharedDir(t), "misp", "taxonomies", "nis2", "machinetag.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("MISP nis2 taxonomy not available (%v)", err)
	}
	var tax struct {
		Namespace string `json:"namespace"`
		Values    []struct {
			Predicate string `json:"predicate"`
			Entry     []struct {
				Value    string `json:"value"`
				Expanded string `json:"expanded"`
			} `json:"entry"`
		} `json:"values"`
	}
	if err := json.Unmarshal(data, &tax); err != nil {
		t.Fatal(err)
	}
	if tax.Namespace != "nis2" {
		t.Fatalf("namespace %q", tax.Namespace)
	}
	found := map[string]bool{}
	for _, v := range tax.Values {
		ours, ok := correlate.Vocabulary[v.Predicate]
		if !ok {
			continue
		}
		found[v.Predicate] = true
		var theirs []correlate.Term
		for _, e := range v.Entry {
			theirs = append(theirs, correlate.Term{Value: e.Value, Expanded: e.Expanded})
		}
		if !slices.Equal(ours, theirs) {
			t.Errorf("%s: ours %v\ntheirs %v", v.Predicate, ours, theirs)
		}
	}
	for p := range correlate.Vocabulary {
		if !found[p] {
			t.Errorf("predicate %q is not in the taxonomy", p)
		}
	}
}
