package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/sigma/sigmabench"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// benchSigma measures the Sigma engine on one core: events/s and
// allocations per event, for the whole rule directory and for samples of
// 100 and 1,000 rules (and 3,000 when the directory has that many).
func benchSigma(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sigma", flag.ContinueOnError)
	rulesDir := fs.String("rules", "", "Sigma rules directory (required)")
	eventsFile := fs.String("events", "", "NDJSON events (any input format); default: 20,000 generated Sysmon process-creation events, 1.5 % built to match")
	d := fs.Duration("duration", 3*time.Second, "measuring time per rule count")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *rulesDir == "" {
		return fmt.Errorf("--rules is required (for example ../shared/sigma/rules/windows/process_creation)")
	}
	rules, errs := sigma.LoadDir(*rulesDir, sigma.Options{})
	fmt.Fprintf(stdout, "%d rules loaded from %s (%d not loaded)\n", len(rules), *rulesDir, len(errs))
	var lines [][]byte
	var lineNums []int
	if *eventsFile != "" {
		var err error
		if lines, lineNums, err = readLines(*eventsFile); err != nil {
			return err
		}
	} else {
		for _, ev := range sigmabench.Generate(sigmabench.Config{Events: 20000, Seed: 1, Positives: 0.015, Rules: rules}) {
			lines = append(lines, ev.AppendJSON(nil))
		}
	}
	events, bad, err := sigmabench.ParseLines(lines)
	if err != nil {
		return fmt.Errorf("%s:%d: %w", *eventsFile, lineNums[bad], err)
	}
	if len(events) == 0 {
		return fmt.Errorf("%s: no events", *eventsFile)
	}
	feed := sigmabench.NewFeed(lines)
	fmt.Fprintf(stdout, "%d events; \"fresh\": parsed %d at a time just before detection, as the pipeline does; \"from memory\": all %d held in memory and read back\n",
		len(events), detect.BatchSize, len(events))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rules\tevents/CPU-s fresh\tevents/CPU-s from memory\tevents/s from memory (1 core)\tallocs/event\tmatched events\talerts/pass\t")
	for _, n := range ruleCounts(len(rules)) {
		sample := sampleRules(rules, n)
		engine := sigma.NewEngine(sigma.Options{})
		engine.Load(sample)
		mem := sigma.Bench(engine, events, *d)
		fresh := sigma.BenchFeed(engine, feed.Next, *d)
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.3f\t%d\t%d\t\n", n, fresh.EventsPerCPUSec, mem.EventsPerCPUSec, mem.EventsPerSec, mem.AllocsPerEvent, mem.MatchedEvents, mem.Matches)
	}
	return tw.Flush()
}

func ruleCounts(total int) []int {
	var out []int
	for _, n := range []int{100, 1000, 3000} {
		if n < total {
			out = append(out, n)
		}
	}
	return append(out, total)
}

// sampleRules picks n rules deterministically.
func sampleRules(rules []*sigma.Rule, n int) []*sigma.Rule {
	if n >= len(rules) {
		return rules
	}
	r := rand.New(rand.NewPCG(42, 42))
	idx := r.Perm(len(rules))[:n]
	out := make([]*sigma.Rule, n)
	for i, j := range idx {
		out[i] = rules[j]
	}
	return out
}

// readLines reads the non-blank lines of an NDJSON (or any line-based
// input) file, and the number of each in the file.
func readLines(path string) (lines [][]byte, nums []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), format.MaxRecord+1)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
		nums = append(nums, n)
	}
	return lines, nums, sc.Err()
}

// benchIOC measures the IOC index: build time, memory per indicator,
// lookups per second and the detection path's rate, at the sizes asked
// for.
func benchIOC(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ioc", flag.ContinueOnError)
	sizes := fs.String("indicators", "1000000,10000000", "comma-separated index sizes")
	lookups := fs.Int("lookups", 2000000, "lookups per measurement")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
			return fmt.Errorf("bad size %q", s)
		}
		ns = append(ns, n)
	}
	// Rows are printed as each size finishes: a 10M index takes a while.
	row := func(cells ...string) {
		for i, c := range cells {
			fmt.Fprintf(stdout, "%*s", []int{12, 9, 17, 28, 18, 15}[i], c)
		}
		fmt.Fprintln(stdout)
	}
	row("indicators", "build", "bytes/indicator", "batched lookups/s (1 core)", "single lookups/s", "allocs/lookup")
	var results []ioc.BenchResult
	for _, n := range ns {
		r := ioc.Bench(n, *lookups)
		results = append(results, r)
		row(fmt.Sprint(r.Indicators), r.BuildTime.Round(time.Millisecond).String(), fmt.Sprintf("%.1f", r.BytesPerIndicator),
			fmt.Sprintf("%.0f", r.LookupsPerSec), fmt.Sprintf("%.0f", r.SingleLookupsPerSec), fmt.Sprintf("%.2f", r.AllocsPerLookup))
	}
	last := results[len(results)-1]
	fmt.Fprintf(stdout, "batched: %d values per call (Index.CountFor); single: one value per call (Index.LookupFor); per CPU-second of one core\n", last.Batch)
	fmt.Fprintf(stdout, "\ndetection path (Index.DetectBatch, as the pipeline calls it): %d events per call, %.1f values each, %g%% of events raising an alert\n"+
		"(real traffic: well under 1%%); per CPU-second of one core. parsed: each batch just written into recycled events, as the\n"+
		"parser leaves it; from memory: events read from a stream far larger than the caches, every one a cache miss\n",
		last.EventsPerCall, last.ValuesPerEvent, 100*ioc.BenchHitRate)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "indicators\tevents/s (parsed)\tvalue lookups/s (parsed)\tevents/s (from memory)\tvalue lookups/s (from memory)\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.0f\t\n", r.Indicators, r.DetectEventsPerSec, r.DetectLookupsPerSec, r.ColdEventsPerSec, r.ColdLookupsPerSec)
	}
	return tw.Flush()
}
