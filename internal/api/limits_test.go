package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/member"
)

func TestLimits(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { JSON(w, 200, map[string]bool{"ok": true}) })
	h := Limit(Limits{IngestRate: 0.001, IngestBurst: 3, APIRate: 0.001, APIBurst: 2, MaxBody: 1 << 10, MaxPage: 100, MaxRange: 24 * time.Hour}, ok)
	as := func(key string) context.Context {
		return WithPrincipal(context.Background(), member.Principal{Role: member.RoleMember, KeyID: key, Member: member.Member{ID: key}})
	}
	type call struct {
		key, method, target, body string
		status                    int
		reason                    string // in the JSON error
	}
	calls := []call{
		{"k1", "GET", "/api/v1/alerts", "", 200, ""},
		{"k1", "GET", "/api/v1/alerts", "", 200, ""},
		{"k1", "GET", "/api/v1/alerts", "", 429, "rate limit of this API key"},
		{"k2", "GET", "/api/v1/alerts", "", 200, ""},   // another key has its own bucket
		{"k1", "POST", "/api/v1/ingest", "x", 200, ""}, // ingest has its own bucket too
		{"k3", "POST", "/api/v1/rules", strings.Repeat("x", 2000), 413, "over the 1024-byte limit"},
		{"k4", "GET", "/api/v1/alerts?limit=101", "", 400, "largest page, 100"},
		{"k4", "GET", "/api/v1/alerts?limit=100", "", 200, ""},
		{"k5", "GET", "/api/v1/events?from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", "", 400, "time range of 48h0m0s"},
		{"k5", "GET", "/api/v1/events?from=2026-01-01T00:00:00Z&to=2026-01-01T12:00:00Z", "", 200, ""},
	}
	for i, c := range calls {
		req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body)).WithContext(as(c.key))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("call %d %s %s as %s: %d, want %d: %s", i, c.method, c.target, c.key, rec.Code, c.status, rec.Body)
			continue
		}
		if c.reason == "" {
			continue
		}
		var body struct{ Error string }
		if json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, c.reason) {
			t.Errorf("call %d: answer %s lacks %q", i, rec.Body, c.reason)
		}
		if c.status == 429 && rec.Header().Get("Retry-After") == "" {
			t.Errorf("call %d: 429 without Retry-After", i)
		}
	}
}
