package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/tlp"
)

// benchFedNode is one node process of "xsoc bench federation".
type benchFedNode struct {
	name   string
	cfg    config.Config
	member member.Member // a member node's one member
	key    string        // the node's operator key
	// memberKey is the member's API key.
	memberKey string
	url       string
	// profile, if set, is where the process writes its CPU profile.
	profile string
	cmd     *exec.Cmd
	done    chan struct{}
}

// benchFederation measures the early warning path with a hub and three
// member nodes as separate "xsoc serve" processes on 127.0.0.1: member
// node A detects n distinct public addresses (IOC matches of indicators
// imported at A), and the bench reads, from B's and C's received
// warnings, when each became active in their IOC index.
func benchFederation(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench federation", flag.ContinueOnError)
	n := fs.Int("detections", 10000, "distinct detections at member node A")
	rate := fs.Int("rate", 250, "detections per second sent to A (A's alerting, not the early warning path, limits it)")
	keep := fs.Bool("keep", false, "keep the nodes' directory (logs, stores) instead of removing it")
	timeout := fs.Duration("timeout", 20*time.Minute, "give up after this long")
	profiles := fs.String("cpuprofile-dir", "", "write each node's CPU profile (<node>.pprof, go tool pprof) to this directory")
	phases := fs.String("phases", "live,backlog", "which runs to make: live, backlog or both (comma-separated)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *n < 1 || *rate < 1 {
		return errors.New("--detections and --rate must be positive")
	}
	runLive, runBacklog, err := benchPhases(*phases)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "xsoc-bench-federation-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stderr, "nodes' directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	nodes, err := setupBenchFederation(ctx, dir, addrs(2**n))
	if err != nil {
		return err
	}
	defer stopBenchNodes(nodes)
	for _, nd := range nodes {
		if *profiles != "" {
			nd.profile = filepath.Join(*profiles, nd.name+".pprof")
		}
		if err := nd.start(exe); err != nil {
			return err
		}
	}
	for _, nd := range nodes {
		if err := nd.waitReady(ctx); err != nil {
			return err
		}
	}
	hub := nodes[0]
	if err := waitDirectories(ctx, hub, len(nodes)-1); err != nil {
		return err
	}
	values := addrs(2 * *n)
	if runLive {
		if err := benchLive(ctx, stdout, nodes, values[:*n], *rate); err != nil {
			return err
		}
	}
	if runBacklog {
		if runLive {
			fmt.Fprintln(stdout)
		}
		if err := benchBacklog(ctx, stdout, exe, nodes, values[*n:], *rate); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nhub and three member nodes as separate processes on this machine's %d cores\n", runtime.NumCPU())
	return nil
}

// benchPhases reads --phases.
func benchPhases(s string) (live, backlog bool, err error) {
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "live":
			live = true
		case "backlog":
			backlog = true
		default:
			return false, false, fmt.Errorf("--phases: %q is neither live nor backlog", p)
		}
	}
	return live, backlog, nil
}

// benchLive measures the live run: the hub is up; each detection is
// pushed as it happens.
func benchLive(ctx context.Context, stdout io.Writer, nodes []*benchFedNode, values []string, rate int) error {
	a, receivers := nodes[1], nodes[2:]
	base, err := appliedCounts(ctx, receivers)
	if err != nil {
		return err
	}
	before := cpuTimes(nodes)
	if err := ingestDetections(ctx, a, values, rate); err != nil {
		return err
	}
	live, after, err := awaitAll(ctx, nodes, len(values), time.Time{}, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "live: %d detections at a-node while the hub is up (delay: a-node's detection to the indicator active in the receiving node's IOC index)\n", len(values))
	reportBenchFederation(stdout, receivers, live)
	reportBenchCPU(stdout, nodes, before, after, len(values), "a-node's detection included")
	return nil
}

// benchBacklog measures the backlog run: the hub is down while A
// detects; once it is back, the warnings waiting at A cross as fast as
// the path takes them.
func benchBacklog(ctx context.Context, stdout io.Writer, exe string, nodes []*benchFedNode, values []string, rate int) error {
	hub, a, receivers := nodes[0], nodes[1], nodes[2:]
	stopBenchNodes([]*benchFedNode{hub})
	if err := ingestDetections(ctx, a, values, rate); err != nil {
		return err
	}
	if err := a.awaitLag(ctx, len(values)); err != nil {
		return err
	}
	base, err := appliedCounts(ctx, receivers)
	if err != nil {
		return err
	}
	restarted := time.Now()
	before := cpuTimes(nodes)
	if err := hub.start(exe); err != nil {
		return err
	}
	backlog, after, err := awaitAll(ctx, nodes, len(values), restarted, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backlog: %d detections at a-node while the hub was down, sent when it is back (rate: first to last indicator active)\n", len(values))
	reportBenchFederation(stdout, receivers, backlog)
	reportBenchCPU(stdout, nodes, before, after, len(values), "the hub's start and its correlation of the same alerts included")
	return nil
}

// awaitAll waits until every receiving node has applied want indicators
// more than base says, takes the nodes' CPU times, and then reads the
// indicators each applied from since.
func awaitAll(ctx context.Context, nodes []*benchFedNode, want int, since time.Time, base map[string]int64) (map[string][]federation.ReceivedIndicator, map[string]time.Duration, error) {
	receivers := nodes[2:]
	for _, r := range receivers {
		if err := r.awaitApplied(ctx, want, base[r.name]); err != nil {
			return nil, nil, err
		}
	}
	cpu := cpuTimes(nodes)
	got := map[string][]federation.ReceivedIndicator{}
	for _, r := range receivers {
		var err error
		if got[r.name], err = r.listWarnings(ctx, want, since); err != nil {
			return nil, nil, err
		}
	}
	return got, cpu, nil
}

// cpuTimes returns the CPU time (user and system) each node's process
// used so far, by node name; a node not running, or a system without
// /proc, has none.
func cpuTimes(nodes []*benchFedNode) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, nd := range nodes {
		if nd.cmd == nil || nd.cmd.Process == nil {
			continue
		}
		if d, ok := childCPU(nd.cmd.Process.Pid); ok {
			out[nd.name] = d
		}
	}
	return out
}

// childCPU reads a child process's CPU time from /proc/PID/stat (utime and
// stime, fields 14 and 15, in clock ticks of 1/100 s).
func childCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[end+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// reportBenchCPU prints the CPU time each node used during a run, and
// per indicator delivered to both receiving nodes.
func reportBenchCPU(w io.Writer, nodes []*benchFedNode, before, after map[string]time.Duration, indicators int, note string) {
	if len(after) == 0 {
		return
	}
	var parts []string
	var total time.Duration
	for _, nd := range nodes {
		d := after[nd.name] - before[nd.name]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2fs", nd.name, d.Seconds()))
	}
	fmt.Fprintf(w, "CPU used: %s; %.3f ms per indicator delivered to both (%s)\n", strings.Join(parts, ", "),
		float64(total)/float64(time.Millisecond)/float64(indicators), note)
}

// addrs returns n distinct public IPv4 addresses.
func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("45.%d.%d.%d", 10+i/62500, i/250%250, 1+i%250)
	}
	return out
}

// setupBenchFederation writes the PKI and each node's store: the hub's
// and every node's operator key; members A (DE energy), B (FR) and C
// (SE), sharing their alerts at TLP:GREEN; at A, TLP:GREEN indicators for
// every address.
func setupBenchFederation(ctx context.Context, dir string, values []string) ([]*benchFedNode, error) {
	green := tlp.Green
	nodes := []*benchFedNode{{name: "hub"},
		{name: "a-node", member: member.Member{ID: "a-member", Name: "A", Country: "DE", Sector: "energy", AlertTLP: &green}},
		{name: "b-node", member: member.Member{ID: "b-member", Name: "B", Country: "FR", Sector: "energy", AlertTLP: &green}},
		{name: "c-node", member: member.Member{ID: "c-member", Name: "C", Country: "SE", Sector: "health", AlertTLP: &green}}}
	ca, err := federation.NewCA("xsoc bench federation", time.Now())
	if err != nil {
		return nil, err
	}
	pki := filepath.Join(dir, "pki")
	secret := filepath.Join(pki, "secret")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return nil, err
	}
	if err := federation.WriteSecret(secret); err != nil {
		return nil, err
	}
	leaf, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	for _, nd := range nodes {
		nc, err := ca.Issue(nd.name, []string{"127.0.0.1"}, time.Now())
		if err != nil {
			return nil, err
		}
		certDir := filepath.Join(pki, nd.name)
		if err := nc.Save(certDir); err != nil {
			return nil, err
		}
		listen, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		c := config.Default()
		c.DataDir, c.Listen, c.LogLevel = filepath.Join(dir, nd.name, "data"), listen, "warn"
		c.Federation = config.Federation{Role: "member", Node: nd.name, Hub: "tls://" + leaf, HubName: "hub", SecretFile: secret,
			Cert: filepath.Join(certDir, federation.NodeCertFile(nd.name)), Key: filepath.Join(certDir, federation.NodeKeyFile(nd.name)),
			CA: filepath.Join(certDir, federation.CACertFile)}
		if nd.name == "hub" {
			c.Federation.Role, c.Federation.Hub, c.Federation.HubName, c.Federation.SecretFile, c.Federation.LeafListen = "hub", "", "", "", leaf
		}
		nd.cfg, nd.url = c, "http://"+listen
		if err := nd.setup(ctx, values); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// setup prepares a node's store before it starts.
func (nd *benchFedNode) setup(ctx context.Context, values []string) error {
	db, err := node.OpenStore(ctx, nd.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := member.NewRegistry(db)
	if nd.key, err = reg.CreateOperatorKey(ctx); err != nil {
		return err
	}
	if nd.member.ID == "" {
		return nil
	}
	if _, nd.memberKey, err = reg.Add(ctx, nd.member); err != nil {
		return err
	}
	if nd.name != "a-node" {
		return nil
	}
	repo, err := node.IntelRepo(db, nd.cfg)
	if err != nil {
		return err
	}
	if err := node.EnsureSharedCollection(ctx, repo, reg); err != nil {
		return err
	}
	from := time.Now().Add(-time.Hour)
	raws := make([]json.RawMessage, 0, len(values))
	for _, v := range values {
		ind, err := stix.NewIndicator(stix.IndicatorSpec{ID: stix.NameID("indicator", "bench|"+v), Pattern: "[ipv4-addr:value = '" + v + "']",
			ValidFrom: from, TLP: tlp.Green, IndicatorTypes: []string{"malicious-activity"}})
		if err != nil {
			return err
		}
		raw, err := json.Marshal(ind)
		if err != nil {
			return err
		}
		raws = append(raws, raw)
	}
	st, err := repo.AddObjects(ctx, intel.Viewer{Member: nd.member.ID}, node.SharedCollection, raws)
	if err == nil && len(st.Failures) > 0 {
		err = fmt.Errorf("indicator %s refused: %s", st.Failures[0].ID, st.Failures[0].Message)
	}
	return err
}

func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs "xsoc serve" with the node's configuration, logging to its
// directory.
func (nd *benchFedNode) start(exe string) error {
	data, err := yaml.Marshal(nd.cfg)
	if err != nil {
		return err
	}
	base := filepath.Dir(nd.cfg.DataDir)
	cfgPath := filepath.Join(base, "xsoc.yaml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(base, "xsoc.log"))
	if err != nil {
		return err
	}
	args := []string{"serve", "--config", cfgPath}
	if nd.profile != "" {
		args = append(args, "--cpuprofile", nd.profile)
	}
	nd.cmd = exec.Command(exe, args...)
	nd.cmd.Stdout, nd.cmd.Stderr = log, log
	if err := nd.cmd.Start(); err != nil {
		log.Close()
		return err
	}
	nd.done = make(chan struct{})
	go func() {
		nd.cmd.Wait()
		log.Close()
		close(nd.done)
	}()
	return nil
}

// waitReady waits until the node answers.
func (nd *benchFedNode) waitReady(ctx context.Context) error {
	for {
		select {
		case <-nd.done:
			return fmt.Errorf("node %s exited; see %s", nd.name, filepath.Join(filepath.Dir(nd.cfg.DataDir), "xsoc.log"))
		case <-ctx.Done():
			return fmt.Errorf("node %s: %w", nd.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(nd.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// stopBenchNodes stops every node (SIGTERM, then SIGKILL after 15 s).
func stopBenchNodes(nodes []*benchFedNode) {
	for _, nd := range nodes {
		if nd.cmd != nil && nd.cmd.Process != nil {
			nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, nd := range nodes {
		if nd.done == nil {
			continue
		}
		select {
		case <-nd.done:
		case <-time.After(15 * time.Second):
			nd.cmd.Process.Kill()
			<-nd.done
		}
	}
}

// getJSON reads a resource of the node's API with its operator key.
func (nd *benchFedNode) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nd.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+nd.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", nd.url, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitDirectories waits until the hub knows every member node.
func waitDirectories(ctx context.Context, hub *benchFedNode, want int) error {
	for {
		var st federation.Status
		if err := hub.getJSON(ctx, "/api/v1/federation/status", &st); err == nil && len(st.Nodes) == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the hub did not hear from %d member nodes: %w", want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ingestDetections sends A one event per address, each of which its IOC
// index detects, at rate events per second in tenths of a second.
func ingestDetections(ctx context.Context, a *benchFedNode, values []string, rate int) error {
	per := max(rate/10, 1)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(values); i += per {
		var b bytes.Buffer
		now := time.Now().UTC().Format(time.RFC3339Nano)
		for j, v := range values[i:min(i+per, len(values))] {
			// Many hosts, as a member's detections come: one host's
			// alerts form one local incident.
			host := (i + j) / 10
			fmt.Fprintf(&b, `{"@timestamp":%q,"event":{"category":["network"]},"source":{"ip":"10.1.%d.%d"},"destination":{"ip":%q,"port":443},"host":{"name":"a-ws-%d"}}`+"\n",
				now, host/250%250, 1+host%250, v, host)
		}
		if err := postIngest(ctx, a.url, a.memberKey, b.Bytes()); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// awaitLag waits until at least want alerts wait for the early warning
// path at the node (its hub is down).
func (nd *benchFedNode) awaitLag(ctx context.Context, want int) error {
	for {
		var st federation.Status
		if err := nd.getJSON(ctx, "/api/v1/federation/status", &st); err == nil && st.Lag["xsoc-federation-warn"] >= uint64(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not detect everything: %w", nd.name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// postIngest sends one NDJSON body to a node's ingest endpoint.
func postIngest(ctx context.Context, url, key string, body []byte) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/ingest", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			time.Sleep(50 * time.Millisecond) // back-pressure: try again
		default:
			return fmt.Errorf("ingest: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
	}
}

// awaitApplied waits until the node has applied want indicators more
// than its counter said before the run (base). It reads only the counter
// (the federation status), so that measuring does not load the node it
// measures.
func (nd *benchFedNode) awaitApplied(ctx context.Context, want int, base int64) error {
	for {
		n, err := nd.applied(ctx)
		if err == nil && n-base >= int64(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s applied %d of %d indicators (%v): %w", nd.name, n-base, want, err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// listWarnings reads the want indicators the node applied from since,
// with when each became active.
func (nd *benchFedNode) listWarnings(ctx context.Context, want int, since time.Time) ([]federation.ReceivedIndicator, error) {
	var got []federation.ReceivedIndicator
	cursor := ""
	for {
		var page struct {
			Warnings []federation.ReceivedIndicator `json:"warnings"`
			Next     string                         `json:"next"`
		}
		q := "/api/v1/federation/warnings?limit=1000"
		if !since.IsZero() {
			q += "&since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
		}
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		err := nd.getJSON(ctx, q, &page)
		if err == nil {
			got = append(got, page.Warnings...)
			if page.Next != "" {
				cursor = page.Next
			}
			if len(got) >= want {
				return got, nil
			}
			if len(page.Warnings) == 1000 {
				continue // more are waiting
			}
		}
		// Applied, not yet recorded: the store's commit follows.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s listed %d of %d indicators (%v): %w", nd.name, len(got), want, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// applied returns how many indicators of warnings the node made active
// since it started.
func (nd *benchFedNode) applied(ctx context.Context) (int64, error) {
	var st federation.Status
	err := nd.getJSON(ctx, "/api/v1/federation/status", &st)
	return st.Warnings.Applied, err
}

// appliedCounts returns each node's count of indicators applied.
func appliedCounts(ctx context.Context, nodes []*benchFedNode) (map[string]int64, error) {
	out := map[string]int64{}
	for _, nd := range nodes {
		n, err := nd.applied(ctx)
		if err != nil {
			return nil, err
		}
		out[nd.name] = n
	}
	return out, nil
}

// reportBenchFederation prints, per receiving node and for both, the
// delay from A's detection to the indicator being active, and the rate
// from the first indicator active to the last.
func reportBenchFederation(w io.Writer, receivers []*benchFedNode, got map[string][]federation.ReceivedIndicator) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "node\tindicators\tp50\tp99\tmax\tfirst → last active\tindicators/s\t")
	var all []time.Duration
	var first, last time.Time
	// count is how many distinct indicators became active (at every
	// receiving node, for the last row).
	row := func(name string, count int, lat []time.Duration, f, l time.Time) {
		slices.Sort(lat)
		span := l.Sub(f)
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\t%v\t%.0f\t\n", name, count, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1),
			span.Round(time.Millisecond), float64(count)/span.Seconds())
	}
	for _, r := range receivers {
		var lat []time.Duration
		var f, l time.Time
		for _, it := range got[r.name] {
			lat = append(lat, it.Applied.Sub(it.Detected))
			if f.IsZero() || it.Applied.Before(f) {
				f = it.Applied
			}
			l = later(l, it.Applied)
		}
		all = append(all, lat...)
		if first.IsZero() || f.Before(first) {
			first = f
		}
		last = later(last, l)
		row(r.name, len(lat), lat, f, l)
	}
	row("both", len(all)/len(receivers), all, first, last)
	tw.Flush()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
