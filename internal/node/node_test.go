package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store/storetest"
	"github.com/xsoc/xsoc/internal/tlp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// postgresURL returns the URL of a fresh, private schema on the test
// PostgreSQL server, dropped when the test ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	return storetest.SchemaURL(t, "xsoc_node_")
}

func startNode(t *testing.T, cfg config.Config) *Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Open(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { n.Run(ctx); close(done) }()
	return n
}

func nodeConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// TestTwoNodesShareIntelOverTAXII: a national SOC's node (embedded SQLite)
// publishes an indicator over TAXII; a second node on PostgreSQL pulls it
// with a scheduled feed, matches a member's DNS event against it, raises an
// IOC alert and records a STIX sighting.
func TestTwoNodesShareIntelOverTAXII(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes")
	}
	ctx := context.Background()
	hub := startNode(t, nodeConfig(t))
	_, socKey, err := hub.Members.Add(ctx, member.Member{ID: "fr-soc", Name: "FR SOC", Country: "FR", Sector: "public-administration", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.GrantSharedWrite(ctx); err != nil {
		t.Fatal(err)
	}
	from := time.Now().Add(-time.Hour)
	ind, err := stix.NewIndicator(stix.IndicatorSpec{Name: "C2", Pattern: "[domain-name:value = 'c2.evil.example']",
		ValidFrom: from, TLP: tlp.Green})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ind)
	api := hub.URL() + "/taxii2/api/"
	pub, err := taxii.NewClient(taxii.ClientConfig{APIRoot: api, Token: socKey})
	if err != nil {
		t.Fatal(err)
	}
	st, err := pub.AddObjects(ctx, SharedCollection, []json.RawMessage{raw})
	if err != nil || st.SuccessCount != 1 {
		t.Fatalf("publishing over TAXII: %+v %v", st, err)
	}

	cfg := nodeConfig(t)
	cfg.PostgresURL = postgresURL(t)
	t.Setenv("XSOC_TEST_FEED_TOKEN", socKey)
	cfg.TAXIIFeeds = []config.TAXIIFeed{{Name: "fr-soc", URL: api, Collection: SharedCollection, Member: "nl-bank",
		TokenEnv: "XSOC_TEST_FEED_TOKEN", Interval: 100 * time.Millisecond}}
	// The feed's member must exist before the node starts pulling for it.
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, bankKey, err := member.NewRegistry(db).Add(ctx, member.Member{ID: "nl-bank", Name: "Bank", Country: "NL", Sector: "banking"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	node := startNode(t, cfg)
	waitFor(t, "the indicator pulled and indexed", func() bool {
		hits, _ := node.IOC.Lookup(ioc.KindDomain, "c2.evil.example")
		return len(hits) == 1
	})
	body := `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","dns":{"question":{"name":"www.c2.evil.example"}},"source":{"ip":"10.1.1.1"},"host":{"name":"ws1"}}` + "\n"
	req, _ := http.NewRequest(http.MethodPost, node.URL()+"/api/v1/ingest", bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+bankKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	viewer := alert.Viewer{Member: "nl-bank"}
	var got alert.Alert
	waitFor(t, "an IOC alert", func() bool {
		page, err := node.Alerts.List(ctx, viewer, alert.Filter{Detector: "ioc"})
		if err == nil && len(page.Alerts) > 0 {
			got = page.Alerts[0]
			return true
		}
		return false
	})
	// The indicator is GREEN, but the alert says that nl-bank was hit:
	// it takes the member's sharing level, TLP:AMBER by default.
	if got.RuleID != ind.ID() || got.TLP != tlp.Amber {
		t.Errorf("alert %+v: want the shared indicator's id and TLP:AMBER", got)
	}
	if page, _ := node.Alerts.List(ctx, alert.Viewer{Member: "someone-else"}, alert.Filter{}); len(page.Alerts) != 0 {
		t.Errorf("another member sees nl-bank's AMBER alert")
	}
	waitFor(t, "a sighting", func() bool {
		page, err := node.Intel.Objects(ctx, intel.Viewer{Member: "nl-bank"}, SharedCollection, intel.Filter{Types: []string{"sighting"}})
		return err == nil && len(page.Objects) == 1
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestAlertReachesPlaybookWebhook: a Sigma detection in an ingested event
// becomes an alert, an incident, and a signed webhook call from a playbook.
func TestAlertReachesPlaybookWebhook(t *testing.T) {
	got := make(chan *http.Request, 4)
	hook := httptestServer(t, got)
	dir := t.TempDir()
	t.Setenv("XSOC_TEST_HOOK_SECRET", "s3cret")
	playbook := "name: page\nsecret_env: XSOC_TEST_HOOK_SECRET\nwhen:\n  severity: high\nactions:\n  - webhook:\n      url: " + hook + "\n"
	if err := os.WriteFile(filepath.Join(dir, "page.yaml"), []byte(playbook), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig(t)
	cfg.PlaybooksDir = dir
	n := startNode(t, cfg)
	_, key, err := n.Members.Add(context.Background(), member.Member{ID: "de-energie", Name: "E", Country: "DE", Sector: "energy"})
	if err != nil {
		t.Fatal(err)
	}
	line := `{"@timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"WS-1","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\t\\l.dmp full"}}}` + "\n"
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/ingest", strings.NewReader(line))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case r := <-got:
		if r.Header.Get("X-Xsoc-Signature") == "" {
			t.Errorf("webhook without signature: %v", r.Header)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call")
	}
}

func httptestServer(t *testing.T, got chan<- *http.Request) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case got <- r:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
