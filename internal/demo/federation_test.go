package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/tlp"
)

// fakeNode serves the part of a node's REST API the federated
// demonstration reads: alerts and incidents, newest first, paged as the
// real API pages them.
type fakeNode struct {
	mu        sync.Mutex
	alerts    []alert.Alert
	incidents []correlate.Incident
	warnings  []federation.ReceivedIndicator
}

// start serves f and returns it as a node of the demonstration.
func (f *fakeNode) start(t *testing.T, name string) *fedNode {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &fedNode{name: name, url: srv.URL, key: "test-key", client: &http.Client{Timeout: apiTimeout}}
}

func (f *fakeNode) addAlerts(n int, level tlp.Level) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.alerts = append(f.alerts, alert.Alert{ID: fmt.Sprintf("a%06d", len(f.alerts)), Detector: "sigma", TLP: level})
	}
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	switch r.URL.Path {
	case "/api/v1/alerts":
		start := 0
		for i, a := range f.alerts {
			if a.ID == q.Get("cursor") {
				start = i + 1
			}
		}
		end := min(start+limit, len(f.alerts))
		page := alert.Page{Alerts: f.alerts[start:end]}
		if end < len(f.alerts) {
			page.Next = f.alerts[end-1].ID
		}
		json.NewEncoder(w).Encode(page)
	case "/api/v1/incidents":
		var page correlate.Page
		for _, inc := range f.incidents {
			if (q.Get("cross_border") != "true" || inc.CrossBorder) && len(page.Incidents) < limit {
				page.Incidents = append(page.Incidents, inc)
			}
		}
		json.NewEncoder(w).Encode(page)
	case "/api/v1/federation/warnings":
		json.NewEncoder(w).Encode(map[string]any{"warnings": f.warnings})
	default:
		http.NotFound(w, r)
	}
}

// TestFederationAwaitCrossBorderAsksTheHub: the wait for the hub's
// incident asks the hub, while the watcher, which owns the Result until it
// ends, runs beside it (run with -race).
func TestFederationAwaitCrossBorderAsksTheHub(t *testing.T) {
	hubAPI, memberAPI := &fakeNode{}, &fakeNode{}
	hubAPI.addAlerts(3, tlp.Green)
	memberAPI.addAlerts(3, tlp.Green)
	memberAPI.addAlerts(2, tlp.Amber) // stays on the member node
	hubAPI.incidents = []correlate.Incident{{ID: "inc1", CrossBorder: true, Countries: []string{"DE", "FR"}}}
	hub, members := hubAPI.start(t, HubNode), []*fedNode{memberAPI.start(t, "de-node")}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res Result
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		hubWatcher(hub, members).run(watchCtx, time.Now(), &res, io.Discard)
	}()
	inc, err := awaitCrossBorder(ctx, hub, members)
	stopWatch()
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	if inc == nil || inc.ID != "inc1" {
		t.Errorf("awaitCrossBorder returned %+v, want the hub's incident inc1", inc)
	}
}

// TestFederationCtrlCIsNoNodeFailure: once the demonstration's context
// ends, a node that exited (the terminal's SIGINT reaches the nodes too
// where they share its process group) is no failure; before, it is.
func TestFederationCtrlCIsNoNodeFailure(t *testing.T) {
	n := &fedNode{name: "de-node", dir: t.TempDir(), exited: make(chan struct{}), waitErr: errors.New("exit status 1")}
	close(n.exited)
	nodes := []*fedNode{n}
	ctx, cancel := context.WithCancel(context.Background())
	if err := outcome(ctx, nodes, nil); err == nil || !strings.Contains(err.Error(), "node de-node exited") {
		t.Errorf("a node exited while the demonstration ran: %v, want its failure", err)
	}
	cancel()
	if err := outcome(ctx, nodes, errors.New("connection refused")); !errors.Is(err, context.Canceled) {
		t.Errorf("after Ctrl-C: %v, want context.Canceled", err)
	}
}

// TestFederationRequestsTimeOut: every node's API is asked with a
// timeout, so that a hung node cannot block a wait past its deadline.
func TestFederationRequestsTimeOut(t *testing.T) {
	nodes, err := planFederation(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.client == nil || n.client.Timeout <= 0 || n.client.Timeout > time.Minute {
			t.Errorf("node %s: API client %+v, want a timeout under a minute", n.name, n.client)
		}
	}
}

// TestFederationCountsEveryAlertPage: alert counts follow the API's pages
// past its largest page (1,000 alerts), so that more alerts than that
// still let the wait for the hub end.
func TestFederationCountsEveryAlertPage(t *testing.T) {
	api := &fakeNode{}
	api.addAlerts(1500, tlp.Green)
	api.addAlerts(1200, tlp.Amber)
	n := api.start(t, "de-node")
	ctx := context.Background()
	if got, err := n.alertCount(ctx); err != nil || got != 2700 {
		t.Errorf("alertCount = %d, %v; want 2700", got, err)
	}
	if got, err := shareableAlerts(ctx, []*fedNode{n, n}); err != nil || got != 3000 {
		t.Errorf("shareableAlerts of two nodes = %d, %v; want 3000", got, err)
	}
}

// TestPrintShieldsOrdersByContact: the early warning's summary lists the
// member nodes by first alerted contact, nodes without one last, and says
// for each whether its own intel or a warning (from where, how fast)
// raised it.
func TestPrintShieldsOrdersByContact(t *testing.T) {
	t0 := time.Date(2026, 3, 11, 8, 40, 54, 0, time.UTC)
	var out strings.Builder
	printShields(&out, []Shield{
		{Node: "de-node", Member: "de-energie"},
		{Node: "se-node", Member: "se-sjukhus", Contact: t0.Add(20 * time.Minute), Value: "evil.example", WarnedFrom: "FR",
			Delay: 571 * time.Millisecond, Ahead: 12877 * time.Millisecond},
		{Node: "fr-node", Member: "fr-soc", Contact: t0, Value: "evil.example"},
	})
	want := []string{
		"early warning: each member node's first alert on the campaign's infrastructure",
		"  fr-node  fr-soc      08:40:54 evil.example: detected with its own intel, pushed to the other member nodes",
		"  se-node  se-sjukhus  09:00:54 evil.example: alerted at once, known from the cross-border warning from FR (active here 571ms after FR detected it, 12.877s before this contact came in)",
		"  de-node  de-energie  none",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); !slices.Equal(got, want) {
		t.Errorf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFirstContactOwesTheFirstWarning: when several countries warned of
// the value an alert was raised on — the first victim's, then another
// member node that met it again — the contact is credited to the warning
// that made the indicator active here, the earliest applied, whatever
// order the node lists them in.
func TestFirstContactOwesTheFirstWarning(t *testing.T) {
	t0 := time.Date(2026, 3, 11, 8, 40, 54, 0, time.UTC)
	api := &fakeNode{}
	api.alerts = []alert.Alert{
		{ID: "a2", Detector: "ioc", RuleID: "fed-1", RuleTitle: "IOC match: evil.example (cross-border warning)",
			EventTime: t0.Add(30 * time.Minute), Detected: t0.Add(3 * time.Second),
			Observables: []alert.Observable{{Type: "domain", Value: "evil.example"}}},
		{ID: "a1", Detector: "ioc", RuleID: "fed-1", RuleTitle: "IOC match: evil.example (cross-border warning)",
			EventTime: t0.Add(20 * time.Minute), Detected: t0.Add(2 * time.Second),
			Observables: []alert.Observable{{Type: "domain", Value: "EVIL.example"}}},
	}
	api.warnings = []federation.ReceivedIndicator{
		{Indicator: "fed-1", Country: "NL", Detected: t0.Add(4 * time.Second), Applied: t0.Add(4*time.Second + 20*time.Millisecond)},
		{Indicator: "fed-2", Country: "DE", Detected: t0, Applied: t0},
		{Indicator: "fed-1", Country: "FR", Detected: t0.Add(time.Second), Applied: t0.Add(time.Second + 50*time.Millisecond)},
	}
	n := api.start(t, "se-node")
	c, err := n.firstContact(context.Background(), map[string]bool{"evil.example": true})
	if err != nil {
		t.Fatal(err)
	}
	if c == nil || c.alert.ID != "a1" || c.value != "EVIL.example" {
		t.Fatalf("first contact %+v, want alert a1 on EVIL.example", c)
	}
	if c.warning == nil || c.warning.Country != "FR" {
		t.Fatalf("first contact credited to %+v, want the warning from FR", c.warning)
	}
}
