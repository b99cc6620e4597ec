package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func webhookPlaybook(url, extra string) map[string]string {
	return map[string]string{"hook.yaml": fmt.Sprintf(`name: hook
secret: test-secret
when: {severity: medium}
actions:
  - webhook:
      url: %s
      headers: {X-Tenant: be-ccb}
      body: '{"id": {{json .ID}}, "title": {{json .RuleTitle}}}'
      timeout: 200ms
%s`, url, extra)}
}

func TestSign(t *testing.T) {
	// Known answer computed independently:
	//   printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
	got := Sign([]byte("key"), "1700000000", []byte(`{"a":1}`))
	const want = "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if Sign([]byte("key"), "1700000001", []byte(`{"a":1}`)) == got {
		t.Fatal("signature does not cover the timestamp")
	}
	if Sign([]byte("key2"), "1700000000", []byte(`{"a":1}`)) == got {
		t.Fatal("signature does not depend on the secret")
	}
}

// TestWebhookDelivery runs webhook targets through their typical lives:
// the receiver checks every signature, and the outbox row must end in the
// expected state after the expected number of attempts.
func TestWebhookDelivery(t *testing.T) {
	tests := []struct {
		name      string
		script    func(n int) int
		state     string
		attempts  int
		delivered int
		lastErr   string
	}{
		{"ok at once", func(int) int { return 200 }, StateDone, 1, 1, ""},
		{"5xx then ok", func(n int) int { return map[bool]int{true: 503, false: 204}[n < 2] }, StateDone, 3, 1, ""},
		{"hang then ok", func(n int) int { return map[bool]int{true: 0, false: 200}[n < 1] }, StateDone, 2, 1, ""},
		{"429 then ok", func(n int) int { return map[bool]int{true: 429, false: 200}[n < 1] }, StateDone, 2, 1, ""},
		{"408 then ok", func(n int) int { return map[bool]int{true: 408, false: 200}[n < 1] }, StateDone, 2, 1, ""},
		{"4xx is dead at once", func(int) int { return 404 }, StateDead, 1, 0, "HTTP 404"},
		{"5xx until dead", func(int) int { return 500 }, StateDead, 6, 0, "HTTP 500"},
	}
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clear := func(q string) { db.Exec(context.Background(), q) }
				clear("DELETE FROM respond_outbox")
				clear("DELETE FROM respond_firings")
				rc := newReceiver(t, "test-secret", tt.script)
				reg := prometheus.NewRegistry()
				opts := fastOptions(nil)
				opts.Registry = reg
				r := newResponder(t, db, opts)
				mustLoad(t, r, writePlaybooks(t, webhookPlaybook(rc.srv.URL, "")))
				start(t, r)
				if err := r.HandleAlert(context.Background(), testAlert("a-"+tt.name)); err != nil {
					t.Fatal(err)
				}
				var d Delivery
				waitFor(t, "the delivery to settle", func() bool {
					var ok bool
					d, ok = deliveryState(t, r)
					return ok && d.State != StatePending
				})
				_, bodies, bad := rc.stats()
				if d.State != tt.state || d.Attempts != tt.attempts || len(bodies) != tt.delivered {
					t.Fatalf("state %s after %d attempts with %d delivered; want %s, %d, %d (last error %q)",
						d.State, d.Attempts, len(bodies), tt.state, tt.attempts, tt.delivered, d.LastError)
				}
				if !strings.Contains(d.LastError, tt.lastErr) {
					t.Errorf("last error %q, want %q", d.LastError, tt.lastErr)
				}
				if len(bad) > 0 {
					t.Errorf("receiver rejected signatures: %q", bad)
				}
				for _, b := range bodies {
					var got map[string]string
					if err := json.Unmarshal([]byte(b), &got); err != nil || got["title"] != "Encoded PowerShell" {
						t.Errorf("body %q: %v", b, err)
					}
				}
				ok := counterValue(t, reg, "xsoc_respond_deliveries_total", KindWebhook, "ok")
				dead := counterValue(t, reg, "xsoc_respond_deliveries_total", KindWebhook, "dead")
				retried := counterValue(t, reg, "xsoc_respond_deliveries_total", KindWebhook, "retried")
				wantOK, wantDead := 0.0, 0.0
				if tt.state == StateDone {
					wantOK = 1
				} else {
					wantDead = 1
				}
				if ok != wantOK || dead != wantDead || retried != float64(tt.attempts-1) {
					t.Errorf("metrics ok=%v retried=%v dead=%v", ok, retried, dead)
				}
			})
		}
	})
}

func TestClassifyHTTP(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		ok, perm   bool
		wait       time.Duration
	}{
		{200, "", true, false, 0},
		{204, "", true, false, 0},
		{301, "", false, true, 0},
		{400, "", false, true, 0},
		{401, "", false, true, 0},
		{404, "", false, true, 0},
		{408, "", false, false, 0},
		{429, "120", false, false, 2 * time.Minute},
		{429, now.Add(30 * time.Second).Format(http.TimeFormat), false, false, 30 * time.Second},
		{500, "", false, false, 0},
		{503, "7", false, false, 7 * time.Second},
		{503, "soon", false, false, 0},
	}
	for _, tt := range tests {
		res := classifyHTTP(tt.status, tt.retryAfter, "", now)
		if (res.err == nil) != tt.ok || res.permanent != tt.perm || res.retryAfter != tt.wait {
			t.Errorf("classifyHTTP(%d, %q) = %+v", tt.status, tt.retryAfter, res)
		}
	}
}

// TestRetryAfterHonoured drives one attempt by hand on a fixed clock: the
// row's next attempt must be exactly Retry-After away, not the backoff.
func TestRetryAfterHonoured(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		srv := newReceiver(t, "test-secret", func(int) int { return 200 })
		srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(503)
		})
		clock := &fakeClock{}
		r := newResponder(t, db, fastOptions(clock))
		mustLoad(t, r, writePlaybooks(t, webhookPlaybook(srv.srv.URL, "")))
		ctx := context.Background()
		if err := r.HandleAlert(ctx, testAlert("a1")); err != nil {
			t.Fatal(err)
		}
		d, ok, err := r.claim(ctx)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		before := clock.Now()
		r.attempt(ctx, d)
		after := clock.Now()
		got, _ := deliveryState(t, r)
		if got.State != StatePending || got.Attempts != 1 {
			t.Fatalf("state %s attempts %d", got.State, got.Attempts)
		}
		lo, hi := before.Add(90*time.Second), after.Add(90*time.Second)
		if got.NextAttempt.Before(lo.Truncate(time.Microsecond)) || got.NextAttempt.After(hi) {
			t.Fatalf("next attempt %v not 90s after the attempt (%v..%v)", got.NextAttempt, lo, hi)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Add("120")
	f.Add("-1")
	f.Add("Wed, 21 Oct 2026 07:28:00 GMT")
	f.Add("99999999999999999999")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, MaxAttempts: 5}
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0.5, 50 * time.Millisecond},
		{2, 0.5, 100 * time.Millisecond},
		{3, 0.999, 399600 * time.Microsecond},
		{4, 1, 800 * time.Millisecond},
		{5, 1, time.Second}, // capped
		{50, 1, time.Second},
		{1, 0, time.Millisecond}, // never zero
		{0, 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := b.Delay(tt.attempt, tt.jitter); got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
		}
	}
	var d Backoff
	d.setDefaults()
	if d.Base != time.Second || d.Max != 10*time.Minute || d.MaxAttempts != 10 {
		t.Errorf("defaults = %+v", d)
	}
}

// counterValue reads a counter from the registry by its label values, in
// label-name order.
func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v in the registry", name, labels)
	return 0
}
