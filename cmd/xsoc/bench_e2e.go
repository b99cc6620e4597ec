package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
	"github.com/xsoc/xsoc/internal/pipeline"
	"github.com/xsoc/xsoc/internal/store"
)

// benchE2E drives HTTP ingest at a fixed rate into a fresh node for a
// bounded time and reports what came out the other end: events accepted,
// detected and archived per second, ingest→alert latency, archive lag,
// memory, and loss.
func benchE2E(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench e2e", flag.ContinueOnError)
	rate := fs.Int("rate", 50000, "events per second offered")
	duration := fs.Duration("duration", 60*time.Second, "how long to send (the run stops by itself)")
	batch := fs.Int("batch", 500, "events per request (one of them malicious, on a host of its own)")
	indicators := fs.Int("indicators", 1_000_000, "indicators loaded into the IOC index")
	modes := fs.String("mode", "embedded", "embedded, external (NATS and PostgreSQL below), or both")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "external NATS JetStream for --mode external")
	pgURL := fs.String("postgres-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL for --mode external")
	workers := fs.Int("workers", 2, "detection: pipeline workers per node (embedded), or detection worker nodes (external)")
	asJSON := fs.Bool("json", false, "print JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the sending and catching-up phases, client included, to this file (one run: with --mode both, the last mode's)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *rate <= 0 || *batch < 2 || *duration <= 0 || *duration > 10*time.Minute {
		return errors.New("want --rate > 0, --batch ≥ 2 and 0 < --duration ≤ 10m")
	}
	var results []e2eResult
	for _, mode := range strings.Split(*modes, ",") {
		if mode == "both" {
			mode = "embedded,external"
		}
		for _, m := range strings.Split(mode, ",") {
			cfg := config.Default()
			cfg.Workers = *workers
			switch m {
			case "embedded":
			case "external":
				cfg.NATSURL, cfg.PostgresURL = *natsURL, *pgURL
				cfg.Workers = 2
			default:
				return fmt.Errorf("--mode %q: want embedded, external or both", m)
			}
			fmt.Fprintf(stderr, "bench e2e: %s, %d events/s for %v, %d indicators…\n", m, *rate, *duration, *indicators)
			r, err := runE2E(m, cfg, *workers, *rate, *batch, *indicators, *duration, *cpuProfile)
			if err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
			results = append(results, r)
		}
	}
	if *asJSON {
		return printJSON(stdout, results)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\toffered/s\taccepted/s\tdetected/s\tarchived/s\talert p50\tp99\tp999\talerts\tarchive lag max\tdrain\tRSS peak\tlost\tCPU µs/event\tevents/s per core\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%v\t%v\t%v\t%d/%d\t%v\t%v\t%d MB\t%d\t%.1f\t%.0f\t\n", r.Mode, r.Offered,
			r.AcceptedPerSec, r.DetectedPerSec, r.ArchivedPerSec, r.P50, r.P99, r.P999, r.Alerts, r.Victims,
			r.ArchiveLagMax, r.Drain, r.RSSPeakMB, r.Lost, r.CPUMicrosPerEvent, r.EventsPerCPUSec)
	}
	tw.Flush()
	for _, r := range results {
		if len(r.Parses) > 0 {
			fmt.Fprintf(stdout, "batches parsed / reused from the other path (%s): %s\n", r.Mode, formatParses(r.Parses))
		}
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "detection step per batch\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s p50\tp99\t≤ max\t", r.Mode)
	}
	fmt.Fprintln(tw)
	for i, name := range pipeline.StageNames {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range results {
			if i < len(r.Stages) {
				st := r.Stages[i]
				fmt.Fprintf(tw, "%v\t%v\t%v\t", st.P50.Round(10*time.Microsecond), st.P99.Round(10*time.Microsecond), st.Max.Round(10*time.Microsecond))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "(client and node share %d cores, and one process: CPU is the process's user+system time over sending and catching up, client included, per accepted event; events/s per core = accepted events per CPU-second; ingest→alert: request sent → alert committed; detected/archived per second over the send time plus the time each took to catch up; archive lag: accepted minus archived events, in seconds of offered load; lost: accepted events missing from the archive plus victims never alerted; detection steps, from the node's %s histogram: queued = accepted → taken by a detection worker, prepare = normalise and detect, wait = for the committer, commit = raise, store and correlate the alerts of its group, ack = acknowledge on the bus)\n", runtime.NumCPU(), pipeline.StageMetric)
	return nil
}

// e2eResult is one mode's outcome.
type e2eResult struct {
	Mode           string        `json:"mode"`
	Offered        int           `json:"offered_per_sec"`
	Accepted       int64         `json:"accepted"`
	AcceptedPerSec float64       `json:"accepted_per_sec"`
	DetectedPerSec float64       `json:"detected_per_sec"`
	ArchivedPerSec float64       `json:"archived_per_sec"`
	P50            time.Duration `json:"alert_p50_ns"`
	P99            time.Duration `json:"alert_p99_ns"`
	P999           time.Duration `json:"alert_p999_ns"`
	Alerts         int           `json:"victims_alerted"`
	Victims        int           `json:"victims"`
	ArchiveLagMax  time.Duration `json:"archive_lag_max_ns"`
	Drain          time.Duration `json:"archive_drain_ns"`
	RSSPeakMB      int64         `json:"rss_peak_mb"`
	Lost           int64         `json:"lost"`
	Rejected       int64         `json:"rejected_requests"`
	// CPU is the process's user+system time over sending and catching
	// up: client and node run in this one process, so it counts both.
	CPU               time.Duration `json:"cpu_ns"`
	CPUMicrosPerEvent float64       `json:"cpu_us_per_event"`
	EventsPerCPUSec   float64       `json:"events_per_cpu_sec"` // accepted events per CPU-second: events/s per core
	// Parses counts, per path, the accepted batches it parsed itself and
	// those it took parsed from the other path (xsoc_pipeline_parses_total).
	Parses []pathParses `json:"parses,omitempty"`
	// Stages are the detection steps' per-batch times (see
	// pipeline.StageNames), which say where ingest→alert latency goes.
	Stages []stageTime `json:"stages"`
}

// stageTime is one detection step's per-batch time percentiles.
type stageTime struct {
	Stage string        `json:"stage"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"` // the upper bound of the highest bucket reached
}

func runE2E(mode string, cfg config.Config, workers, rate, batch, indicators int, duration time.Duration, cpuProfile string) (e2eResult, error) {
	res := e2eResult{Mode: mode, Offered: rate}
	dir, err := os.MkdirTemp("", "xsoc-bench-e2e-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg.DataDir, cfg.Listen = filepath.Join(dir, "data"), "127.0.0.1:0"
	// Each mode's peak memory is its own: reset the process's peak
	// resident size (Linux; elsewhere the peak spans the runs).
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n *node.Node
	var detectors []*node.Node
	var parts []*node.Node
	if mode == "external" {
		res.Mode = fmt.Sprintf("external, %d detection workers", workers)
		done, err := benchSchema(ctx, &cfg)
		if err != nil {
			return res, err
		}
		defer done()
		if parts, err = openScaled(ctx, cfg, workers); err != nil {
			return res, err
		}
		defer deleteNamespace(cfg)
		n, detectors = parts[0], parts[1:1+workers]
	} else {
		if n, err = node.Open(ctx, cfg, newLogger(io.Discard, "error")); err != nil {
			return res, err
		}
		parts, detectors = []*node.Node{n}, []*node.Node{n}
	}
	memberID := fmt.Sprintf("bench-%d", time.Now().UnixNano()) // unique: an external archive may hold earlier runs
	_, key, err := n.Members.Add(ctx, member.Member{ID: memberID, Name: "Bench", Country: "DE", Sector: "energy"})
	if err != nil {
		closeAll(parts)
		return res, err
	}
	for _, d := range detectors {
		if err := ioc.AddSynthetic(d.IOC, indicators); err != nil {
			closeAll(parts)
			return res, err
		}
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	for _, d := range detectors {
		d.Alerts.OnAlert(alertLatency(&mu, sent, &lat))
	}
	var running sync.WaitGroup
	for _, p := range parts {
		running.Add(1)
		go func() { defer running.Done(); p.Run(ctx) }()
	}
	defer func() { cancel(); running.Wait() }()
	runtime.GC()
	// Only the measured phases: opening the node and loading the
	// indicators would otherwise dominate a short run's profile.
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return res, err
	}
	defer stopProfile()

	bodies := e2eBodies(batch-1, 16)
	cpu0 := processCPU()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}, Timeout: time.Minute}
	var accepted, rejected atomic.Int64
	var victims int
	var wg sync.WaitGroup
	inflight := make(chan struct{}, 64)
	interval := time.Duration(float64(time.Second) * float64(batch) / float64(rate))
	start := time.Now()
	stopSampling := make(chan struct{})
	var lagMax time.Duration
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { // archive lag: what was accepted but is not archived yet
		defer sampler.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			archived, _ := n.Archive.Total(ctx, memberID)
			backlog := accepted.Load() - archived
			if d := time.Duration(float64(backlog) / float64(rate) * float64(time.Second)); d > lagMax {
				lagMax = d
			}
		}
	}()
	for i := 0; time.Since(start) < duration; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		host := fmt.Sprintf("VICTIM-%d-%d", start.UnixNano()%1e6, i)
		common, bad := bodies[i%len(bodies)], maliciousLine(host)
		inflight <- struct{}{}
		mu.Lock()
		sent[host] = time.Now()
		mu.Unlock()
		victims++
		wg.Add(1)
		go func() {
			defer func() { <-inflight; wg.Done() }()
			req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/ingest", io.MultiReader(bytes.NewReader(common), bytes.NewReader(bad)))
			req.ContentLength = int64(len(common) + len(bad))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err != nil {
				rejected.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				rejected.Add(1)
				mu.Lock()
				delete(sent, host) // not accepted: not expected
				mu.Unlock()
				return
			}
			accepted.Add(int64(batch))
		}()
	}
	wg.Wait()
	sendTime := time.Since(start)
	// Catch up: detection and the archive each finish what was accepted.
	var detectDone, archiveDone time.Duration
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) && (detectDone == 0 || archiveDone == 0) {
		if detectDone == 0 {
			if p, err := pipeline.PendingDetection(ctx, n.Bus); err == nil && p == 0 {
				detectDone = time.Since(start)
			}
		}
		if archiveDone == 0 {
			if a, _ := n.Archive.Total(ctx, memberID); a >= accepted.Load() {
				archiveDone = time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpu := processCPU() - cpu0
	close(stopSampling)
	sampler.Wait()
	time.Sleep(500 * time.Millisecond) // the last alerts' callbacks
	archived, _ := n.Archive.Total(ctx, memberID)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	res.Accepted, res.Rejected = accepted.Load(), rejected.Load()
	res.AcceptedPerSec = float64(res.Accepted) / sendTime.Seconds()
	if detectDone > 0 {
		res.DetectedPerSec = float64(res.Accepted) / detectDone.Seconds()
	}
	if archiveDone > 0 {
		res.ArchivedPerSec = float64(archived) / archiveDone.Seconds()
		res.Drain = (archiveDone - sendTime).Round(time.Millisecond)
	}
	res.P50, res.P99, res.P999 = pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999)
	res.Victims = victims - int(res.Rejected)
	res.Alerts = len(lat)
	res.ArchiveLagMax = lagMax.Round(time.Millisecond)
	res.RSSPeakMB = peakRSS() >> 20
	res.Lost = max(0, res.Accepted-archived) + int64(len(sent))
	res.Stages = stageTimes(detectors)
	res.CPU = cpu
	res.CPUMicrosPerEvent, res.EventsPerCPUSec = cpuPerEvent(cpu, res.Accepted)
	res.Parses = parseCounts(parts)
	return res, nil
}

// cpuPerEvent divides CPU time by the events it handled: microseconds per
// event, and events per CPU-second (the rate one core would sustain).
// Either is 0 when its divisor is.
func cpuPerEvent(cpu time.Duration, events int64) (microsPerEvent, perCPUSec float64) {
	if events > 0 {
		microsPerEvent = float64(cpu) / float64(time.Microsecond) / float64(events)
	}
	if cpu > 0 {
		perCPUSec = float64(events) / cpu.Seconds()
	}
	return microsPerEvent, perCPUSec
}

// parsesMetric is the counter pipeline.NewShared registers.
const parsesMetric = "xsoc_pipeline_parses_total"

// pathParses is one path's count of batches parsed and reused.
type pathParses struct {
	Path   string `json:"path"`
	Parsed int64  `json:"parsed"`
	Reused int64  `json:"reused"`
}

// parseCounts sums the parses counter over the nodes, by path in the
// order first met; nil when no node exposes it.
func parseCounts(nodes []*node.Node) []pathParses {
	var out []pathParses
	eachMetric(nodes, parsesMetric, func(m *dto.Metric) {
		p := metricLabel(m, "path")
		i := slices.IndexFunc(out, func(c pathParses) bool { return c.Path == p })
		if i < 0 {
			i = len(out)
			out = append(out, pathParses{Path: p})
		}
		v := int64(m.GetCounter().GetValue())
		switch metricLabel(m, "how") {
		case "parsed":
			out[i].Parsed += v
		case "reused":
			out[i].Reused += v
		}
	})
	return out
}

// eachMetric calls fn with every series of the metric family name that
// the nodes' registries hold.
func eachMetric(nodes []*node.Node, name string, fn func(*dto.Metric)) {
	for _, n := range nodes {
		families, err := n.Metrics.Gather()
		if err != nil {
			continue
		}
		for _, f := range families {
			if f.GetName() == name {
				for _, m := range f.GetMetric() {
					fn(m)
				}
			}
		}
	}
}

// metricLabel returns the value of m's label name, or "".
func metricLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// formatParses renders parse counts as "detect 10/2, archive 2/10".
func formatParses(ps []pathParses) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %d/%d", p.Path, p.Parsed, p.Reused)
	}
	return strings.Join(parts, ", ")
}

// stageTimes reads the detection steps' percentiles from the detection
// nodes' stage histograms, summed over the nodes.
func stageTimes(detectors []*node.Node) []stageTime {
	type hist struct {
		bounds []float64
		counts []uint64 // cumulative, per bound
		total  uint64
	}
	hs := map[string]*hist{}
	eachMetric(detectors, pipeline.StageMetric, func(m *dto.Metric) {
		stage := metricLabel(m, "stage")
		h := hs[stage]
		if h == nil {
			h = &hist{}
			hs[stage] = h
		}
		for i, b := range m.GetHistogram().GetBucket() {
			if i == len(h.bounds) {
				h.bounds, h.counts = append(h.bounds, b.GetUpperBound()), append(h.counts, 0)
			}
			h.counts[i] += b.GetCumulativeCount()
		}
		h.total += m.GetHistogram().GetSampleCount()
	})
	// quantile interpolates within the bucket holding the q-th sample.
	quantile := func(h *hist, q float64) time.Duration {
		rank := q * float64(h.total)
		lower, below := 0.0, uint64(0)
		for i, c := range h.counts {
			if float64(c) >= rank && c > below {
				frac := (rank - float64(below)) / float64(c-below)
				return time.Duration((lower + frac*(h.bounds[i]-lower)) * float64(time.Second))
			}
			lower, below = h.bounds[i], c
		}
		return time.Duration(lower * float64(time.Second)) // beyond the last bound
	}
	var out []stageTime
	for _, name := range pipeline.StageNames {
		st := stageTime{Stage: name}
		if h := hs[name]; h != nil && h.total > 0 {
			st.P50, st.P99 = quantile(h, 0.5), quantile(h, 0.99)
			st.Max = quantile(h, 1)
		}
		out = append(out, st)
	}
	return out
}

// alertLatency returns an alert hook that records, for each victim sent
// (by host name, at its sending time), how long its first alert took.
func alertLatency(mu *sync.Mutex, sent map[string]time.Time, lat *[]time.Duration) func(alert.Alert) {
	return func(a alert.Alert) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if t, ok := sent[a.Key]; ok { // the key is the victim's host name
			*lat = append(*lat, now.Sub(t))
			delete(sent, a.Key)
		}
	}
}

// openScaled opens the parts of a scaled-out node in this process, as
// "xsoc serve --role" would in separate ones: the API (which migrates the
// store), workers detection workers, and an archive worker. It returns
// them in that order.
func openScaled(ctx context.Context, cfg config.Config, workers int) ([]*node.Node, error) {
	var parts []*node.Node
	roles := []string{config.RoleAPI}
	for range workers {
		roles = append(roles, config.RoleDetect)
	}
	roles = append(roles, config.RoleArchive)
	for i, role := range roles {
		c := cfg
		c.Role, c.DataDir = role, filepath.Join(cfg.DataDir, fmt.Sprintf("%d-%s", i, role))
		n, err := node.Open(ctx, c, newLogger(io.Discard, "error"))
		if err != nil {
			closeAll(parts)
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		parts = append(parts, n)
	}
	return parts, nil
}

func closeAll(nodes []*node.Node) {
	for _, n := range nodes {
		n.Close()
	}
}

// benchSchema gives an external run a NATS namespace and a PostgreSQL
// schema of its own, so that it neither meets earlier runs nor other users
// of the servers; done drops the schema.
func benchSchema(ctx context.Context, cfg *config.Config) (done func(), err error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg.NATSNamespace = "bench-" + id
	admin, err := store.OpenPostgres(ctx, cfg.PostgresURL)
	if err != nil {
		return nil, err
	}
	schema := "xsoc_bench_" + id
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return nil, err
	}
	sep := "?"
	if strings.Contains(cfg.PostgresURL, "?") {
		sep = "&"
	}
	cfg.PostgresURL += sep + "search_path=" + schema
	return func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}, nil
}

// deleteNamespace removes an external run's streams.
func deleteNamespace(cfg config.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if b, err := bus.Open(ctx, bus.Config{URL: cfg.NATSURL, Namespace: cfg.NATSNamespace}); err == nil {
		b.DeleteNamespace(ctx)
		b.Close()
	}
}

// e2eBodies builds k request bodies of n benign Sysmon process starts
// (about 600 bytes each, no event ids: the pipeline names them by batch
// and line, so every request's events are new).
func e2eBodies(n, k int) [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	images := []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
		`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`}
	out := make([][]byte, k)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range out {
		var b bytes.Buffer
		for range n {
			img := images[r.IntN(len(images))]
			fmt.Fprintf(&b, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%016x%016x%016x%016x","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}},"host":{"name":"WS-%04d"}}`+"\n",
				ts, r.IntN(5000), img, strings.ReplaceAll(img, `\`, `\\`), r.Uint32(), r.IntN(900), r.IntN(60000),
				r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), r.IntN(900), r.IntN(5000))
		}
		out[i] = b.Bytes()
	}
	return out
}

// maliciousLine is an LSASS dump through comsvcs.dll on host: a starter
// rule raises a critical alert keyed by the host.
func maliciousLine(host string) []byte {
	return fmt.Appendf(nil, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"%s","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\admin"}}}`+"\n",
		time.Now().UTC().Format(time.RFC3339Nano), host)
}

// peakRSS is the process's peak resident memory (VmHWM), 0 if unknown.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
