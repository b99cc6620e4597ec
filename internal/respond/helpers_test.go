package respond

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

var schemas = []store.Schema{Schema()}

// fakeClock is real time shifted by an offset the test can advance, so a
// lease or a TTL can run out without the test sleeping.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// fastOptions retry quickly so delivery tests finish in milliseconds.
func fastOptions(clock *fakeClock) Options {
	o := Options{
		Workers:      2,
		Backoff:      Backoff{Base: 2 * time.Millisecond, Max: 10 * time.Millisecond, MaxAttempts: 6},
		PollInterval: 20 * time.Millisecond,
	}
	if clock != nil {
		o.Now = clock.Now
	}
	return o
}

func newResponder(t testing.TB, db *store.DB, opts Options) *Responder {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs r's workers until the test ends.
func start(t testing.TB, r *Responder) {
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx)
	t.Cleanup(func() { cancel(); r.Wait() })
}

// writePlaybooks writes files into a fresh directory.
func writePlaybooks(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t testing.TB, r *Responder, dir string) {
	t.Helper()
	if errs := r.Load(dir); len(errs) > 0 {
		t.Fatalf("load: %v", errs)
	}
}

func testAlert(id string) alert.Alert {
	t := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return alert.Alert{
		ID: id, Member: "be-ccb", EventTime: t, Detected: t, Detector: "sigma",
		RuleID: "proc_creation_win_powershell_enc", RuleTitle: "Encoded PowerShell", Severity: alert.High,
		Techniques: []string{"T1059.001"}, TLP: tlp.Amber, Key: "host-1", Count: 1,
		Observables: []alert.Observable{
			{Type: "ipv4-addr", Value: "203.0.113.7", Role: "destination"},
			{Type: "ipv4-addr", Value: "10.1.2.3", Role: "source"},
			{Type: "domain-name", Value: "Evil.Example.", Role: "query"},
		},
		Status: alert.StatusNew,
	}
}

// waitFor polls cond until it holds; the deadline only keeps a broken
// test from hanging, it asserts nothing about speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receiver is a webhook target that checks every signature with its own
// HMAC code and answers with whatever status script gives for the n-th
// request (0-based); a status of 0 means hang until the client gives up.
type receiver struct {
	srv    *httptest.Server
	secret []byte
	script func(n int) int

	mu     sync.Mutex
	n      int
	bodies []string
	ids    []string
	bad    []string // signature problems
}

func newReceiver(t testing.TB, secret string, script func(n int) int) *receiver {
	rc := &receiver{secret: []byte(secret), script: script}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get("X-Xsoc-Timestamp"), r.Header.Get("X-Xsoc-Signature")
	mac := hmac.New(sha256.New, rc.secret)
	io.WriteString(mac, ts+"."+string(body))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	rc.mu.Lock()
	n := rc.n
	rc.n++
	if !hmac.Equal([]byte(sig), []byte(want)) || ts == "" {
		rc.bad = append(rc.bad, sig)
	}
	rc.mu.Unlock()
	status := rc.script(n)
	if status == 0 {
		<-r.Context().Done()
		return
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	if status < 300 {
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(body))
		rc.ids = append(rc.ids, r.Header.Get("X-Xsoc-Delivery"))
		rc.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (rc *receiver) stats() (requests int, delivered []string, bad []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n, append([]string(nil), rc.bodies...), append([]string(nil), rc.bad...)
}

// deliveryState returns the single outbox row's state and attempts.
func deliveryState(t testing.TB, r *Responder) (Delivery, bool) {
	t.Helper()
	ds, err := r.Deliveries(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		return Delivery{}, false
	}
	return ds[0], true
}
