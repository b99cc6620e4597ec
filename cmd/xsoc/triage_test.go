package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestAlertsVerdictTrainsTriage closes alerts with verdicts over REST and
// the command line on a running node and checks what each member sees:
// verdicts are stored and audited, bad ones refused, another member's
// alert not closable, scores learnt from a member's own verdicts only,
// and sort=triage lists the caller's own alerts by score.
func TestAlertsVerdictTrainsTriage(t *testing.T) {
	n, keys := startNode(t, "de-energie", "de-wasser")
	raise := func(member, rule string, i int) alert.Alert {
		t.Helper()
		out, err := n.Alerts.Raise(t.Context(), []alert.Alert{{Member: member, EventTime: time.Now().Add(time.Duration(i) * time.Hour),
			Detector: "sigma", RuleID: rule, RuleTitle: "Rule " + rule, Severity: alert.Medium, TLP: tlp.Green,
			Key: fmt.Sprint("host", i), EventIDs: []string{fmt.Sprint(member, i)}}})
		if err != nil || len(out) != 1 {
			t.Fatalf("raise: %v %v", out, err)
		}
		if out[0].Triage == nil {
			t.Fatalf("alert raised without a triage score")
		}
		return out[0]
	}
	post := func(key, id, body string) (int, alert.Alert, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", n.URL()+"/api/v1/alerts/"+id+"/close", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var a alert.Alert
		json.Unmarshal(buf.Bytes(), &a)
		return resp.StatusCode, a, buf.String()
	}
	de, wa := keys["de-energie"], keys["de-wasser"]
	// The energy member confirms what rule "evil" raises and refutes
	// rule "noisy", half over REST, half on the command line.
	for i := range 40 {
		rule, verdict := "evil", "true-positive"
		if i%2 == 1 {
			rule, verdict = "noisy", "false-positive"
		}
		a := raise("de-energie", rule, i)
		if i%4 < 2 {
			if code, got, body := post(de, a.ID, `{"verdict": "`+verdict+`"}`); code != 200 || got.Verdict != alert.Verdict(verdict) || got.Status != alert.StatusClosed {
				t.Fatalf("close with verdict: %d %s", code, body)
			}
			continue
		}
		var out, errOut bytes.Buffer
		if code := mainExit([]string{"alerts", "close", a.ID, "--verdict", verdict, "--url", n.URL(), "--key", de}, &out, &errOut); code != 0 {
			t.Fatalf("alerts close --verdict: exit %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "closed ("+verdict+")") {
			t.Fatalf("alerts close --verdict printed %q", out.String())
		}
	}
	evil, noisy := raise("de-energie", "evil", 100), raise("de-energie", "noisy", 101)
	if evil.Triage.Score < 0.6 || noisy.Triage.Score > 0.4 {
		t.Fatalf("after 40 verdicts: evil %.3f, noisy %.3f", evil.Triage.Score, noisy.Triage.Score)
	}
	// The water member's model learnt nothing from the energy member's
	// verdicts.
	other := raise("de-wasser", "evil", 102)
	if other.Triage.Score != 0.5 {
		t.Fatalf("another member's alert scored %.3f, want 0.5", other.Triage.Score)
	}

	for _, tc := range []struct {
		name, key, id, body string
		status              int
		want                string
	}{
		{"unknown verdict", de, evil.ID, `{"verdict": "maybe"}`, 400, "not true-positive or false-positive"},
		{"unknown field", de, evil.ID, `{"verdikt": "tp"}`, 400, "unknown field"},
		{"another member's alert", wa, evil.ID, `{"verdict": "false-positive"}`, 403, "belongs to de-energie"},
		{"unknown alert", de, "0123456789abcdef0123456789ab", `{"verdict": "true-positive"}`, 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := post(tc.key, tc.id, tc.body)
			if code != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d %s; want %d with %q", code, body, tc.status, tc.want)
			}
		})
	}
	var errOut bytes.Buffer
	if code := mainExit([]string{"alerts", "close", evil.ID, "--verdict", "maybe", "--url", n.URL(), "--key", de}, &bytes.Buffer{}, &errOut); code == 0 {
		t.Fatal("alerts close --verdict maybe succeeded")
	}

	// The water member sees the energy member's GREEN alert, but not its
	// score or verdict.
	if code, _, _ := post(de, evil.ID, `{"verdict": "true-positive"}`); code != 200 {
		t.Fatal("closing evil failed")
	}
	get := func(key, path string, out any) {
		t.Helper()
		c := &apiClient{base: n.URL(), key: key, http: http.DefaultClient}
		if err := c.do("GET", path, nil, nil, out); err != nil {
			t.Fatal(err)
		}
	}
	var seen alert.Alert
	get(wa, "/api/v1/alerts/"+evil.ID, &seen)
	if seen.ID != evil.ID || seen.Triage != nil || seen.Verdict != "" {
		t.Fatalf("another member sees triage %+v, verdict %q", seen.Triage, seen.Verdict)
	}
	get(de, "/api/v1/alerts/"+evil.ID, &seen)
	if seen.Triage == nil || seen.Verdict != alert.TruePositive {
		t.Fatalf("the owner does not see its triage %+v or verdict %q", seen.Triage, seen.Verdict)
	}

	// sort=triage: the caller's own alerts, best first, across pages.
	for _, tc := range []struct {
		name, key, member string
	}{{"energy", de, "de-energie"}, {"water", wa, "de-wasser"}} {
		t.Run("sort triage "+tc.name, func(t *testing.T) {
			var scores []float64
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				var page alert.Page
				get(tc.key, "/api/v1/alerts?sort=triage&limit=7&cursor="+cursor, &page)
				for _, a := range page.Alerts {
					if a.Member != tc.member || a.Triage == nil {
						t.Fatalf("sort=triage listed %s's alert (triage %v)", a.Member, a.Triage)
					}
					scores = append(scores, a.Triage.Score)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			want := map[string]int{"de-energie": 42, "de-wasser": 1}[tc.member]
			if len(scores) != want {
				t.Fatalf("%d alerts listed, want %d", len(scores), want)
			}
			for i := 1; i < len(scores); i++ {
				if scores[i] > scores[i-1] {
					t.Fatalf("not in descending score order: %v", scores)
				}
			}
		})
	}

	entries, err := n.Audit.List(t.Context(), audit.Filter{Action: "alerts/{id}/close", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range entries {
		if e.Target == evil.ID || strings.Contains(e.Target, evil.ID) {
			audited++
		}
	}
	if audited == 0 {
		t.Fatalf("closing with a verdict left no audit entry naming %s (%d close entries)", evil.ID, len(entries))
	}
}

// TestMLEvalTriageRuns runs xsoc ml eval triage on the two-hour scenario
// with the starter rules alone and checks that it accounts for every
// alert.
func TestMLEvalTriageRuns(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := mainExit([]string{"ml", "eval", "triage", "--profile", "demo", "--rules", "", "--detector", "", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var ev ml.TriageEval
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if ev.Detections == 0 || ev.Alerts == 0 || ev.Alerts > ev.Detections || ev.Train+ev.Test != ev.Alerts ||
		ev.Train-ev.Test > 1 || ev.TrainConfirmed == 0 || ev.TopN == 0 || ev.PrecisionAtTop < 0 || ev.PrecisionAtTop > 1 {
		t.Fatalf("implausible evaluation: %+v", ev)
	}
	out.Reset()
	if code := mainExit([]string{"ml", "eval", "triage", "--profile", "demo", "--rules", ""}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"precision@10%", "baseline precision", "ROC AUC"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
