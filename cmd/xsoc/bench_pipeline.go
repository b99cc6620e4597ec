package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/node"
)

// benchPipeline measures ingest-to-alert latency: a fresh embedded node
// with the starter rules takes a steady stream of Sysmon events over HTTP,
// one in every batch built to trip a rule; the time from sending its
// request to the alert being committed is recorded for each.
func benchPipeline(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench pipeline", flag.ContinueOnError)
	rate := fs.Int("rate", 20000, "events per second to send")
	batch := fs.Int("batch", 500, "events per request (one of them malicious)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "xsoc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = filepath.Join(dir, "data"), "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := node.Open(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		return err
	}
	_, key, err := n.Members.Add(ctx, member.Member{ID: "bench", Name: "Bench", Country: "DE", Sector: "energy"})
	if err != nil {
		n.Close()
		return err
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	n.Alerts.OnAlert(alertLatency(&mu, sent, &lat))
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	client := &http.Client{Timeout: time.Minute}
	interval := time.Duration(float64(time.Second) * float64(*batch) / float64(*rate))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	var wg sync.WaitGroup
	events, i := 0, 0
	for time.Since(start) < *duration {
		<-tick.C
		body, id := pipelineBody(i, *batch)
		i++
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, n.URL()+"/api/v1/ingest", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		events += *batch
	}
	wg.Wait()
	sendTime := time.Since(start)
	// Wait for the pipeline to drain.
	deadline := time.Now().Add(time.Minute)
	var stored int
	for time.Now().Before(deadline) {
		if s, _ := n.Archive.Total(ctx, "bench"); int(s) >= events {
			stored = int(s)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	drainTime := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sent\tstored\tstored/s\tstored/s/core\talerts timed\tmissed\tp50\tp90\tp99\tmax\t")
	fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%d\t%d\t%v\t%v\t%v\t%v\t\n", events, stored,
		float64(stored)/drainTime.Seconds(), float64(stored)/drainTime.Seconds()/float64(runtime.NumCPU()),
		len(lat), len(sent), pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 1))
	tw.Flush()
	fmt.Fprintf(stdout, "(ingest-to-alert latency: request sent → alert committed; %d events/s offered for %v, drained after %v; client and node share %d cores)\n",
		*rate, sendTime.Round(time.Millisecond), drainTime.Round(time.Millisecond), runtime.NumCPU())
	return nil
}

// pipelineBody builds batch b: n-1 benign process starts and one LSASS
// dump on a host of its own (so that alert deduplication keeps it apart),
// and returns that host's name.
func pipelineBody(b, n int) ([]byte, string) {
	var buf bytes.Buffer
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for j := range n - 1 {
		fmt.Fprintf(&buf, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"chrome.exe --type=renderer --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d"}}}`+"\n",
			ts, j%4000, b*n+j, j%500)
	}
	host := fmt.Sprintf("VICTIM-%d", b)
	fmt.Fprintf(&buf, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"%s","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\admin"}}}`+"\n",
		ts, host)
	return buf.Bytes(), host
}
