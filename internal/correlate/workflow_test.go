package correlate_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

func TestCanMove(t *testing.T) {
	all := []correlate.Status{correlate.StatusNew, correlate.StatusTriage, correlate.StatusContained, correlate.StatusResolved, correlate.StatusClosed}
	allowed := map[[2]correlate.Status]bool{
		{"new", "triage"}: true, {"new", "closed"}: true,
		{"triage", "contained"}: true, {"triage", "resolved"}: true, {"triage", "closed"}: true,
		{"contained", "resolved"}: true, {"resolved", "closed"}: true, {"closed", "triage"}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := correlate.CanMove(from, to); got != allowed[[2]correlate.Status{from, to}] {
				t.Errorf("CanMove(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestWorkflow(t *testing.T) {
	tests := []struct {
		name  string
		steps []correlate.Status
		ok    []bool
		final correlate.Status
	}{
		{"full path and reopen", []correlate.Status{"triage", "contained", "resolved", "closed", "triage"},
			[]bool{true, true, true, true, true}, "triage"},
		{"false positive", []correlate.Status{"closed"}, []bool{true}, "closed"},
		{"no skipping triage", []correlate.Status{"resolved", "contained"}, []bool{false, false}, "new"},
		{"no going back", []correlate.Status{"triage", "contained", "triage", "new"}, []bool{true, true, false, false}, "contained"},
		{"closed only reopens", []correlate.Status{"closed", "resolved", "new"}, []bool{true, false, false}, "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
				e := newEnv(t, db)
				raised := e.raise(spec{member: "fr1", rule: "a", host: "h1"})
				id := e.incidents(correlate.KindLocal)[0].ID
				me := alert.Viewer{Member: "fr1"}
				var wantAudit []string
				for i, st := range tt.steps {
					e.clock.Set(t0.Add(time.Duration(i+1) * time.Hour))
					before, _ := e.c.Incident(e.ctx, me, id)
					_, err := e.c.Update(e.ctx, me, id, correlate.Change{Status: st}, "ana")
					if (err == nil) != tt.ok[i] {
						t.Fatalf("step %d (%s → %s): err = %v, want ok=%v", i, before.Status, st, err, tt.ok[i])
					}
					if err != nil && !errors.Is(err, correlate.ErrInvalid) {
						t.Fatalf("step %d: error %v is not ErrInvalid", i, err)
					}
					if err == nil {
						wantAudit = append(wantAudit, fmt.Sprintf("ana status %s→%s", before.Status, st))
					}
				}
				in, err := e.c.Incident(e.ctx, me, id)
				if err != nil || in.Status != tt.final {
					t.Fatalf("final status %s (%v), want %s", in.Status, err, tt.final)
				}
				entries, err := e.c.Audit(e.ctx, me, id)
				if err != nil {
					t.Fatal(err)
				}
				var gotAudit []string
				for _, en := range entries {
					if en.What == "status" {
						gotAudit = append(gotAudit, fmt.Sprintf("%s status %s→%s", en.Who, en.Old, en.New))
					}
				}
				if !slices.Equal(gotAudit, wantAudit) {
					t.Fatalf("audit %v, want %v", gotAudit, wantAudit)
				}
				// The milestones reached are on the alert, first time wins.
				a, err := e.alerts.Get(e.ctx, me, raised[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if !in.Acknowledged.IsZero() && !a.Acknowledged.Equal(in.Acknowledged) {
					t.Errorf("alert acknowledged %v, incident %v", a.Acknowledged, in.Acknowledged)
				}
				if !a.Contained.Equal(in.Contained) || !a.Resolved.Equal(in.Resolved) {
					t.Errorf("alert contained/resolved %v/%v, incident %v/%v", a.Contained, a.Resolved, in.Contained, in.Resolved)
				}
			})
		})
	}
}

func TestUpdateNotesAndPermissions(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		raised := e.raise(spec{member: "fr1", rule: "a", host: "h1"}, spec{member: "de1", rule: "b", host: "h2", level: tlp.Amber})
		fr, _ := e.alerts.Get(e.ctx, operator, raised[0].ID)
		de, _ := e.alerts.Get(e.ctx, operator, raised[1].ID)
		me := alert.Viewer{Member: "fr1"}
		bob := "bob"
		in, err := e.c.Update(e.ctx, me, fr.Incident, correlate.Change{
			Assignee: &bob, Comment: "looking into it",
			Evidence: []correlate.Note{
				{Kind: "text", Value: "isolated h1 from the network"},
				{Kind: "link", Value: "https://tickets.example/42"},
				{Kind: "alert", Value: fr.ID},
			},
		}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if in.Assignee != "bob" || len(in.Comments) != 1 || len(in.Evidence) != 3 || in.Comments[0].Who != "ana" {
			t.Fatalf("after update: assignee %q comments %+v evidence %+v", in.Assignee, in.Comments, in.Evidence)
		}
		entries, _ := e.c.Audit(e.ctx, me, fr.Incident)
		var whats []string
		for _, en := range entries {
			whats = append(whats, en.What+":"+en.New)
		}
		for _, want := range []string{"assignee:bob", "comment:looking into it", "evidence text:isolated h1 from the network",
			"evidence link:https://tickets.example/42", "evidence alert:" + fr.ID} {
			if !slices.Contains(whats, want) {
				t.Errorf("audit lacks %q: %v", want, whats)
			}
		}
		bad := []struct {
			name string
			v    alert.Viewer
			ch   correlate.Change
			who  string
			want func(error) bool
		}{
			{"other member", alert.Viewer{Member: "de1"}, correlate.Change{Comment: "x"}, "eve", func(err error) bool { return store.NotFound(err) || errors.Is(err, correlate.ErrForbidden) }},
			{"no author", me, correlate.Change{Comment: "x"}, "", isInvalid},
			{"unknown status", me, correlate.Change{Status: "done"}, "ana", isInvalid},
			{"bad link", me, correlate.Change{Evidence: []correlate.Note{{Kind: "link", Value: "javascript:alert(1)"}}}, "ana", isInvalid},
			{"bad kind", me, correlate.Change{Evidence: []correlate.Note{{Kind: "file", Value: "x"}}}, "ana", isInvalid},
			{"invisible alert as evidence", me, correlate.Change{Evidence: []correlate.Note{{Kind: "alert", Value: de.ID}}}, "ana", store.NotFound},
		}
		for _, b := range bad {
			if _, err := e.c.Update(e.ctx, b.v, fr.Incident, b.ch, b.who); !b.want(err) {
				t.Errorf("%s: err = %v", b.name, err)
			}
		}
	})
}

func isInvalid(err error) bool { return errors.Is(err, correlate.ErrInvalid) }

func TestMergeAndSplit(t *testing.T) {
	storetest.Each(t, schemas(), func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		raised := e.raise(
			spec{member: "fr1", rule: "a", host: "h1", sev: alert.Low},
			spec{member: "fr1", rule: "b", host: "h1", at: time.Hour, sev: alert.High},
			spec{member: "fr1", rule: "c", host: "h2", at: 2 * time.Hour, sev: alert.Medium},
		)
		me := alert.Viewer{Member: "fr1"}
		inc := func(alertID string) string {
			a, err := e.alerts.Get(e.ctx, me, alertID)
			if err != nil {
				t.Fatal(err)
			}
			return a.Incident
		}
		h1, h2 := inc(raised[0].ID), inc(raised[2].ID)
		if h1 == h2 || inc(raised[1].ID) != h1 {
			t.Fatalf("setup: incidents %s %s", h1, h2)
		}
		if _, err := e.c.Update(e.ctx, me, h2, correlate.Change{Comment: "h2 note"}, "ana"); err != nil {
			t.Fatal(err)
		}
		merged, err := e.c.Merge(e.ctx, me, h1, h2, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if len(merged.Timeline) != 3 || merged.Severity != alert.High || len(merged.Comments) != 1 ||
			!merged.LastSeen.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("merged: %d alerts, severity %v, comments %d, last %v", len(merged.Timeline), merged.Severity, len(merged.Comments), merged.LastSeen)
		}
		if inc(raised[2].ID) != h1 {
			t.Fatalf("alert c still points at %s", inc(raised[2].ID))
		}
		old, err := e.c.Incident(e.ctx, operator, h2)
		if err != nil || old.Status != correlate.StatusClosed || old.MergedInto != h1 {
			t.Fatalf("merged-away incident: %+v %v", old, err)
		}
		if _, err := e.c.Merge(e.ctx, me, h1, h2, "ana"); err == nil {
			t.Fatal("merging a merged incident again succeeded")
		}
		// A new alert on h2 now joins the merged incident.
		more := e.raise(spec{member: "fr1", rule: "d", host: "h2", at: 3 * time.Hour})
		if inc(more[0].ID) != h1 {
			t.Fatalf("alert on h2 after merge went to %s, want %s", inc(more[0].ID), h1)
		}
		// Split the high-severity alert off.
		split, err := e.c.Split(e.ctx, me, h1, []string{raised[1].ID}, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if got := split.AlertIDs(); !slices.Equal(got, []string{raised[1].ID}) || split.Severity != alert.High {
			t.Fatalf("split incident holds %v severity %v", got, split.Severity)
		}
		if inc(raised[1].ID) != split.ID {
			t.Fatalf("split alert points at %s, want %s", inc(raised[1].ID), split.ID)
		}
		rest, _ := e.c.Incident(e.ctx, me, h1)
		if len(rest.Timeline) != 3 || rest.Severity != alert.Medium {
			t.Fatalf("after split the source has %d alerts, severity %v", len(rest.Timeline), rest.Severity)
		}
		for _, b := range []struct {
			name string
			ids  []string
		}{
			{"empty", nil},
			{"not in incident", []string{raised[1].ID}},
			{"everything", rest.AlertIDs()},
		} {
			if _, err := e.c.Split(e.ctx, me, h1, b.ids, "ana"); !isInvalid(err) {
				t.Errorf("split %s: %v", b.name, err)
			}
		}
		entries, _ := e.c.Audit(e.ctx, me, h1)
		var whats []string
		for _, en := range entries {
			whats = append(whats, en.What)
		}
		for _, w := range []string{"created", "alert added", "merged", "split", "alert removed"} {
			if !slices.Contains(whats, w) {
				t.Errorf("audit of %s lacks %q: %v", h1, w, whats)
			}
		}
	})
}
