package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
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
	cfg := scenario.DemoConfig(opts.Seed)
	cfg.Start = recentStart(cfg, time.Now())
	n, err := node.Open(ctx, opts.Config, opts.Log)
	if err != nil {
		return Result{}, err
	}
	keys, err := setupMembers(ctx, n, cfg)
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
	fmt.Fprintf(opts.Out, "\nxsoc demo: node at %s (data in %s)\n", n.URL(), opts.Config.DataDir)
	fmt.Fprintf(opts.Out, "REST API at %s/api/v1, described at %s/api/v1/openapi.json; TAXII 2.1 at %s/taxii2/\n", n.URL(), n.URL(), n.URL())
	printLogins(opts.Out, n.URL(), logins, filepath.Join(opts.Config.DataDir, "demo-logins.json"))
	fmt.Fprintf(opts.Out, "member API keys are in %s; try:\n", filepath.Join(opts.Config.DataDir, "demo-keys.json"))
	fmt.Fprintf(opts.Out, "  xsoc incidents list --cross-border --url %s --key %s\n\n", n.URL(), keys["fr-soc"])

	var res Result
	started := time.Now()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		w := watcher{from: local{n}, every: time.Second, progress: "[%5.1fs] %d events ingested, %d alerts\n"}
		w.run(watchCtx, started, &res, opts.Out)
	}()
	err = replay(ctx, endpoints(n.URL(), keys), cfg, opts.Speed, &res)
	if err == nil {
		err = drain(ctx, n, keys, res.Sent)
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
// wholly in the past, keeping its time of day (and so its office-hours
// rhythm): nothing arrives from the future, and the replay compresses
// hours into seconds.
func recentStart(cfg scenario.Config, now time.Time) time.Time {
	loc := cfg.Start.Location()
	h, m, s := cfg.Start.Clock()
	y, mo, d := now.In(loc).Date()
	start := time.Date(y, mo, d, h, m, s, 0, loc)
	for start.Add(cfg.Duration).After(now) {
		start = start.AddDate(0, 0, -1)
	}
	return start
}

// drain waits until the archive has stored every event sent and
// detection has handled them.
func drain(ctx context.Context, n *node.Node, keys map[string]string, sent int64) error {
	err := poll(ctx, 2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		var stored int64
		for id := range keys {
			c, err := n.Archive.Total(ctx, id)
			if err != nil {
				return false, err
			}
			stored += c
		}
		if stored < sent {
			return false, nil
		}
		return n.CaughtUp(ctx)
	})
	if errors.Is(err, errPollTimeout) {
		return errors.New("the pipeline did not catch up within two minutes")
	}
	if err == nil {
		time.Sleep(500 * time.Millisecond) // the last batch's alerts follow its events
	}
	return err
}

// setupMembers creates the scenario's members (or gives existing ones a
// fresh key) and writes the keys to demo-keys.json.
func setupMembers(ctx context.Context, n *node.Node, cfg scenario.Config) (map[string]string, error) {
	keys := map[string]string{}
	for _, m := range scenario.DefaultMembers() {
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

// replay streams the scenario to each member's ingest endpoint, paced to
// speed.
func replay(ctx context.Context, dests map[string]endpoint, cfg scenario.Config, speed float64, res *Result) error {
	client := &http.Client{Timeout: time.Minute}
	pending := map[batchKey]*bytes.Buffer{}
	counts := map[batchKey]int{}
	var sendErr atomic.Pointer[error]
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	flush := func() {
		for k, buf := range pending {
			if buf.Len() == 0 {
				continue
			}
			body := bytes.Clone(buf.Bytes())
			lines := counts[k]
			buf.Reset()
			counts[k] = 0
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				dest := dests[k.member]
				rej, err := post(ctx, client, dest.url, dest.key, k.format, body)
				if err != nil {
					sendErr.CompareAndSwap(nil, &err)
					return
				}
				atomic.AddInt64(&res.Sent, int64(lines-rej))
				atomic.AddInt64(&res.Rejected, int64(rej))
			}()
		}
		wg.Wait()
	}
	wallStart := time.Now()
	lastFlush := wallStart
	err := scenario.Stream(cfg, func(rec scenario.Record) error {
		if p := sendErr.Load(); p != nil {
			return *p
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if speed > 0 {
			due := wallStart.Add(time.Duration(float64(rec.Time.Sub(cfg.Start)) / speed))
			if wait := time.Until(due); wait > 0 {
				flush()
				lastFlush = time.Now()
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
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
		if counts[k] >= 1000 || time.Since(lastFlush) > 200*time.Millisecond {
			flush()
			lastFlush = time.Now()
		}
		return nil
	})
	flush()
	if p := sendErr.Load(); p != nil && err == nil {
		err = *p
	}
	return err
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
	line := fmt.Sprintf("    countries %s · members %s · severity %s",
		strings.Join(inc.Countries, ", "), strings.Join(inc.Members, ", "), inc.Severity)
	if len(inc.Techniques) > 0 {
		line += " · techniques " + strings.Join(inc.Techniques, ", ")
	}
	fmt.Fprintln(out, line)
	fmt.Fprintf(out, "    incident %s\n\n", inc.ID)
}

// summarize prints what the node holds once the replay is done.
func summarize(ctx context.Context, n *node.Node, res *Result, out io.Writer) {
	incidents, cross, err := tally(ctx, local{n}, res)
	if err != nil {
		return
	}
	fmt.Fprintf(out, "\nreplayed %d events (%d rejected): %d alerts, %d incidents, %d cross-border\n",
		res.Sent, res.Rejected, res.Alerts, incidents, cross)
}
