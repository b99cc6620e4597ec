package respond

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// TestRestartResumesPending queues deliveries on a responder whose target
// is down, stops it, and starts a new responder on the same store: the new
// one must deliver every queued row exactly as written.
func TestRestartResumesPending(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		up := false
		rc := newReceiver(t, "test-secret", func(int) int {
			mu.Lock()
			defer mu.Unlock()
			if up {
				return 200
			}
			return 503
		})
		dir := writePlaybooks(t, webhookPlaybook(rc.srv.URL, ""))
		opts := fastOptions(nil)
		opts.Backoff.MaxAttempts = 1000 // keep retrying while the target is down

		first := newResponder(t, db, opts)
		mustLoad(t, first, dir)
		ctx, cancel := context.WithCancel(context.Background())
		first.Start(ctx)
		for i := range 3 {
			if err := first.HandleAlert(ctx, testAlert(fmt.Sprintf("a%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "failed attempts", func() bool { n, _, _ := rc.stats(); return n >= 3 })
		cancel()
		first.Wait()

		pending, err := first.Deliveries(context.Background(), StatePending, 0)
		if err != nil || len(pending) != 3 {
			t.Fatalf("pending after stop: %d %v", len(pending), err)
		}

		mu.Lock()
		up = true
		mu.Unlock()
		second := newResponder(t, db, opts)
		mustLoad(t, second, dir)
		start(t, second)
		waitFor(t, "all deliveries done", func() bool {
			done, _ := second.Deliveries(context.Background(), StateDone, 0)
			return len(done) == 3
		})
		_, bodies, bad := rc.stats()
		slices.Sort(bodies)
		want := []string{`{"id": "a0", "title": "Encoded PowerShell"}`, `{"id": "a1", "title": "Encoded PowerShell"}`,
			`{"id": "a2", "title": "Encoded PowerShell"}`}
		if !slices.Equal(bodies, want) || len(bad) > 0 {
			t.Fatalf("delivered %q (bad signatures %q)", bodies, bad)
		}
	})
}

// TestLeaseExpiryResumes claims a row as a process that then dies would,
// and checks another responder takes it over once the lease runs out, and
// not before.
func TestLeaseExpiryResumes(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, "test-secret", func(int) int { return 200 })
		dir := writePlaybooks(t, webhookPlaybook(rc.srv.URL, ""))
		clock := &fakeClock{}
		opts := fastOptions(clock)
		dead := newResponder(t, db, opts)
		mustLoad(t, dead, dir)
		ctx := context.Background()
		if err := dead.HandleAlert(ctx, testAlert("a1")); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := dead.claim(ctx); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}

		next := newResponder(t, db, opts)
		mustLoad(t, next, dir)
		if _, ok, err := next.claim(ctx); ok || err != nil {
			t.Fatalf("claimed a leased row: %v %v", ok, err)
		}
		start(t, next)
		clock.Advance(3 * time.Minute) // past the default 2m lease
		waitFor(t, "the delivery", func() bool { d, _ := deliveryState(t, next); return d.State == StateDone })
		d, _ := deliveryState(t, next)
		if d.Attempts != 2 {
			t.Errorf("attempts = %d, want 2 (the lost one counts)", d.Attempts)
		}
	})
}

// TestHandleAlertDoesNotWaitForTargets queues alerts while the target
// hangs every request, and checks at most Workers requests are in flight.
func TestHandleAlertDoesNotWaitForTargets(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most, seen := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		seen++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	defer close(release)
	db := storetest.SQLite(t, schemas...)
	opts := fastOptions(nil)
	r := newResponder(t, db, opts)
	mustLoad(t, r, writePlaybooks(t, map[string]string{"h.yaml": `name: hook
secret: k
when: {}
actions:
  - webhook: {url: '` + srv.URL + `', timeout: 1m}
`}))
	start(t, r)
	for i := range 5 {
		if err := r.HandleAlert(context.Background(), testAlert(fmt.Sprintf("a%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both workers busy", func() bool { mu.Lock(); defer mu.Unlock(); return seen >= 2 })
	// Handling more alerts still returns while every worker hangs.
	if err := r.HandleAlert(context.Background(), testAlert("late")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // give a wrongly unbounded pool the chance to overrun
	mu.Lock()
	defer mu.Unlock()
	if most > opts.Workers {
		t.Fatalf("%d requests in flight, want at most %d", most, opts.Workers)
	}
}

func TestIdempotentHandleAlert(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		r := newResponder(t, db, fastOptions(nil))
		mustLoad(t, r, writePlaybooks(t, map[string]string{"p.yaml": `name: p
secret: k
when: {}
actions:
  - webhook: {url: 'http://127.0.0.1:1/'}
  - webhook: {url: 'http://127.0.0.1:2/'}
  - raise_to_hub
  - blocklist: {types: [ip, domain], ttl: 1h}
`}))
		ctx := context.Background()
		a := testAlert("a1")
		for range 3 {
			if err := r.HandleAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		ds, _ := r.Deliveries(ctx, "", 0)
		hub, _ := r.HubOutbox().Pending(ctx)
		entries, _ := r.Blocklist().List(ctx, "be-ccb")
		if len(ds) != 2 || hub != 1 || len(entries) != 2 {
			t.Fatalf("after 3 calls: %d deliveries, %d hub items, %d blocklist entries; want 2, 1, 2", len(ds), hub, len(entries))
		}
		// The same alert id for another member is another alert.
		a.Member = "nl-ncsc"
		if err := r.HandleAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		if ds, _ := r.Deliveries(ctx, "", 0); len(ds) != 4 {
			t.Fatalf("other member's alert: %d deliveries, want 4", len(ds))
		}
	})
}

func TestBlocklistAction(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		clock := &fakeClock{}
		r := newResponder(t, db, fastOptions(clock))
		mustLoad(t, r, writePlaybooks(t, map[string]string{"b.yaml": `name: block
when: {}
actions:
  - blocklist: {types: [ipv4-addr, domain-name], ttl: 2h, reason: c2}
`}))
		ctx := context.Background()
		a := testAlert("a1")
		a.Observables = append(a.Observables,
			alert.Observable{Type: "url", Value: "http://evil.example/x"}, // type not selected
			alert.Observable{Type: "ipv4-addr", Value: "not-an-ip"},       // not blockable
			alert.Observable{Type: "ipv4-addr", Value: "198.51.100.0/24"}, // a network counts as ip
			alert.Observable{Type: "user-account", Value: "alice"})        // not blockable
		if err := r.HandleAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := r.Blocklist().List(ctx, "be-ccb")
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, e := range got {
			vals = append(vals, e.Type+":"+e.Value)
			if e.Reason != "c2" || e.SourceAlert != "a1" || e.Expires.Sub(e.Added) != 2*time.Hour {
				t.Errorf("entry %+v", e)
			}
		}
		// 10.1.2.3 is private: left off without include_private.
		want := []string{"cidr:198.51.100.0/24", "domain:evil.example", "ip:203.0.113.7"}
		if !slices.Equal(vals, want) {
			t.Fatalf("blocklist = %v, want %v", vals, want)
		}
		clock.Advance(3 * time.Hour)
		if got, _ := r.Blocklist().List(ctx, "be-ccb"); len(got) != 0 {
			t.Fatalf("expired entries listed: %v", got)
		}
	})
}

func TestThrottle(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		clock := &fakeClock{}
		r := newResponder(t, db, fastOptions(clock))
		mustLoad(t, r, writePlaybooks(t, map[string]string{"t.yaml": `name: t
when: {}
throttle: {max: 2, per: 1h, by: rule}
actions: [raise_to_hub]
`}))
		ctx := context.Background()
		handle := func(id, rule string) {
			a := testAlert(id)
			a.RuleID = rule
			if err := r.HandleAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			id, rule string
			advance  time.Duration
			want     string
		}{
			{"a1", "r1", 0, outcomeFired},
			{"a2", "r1", 0, outcomeFired},
			{"a3", "r1", 0, outcomeThrottled},
			{"b1", "r2", 0, outcomeFired}, // another rule, another bucket
			{"a4", "r1", 61 * time.Minute, outcomeFired},
		}
		for _, s := range steps {
			clock.Advance(s.advance)
			handle(s.id, s.rule)
			fs, err := r.Firings(ctx, "be-ccb", s.id)
			if err != nil || len(fs) != 1 || fs[0].Outcome != s.want {
				t.Fatalf("%s: firings %+v %v, want outcome %s", s.id, fs, err, s.want)
			}
		}
		if n, _ := r.HubOutbox().Pending(ctx); n != 4 {
			t.Fatalf("hub items = %d, want 4", n)
		}
	})
}

func TestDryRun(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		r := newResponder(t, db, fastOptions(nil))
		mustLoad(t, r, writePlaybooks(t, map[string]string{"d.yaml": `name: d
secret: k
dry_run: true
when: {}
actions:
  - webhook: {url: 'https://soar.example/hook'}
  - blocklist: {types: [ip], ttl: 1h}
  - raise_to_hub
`}))
		ctx := context.Background()
		if err := r.HandleAlert(ctx, testAlert("a1")); err != nil {
			t.Fatal(err)
		}
		ds, _ := r.Deliveries(ctx, "", 0)
		hub, _ := r.HubOutbox().Pending(ctx)
		bl, _ := r.Blocklist().List(ctx, "be-ccb")
		if len(ds)+hub+len(bl) != 0 {
			t.Fatalf("dry run acted: %d deliveries, %d hub, %d blocklist", len(ds), hub, len(bl))
		}
		fs, err := r.Firings(ctx, "be-ccb", "a1")
		if err != nil || len(fs) != 1 || fs[0].Outcome != outcomeDryRun || len(fs[0].Actions) != 3 {
			t.Fatalf("firing record %+v %v", fs, err)
		}
		if got := fs[0].Actions[1].Detail; got != "ip:203.0.113.7" {
			t.Errorf("recorded blocklist plan %q", got)
		}
	})
}

func TestSimulate(t *testing.T) {
	r := newResponder(t, storetest.SQLite(t, schemas...), Options{})
	mustLoad(t, r, writePlaybooks(t, map[string]string{
		"1.yaml": `name: mail-high
when: {severity: high}
actions:
  - email: {host: smtp.example, from: x@soc.example, to: [a@soc.example, b@soc.example], subject: "{{.RuleTitle}} on {{.Key}}"}
`,
		"2.yaml": `name: stopper
when: {detectors: sigma}
stop: true
actions: [raise_to_hub]
`,
		"3.yaml": `name: never-reached
when: {}
actions: [raise_to_hub]
`,
	}))
	tests := []struct {
		edit func(*alert.Alert)
		want []string
	}{
		{nil, []string{"mail-high", "stopper"}},
		{func(a *alert.Alert) { a.Severity = alert.Low }, []string{"stopper"}},
		{func(a *alert.Alert) { a.Detector = "ml" }, []string{"mail-high", "never-reached"}},
	}
	for _, tt := range tests {
		a := testAlert("a1")
		if tt.edit != nil {
			tt.edit(&a)
		}
		plan := r.Simulate(a)
		var got []string
		for _, p := range plan {
			got = append(got, p.Playbook)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Simulate = %v, want %v", got, tt.want)
		}
		if len(plan) > 0 && plan[0].Playbook == "mail-high" {
			act := plan[0].Actions[0]
			if act.Target != "a@soc.example, b@soc.example" || act.Detail != "Encoded PowerShell on host-1" {
				t.Errorf("email plan %+v", act)
			}
		}
	}
}

func TestHubDrain(t *testing.T) {
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		r := newResponder(t, db, Options{})
		mustLoad(t, r, writePlaybooks(t, map[string]string{"h.yaml": "name: hub\nwhen: {}\nactions: [raise_to_hub]\n"}))
		ctx := context.Background()
		for i := range 5 {
			if err := r.HandleAlert(ctx, testAlert(fmt.Sprintf("a%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		hub := r.HubOutbox()
		// A failing send keeps everything queued.
		if n, err := hub.Drain(ctx, 3, func(context.Context, []HubItem) error { return fmt.Errorf("hub down") }); n != 0 ||
			err == nil || !strings.Contains(err.Error(), "hub down") {
			t.Fatalf("failed drain: %d %v", n, err)
		}
		var got []string
		collect := func(_ context.Context, items []HubItem) error {
			for _, it := range items {
				if it.Playbook != "hub" || it.Member != "be-ccb" || it.Alert.RuleTitle != "Encoded PowerShell" {
					t.Errorf("item %+v", it)
				}
				got = append(got, it.Alert.ID)
			}
			return nil
		}
		for _, want := range []int{3, 2, 0} {
			if n, err := hub.Drain(ctx, 3, collect); n != want || err != nil {
				t.Fatalf("drain = %d %v, want %d", n, err, want)
			}
		}
		if !slices.Equal(got, []string{"a0", "a1", "a2", "a3", "a4"}) {
			t.Fatalf("drained %v, want oldest first", got)
		}
	})
}

func TestRenderFailureIsDeadLettered(t *testing.T) {
	db := storetest.SQLite(t, schemas...)
	r := newResponder(t, db, fastOptions(nil))
	// index past the end fails only on alerts with fewer techniques than
	// the sample alert has.
	mustLoad(t, r, writePlaybooks(t, map[string]string{"p.yaml": `name: p
secret: k
when: {}
actions:
  - webhook: {url: 'https://soar.example/', body: '{{index .Techniques 0}}'}
`}))
	a := testAlert("a1")
	a.Techniques = nil
	if err := r.HandleAlert(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d, ok := deliveryState(t, r)
	if !ok || d.State != StateDead || !strings.HasPrefix(d.LastError, "render:") {
		t.Fatalf("delivery %+v", d)
	}
	if err := r.Requeue(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	if d, _ := deliveryState(t, r); d.State != StatePending || d.Attempts != 0 {
		t.Fatalf("after requeue %+v", d)
	}
	if err := r.Requeue(context.Background(), d.ID); !store.NotFound(err) {
		t.Fatalf("requeue of a pending row: %v", err)
	}
}
