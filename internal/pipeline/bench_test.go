package pipeline

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/starter"
	"github.com/xsoc/xsoc/internal/store"
)

// BenchmarkProcess measures the detection side per event: parse a
// winlogbeat Sysmon record, run no detectors, raise nothing.
func BenchmarkProcess(b *testing.B) {
	db, err := store.OpenSQLite(filepath.Join(b.TempDir(), "x.db"), store.SyncNormal())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Migrate(ctx, eventlog.Schema()); err != nil {
		b.Fatal(err)
	}
	p := New(Config{DB: db, Events: eventlog.New(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	const n = 500
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = []byte(fmt.Sprintf(`{"@timestamp":"2026-01-01T00:00:00Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d","event_data":{"Image":"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe","CommandLine":"chrome.exe --type=renderer --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d"}}}`, i, i, i))
	}
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		err := p.Process(ctx, ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Now(), Seq: seq, Lines: lines})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDetectionPath measures what the detection side of the embedded
// default spends per event on the traffic `xsoc bench e2e` sends — 499
// benign Sysmon process starts of about 600 bytes and one credential dump
// per batch — stage by stage: normalising alone, then with each detector
// the node runs (the starter Sigma rules, the IOC index holding 1M
// indicators, the ML detectors), then all of them, as the pipeline's
// workers run them (prepare: parse, then DetectBatch 64 events at a
// time). cpu-ns/event is the process's CPU time (GC included) per event,
// which the other work on a shared machine does not inflate the way it
// inflates wall time. Alerts are prepared but not stored: the commit is
// measured by the alert and correlate packages' benchmarks.
func BenchmarkDetectionPath(b *testing.B) {
	rules := starterRules(b)
	var index *ioc.Index // built once, when first wanted
	indexed := func() *ioc.Index {
		if index == nil {
			index = benchIndex(b, 1_000_000)
		}
		return index
	}
	batches := sysmonBatches(500, 16)
	engine := func() detect.Detector {
		e := sigma.NewEngine(sigma.Options{})
		if errs := e.Load(rules); len(errs) > 0 {
			b.Fatal(errs[0])
		}
		return e
	}
	mlDetectors := func() []detect.Detector {
		model := ml.DefaultDGAModel()
		return []detect.Detector{ml.NewBeacon(ml.BeaconOptions{}), ml.NewDGA(model), ml.NewDGABurst(model, ml.DGABurstOptions{}),
			ml.NewAnomaly(ml.AnomalyOptions{}), ml.NewFirstSeen(ml.FirstSeenOptions{Learn: 7 * 24 * time.Hour})}
	}
	for _, c := range []struct {
		name  string
		dets  func() []detect.Detector
		alert bool // the credential dump in each batch must alert
	}{
		{"normalise", func() []detect.Detector { return nil }, false},
		{"sigma", func() []detect.Detector { return []detect.Detector{engine()} }, true},
		{"ioc", func() []detect.Detector { return []detect.Detector{indexed()} }, false},
		{"ml", mlDetectors, false},
		{"all", func() []detect.Detector { return append([]detect.Detector{engine(), indexed()}, mlDetectors()...) }, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := New(Config{Detectors: c.dets(), Log: quiet})
			b.ReportAllocs()
			seq, events, alerts := uint64(0), 0, 0
			cpu0 := processCPU()
			for b.Loop() {
				seq++
				lines := batches[seq%uint64(len(batches))]
				w, err := p.prepare(decodedInput(ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Now(), Seq: seq, Lines: lines}), false)
				if err != nil {
					b.Fatal(err)
				}
				events += len(w.events)
				alerts += len(w.alerts)
				p.release(w)
			}
			if c.alert && alerts < int(seq) {
				b.Fatalf("%d alerts from %d batches: the credential dump in each must alert", alerts, seq)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(events), "cpu-ns/event")
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkBothPaths measures what the two paths of the embedded default
// spend per event on the traffic of `xsoc bench e2e` to come by their
// events, running no detectors and writing no archive: each normalising
// every batch (separate), or one normalising it and the other taking its
// events through a Shared (shared). cpu-ns/event is the process's CPU
// time per event, both paths together.
func BenchmarkBothPaths(b *testing.B) {
	type message struct {
		hdr  nats.Header
		body []byte
	}
	var msgs []message
	for _, lines := range sysmonBatches(500, 16) {
		hdr, body := ingest.EncodeBatch(ingest.Batch{Member: "m1", Format: format.Auto, Received: time.Now(), Lines: lines})
		msgs = append(msgs, message{hdr, body})
	}
	for _, share := range []bool{false, true} {
		name := "separate"
		if share {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			var shared *Shared
			if share {
				shared = newShared(maxSharedLines)
				shared.join(detectPath)
				shared.join(archivePath)
			}
			p := New(Config{Log: quiet, Shared: shared})
			a := NewArchiver(ArchiverConfig{Log: quiet, Shared: shared})
			b.ReportAllocs()
			seq, events := uint64(0), 0
			cpu0 := processCPU()
			for b.Loop() {
				seq++
				m := msgs[seq%uint64(len(msgs))]
				// Each path takes the message as its take does: header
				// first, lines only when it parses.
				din, err := busInput(m.hdr, m.body, seq)
				if err != nil {
					b.Fatal(err)
				}
				w, err := p.prepare(din, true)
				if err != nil {
					b.Fatal(err)
				}
				ain, err := busInput(m.hdr, m.body, seq)
				if err != nil {
					b.Fatal(err)
				}
				aw, err := a.prepare(ain, 1)
				if err != nil {
					b.Fatal(err)
				}
				if len(aw.batch.Events) != len(w.events) {
					b.Fatalf("archive got %d events, detection %d", len(aw.batch.Events), len(w.events))
				}
				events += len(w.events)
				p.release(w)
				aw.parsed.release()
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(events), "cpu-ns/event")
		})
	}
}

// processCPU returns the CPU time the process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// starterRules parses the starter pack's Sigma rules.
func starterRules(b *testing.B) []*sigma.Rule {
	var rules []*sigma.Rule
	err := fs.WalkDir(starter.SigmaRules(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := fs.ReadFile(starter.SigmaRules(), p)
		if err != nil {
			return err
		}
		rs, err := sigma.ParseRule(data, p)
		rules = append(rules, rs...)
		return err
	})
	if err != nil || len(rules) == 0 {
		b.Fatalf("starter rules: %d, %v", len(rules), err)
	}
	return rules
}

// benchIndex returns an IOC index of n indicators (hashes, domains and
// addresses) the benchmark's benign events never match.
func benchIndex(b *testing.B, n int) *ioc.Index {
	x := ioc.New(ioc.Options{})
	if err := ioc.AddSynthetic(x, n); err != nil {
		b.Fatal(err)
	}
	return x
}

// sysmonBatches returns k batches of n lines: n-1 benign Sysmon process
// starts (the shape `xsoc bench e2e` sends) and an LSASS dump through
// comsvcs.dll, which a starter rule alerts on.
func sysmonBatches(n, k int) [][][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	images := []string{`C:\Windows\System32\svchost.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`,
		`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`}
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	out := make([][][]byte, k)
	for i := range out {
		for range n - 1 {
			img := images[r.IntN(len(images))]
			out[i] = append(out[i], fmt.Appendf(nil, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"WS-%04d.corp.example","event_data":{"Image":%q,"CommandLine":"%s --type=renderer --lang=en-US --field-trial-handle=%d","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\user%03d","ProcessId":"%d","Hashes":"SHA256=%016x%016x%016x%016x","IntegrityLevel":"Medium","CurrentDirectory":"C:\\Users\\user%03d\\"}},"host":{"name":"WS-%04d"}}`,
				ts, r.IntN(5000), img, strings.ReplaceAll(img, `\`, `\\`), r.Uint32(), r.IntN(900), r.IntN(60000),
				r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), r.IntN(900), r.IntN(5000)))
		}
		out[i] = append(out[i], fmt.Appendf(nil, `{"@timestamp":"%s","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"provider_name":"Microsoft-Windows-Sysmon","computer_name":"VICTIM-%d","event_data":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\admin"}}}`, ts, i))
	}
	return out
}
