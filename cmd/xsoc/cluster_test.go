package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/pipeline"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// cluster is a scaled-out node run as separate "xsoc serve --role …"
// processes on a real NATS JetStream and PostgreSQL: a namespace of its
// own on the NATS server and a schema of its own in the database, so that
// it shares the servers with other tests without seeing them.
type cluster struct {
	t         *testing.T
	bin       string
	natsURL   string
	namespace string
	pgURL     string // the state store, search_path on the cluster's schema
	archive   string // --archive, "" to follow the store
	env       []string
	wrap      []string // runs the binary through this command (a shell setting limits)
	opKey     string
	mu        sync.Mutex
	procs     map[string]*proc
}

// proc is one running xsoc process.
type proc struct {
	name, role, addr string
	cmd              *exec.Cmd
	log              *lockedBuffer
	done             chan struct{}
}

// lockedBuffer collects a process's output for failure reports.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newCluster prepares a cluster on natsURL with a fresh schema in the
// test PostgreSQL; nothing runs yet.
func newCluster(t *testing.T, natsURL string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a scaled-out node as processes")
	}
	if os.Getenv("XSOC_TEST_POSTGRES") == "skip" || os.Getenv("XSOC_TEST_NATS") == "skip" {
		t.Skip("needs PostgreSQL and NATS (XSOC_TEST_POSTGRES or XSOC_TEST_NATS is skip)")
	}
	c := &cluster{t: t, bin: buildXsoc(t), natsURL: natsURL, procs: map[string]*proc{}}
	var b [5]byte
	rand.Read(b[:])
	c.namespace = "xsoctest-" + hex.EncodeToString(b[:])
	c.pgURL = storetest.SchemaURL(t, "xsoc_cluster_")
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("--- %s (%s) output:\n%s", p.name, p.role, tail(p.log.String(), 4000))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if b, err := bus.Open(ctx, bus.Config{URL: c.natsURL, Namespace: c.namespace}); err == nil {
			b.DeleteNamespace(ctx)
			b.Close()
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// start runs one process of the cluster and waits until it answers.
func (c *cluster) start(name, role string, extra ...string) *proc {
	c.t.Helper()
	p := &proc{name: name, role: role, addr: freePort(c.t), log: &lockedBuffer{}, done: make(chan struct{})}
	args := append([]string{"serve", "--role", role, "--nats-url", c.natsURL, "--nats-namespace", c.namespace,
		"--postgres-url", c.pgURL, "--data-dir", filepath.Join(c.t.TempDir(), name), "--listen", p.addr,
		"--log-level", "info"}, extra...)
	if c.archive != "" {
		args = append(args, "--archive", c.archive)
	}
	argv := append(append(slices.Clone(c.wrap), c.bin), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), c.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			c.t.Fatalf("%s (%s) exited at start:\n%s", name, role, p.log.String())
		default:
		}
		if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if role == "api" || role == "all" {
				c.readOperatorKey(p)
			}
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("%s (%s) did not come up within 90s:\n%s", name, role, p.log.String())
	return nil
}

// readOperatorKey reads the key the API process wrote on first start.
func (c *cluster) readOperatorKey(p *proc) {
	if c.opKey != "" {
		return
	}
	args := p.cmd.Args
	for i, a := range args {
		if a == "--data-dir" && i+1 < len(args) {
			key, err := os.ReadFile(filepath.Join(args[i+1], "operator.key"))
			if err != nil {
				c.t.Fatal(err)
			}
			c.opKey = strings.TrimSpace(string(key))
		}
	}
}

// kill9 kills a process with SIGKILL and waits for it.
func (c *cluster) kill9(name string) {
	c.t.Helper()
	p := c.procs[name]
	if err := p.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-p.done
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		select {
		case <-p.done:
			continue
		default:
		}
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// addMember creates a member through the API and returns its key.
func (c *cluster) addMember(api *proc, id, country string) string {
	c.t.Helper()
	body := fmt.Sprintf(`{"id":%q,"name":%q,"country":%q,"sector":"energy"}`, id, id, country)
	var out struct {
		Key    string `json:"api_key"`
		APIKey string `json:"key"`
	}
	if code := c.call(api, c.opKey, http.MethodPost, "/api/v1/members", body, &out); code != http.StatusCreated && code != http.StatusOK {
		c.t.Fatalf("adding member %s: HTTP %d", id, code)
	}
	if out.Key == "" {
		out.Key = out.APIKey
	}
	if out.Key == "" {
		c.t.Fatalf("adding member %s: no key in the answer", id)
	}
	return out.Key
}

// call makes an API request and decodes a JSON answer into out.
func (c *cluster) call(p *proc, key, method, path, body string, out any) int {
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// metric sums the samples of a Prometheus series a process exposes.
func (c *cluster) metric(p *proc, name string) float64 {
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.opKey)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// caughtUp reports whether detection and the archive have acknowledged
// every accepted batch.
func (c *cluster) caughtUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{URL: c.natsURL, Namespace: c.namespace})
	if err != nil {
		return false
	}
	defer b.Close()
	d, err := pipeline.PendingDetection(ctx, b)
	if err != nil || d > 0 {
		return false
	}
	a, err := pipeline.Pending(ctx, b, bus.ArchiveConsumer)
	return err == nil && a == 0
}

// sender posts batches to the API: batch i of a member holds n benign
// events with ids of their own and one LSASS dump on host VICTIM-<i>,
// which a starter rule alerts on. A batch is retried, with the same event
// ids and idempotency key, until it is accepted.
type sender struct {
	c      *cluster
	api    *proc
	member string
	key    string
	n      int

	mu       sync.Mutex
	accepted int   // batches accepted
	refused  []int // HTTP status codes of refusals seen
	retryOK  bool  // every 503 carried Retry-After
}

func (s *sender) body(i int) []byte {
	var b bytes.Buffer
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for j := range s.n {
		fmt.Fprintf(&b, `{"@timestamp":%q,"event":{"id":"%s-b%d-e%d","kind":"event"},"host":{"name":"WS-%d"},"source":{"ip":"10.1.%d.%d"},"message":"scale"}`+"\n",
			now, s.member, i, j, j%50, i%250, j%250)
	}
	fmt.Fprintf(&b, `{"@timestamp":%q,"event":{"id":"%s-b%d-bad"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"VICTIM-%d","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\admin"}}}`+"\n",
		now, s.member, i, i)
	return b.Bytes()
}

// send posts batch i until it is accepted or stop closes; it reports
// whether the batch was accepted.
func (s *sender) send(i int, stop <-chan struct{}) bool {
	body := s.body(i)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.api.addr+"/api/v1/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", s.member, i))
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.mu.Lock()
				s.accepted++
				s.mu.Unlock()
				return true
			}
			s.mu.Lock()
			if len(s.refused) == 0 {
				s.retryOK = true
			}
			s.refused = append(s.refused, resp.StatusCode)
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				s.retryOK = false
			}
			s.mu.Unlock()
		}
		select {
		case <-stop:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alertsByHost returns, per victim host, the rules that alerted on it and
// how many alerts each raised, as the member sees them.
func (c *cluster) alertsByHost(member string, key string) map[string]map[string]int {
	c.t.Helper()
	out := map[string]map[string]int{}
	cursor := ""
	for {
		var page struct {
			Alerts []struct {
				Key      string   `json:"key"`
				RuleID   string   `json:"rule_id"`
				Count    int      `json:"count"`
				EventIDs []string `json:"event_ids"`
			} `json:"alerts"`
			Next string `json:"next"`
		}
		path := "/api/v1/alerts?limit=1000"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := c.call(c.procs["api"], key, http.MethodGet, path, "", &page); code != http.StatusOK {
			c.t.Fatalf("listing alerts of %s: HTTP %d", member, code)
		}
		for _, a := range page.Alerts {
			if !strings.HasPrefix(a.Key, "VICTIM-") {
				continue
			}
			if out[a.Key] == nil {
				out[a.Key] = map[string]int{}
			}
			out[a.Key][a.RuleID] += max(a.Count, len(a.EventIDs)) // a second alert, or a second event in one, counts twice
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

// checkExactlyOnce checks that each of the member's accepted batches
// 0..batches-1 raised the same alerts once (one alert per rule and victim
// host, holding one event) and that its events were archived once.
func (c *cluster) checkExactlyOnce(s *sender, batches int) {
	c.t.Helper()
	events := batches * (s.n + 1)
	var got int
	deadline := time.Now().Add(90 * time.Second)
	for got = eventCount(c.t, c.procs["api"].addr, s.key); got < events; got = eventCount(c.t, c.procs["api"].addr, s.key) {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %d of the %d accepted events archived after 90 s; batches short: %s", s.member, got, events, c.shortBatches(s, batches))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got != events {
		c.t.Fatalf("%s: archive holds %d events, %d were accepted: duplicates", s.member, got, events)
	}
	var byHost map[string]map[string]int
	waitFor(c.t, func() bool {
		byHost = c.alertsByHost(s.member, s.key)
		return len(byHost) >= batches
	}, fmt.Sprintf("%s: alerts on all %d victims", s.member, batches))
	var rules map[string]int
	for i := range batches {
		host := fmt.Sprintf("VICTIM-%d", i)
		r := byHost[host]
		if rules == nil {
			rules = r
		}
		if len(r) == 0 || len(r) != len(rules) {
			c.t.Fatalf("%s: %s alerted by %v, the first victim by %v", s.member, host, r, rules)
		}
		for rule, hits := range r {
			if hits != 1 {
				c.t.Fatalf("%s: %s alerted %d times by %s, want once", s.member, host, hits, rule)
			}
		}
	}
	if len(byHost) != batches {
		c.t.Fatalf("%s: %d victims alerted, %d were sent", s.member, len(byHost), batches)
	}
}

// shortBatches lists the member's batches the archive holds fewer benign
// events of than were sent, as "i:held" — what a failed exactness check
// needs.
func (c *cluster) shortBatches(s *sender, batches int) string {
	var short []string
	for i := range batches {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/api/v1/events/count?prefix.event.id=%s-b%d-e", c.procs["api"].addr, s.member, i), nil)
		req.Header.Set("Authorization", "Bearer "+s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		var n struct{ Count int }
		json.NewDecoder(resp.Body).Decode(&n)
		resp.Body.Close()
		if n.Count != s.n {
			short = append(short, fmt.Sprintf("%d:%d", i, n.Count))
		}
	}
	return strings.Join(short, " ")
}

func (s *sender) acceptedBatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *sender) refusals() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

func (s *sender) retryAfterOK() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retryOK
}
