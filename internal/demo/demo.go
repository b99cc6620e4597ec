package demo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/pipeline"
	"github.com/xsoc/xsoc/internal/scenario"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Options configure a demonstration.
type Options struct {
	// Config is the node's configuration (data directory, listen address).
	Config config.Config
	// Seed selects the scenario.
	Seed uint64
	// Speed is scenario seconds replayed per wall-clock second; 0 replays
	// as fast as ingest takes it.
	Speed float64
	// Exit stops the node once the replay is done instead of serving on.
	Exit bool
	// Out receives the narration; Log the node's log.
	Out io.Writer
	Log *slog.Logger
}

// Result says what the demonstration achieved.
type Result struct {
	Sent     int64
	Rejected int64
	// CrossBorder is the first cross-border incident, and After how long
	// after the replay started it stood.
	CrossBorder *correlate.Incident
	After       time.Duration
	Alerts      int
	// Shields is, in the federated demonstration, what the cross-border
	// early warning did for each member node.
	Shields []Shield
}

// Run starts a node, sets up the demo members and intel, replays the
// scenario through HTTP ingest and narrates detections until the replay
// ends (and, unless Exit, until ctx ends).
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := demoScenario(opts.Seed, time.Now())
	if err := freshDataDir(opts.Config.DataDir, opts.Out); err != nil {
		return Result{}, err
	}
	n, err := node.Open(ctx, opts.Config, opts.Log)
	if err != nil {
		return Result{}, err
	}
	keys, err := setupMembers(ctx, n, cfg)
	if err != nil {
		n.Close()
		return Result{}, err
	}
	operatorKey, err := n.EnsureOperatorKey(ctx)
	if err != nil {
		n.Close()
		return Result{}, err
	}
	if err := shareIntel(ctx, n, cfg, opts.Out); err != nil {
		n.Close()
		return Result{}, err
	}
	logins, err := setupLogins(ctx, n, slices.Collect(maps.Keys(keys)))
	if err != nil {
		n.Close()
		return Result{}, err
	}
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- n.Run(nodeCtx) }()
	printAccess(opts.Out, n.URL(), opts.Config.DataDir, operatorKey, keys[IntelOwner])
	printLogins(opts.Out, n.URL(), logins, filepath.Join(opts.Config.DataDir, "demo-logins.json"))
	fmt.Fprintln(opts.Out)

	var res Result
	started := time.Now()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		w := watcher{from: local{n}, every: time.Second, progress: "[%5.1fs] %d events ingested, %d alerts\n"}
		w.run(watchCtx, started, &res, opts.Out)
	}()
	err = replay(ctx, endpoints(n.URL(), keys), cfg, opts.Speed, &res, func() error { return drain(ctx, n, bus.DetectConsumer) })
	if err == nil {
		err = drain(ctx, n, n.Bus.IngestConsumers()...)
	}
	stopWatch()
	<-watched
	if err == nil {
		summarize(ctx, n, &res, opts.Out)
	}
	if err == nil && !opts.Exit {
		fmt.Fprintf(opts.Out, "\nreplay done; the node keeps serving at %s — Ctrl-C to stop\n", n.URL())
		select {
		case <-ctx.Done():
		case err = <-nodeDone:
			nodeDone = nil // the node stopped on its own
		}
	}
	stopNode()
	if nodeDone != nil {
		if nerr := <-nodeDone; err == nil {
			err = nerr
		}
	}
	return res, err
}

// recentStart moves the scenario to the most recent day on which it lies
// wholly in the past, keeping its weekday and time of day (and so its
// office-hours rhythm and event counts): nothing arrives from the future,
// and the replay compresses hours into seconds.
func recentStart(cfg scenario.Config, now time.Time) time.Time {
	loc := cfg.Start.Location()
	h, m, s := cfg.Start.Clock()
	y, mo, d := now.In(loc).Date()
	start := time.Date(y, mo, d, h, m, s, 0, loc)
	for start.Add(cfg.Duration).After(now) || start.Weekday() != cfg.Start.Weekday() {
		start = start.AddDate(0, 0, -1)
	}
	return start
}

// demoScenario is the demonstration's scenario moved to a recent date by
// recentStart; its DGA keeps the names of the configured week, so every
// run replays the same events whatever the date.
func demoScenario(seed uint64, now time.Time) scenario.Config {
	cfg := scenario.DemoConfig(seed)
	cfg.DGAWeek = cfg.Start
	cfg.Start = recentStart(cfg, now)
	return cfg
}

// drain waits until the pipeline has finished every batch sent by the
// consumers named: detection has raised and correlated the batch's
// alerts, the archive stored its events. Each acknowledges a batch only
// after its work is done, so a consumer with nothing pending and nothing
// awaiting acknowledgement has finished. It looks again after 100 µs,
// then less and less often, up to every 50 ms.
func drain(ctx context.Context, n *node.Node, consumers ...string) error {
	wait := 100 * time.Microsecond
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var pending uint64
		for _, c := range consumers {
			p, err := pipeline.Pending(ctx, n.Bus, c)
			if err != nil {
				return err
			}
			pending += p
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the pipeline did not catch up within two minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// setupMembers creates the scenario's members (or gives existing ones a
// fresh key) and writes the keys to demo-keys.json.
func setupMembers(ctx context.Context, n *node.Node, cfg scenario.Config) (map[string]string, error) {
	keys := map[string]string{}
	members := scenario.DefaultMembers()
	// The others are clients of the intel owner: it must exist first.
	slices.SortStableFunc(members, func(a, b scenario.Member) int {
		return cmp.Compare(boolRank(a.ID != IntelOwner), boolRank(b.ID != IntelOwner))
	})
	for _, m := range members {
		mem := demoMember(m)
		if m.ID != IntelOwner {
			mem.ClientOf = []string{IntelOwner}
		}
		_, key, err := n.Members.Add(ctx, mem)
		if errors.Is(err, member.ErrExists) {
			if err = n.Members.SetAlertTLP(ctx, m.ID, *mem.AlertTLP); err == nil {
				key, err = n.Members.RotateKey(ctx, m.ID)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo member %s: %w", m.ID, err)
		}
		keys[m.ID] = key
	}
	if err := n.GrantSharedWrite(ctx); err != nil {
		return nil, err
	}
	data, _ := json.MarshalIndent(keys, "", "  ")
	return keys, os.WriteFile(filepath.Join(n.Config.DataDir, "demo-keys.json"), data, 0o600)
}

// demoMember is the platform member for a scenario member. The demo's
// members agreed to share their alerts with the whole community
// (TLP:GREEN); a new member's default is TLP:AMBER.
func demoMember(m scenario.Member) member.Member {
	green := tlp.Green
	return member.Member{ID: m.ID, Name: m.Name, Country: m.Country,
		Sector: strings.ReplaceAll(strings.ToLower(m.Sector), " ", "-"), Public: m.Public, AlertTLP: &green}
}

// scenarioIntel returns the national SOC's indicators about the
// scenario's campaigns, valid from the day before it starts, both as STIX
// objects and marshalled for the intel repository.
func scenarioIntel(cfg scenario.Config) ([]stix.Object, []json.RawMessage, error) {
	objs, err := campaignIntel(cfg)
	if err != nil {
		return nil, nil, err
	}
	raws, err := RawObjects(objs)
	return objs, raws, err
}

// campaignIntel is the national SOC's report on the infrastructure of
// cfg's campaigns, published the day before they start.
func campaignIntel(cfg scenario.Config) ([]stix.Object, error) {
	campaigns, err := scenario.Campaigns(cfg)
	if err != nil {
		return nil, err
	}
	return SharedIntel(campaigns, cfg.Start.Add(-24*time.Hour))
}

// shareIntel stores the national SOC's report on the campaign
// infrastructure in the shared collection.
func shareIntel(ctx context.Context, n *node.Node, cfg scenario.Config, out io.Writer) error {
	_, raws, err := scenarioIntel(cfg)
	if err != nil {
		return err
	}
	st, err := n.Intel.AddObjects(ctx, intel.Viewer{Member: IntelOwner}, node.SharedCollection, raws)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s shared %d indicators of campaign infrastructure at TLP:GREEN (%d refused)\n",
		IntelOwner, len(st.Successes), len(st.Failures))
	for _, f := range st.Failures {
		fmt.Fprintf(out, "  refused %s: %s\n", f.ID, f.Message)
	}
	return nil
}

// batchKey groups records for one request.
type batchKey struct{ member, format string }

// endpoint is where a member's telemetry goes: a node's URL and the
// member's API key there.
type endpoint struct{ url, key string }

// endpoints sends every member's telemetry to one node.
func endpoints(url string, keys map[string]string) map[string]endpoint {
	out := make(map[string]endpoint, len(keys))
	for id, key := range keys {
		out[id] = endpoint{url, key}
	}
	return out
}

// batchSpan is the scenario time one ingest request of a member covers.
// Batches are cut by scenario time, never by wall-clock time, and sent one
// at a time in a fixed order, so every run hands the pipeline the same
// batches in the same order whatever the speed and the machine's load —
// and the node forms the same alerts and incidents.
const batchSpan = 30 * time.Second

// maxBatchLines bounds one request.
const maxBatchLines = 1000

// replay streams the scenario to each member's ingest endpoint, paced to
// speed.
//
// settle, if set, runs after every request; the single-node
// demonstration waits there until the pipeline finished the batch, so
// that batches are processed one by one in the order sent.
func replay(ctx context.Context, dests map[string]endpoint, cfg scenario.Config, speed float64, res *Result, settle func() error) error {
	client := &http.Client{Timeout: time.Minute}
	pending := map[batchKey]*bytes.Buffer{}
	counts := map[batchKey]int{}
	send := func(k batchKey) error {
		buf := pending[k]
		if buf == nil || buf.Len() == 0 {
			return nil
		}
		dest := dests[k.member]
		rej, err := post(ctx, client, dest.url, dest.key, k.format, buf.Bytes())
		if err != nil {
			return err
		}
		res.addSent(int64(counts[k]-rej), int64(rej))
		buf.Reset()
		counts[k] = 0
		if settle != nil {
			return settle()
		}
		return nil
	}
	flush := func() error {
		for _, k := range sortedKeys(pending) {
			if err := send(k); err != nil {
				return err
			}
		}
		return nil
	}
	wallStart := time.Now()
	spanEnd := cfg.Start.Add(batchSpan)
	err := scenario.Stream(cfg, func(rec scenario.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for !rec.Time.Before(spanEnd) {
			if err := flush(); err != nil {
				return err
			}
			if err := pace(ctx, wallStart, spanEnd.Sub(cfg.Start), speed); err != nil {
				return err
			}
			spanEnd = spanEnd.Add(batchSpan)
		}
		k := batchKey{rec.Member, rec.Format}
		buf := pending[k]
		if buf == nil {
			buf = new(bytes.Buffer)
			pending[k] = buf
		}
		buf.Write(rec.Line)
		buf.WriteByte('\n')
		counts[k]++
		if counts[k] >= maxBatchLines {
			return send(k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// pace waits until scenario time offset is due at speed (0: never waits).
func pace(ctx context.Context, wallStart time.Time, offset time.Duration, speed float64) error {
	if speed <= 0 {
		return nil
	}
	wait := time.Until(wallStart.Add(time.Duration(float64(offset) / speed)))
	if wait <= 0 {
		return nil
	}
	select {
	case <-time.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sortedKeys returns the batch keys in a fixed order.
func sortedKeys(m map[batchKey]*bytes.Buffer) []batchKey {
	keys := make([]batchKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b batchKey) int {
		return cmp.Or(cmp.Compare(a.member, b.member), cmp.Compare(a.format, b.format))
	})
	return keys
}

// post sends one NDJSON body, retrying while the node asks to, and
// returns the number of rejected lines.
func post(ctx context.Context, client *http.Client, url, key, format string, body []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/ingest?format="+format, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		var r struct {
			Rejected int    `json:"rejected"`
			Error    string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return r.Rejected, nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && attempt < 50:
			time.Sleep(200 * time.Millisecond)
		default:
			return 0, fmt.Errorf("ingest answered %s: %s", resp.Status, r.Error)
		}
	}
}

// announce prints a cross-border incident; where says where it stands
// (" at the hub"), empty for the demonstration's only node.
func announce(out io.Writer, inc correlate.Incident, after time.Duration, where string) {
	fmt.Fprintf(out, "\n*** cross-border incident%s after %.1fs: %s\n", where, after.Seconds(), inc.Title)
	fmt.Fprintln(out, incidentFacts(inc))
	fmt.Fprintf(out, "    incident %s\n\n", inc.ID)
}

// incidentFacts is the indented line of an incident's countries, members,
// severity and techniques.
func incidentFacts(inc correlate.Incident) string {
	line := fmt.Sprintf("    countries %s · members %s · severity %s",
		strings.Join(inc.Countries, ", "), strings.Join(inc.Members, ", "), inc.Severity)
	if len(inc.Techniques) > 0 {
		line += " · techniques " + strings.Join(inc.Techniques, ", ")
	}
	return line
}

// summarize prints what the node holds once the replay is done, and the
// latest cross-border incident as it stands then.
func summarize(ctx context.Context, n *node.Node, res *Result, out io.Writer) {
	incidents, cross, err := tally(ctx, local{n}, res)
	if err != nil {
		return
	}
	fmt.Fprintf(out, "\nreplayed %d events (%d rejected): %d alerts, %d incidents, %d cross-border\n",
		res.Sent, res.Rejected, res.Alerts, incidents, cross)
	if inc, err := (local{n}).crossBorder(ctx); err == nil && inc != nil {
		res.CrossBorder = inc
		fmt.Fprintf(out, "cross-border incident %s: %s\n%s\n", inc.ID, inc.Title, incidentFacts(*inc))
	}
}

// addSent counts lines ingest accepted and rejected; the watcher reads
// Sent meanwhile.
func (r *Result) addSent(sent, rejected int64) {
	atomic.AddInt64(&r.Sent, sent)
	atomic.AddInt64(&r.Rejected, rejected)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// demoMarkers are files only a demonstration writes to its data
// directory: a directory holding one is a demonstration's, safe to clear.
var demoMarkers = []string{"demo-keys.json", filepath.Join("federation", "keys.json")}

// freshDataDir makes sure the demonstration starts from nothing: it
// removes an earlier demonstration's data directory, saying so, and
// refuses to touch a non-empty directory that is not a demonstration's.
func freshDataDir(dir string, out io.Writer) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, m := range demoMarkers {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			fmt.Fprintf(out, "starting fresh: removing the earlier demonstration's data in %s\n", dir)
			return os.RemoveAll(dir)
		}
	}
	return fmt.Errorf("%s is not empty and holds no earlier demonstration's data: choose another --data-dir", dir)
}

// printAccess tells how to reach the demonstration's node: as a member
// and as the operator.
func printAccess(out io.Writer, url, dataDir, operatorKeyFile, memberKey string) {
	if operatorKeyFile == "" {
		operatorKeyFile = filepath.Join(dataDir, "operator.key")
	}
	fmt.Fprintf(out, "\nxsoc demo: node at %s (data in %s); REST API %s/api/v1, TAXII 2.1 %s/taxii2/\n", url, dataDir, url, url)
	fmt.Fprintf(out, "every call takes an API key; member keys are in %s, the operator key in %s. Try:\n",
		filepath.Join(dataDir, "demo-keys.json"), operatorKeyFile)
	fmt.Fprintf(out, "  xsoc incidents list --cross-border --url %s --key %s\n", url, memberKey)
	fmt.Fprintf(out, "  xsoc alerts metrics --url %s --key @%s\n", url, operatorKeyFile)
	fmt.Fprintf(out, "  curl -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/openapi.json\n", operatorKeyFile, url)
}
