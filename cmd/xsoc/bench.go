package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
)

const benchUsage = `usage: xsoc bench ingest [flags]   events/s accepted end to end (HTTP bulk NDJSON → JetStream ack) and
                                ack latency, against a fresh embedded node or --url with --key
       xsoc bench sigma --rules DIR [--events FILE]   Sigma engine events/s per core and allocations per event
       xsoc bench ioc [--indicators 1000000,10000000]  IOC index build time, bytes per indicator, lookups/s, detection path rate
       xsoc bench pipeline [--rate 20000]  ingest-to-alert latency percentiles and processed events/s
       xsoc bench ml [--passes 5]         each ML detector's events/s per core and allocations per event on the demo scenario
       xsoc bench federation [--detections 10000]  early warning: a hub and three member nodes as processes; delay from
                                detection at one member node to the indicator active at the two others, indicators/s
       xsoc bench e2e [--rate 50000] [--duration 60s] [--mode embedded|external|both]
                                events/s accepted, detected and archived, ingest→alert latency, archive lag, RSS, loss
       xsoc bench hunt [--events 10000000] [--backend embedded|postgres|both]  loads one member's day of synthetic
                                events into a fresh archive, then hunting query latency p50/p99, load cost, bytes/event`

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, benchUsage)
		return errUsage
	}
	switch args[0] {
	case "ingest":
		return benchIngest(args[1:], stdout, stderr)
	case "sigma":
		return benchSigma(args[1:], stdout, stderr)
	case "ioc":
		return benchIOC(args[1:], stdout, stderr)
	case "pipeline":
		return benchPipeline(args[1:], stdout, stderr)
	case "ml":
		return benchML(args[1:], stdout, stderr)
	case "federation":
		return benchFederation(args[1:], stdout, stderr)
	case "e2e":
		return benchE2E(args[1:], stdout, stderr)
	case "hunt":
		return benchHunt(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, benchUsage)
	return errUsage
}

func benchIngest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	batch := fs.Int("batch", 500, "events per request")
	conc := fs.Int("concurrency", 8, "concurrent requests")
	url := fs.String("url", "", "node to measure (default: a fresh embedded node)")
	key := fs.String("key", "", "member API key for --url")
	withPipeline := fs.Bool("pipeline", false, "run the detection pipeline on the embedded node while measuring (it competes for the same cores)")
	syncAlways := fs.Bool("sync-always", false, "embedded node fsyncs every bus message before acking")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the sending phase, client included, to this file")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	external := *url != ""
	if *url == "" {
		stop, u, k, err := startBenchNode(*withPipeline, *syncAlways)
		if err != nil {
			return err
		}
		defer stop()
		*url, *key = u, k
	}
	bodies := benchBodies(*batch, 16)
	runtime.GC()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cpu0 := processCPU()
	res := sendIngest(*url, *key, bodies, *batch, *conc, *duration)
	cpu := processCPU() - cpu0
	if res.err != nil {
		return res.err
	}
	cores := runtime.NumCPU()
	cpuPerEv, _ := cpuPerEvent(cpu, int64(res.events))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events\tseconds\tevents/s\tevents/s/core\tMB/s\tCPU µs/event\treq p50\treq p99\treq max\t429/503\t")
	slices.Sort(res.lat)
	fmt.Fprintf(tw, "%d\t%.1f\t%.0f\t%.0f\t%.1f\t%.2f\t%v\t%v\t%v\t%d\t\n",
		res.events, res.elapsed.Seconds(), float64(res.events)/res.elapsed.Seconds(),
		float64(res.events)/res.elapsed.Seconds()/float64(cores),
		float64(res.bytes)/res.elapsed.Seconds()/1e6,
		cpuPerEv,
		pct(res.lat, 0.50), pct(res.lat, 0.99), pct(res.lat, 1), res.retries)
	tw.Flush()
	who := "client and server"
	if external {
		who = "the client only: the node is another process"
	}
	fmt.Fprintf(stdout, "(%d cores; %d events per request, %d concurrent; latency = request until durable ack; CPU = this process's user+system time per accepted event, %s)\n", cores, *batch, *conc, who)
	return nil
}

// startCPUProfile starts writing a CPU profile to path, if path is not
// empty, and returns what stops it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// pct returns the p-th quantile (0 < p ≤ 1) of sorted by nearest rank.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest rank: the smallest value with at least p of the samples at
	// or below it, so that p99 of a few runs is their slowest, not the
	// median.
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i].Round(10 * time.Microsecond)
}

func startBenchNode(withPipeline, syncAlways bool) (stop func(), url, key string, err error) {
	dir, err := os.MkdirTemp("", "xsoc-bench-")
	if err != nil {
		return nil, "", "", err
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Listen = "127.0.0.1:0"
	if syncAlways {
		cfg.Sync = "always"
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.Open(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	n.NoPipeline = !withPipeline
	if err := wire(ctx, n); err != nil {
		cancel()
		return nil, "", "", err
	}
	_, key, err = n.Members.Add(ctx, member.Member{ID: "bench", Name: "Bench", Country: "DE", Sector: "energy"})
	if err != nil {
		n.Close()
		cancel()
		return nil, "", "", err
	}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	return func() { cancel(); <-done; os.RemoveAll(dir) }, n.URL(), key, nil
}

// benchBodies builds n distinct NDJSON request bodies of realistic ~600-byte
// Sysmon process-creation events in winlogbeat form.
func benchBodies(batch, n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	images := []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
		`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`,
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `C:\Windows\System32\cmd.exe`}
	out := make([][]byte, n)
	for i := range out {
		var b bytes.Buffer
		for j := range batch {
			img := images[r.IntN(len(images))]
			fmt.Fprintf(&b, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%064x","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}},"host":{"name":"WS-%04d"},"event":{"id":"b-%d-%d-%d"}}`+"\n",
				time.Now().UTC().Format(time.RFC3339Nano), r.IntN(5000), img, strings.ReplaceAll(img, `\`, `\\`), r.Uint32(), r.IntN(900), r.IntN(60000), r.Uint64(), r.IntN(900), r.IntN(5000), i, j, r.Uint32())
		}
		out[i] = b.Bytes()
	}
	return out
}

type ingestResult struct {
	events, bytes int64
	retries       int64
	elapsed       time.Duration
	lat           []time.Duration
	err           error
}

func sendIngest(url, key string, bodies [][]byte, batch, conc int, d time.Duration) ingestResult {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conc, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}, Timeout: time.Minute}
	var (
		res    ingestResult
		mu     sync.Mutex
		events atomic.Int64
		bytesN atomic.Int64
		retry  atomic.Int64
		wg     sync.WaitGroup
		errOne atomic.Pointer[error]
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := w; time.Now().Before(deadline); i += conc {
				body := bodies[i%len(bodies)]
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/ingest", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					errOne.CompareAndSwap(nil, &err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					lat = append(lat, time.Since(t0))
					events.Add(int64(batch))
					bytesN.Add(int64(len(body)))
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					retry.Add(1)
					time.Sleep(100 * time.Millisecond)
				default:
					e := fmt.Errorf("ingest answered %s", resp.Status)
					errOne.CompareAndSwap(nil, &e)
					return
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.events, res.bytes, res.retries = events.Load(), bytesN.Load(), retry.Load()
	if p := errOne.Load(); p != nil {
		res.err = *p
	}
	if res.err == nil && res.events == 0 {
		res.err = errors.New("no request succeeded")
	}
	return res
}
