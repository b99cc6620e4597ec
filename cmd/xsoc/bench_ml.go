package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/scenario"
)

// benchML times each ML detector alone over the demo scenario's events,
// parsed once and held in memory, on one goroutine.
func benchML(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ml", flag.ContinueOnError)
	seed := fs.Uint64("scenario", 1, "scenario seed (demo profile)")
	passes := fs.Int("passes", 5, "passes over the events per detector")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg := scenario.DemoConfig(*seed)
	var evs []*event.Event
	var parser format.Parser
	i := 0
	err := scenario.Stream(cfg, func(rec scenario.Record) error {
		ev := new(event.Event)
		f, err := format.ParseFormat(rec.Format)
		if err == nil {
			err = parser.Parse(f, rec.Line, ev)
		}
		if err != nil {
			return nil
		}
		ev.Member, ev.ID = rec.Member, strconv.Itoa(i)
		i++
		if ev.Time.IsZero() {
			ev.Time = rec.Time
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d scenario events (demo profile, seed %d) in memory; %d passes per detector, one goroutine\n\n", len(evs), *seed, *passes)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTOR\tEVENTS/S (ONE CORE)\tEVENTS PER CPU-SECOND\tNS/EVENT\tALERTS\tALLOCS/EVENT\tALLOCS/EVENT, NON-ALERTING EVENTS AGAIN")
	for _, det := range []detect.Detector{ml.NewDGA(nil), ml.NewDGABurst(nil, ml.DGABurstOptions{}), ml.NewBeacon(ml.BeaconOptions{}), ml.NewAnomaly(ml.AnomalyOptions{}), ml.NewFirstSeen(ml.FirstSeenOptions{})} {
		r := timeDetector(det, evs, *passes, cfg.Duration)
		cpu := "-"
		if r.perCPUSec > 0 {
			cpu = fmt.Sprintf("%.0f", r.perCPUSec)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%d\t%.4f\t%.4f (%d alerts in that pass)\n", det.Name(), r.perSec, cpu, r.nsPerEvent, r.alerts, r.allocs, r.quietAllocs, r.quietAlerts)
	}
	return tw.Flush()
}

type detectorTiming struct {
	perSec, nsPerEvent, allocs float64
	// perCPUSec is events per second of the thread's own CPU time: on a
	// shared machine, wall time also counts the time other processes
	// held the core.
	perCPUSec float64
	alerts    int
	// quietAllocs are allocations per event over a further pass of the
	// events that raised no alert: the common path.
	quietAllocs float64
	quietAlerts int
}

// timeDetector runs det over evs passes times, moving event times on by
// span each pass so that stateful detectors see time go forward.
func timeDetector(det detect.Detector, evs []*event.Event, passes int, span time.Duration) detectorTiming {
	out := make([]alert.Alert, 0, 64)
	var alerts int
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var busy time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	cpuOK := true
	for p := 0; p < passes; p++ {
		if p > 0 {
			for _, ev := range evs {
				ev.Time = ev.Time.Add(span)
			}
		}
		cpu0, ok0 := sigma.ThreadCPU()
		start := time.Now()
		for _, ev := range evs {
			out = det.Detect(ev, out[:0])
			alerts += len(out)
		}
		busy += time.Since(start)
		cpu1, ok1 := sigma.ThreadCPU()
		cpuOK = cpuOK && ok0 && ok1
		cpu += time.Duration(cpu1 - cpu0)
	}
	runtime.ReadMemStats(&after)
	var quiet []*event.Event
	for _, ev := range evs {
		ev.Time = ev.Time.Add(span)
		if len(det.Detect(ev, out[:0])) == 0 {
			quiet = append(quiet, ev)
		}
	}
	var q0, q1 runtime.MemStats
	runtime.ReadMemStats(&q0)
	quietAlerts := 0
	for _, ev := range quiet {
		ev.Time = ev.Time.Add(span)
		out = det.Detect(ev, out[:0])
		quietAlerts += len(out)
	}
	runtime.ReadMemStats(&q1)
	for _, ev := range evs { // put the times back for the next detector
		ev.Time = ev.Time.Add(-time.Duration(passes) * span)
	}
	for _, ev := range quiet {
		ev.Time = ev.Time.Add(-span)
	}
	n := float64(len(evs) * passes)
	var perCPU float64
	if cpuOK && cpu > 0 {
		perCPU = n / cpu.Seconds()
	}
	return detectorTiming{perSec: n / busy.Seconds(), nsPerEvent: float64(busy.Nanoseconds()) / n, perCPUSec: perCPU,
		allocs: float64(after.Mallocs-before.Mallocs) / n, alerts: alerts,
		quietAllocs: float64(q1.Mallocs-q0.Mallocs) / float64(max(1, len(quiet))), quietAlerts: quietAlerts}
}
