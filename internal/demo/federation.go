package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/scenario"
	"github.com/xsoc/xsoc/internal/store"
)

// HubNode is the name of the federated demonstration's hub.
const HubNode = "eu-hub"

// FederationOptions configure the federated demonstration.
type FederationOptions struct {
	// DataDir holds everything the demonstration writes, under
	// DataDir/federation (replaced on every run).
	DataDir string
	// Executable is the xsoc binary the nodes run as ("xsoc serve").
	Executable string
	// Seed selects the scenario; Speed is scenario seconds replayed per
	// second (0: as fast as ingest takes it).
	Seed  uint64
	Speed float64
	// Exit stops the nodes once the hub has its cross-border incident
	// and the replay is done, instead of serving on.
	Exit bool
	// Out receives the narration.
	Out io.Writer
}

// fedNode is one node process of the federated demonstration.
type fedNode struct {
	name    string
	role    string        // "hub" or "member"
	member  member.Member // a member node's one organisation
	key     string        // that member's API key, or the hub's operator key
	dir     string        // the node's directory: config, data, log
	cfg     config.Config // what the node runs with
	url     string        // its REST API
	client  *http.Client  // for its API, with a timeout: a hung node fails a request
	cmd     *exec.Cmd     // the running process
	exited  chan struct{} // closed when it exits
	waitErr error         // why it exited
}

// RunFederation runs the demonstration with a hub and one member node per
// scenario member, each a separate "xsoc serve" process linked to the hub
// over NATS leaf nodes with mutual TLS. It generates a throwaway
// federation CA, node certificates and pseudonymisation secret, sets up
// each member on its own node (the national SOC's TLP:GREEN indicators on
// its node only: the others learn the campaign from the early warning),
// replays the scenario to each member's own node over HTTP ingest,
// narrates until the hub holds a cross-border incident, and then tells
// what the early warning did for each member node.
// The node processes are stopped when it returns, whatever the outcome;
// they also stop if this process dies (Linux).
func RunFederation(ctx context.Context, opts FederationOptions) (res Result, err error) {
	started := time.Now()
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Executable == "" {
		return Result{}, errors.New("demo: no xsoc executable to run the nodes with")
	}
	dir, err := filepath.Abs(filepath.Join(opts.DataDir, "federation"))
	if err != nil {
		return Result{}, err
	}
	// Throwaway: a fresh CA, fresh nodes, no incident of an earlier run.
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, err
	}
	cfg := demoScenario(opts.Seed, time.Now())
	nodes, err := planFederation(dir)
	if err != nil {
		return Result{}, err
	}
	if err := setupPKI(dir, nodes); err != nil {
		return Result{}, err
	}
	shared, err := setupNodes(ctx, dir, nodes, cfg)
	if err != nil {
		return Result{}, err
	}
	out := opts.Out
	fmt.Fprintf(out, "xsoc demo --federation: a hub and %d member nodes, each its own process, linked over NATS leaf nodes with mutual TLS\n", len(nodes)-1)
	fmt.Fprintf(out, "federation CA, certificates and the members' pseudonymisation secret in %s\n", filepath.Join(dir, "pki"))
	fmt.Fprintf(out, "%s shared %d indicators at TLP:GREEN on its own node (%s); the other nodes learn what it detects from the cross-border early warning\n",
		IntelOwner, shared, filepath.Join(dir, "intel", bundleFile))

	defer func() {
		if serr := stopNodes(nodes); err == nil {
			err = serr
		}
	}()
	for _, n := range nodes {
		if err := n.start(opts.Executable); err != nil {
			return Result{}, err
		}
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx); err != nil {
			return Result{}, err
		}
	}
	hub := nodes[0]
	for _, n := range nodes {
		switch n.role {
		case "hub":
			fmt.Fprintf(out, "  hub     %-8s %s   leaf nodes at %s\n", n.name, n.url, n.cfg.Federation.LeafListen)
		default:
			fmt.Fprintf(out, "  member  %-8s %s   %s (%s, %s)\n", n.name, n.url, n.member.ID, n.member.Country, n.member.Sector)
		}
	}
	if err := writeFederationKeys(dir, nodes); err != nil {
		return Result{}, err
	}
	fmt.Fprintf(out, "[%5.1fs] all nodes serving; keys in %s; try:\n", time.Since(started).Seconds(), filepath.Join(dir, "keys.json"))
	fmt.Fprintf(out, "  xsoc incidents list --cross-border --url %s --key %s\n\n", hub.url, hub.key)

	dests := map[string]endpoint{}
	for _, n := range nodes[1:] {
		dests[n.member.ID] = endpoint{n.url, n.key}
	}
	w := hubWatcher(hub, nodes[1:])
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		w.run(watchCtx, started, &res, out)
	}()
	replayCtx, stopReplay := context.WithCancel(ctx)
	defer stopReplay()
	go func() { // a node that dies ends the demonstration
		if n := firstExit(replayCtx, nodes); n != nil {
			stopReplay()
		}
	}()
	err = replay(replayCtx, dests, cfg, opts.Speed, &res, nil)
	if err == nil {
		err = drainMembers(replayCtx, nodes[1:], res.Sent)
	}
	var cross *correlate.Incident
	if err == nil {
		cross, err = awaitCrossBorder(replayCtx, hub, nodes[1:])
	}
	stopWatch()
	<-watched // res is the watcher's until it ends
	if res.CrossBorder == nil && cross != nil {
		// The watcher stopped before its next look at the hub.
		res.CrossBorder, res.After = cross, time.Since(started)
		announce(out, *cross, res.After, w.where)
	}
	if err := outcome(ctx, nodes, err); err != nil {
		return res, err
	}
	summarizeHub(ctx, hub, len(nodes)-1, &res, out)
	if list, err := shields(ctx, nodes[1:], cfg); err != nil {
		fmt.Fprintf(out, "early warning: not read: %v\n", err)
	} else {
		res.Shields = list
		printShields(out, list)
	}
	if res.CrossBorder == nil {
		return res, errors.New("the hub formed no cross-border incident")
	}
	if !opts.Exit {
		fmt.Fprintf(out, "\nreplay done; the nodes keep serving (hub at %s) — Ctrl-C to stop\n", hub.url)
		firstExit(ctx, nodes)
		return res, outcome(ctx, nodes, nil)
	}
	return res, nil
}

// outcome says how the demonstration ended, given err from its last step:
// ctx's error once ctx ended (Ctrl-C, which the terminal may also have
// sent the nodes: a node that exited or a request that failed then is no
// failure), else the failure of a node that exited on its own, else err.
func outcome(ctx context.Context, nodes []*fedNode, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if n := exitedNode(nodes); n != nil {
		return n.failure()
	}
	return err
}

// planFederation names the nodes — the hub first, then a node per
// scenario member, named after its country — and gives each a directory
// and free ports.
func planFederation(dir string) ([]*fedNode, error) {
	hub := &fedNode{name: HubNode, role: "hub"}
	nodes := []*fedNode{hub}
	for _, m := range scenario.DefaultMembers() {
		nodes = append(nodes, &fedNode{name: strings.ToLower(m.Country) + "-node", role: "member", member: demoMember(m)})
	}
	leaf, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pki := filepath.Join(dir, "pki")
	client := &http.Client{Timeout: apiTimeout}
	for _, n := range nodes {
		n.dir = filepath.Join(dir, n.name)
		api, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c := config.Default()
		c.DataDir, c.Listen, c.LogLevel = filepath.Join(n.dir, "data"), api, "info"
		c.Federation = config.Federation{Role: n.role, Node: n.name,
			Cert: filepath.Join(pki, n.name, federation.NodeCertFile(n.name)),
			Key:  filepath.Join(pki, n.name, federation.NodeKeyFile(n.name)),
			CA:   filepath.Join(pki, n.name, federation.CACertFile)}
		if n.role == "hub" {
			c.Federation.LeafListen = leaf
		} else {
			c.Federation.Hub, c.Federation.HubName = "tls://"+leaf, HubNode
			c.Federation.SecretFile = filepath.Join(pki, "secret")
		}
		n.cfg, n.url, n.client = c, "http://"+api, client
	}
	return nodes, nil
}

// apiTimeout bounds one request to a node's API, so that a hung node
// cannot hold a wait past its deadline.
const apiTimeout = 10 * time.Second

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// setupPKI creates the federation CA, a certificate per node and the
// secret the member nodes share.
func setupPKI(dir string, nodes []*fedNode) error {
	pki := filepath.Join(dir, "pki")
	ca, err := federation.NewCA("xsoc demo federation", time.Now())
	if err != nil {
		return err
	}
	if err := ca.Save(filepath.Join(pki, "ca")); err != nil {
		return err
	}
	for _, n := range nodes {
		nc, err := ca.Issue(n.name, []string{"127.0.0.1", "localhost"}, time.Now())
		if err != nil {
			return err
		}
		if err := nc.Save(filepath.Join(pki, n.name)); err != nil {
			return err
		}
	}
	return federation.WriteSecret(filepath.Join(pki, "secret"))
}

// bundleFile is the national SOC's published indicators.
const bundleFile = "fr-soc-campaign.json"

// setupNodes writes the national SOC's bundle, then prepares each node's
// store before the node starts: the hub's operator key; a member node's
// member (sharing its alerts at TLP:GREEN), and on the national SOC's
// own node the bundle, imported on its behalf. The other member nodes
// start without it: what they learn of the campaign comes from the
// early warning. It returns how many indicators the bundle holds.
func setupNodes(ctx context.Context, dir string, nodes []*fedNode, cfg scenario.Config) (int, error) {
	objs, raws, err := scenarioIntel(cfg)
	if err != nil {
		return 0, err
	}
	bundle, err := json.MarshalIndent(stix.NewBundle(objs...), "", " ")
	if err != nil {
		return 0, err
	}
	path := filepath.Join(dir, "intel", bundleFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return 0, err
	}
	if err := os.WriteFile(path, bundle, 0o640); err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n.role == "hub" {
				errs[i] = n.setupHub(ctx)
			} else {
				errs[i] = n.setup(ctx, raws)
			}
		}()
	}
	wg.Wait()
	return len(objs), errors.Join(errs...)
}

// openStore opens the node's store, before the node runs.
func (n *fedNode) openStore(ctx context.Context) (*store.DB, error) {
	if err := os.MkdirAll(n.cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	return node.OpenStore(ctx, n.cfg)
}

// setupHub creates the hub's operator key, the demonstration's to ask the
// hub with; "xsoc serve" then finds one and creates none.
func (n *fedNode) setupHub(ctx context.Context) error {
	db, err := n.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	n.key, err = member.NewRegistry(db).CreateOperatorKey(ctx)
	return err
}

// setup creates the node's member and, on the national SOC's node,
// imports the bundle's objects, raws, for it.
func (n *fedNode) setup(ctx context.Context, raws []json.RawMessage) error {
	db, err := n.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	reg := member.NewRegistry(db)
	if _, n.key, err = reg.Add(ctx, n.member); err != nil {
		return fmt.Errorf("node %s: member %s: %w", n.name, n.member.ID, err)
	}
	if n.member.ID != IntelOwner {
		return nil
	}
	repo, err := node.IntelRepo(db, n.cfg)
	if err != nil {
		return err
	}
	if err := node.EnsureSharedCollection(ctx, repo, reg); err != nil {
		return err
	}
	st, err := repo.AddObjects(ctx, intel.Viewer{Member: n.member.ID}, node.SharedCollection, raws)
	if err != nil {
		return fmt.Errorf("node %s: importing %s: %w", n.name, bundleFile, err)
	}
	if len(st.Failures) > 0 {
		return fmt.Errorf("node %s: %d indicators refused, first %s: %s", n.name, len(st.Failures), st.Failures[0].ID, st.Failures[0].Message)
	}
	return nil
}

// start writes the node's configuration file and starts "xsoc serve"
// with it, logging to the node's directory.
func (n *fedNode) start(exe string) error {
	data, err := yaml.Marshal(n.cfg)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(n.dir, "xsoc.yaml")
	if err := os.MkdirAll(n.dir, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(n.dir, "xsoc.log"))
	if err != nil {
		return err
	}
	n.cmd = exec.Command(exe, "serve", "--config", cfgPath)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	n.cmd.SysProcAttr = childAttrs()
	if err := n.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting node %s: %w", n.name, err)
	}
	n.exited = make(chan struct{})
	go func() {
		n.waitErr = n.cmd.Wait()
		log.Close()
		close(n.exited)
	}()
	return nil
}

// waitReady waits until the node answers on its API.
func (n *fedNode) waitReady(ctx context.Context) error {
	err := poll(ctx, time.Minute, 50*time.Millisecond, func() (bool, error) {
		select {
		case <-n.exited:
			return false, n.failure()
		default:
		}
		resp, err := n.client.Get(n.url + "/healthz")
		if err != nil {
			return false, nil // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if errors.Is(err, errPollTimeout) {
		return fmt.Errorf("node %s did not serve within a minute; its log: %s", n.name, filepath.Join(n.dir, "xsoc.log"))
	}
	return err
}

// failure describes why the node exited, with the end of its log.
func (n *fedNode) failure() error {
	logPath := filepath.Join(n.dir, "xsoc.log")
	tail, _ := os.ReadFile(logPath)
	if len(tail) > 2000 {
		tail = tail[len(tail)-2000:]
	}
	return fmt.Errorf("node %s exited (%v); the end of %s:\n%s", n.name, n.waitErr, logPath, tail)
}

// firstExit waits until a node exits (returning it) or ctx ends (nil).
func firstExit(ctx context.Context, nodes []*fedNode) *fedNode {
	exited := make(chan *fedNode, len(nodes))
	for _, n := range nodes {
		go func() {
			select {
			case <-n.exited:
				exited <- n
			case <-ctx.Done():
			}
		}()
	}
	select {
	case n := <-exited:
		return n
	case <-ctx.Done():
		return nil
	}
}

// exitedNode returns a node that has exited, if any.
func exitedNode(nodes []*fedNode) *fedNode {
	for _, n := range nodes {
		if n.exited == nil {
			continue
		}
		select {
		case <-n.exited:
			return n
		default:
		}
	}
	return nil
}

// stopNodes asks every running node to stop (SIGTERM: a clean shutdown)
// and kills those still running after fifteen seconds.
func stopNodes(nodes []*fedNode) error {
	var running []*fedNode
	for _, n := range nodes {
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		select {
		case <-n.exited:
		default:
			terminate(n.cmd.Process)
			running = append(running, n)
		}
	}
	deadline := time.After(15 * time.Second)
	var killed []string
	for _, n := range running {
		select {
		case <-n.exited:
		case <-deadline:
			n.cmd.Process.Kill()
			<-n.exited
			killed = append(killed, n.name)
		}
	}
	if len(killed) > 0 {
		return fmt.Errorf("nodes %s did not stop within 15s and were killed", strings.Join(killed, ", "))
	}
	return nil
}

// writeFederationKeys writes each node's URL and key (a member's API key,
// the hub's operator key) to keys.json.
func writeFederationKeys(dir string, nodes []*fedNode) error {
	type entry struct {
		URL    string `json:"url"`
		Member string `json:"member,omitempty"`
		Key    string `json:"key"`
	}
	keys := map[string]entry{}
	for _, n := range nodes {
		keys[n.name] = entry{URL: n.url, Member: n.member.ID, Key: n.key}
	}
	data, _ := json.MarshalIndent(keys, "", "  ")
	return os.WriteFile(filepath.Join(dir, "keys.json"), data, 0o600)
}

// getJSON reads one REST resource of node n into v.
func (n *fedNode) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+n.key)
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", n.url, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// crossBorder returns the node's latest cross-border incident, nil if it
// has none.
func (n *fedNode) crossBorder(ctx context.Context) (*correlate.Incident, error) {
	var page correlate.Page
	if err := n.getJSON(ctx, "/api/v1/incidents?cross_border=true&limit=1", &page); err != nil {
		return nil, err
	}
	if len(page.Incidents) == 0 {
		return nil, nil
	}
	return &page.Incidents[0], nil
}

// incidents returns the node's latest incidents (up to 500).
func (n *fedNode) incidents(ctx context.Context) ([]correlate.Incident, error) {
	var page correlate.Page
	err := n.getJSON(ctx, "/api/v1/incidents?limit=500", &page)
	return page.Incidents, err
}

// hasNotice reports whether the member node raised an alert for a hub
// notice.
func (n *fedNode) hasNotice(ctx context.Context) bool {
	var page struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	err := n.getJSON(ctx, "/api/v1/alerts?limit=1&detector="+federation.NoticeDetector, &page)
	return err == nil && len(page.Alerts) > 0
}

// alertCount counts the node's alerts.
func (n *fedNode) alertCount(ctx context.Context) (int, error) {
	return n.countAlerts(ctx, nil)
}

// countAlerts counts the node's alerts for which keep holds (all if keep
// is nil), a page of the API's largest size at a time.
func (n *fedNode) countAlerts(ctx context.Context, keep func(*alert.Alert) bool) (int, error) {
	return countPaged(func(cursor string) (int, string, error) {
		var page alert.Page
		if err := n.getJSON(ctx, "/api/v1/alerts?limit=1000&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return 0, "", err
		}
		kept := 0
		for i := range page.Alerts {
			if keep == nil || keep(&page.Alerts[i]) {
				kept++
			}
		}
		return kept, page.Next, nil
	})
}

// hubWatcher narrates from the hub, every quarter second: its first
// cross-border incident, then the notices member nodes get about it.
func hubWatcher(hub *fedNode, members []*fedNode) watcher {
	noticed := map[string]bool{}
	return watcher{from: hub, every: 250 * time.Millisecond, where: " at the hub " + hub.name,
		progress: "[%5.1fs] %d events ingested at the member nodes; %d alerts shared with the hub\n",
		then: func(ctx context.Context, started time.Time, out io.Writer) {
			for _, n := range members {
				if !noticed[n.name] && n.hasNotice(ctx) {
					noticed[n.name] = true
					fmt.Fprintf(out, "[%5.1fs] %s told by the hub: an alert of %s is part of the cross-border incident\n",
						time.Since(started).Seconds(), n.name, n.member.ID)
				}
			}
		}}
}

// drainMembers waits until the member nodes' pipelines have stored every
// event sent.
func drainMembers(ctx context.Context, members []*fedNode, sent int64) error {
	err := poll(ctx, 2*time.Minute, 250*time.Millisecond, func() (bool, error) {
		var stored int64
		for _, n := range members {
			var c struct {
				Count int64 `json:"count"`
			}
			if err := n.getJSON(ctx, "/api/v1/events/count", &c); err != nil {
				return false, err
			}
			stored += c.Count
		}
		return stored >= sent, nil
	})
	if errors.Is(err, errPollTimeout) {
		return errors.New("the member nodes did not store the replay within two minutes")
	}
	return err
}

// awaitCrossBorder waits, once the member nodes stored the replay, until
// the hub holds a cross-border incident and every alert the member nodes
// may share has reached it, and returns that incident. It asks the hub
// itself: the watcher's Result is not to be read while the watcher runs.
func awaitCrossBorder(ctx context.Context, hub *fedNode, members []*fedNode) (*correlate.Incident, error) {
	var inc *correlate.Incident
	err := poll(ctx, 2*time.Minute, 250*time.Millisecond, func() (bool, error) {
		shareable, err := shareableAlerts(ctx, members)
		if err != nil {
			return false, err
		}
		at, err := hub.alertCount(ctx)
		if err != nil {
			return false, err
		}
		if inc == nil {
			if inc, err = hub.crossBorder(ctx); err != nil {
				return false, err
			}
		}
		return inc != nil && at >= shareable, nil
	})
	switch {
	case errors.Is(err, errPollTimeout) && inc == nil:
		return nil, errors.New("the hub formed no cross-border incident within two minutes of the replay's end")
	case errors.Is(err, errPollTimeout):
		return nil, errors.New("the member nodes' alerts did not all reach the hub within two minutes")
	case err != nil:
		return nil, err
	}
	return inc, nil
}

// shareableAlerts counts the member nodes' alerts that may leave them.
func shareableAlerts(ctx context.Context, members []*fedNode) (int, error) {
	total := 0
	for _, n := range members {
		c, err := n.countAlerts(ctx, federation.MayLeave)
		if err != nil {
			return 0, err
		}
		total += c
	}
	return total, nil
}

// summarizeHub prints what the hub holds once the replay to the member
// nodes is done.
func summarizeHub(ctx context.Context, hub *fedNode, members int, res *Result, out io.Writer) {
	incidents, cross, err := tally(ctx, hub, res)
	if err != nil {
		return
	}
	fmt.Fprintf(out, "\nreplayed %d events (%d rejected) to %d member nodes; the hub holds %d alerts, %d incidents, %d cross-border\n",
		res.Sent, res.Rejected, members, res.Alerts, incidents, cross)
}
