package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/bus"
)

// ArchiverConfig wires an Archiver.
type ArchiverConfig struct {
	Bus     *bus.Bus
	Archive *archive.Archive
	Log     *slog.Logger
	// Workers normalise batches concurrently (default: 1; the archive's
	// writer is one goroutine anyway).
	Workers int
	// Registry receives the archiver's metrics; nil disables them.
	Registry *prometheus.Registry
	// Exclusive: see Config.Exclusive.
	Exclusive bool
	// Shared: see Config.Shared.
	Shared *Shared
}

// Archiver is the archive's path: it reads every accepted batch on its own
// durable consumer, normalises it (or takes detection's normalised events
// through a Shared) and stores its events in the event
// archive, and acknowledges the batch once they are stored. It runs beside
// the detection Pipeline and never holds it back.
type Archiver struct {
	cfg     ArchiverConfig
	shared  *Shared // cfg.Shared, or one of its own
	metrics *archiverMetrics
}

// Batches are gathered for up to flushAge or flushEvents, whichever comes
// first, and written together: large blocks compress well and cost one
// transaction per partition.
const (
	flushAge    = time.Second
	flushEvents = 2 * 8192
	// archivePending bounds the batches the archive holds unacknowledged:
	// enough for flushEvents of small batches.
	archivePending = 4096
)

// NewArchiver returns an archiver; Run starts it.
func NewArchiver(cfg ArchiverConfig) *Archiver {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	shared := cfg.Shared
	if shared == nil {
		shared = newShared(0)
	}
	return &Archiver{cfg: cfg, shared: shared, metrics: newArchiverMetrics(cfg.Registry)}
}

// archived is one batch normalised and waiting to be written.
type archived struct {
	msg   jetstream.Msg
	batch archive.Batch
	recv  time.Time
	// parsed holds the events, which it may share with detection.
	parsed *parsed
}

// Run consumes until ctx ends.
func (a *Archiver) Run(ctx context.Context) error {
	stream, err := a.cfg.Bus.JetStream().Stream(ctx, a.cfg.Bus.IngestStream())
	if err != nil {
		return stopped(ctx, fmt.Errorf("archiver: %w", err))
	}
	epoch := stream.CachedInfo().Created.UnixNano()
	cons, err := consumer(ctx, a.cfg.Bus, bus.ArchiveConsumer, archivePending, a.cfg.Exclusive)
	if err != nil {
		return stopped(ctx, fmt.Errorf("archiver: %w", err))
	}
	a.shared.join(archivePath)
	defer a.shared.leave(archivePath)
	ready := make(chan *archived, 64)
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		a.writeLoop(ctx, ready)
	}()
	defer func() {
		close(ready)
		writer.Wait()
	}()
	return consume(ctx, cons, 256, a.cfg.Workers, a.cfg.Log, func(m jetstream.Msg) {
		if w := a.take(m, epoch); w != nil {
			ready <- w
		}
	})
}

// take decodes and prepares one bus message. Lines that do not
// normalise are left out: detection records them as rejects.
func (a *Archiver) take(m jetstream.Msg, epoch int64) *archived {
	meta, err := m.Metadata()
	if err != nil {
		m.Term()
		return nil
	}
	in, err := busInput(m.Headers(), m.Data(), meta.Sequence.Stream)
	var w *archived
	if err == nil {
		w, err = a.prepare(in, epoch)
	}
	if err != nil {
		m.Term() // detection logs it
		return nil
	}
	w.msg = m
	return w
}

// prepare normalises the batch of in, or takes detection's normalised
// events (and then never decodes the batch's lines). The archive reads
// the parse's slice as detection does, without a copy: Archive.Write
// never writes into a batch's Events, and flush is done with them when
// it releases the parse. An error is one decoding the lines.
func (a *Archiver) prepare(in *input, epoch int64) (*archived, error) {
	pb, err := a.shared.parse(archivePath, in, true)
	if err != nil {
		return nil, err
	}
	b := &in.batch
	return &archived{recv: b.Received, parsed: pb, batch: archive.Batch{
		Stream: epoch, Seq: b.Seq, Member: b.Member, Events: pb.events}}, nil
}

// writeLoop gathers ready batches and writes them to the archive.
func (a *Archiver) writeLoop(ctx context.Context, ready <-chan *archived) {
	var group []*archived
	events := 0
	timer := time.NewTimer(flushAge)
	defer timer.Stop()
	for {
		select {
		case w, ok := <-ready:
			if !ok {
				a.flush(ctx, group)
				return
			}
			if len(group) == 0 {
				timer.Reset(flushAge)
			}
			group = append(group, w)
			events += len(w.batch.Events)
			if events < flushEvents {
				continue
			}
		case <-timer.C:
			if len(group) == 0 {
				continue
			}
		}
		a.flush(ctx, group)
		group, events = nil, 0
	}
}

// flush writes a group and acknowledges its batches, or, when the archive
// cannot take them, hands them back to the bus for later: nothing
// accepted is lost, and the ingest stream holds them meanwhile.
func (a *Archiver) flush(ctx context.Context, group []*archived) {
	if len(group) == 0 {
		return
	}
	batches := make([]archive.Batch, len(group))
	events := 0
	for i, w := range group {
		batches[i] = w.batch
		events += len(w.batch.Events)
	}
	start := time.Now()
	err := a.cfg.Archive.Write(ctx, batches)
	for _, w := range group {
		if err != nil {
			w.msg.NakWithDelay(retryDelay)
		} else {
			// Not waited for: a lost ack means a redelivery, which the
			// archive recognises and skips.
			w.msg.Ack()
		}
		w.parsed.release()
		w.parsed, w.batch.Events = nil, nil
	}
	if err != nil {
		a.cfg.Log.Error("archiver: write failed; the batches stay on the bus and come again", "batches", len(group), "err", err)
		select { // back off instead of spinning on a broken archive
		case <-time.After(retryDelay):
		case <-ctx.Done():
		}
		return
	}
	a.metrics.observe(events, time.Since(start), group[0].recv)
}

// retryDelay is how long a batch the archive could not take waits before
// it is tried again.
const retryDelay = 2 * time.Second

type archiverMetrics struct {
	events prometheus.Counter
	writes prometheus.Histogram
	lag    prometheus.Gauge
}

func newArchiverMetrics(reg *prometheus.Registry) *archiverMetrics {
	if reg == nil {
		return nil
	}
	m := &archiverMetrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xsoc_archive_events_total", Help: "Events stored in the event archive.",
		}),
		writes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xsoc_archive_write_seconds", Help: "Time to write one group of batches to the archive.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xsoc_archive_lag_seconds", Help: "Age of the oldest event in the last group written to the archive.",
		}),
	}
	reg.MustRegister(m.events, m.writes, m.lag)
	return m
}

func (m *archiverMetrics) observe(events int, took time.Duration, oldest time.Time) {
	if m == nil {
		return
	}
	m.events.Add(float64(events))
	m.writes.Observe(took.Seconds())
	m.lag.Set(time.Since(oldest).Seconds())
}
