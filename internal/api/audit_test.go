package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestAuditLog: administrative requests and members' reads of other
// members' alerts and incidents are recorded with who, what, when and
// from where; a member's reads of its own data and its ingest are not;
// only operators read the log.
func TestAuditLog(t *testing.T) {
	storetest.Each(t, []store.Schema{audit.Schema()}, func(t *testing.T, db *store.DB) {
		log := audit.New(db)
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/v1/members/{id}/rotate-key", func(w http.ResponseWriter, r *http.Request) { JSON(w, 200, map[string]string{"key": "k"}) })
		mux.HandleFunc("GET /api/v1/alerts/{id}", func(w http.ResponseWriter, r *http.Request) {
			JSON(w, 200, map[string]any{"id": r.PathValue("id"), "member": map[string]string{"a1": "de-energie", "a2": "fr-soc"}[r.PathValue("id")]})
		})
		mux.HandleFunc("GET /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
			JSON(w, 200, map[string]any{"incidents": []any{map[string]any{"id": "i1", "members": []string{"fr-soc", "nl-bank"},
				"timeline": []any{map[string]any{"id": "a9", "member": "nl-bank"}}}}})
		})
		mux.HandleFunc("POST /api/v1/ingest", func(w http.ResponseWriter, r *http.Request) { JSON(w, 200, map[string]int{"accepted": 1}) })
		mux.Handle("GET /api/v1/audit", AuditHandler(log))
		h := Audited(log, slog.New(slog.NewTextHandler(io.Discard, nil)), mux)
		operator := member.Principal{Role: member.RoleOperator, KeyID: "op1"}
		fr := member.Principal{Role: member.RoleMember, KeyID: "k-fr", Member: member.Member{ID: "fr-soc"}}
		do := func(p member.Principal, method, path string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, nil)
			req.RemoteAddr = "192.0.2.7:4444"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req.WithContext(WithPrincipal(context.Background(), p)))
			return rec
		}
		do(operator, "POST", "/api/v1/members/de-energie/rotate-key")
		do(fr, "GET", "/api/v1/alerts/a1") // another member's alert
		do(fr, "GET", "/api/v1/alerts/a2") // its own: not recorded
		do(fr, "GET", "/api/v1/incidents") // an incident with nl-bank's alert
		do(fr, "POST", "/api/v1/ingest")   // data, not administration
		if rec := do(fr, "GET", "/api/v1/audit"); rec.Code != http.StatusForbidden {
			t.Errorf("a member read the audit log: %d", rec.Code)
		}
		rec := do(operator, "GET", "/api/v1/audit?limit=10")
		var got struct{ Entries []audit.Entry }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var lines []string
		for _, e := range got.Entries {
			if e.Remote != "192.0.2.7:4444" || e.At.IsZero() || e.Via != "api" {
				t.Errorf("entry without where or when: %+v", e)
			}
			lines = append(lines, strings.Join([]string{e.Actor, e.Action, e.Target, e.Owner}, " "))
		}
		want := []string{
			// newest first; fr-soc's POST /ingest, its read of its own alert and the 403 are absent
			"fr-soc GET alerts/{id} a1 de-energie",
			"operator POST members/{id}/rotate-key de-energie ",
		}
		joined := strings.Join(lines, "\n")
		for _, w := range append(want, "fr-soc GET incidents i1,a9 nl-bank") {
			if !strings.Contains(joined, w) {
				t.Errorf("audit log lacks %q:\n%s", w, joined)
			}
		}
		if strings.Contains(joined, "a2") || strings.Contains(joined, "ingest") {
			t.Errorf("audit log records a member's own data or ingest:\n%s", joined)
		}
		if rec := do(operator, "GET", "/api/v1/audit?actor=operator&action=rotate-key"); !strings.Contains(rec.Body.String(), "de-energie") || strings.Contains(rec.Body.String(), "nl-bank") {
			t.Errorf("filtered: %s", rec.Body)
		}
	})
}
