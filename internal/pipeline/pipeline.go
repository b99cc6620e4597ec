// Package pipeline reads accepted input batches from the bus's ingest
// stream along two independent paths, each on its own durable consumer:
//
//   - detection (Pipeline): normalise each line once, run every detector,
//     hand the alerts (which carry their events as evidence) to the alert
//     sink, record the lines that could not be normalised, then
//     acknowledge the batch;
//   - the archive (Archiver): store the events in the event archive, then
//     acknowledge.
//
// When both run in one process they share a Shared, so that each batch is
// normalised once: the path that takes it first parses it and leaves the
// events for the other, which uses them if it comes for them soon enough
// and parses the batch itself otherwise.
//
// Neither waits for the other (beyond a bounded wait for a parse already
// under way): a slow or stopped archive never delays an alert. A crash anywhere before an ack makes JetStream redeliver that
// path's batch. Event ids are stable across redelivery (the input's own
// event.id, or the batch's stream sequence and line number); the alert
// sink is idempotent per event id and the archive records the batches it
// stored, so each path handles every accepted event exactly once.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/ingest/format"
	"github.com/xsoc/xsoc/internal/store"
)

// AlertSink receives the alerts of a batch. It must be idempotent per
// event id: a redelivered batch raises its alerts again.
type AlertSink interface {
	Raise(ctx context.Context, alerts []alert.Alert) error
}

// Config wires a Pipeline.
type Config struct {
	Bus *bus.Bus
	// DB and Events record the lines that could not be normalised.
	DB        *store.DB
	Events    *eventlog.Log
	Detectors []detect.Detector
	Sink      AlertSink // may be nil: alerts are then only counted
	Log       *slog.Logger
	// Workers is the number of batches processed concurrently (default: 2).
	Workers int
	// Registry receives the pipeline's metrics; nil disables them.
	Registry *prometheus.Registry
	// Exclusive says this process is the only reader of its consumer on
	// the bus (the embedded default). Batches a crashed predecessor had
	// taken but not acknowledged are then redelivered at once instead of
	// after AckWait.
	Exclusive bool
	// Worker names this process among the detection workers sharing a
	// partitioned ingest stream (external NATS): the partitions it leases
	// are recorded under this name.
	Worker string
	// Shared, when the archive path runs in the same process, lets both
	// parse each batch once (see Shared); nil: detection parses alone.
	Shared *Shared
}

// ackWait is how long a taken batch stays reserved for a worker before
// JetStream hands it to another; it bounds recovery from a crashed worker
// when several share the consumer.
const ackWait = 30 * time.Second

// consumer returns the durable consumer name of the ingest stream, tuned
// to hold maxPending batches at once. With exclusive set, batches a
// crashed predecessor took but never acknowledged are handed out again at
// once: the consumer restarts from its acknowledgement floor (batches
// acknowledged past it come again too, which stable event ids make
// harmless).
func consumer(ctx context.Context, b *bus.Bus, name string, maxPending int, exclusive bool) (jetstream.Consumer, error) {
	js := b.JetStream()
	cc := b.ConsumerConfig(name)
	cc.AckWait, cc.MaxAckPending = ackWait, maxPending
	cons, err := js.CreateOrUpdateConsumer(ctx, b.IngestStream(), cc)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", name, err)
	}
	if exclusive && cons.CachedInfo().NumAckPending > 0 {
		if _, err := js.ResetConsumer(ctx, b.IngestStream(), name); err != nil {
			return nil, fmt.Errorf("reset consumer %s: %w", name, err)
		}
	}
	return cons, nil
}

// stopped returns nil when ctx has ended (a start cut short by shutdown is
// no failure), err otherwise.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Pipeline is the detection side of ingest.
type Pipeline struct {
	cfg     Config
	shared  *Shared // cfg.Shared, or one of its own
	metrics *metrics
}

// New returns a pipeline; Run starts it.
func New(cfg Config) *Pipeline {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	shared := cfg.Shared
	if shared == nil {
		shared = newShared(0)
	}
	return &Pipeline{cfg: cfg, shared: shared, metrics: newMetrics(cfg.Registry)}
}

// Run consumes until ctx ends. On a partitioned ingest stream it reads
// the partitions this worker leases (see bus.Assign), following the
// leases as workers come and go; otherwise the single detection consumer.
func (p *Pipeline) Run(ctx context.Context) error {
	p.shared.join(detectPath)
	defer p.shared.leave(detectPath)
	prepared := make(chan *work, 4*p.cfg.Workers)
	var committer sync.WaitGroup
	committer.Add(1)
	go func() {
		defer committer.Done()
		p.commitLoop(ctx, prepared)
	}()
	defer func() {
		close(prepared)
		committer.Wait()
	}()
	take := func(m jetstream.Msg) {
		if w := p.take(m); w != nil {
			prepared <- w
		}
	}
	if p.cfg.Bus.Partitioned() {
		return p.runPartitioned(ctx, take)
	}
	cons, err := consumer(ctx, p.cfg.Bus, bus.DetectConsumer, 4*p.cfg.Workers, p.cfg.Exclusive)
	if err != nil {
		return stopped(ctx, fmt.Errorf("pipeline: %w", err))
	}
	return consume(ctx, cons, 4*p.cfg.Workers, p.cfg.Workers, p.cfg.Log, take)
}

// runPartitioned reads the partitions this worker leases, each on its own
// consumer, into one pool of workers.
func (p *Pipeline) runPartitioned(ctx context.Context, take func(jetstream.Msg)) error {
	msgs, stopPool := startPool(p.cfg.Workers, take)
	defer stopPool()
	var mu sync.Mutex
	running := map[int]context.CancelFunc{}
	var readers sync.WaitGroup
	changed := func(owned []int) {
		mu.Lock()
		defer mu.Unlock()
		keep := map[int]bool{}
		for _, part := range owned {
			keep[part] = true
			if running[part] != nil {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			running[part] = cancel
			readers.Add(1)
			go func() {
				defer readers.Done()
				p.readPartition(pctx, part, msgs)
			}()
		}
		for part, cancel := range running {
			if !keep[part] {
				cancel()
				delete(running, part)
			}
		}
		p.cfg.Log.Info("pipeline: detection partitions", "worker", p.cfg.Worker, "partitions", owned)
		p.metrics.partitions(len(owned))
	}
	err := p.cfg.Bus.Assign(ctx, p.cfg.Worker, changed, func(err error) {
		p.cfg.Log.Warn("pipeline: partition leases not renewed; retrying", "worker", p.cfg.Worker, "err", err)
	})
	mu.Lock()
	for _, cancel := range running {
		cancel()
	}
	mu.Unlock()
	readers.Wait()
	return stopped(ctx, err)
}

// readPartition pulls partition part's batches into msgs until ctx ends,
// retrying while the bus is unreachable.
func (p *Pipeline) readPartition(ctx context.Context, part int, msgs chan<- jetstream.Msg) {
	name := bus.PartitionConsumer(part)
	for ctx.Err() == nil {
		cons, err := consumer(ctx, p.cfg.Bus, name, 4*p.cfg.Workers, false)
		if err == nil {
			err = pull(ctx, cons, 4*p.cfg.Workers, p.cfg.Log, msgs)
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		p.cfg.Log.Warn("pipeline: partition reader; retrying", "consumer", name, "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
}

// consume pulls messages from cons, up to pull at a time, and hands each
// to one of workers goroutines running take. It returns once ctx has ended
// and every worker has finished its message.
func consume(ctx context.Context, cons jetstream.Consumer, pullMax, workers int, log *slog.Logger, take func(jetstream.Msg)) error {
	msgs, stop := startPool(workers, take)
	defer stop()
	return pull(ctx, cons, pullMax, log, msgs)
}

// startPool starts workers goroutines running take on what is sent to the
// returned channel; stop closes it and waits for them.
func startPool(workers int, take func(jetstream.Msg)) (chan<- jetstream.Msg, func()) {
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				take(m)
			}
		}()
	}
	return msgs, func() {
		close(msgs)
		wg.Wait()
	}
}

// pull sends cons's messages, fetched up to pullMax at a time, to msgs
// until ctx ends.
func pull(ctx context.Context, cons jetstream.Consumer, pullMax int, log *slog.Logger, msgs chan<- jetstream.Msg) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(pullMax))
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.Warn("pipeline: fetch", "consumer", cons.CachedInfo().Name, "err", err)
			continue
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

// work is one batch, normalised and run through the detectors, waiting to
// be stored.
type work struct {
	msg   jetstream.Msg // nil when fed without the bus (Process)
	batch ingest.Batch
	// parsed holds the events, which it may share with the archive path:
	// they and the slice are read-only.
	parsed  *parsed
	events  []*event.Event
	rejects []eventlog.Reject
	alerts  []alert.Alert
	// prepared is when the batch was normalised and detected.
	prepared time.Time
}

// take decodes a bus message and prepares its batch; undecodable messages
// are terminated here.
func (p *Pipeline) take(m jetstream.Msg) *work {
	taken := time.Now()
	meta, err := m.Metadata()
	if err != nil {
		p.cfg.Log.Error("pipeline: message without metadata", "err", err)
		m.Term()
		return nil
	}
	in, err := busInput(m.Headers(), m.Data(), meta.Sequence.Stream)
	var w *work
	if err == nil {
		p.metrics.stage(StageQueued, taken.Sub(in.batch.Received))
		w, err = p.prepare(in, true)
	}
	if err != nil {
		// A batch the acceptor could not have written: keep it out of the
		// way, loudly.
		p.cfg.Log.Error("pipeline: undecodable batch terminated", "seq", meta.Sequence.Stream, "err", err)
		m.Term()
		return nil
	}
	w.msg = m
	w.prepared = time.Now()
	p.metrics.stage(StagePrepare, w.prepared.Sub(taken))
	return w
}

// maxGroupEvents bounds the events whose alerts are raised together. The
// alert store allows one writer at a time and each commit costs a WAL
// write; a single committer raising the alerts of the batches the workers
// prepared meanwhile in one go (group commit) keeps it from bounding
// detection.
const maxGroupEvents = 8000

// commitLoop raises the alerts of prepared batches in groups and hands
// them to be acknowledged.
func (p *Pipeline) commitLoop(ctx context.Context, prepared <-chan *work) {
	// Acknowledging is a round trip to the bus per batch; done on its own
	// goroutine it overlaps the next group's commit instead of delaying it.
	committed := make(chan committedGroup, 4)
	var acker sync.WaitGroup
	acker.Add(1)
	go func() {
		defer acker.Done()
		for g := range committed {
			p.ack(ctx, g)
		}
	}()
	defer func() {
		close(committed)
		acker.Wait()
	}()
	for w := range prepared {
		group, n := []*work{w}, len(w.events)
	fill:
		for n < maxGroupEvents {
			select {
			case more, ok := <-prepared:
				if !ok {
					break fill
				}
				group = append(group, more)
				n += len(more.events)
			default:
				break fill
			}
		}
		start := time.Now()
		for _, w := range group {
			p.metrics.stage(StageWait, start.Sub(w.prepared))
		}
		err := p.commit(ctx, group)
		d := time.Since(start)
		for range group {
			p.metrics.stage(StageCommit, d)
		}
		committed <- committedGroup{group: group, err: err}
	}
}

// committedGroup is a group of batches whose commit ended, with its
// outcome.
type committedGroup struct {
	group []*work
	err   error
}

// ack acknowledges a committed group's batches — or, when its commit
// failed, hands them back for redelivery — and releases them. A handled
// batch is acknowledged even when shutdown has begun: left
// unacknowledged it would be taken in again after a restart (harmless,
// event ids are stable, but wasted work).
func (p *Pipeline) ack(ctx context.Context, g committedGroup) {
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range g.group {
		if w.msg == nil { // fed without the bus
			p.release(w)
			continue
		}
		wg.Add(1)
		go func() { // each a round trip: overlapped, a group costs about one
			defer wg.Done()
			start := time.Now()
			if g.err != nil {
				p.cfg.Log.Error("pipeline: batch failed, will be redelivered", "seq", w.batch.Seq, "member", w.batch.Member, "err", g.err)
				w.msg.NakWithDelay(time.Second)
			} else if aerr := w.msg.DoubleAck(ackCtx); aerr != nil {
				p.cfg.Log.Warn("pipeline: ack", "seq", w.batch.Seq, "err", aerr)
			}
			p.metrics.stage(StageAck, time.Since(start))
			p.release(w)
		}()
	}
	wg.Wait()
}

// ackTimeout bounds the acknowledgement of a handled group of batches.
const ackTimeout = 5 * time.Second

// Process normalises and detects one batch, records its rejects and
// raises its alerts. It is exported for tools and tests that feed batches
// without the bus.
func (p *Pipeline) Process(ctx context.Context, b ingest.Batch) error {
	w, err := p.prepare(decodedInput(b), false)
	if err != nil {
		return err
	}
	defer p.release(w)
	return p.commit(ctx, []*work{w})
}

// prepare normalises every line of the batch of in — or takes the
// archive path's normalised events, with share set — and runs the
// detectors, detect.BatchSize events at a time. It runs on several
// workers at once. An error is one decoding the batch's lines.
func (p *Pipeline) prepare(in *input, share bool) (*work, error) {
	pb, err := p.shared.parse(detectPath, in, share)
	if err != nil {
		return nil, err
	}
	b := &in.batch
	w := &work{batch: *b, parsed: pb, events: pb.events}
	if len(pb.rejects) > 0 {
		at := time.Now().UTC()
		for _, r := range pb.rejects {
			w.rejects = append(w.rejects, eventlog.Reject{
				Member: b.Member, At: at, Batch: b.Seq, Line: r.line + 1,
				Reason: r.reason, Sample: r.sample,
			})
		}
	}
	for i := 0; i < len(w.events); i += detect.BatchSize {
		p.detect(w, w.events[i:min(i+detect.BatchSize, len(w.events))])
	}
	return w, nil
}

// detect runs every detector over evs, appending to w's alerts.
func (p *Pipeline) detect(w *work, evs []*event.Event) {
	if len(evs) == 0 {
		return
	}
	for _, d := range p.cfg.Detectors {
		if bd, ok := d.(detect.BatchDetector); ok {
			w.alerts = bd.DetectBatch(evs, w.alerts)
			continue
		}
		for _, ev := range evs {
			w.alerts = d.Detect(ev, w.alerts)
		}
	}
}

// release lets go of a batch's events: they return to the pool once the
// archive path, if it shares them, is done too.
func (p *Pipeline) release(w *work) {
	w.parsed.release()
	w.parsed, w.events = nil, nil
}

// commit records the rejects of a group of batches, then raises their
// alerts.
func (p *Pipeline) commit(ctx context.Context, group []*work) error {
	var rejects []eventlog.Reject
	for _, w := range group {
		rejects = append(rejects, w.rejects...)
	}
	if len(rejects) > 0 && p.cfg.Events != nil {
		err := p.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			return p.cfg.Events.AppendRejects(ctx, tx, rejects)
		})
		if err != nil {
			return err
		}
	}
	var alerts []alert.Alert
	for _, w := range group {
		alerts = append(alerts, w.alerts...)
	}
	if len(alerts) > 0 && p.cfg.Sink != nil {
		if err := p.cfg.Sink.Raise(ctx, alerts); err != nil {
			return fmt.Errorf("raising %d alerts: %w", len(alerts), err)
		}
	}
	for _, w := range group {
		p.metrics.observe(w.batch, len(w.events), len(w.rejects), w.alerts)
		for _, r := range w.rejects {
			p.cfg.Log.Warn("pipeline: rejected line", "member", r.Member, "batch", r.Batch, "line", r.Line, "reason", r.Reason)
		}
	}
	return nil
}

// normalise parses line i of batch b into ev and fills the identity fields.
// The batch's member always wins over whatever the line claims: a member
// can only ever write its own data.
//
// ids names the batch's lines that bring no id of their own: calls for
// one batch share it, in the order of their lines.
func normalise(parser *format.Parser, b ingest.Batch, i int, line []byte, ev *event.Event, ids *batchIDs) (err error) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not stop the pipeline
			err = fmt.Errorf("internal parser error: %v", r)
		}
	}()
	if err := parser.Parse(b.Format, line, ev); err != nil {
		return err
	}
	ev.Member = b.Member
	ev.Ingested = b.Received
	if ev.Time.IsZero() {
		ev.Time = b.Received
	}
	if ev.ID == "" {
		ev.ID = ids.id(b, i)
	}
	return nil
}

// batchIDs hands out the BatchEventIDs of one batch's lines as substrings
// of a single string holding them all, built when the first is wanted:
// one allocation per batch instead of one per event. The substrings keep
// that string alive as long as any event (shared between the paths or
// not) still holds its id; it is ordinary GC memory.
type batchIDs struct {
	all  string // every line's id, back to back
	next int    // the line whose id starts at pos
	pos  int
	pre  int // len of the sequence's prefix, "seq-"
}

// id returns BatchEventID(b.Seq, i). Lines are asked for in increasing
// order; one asked for out of order gets an id of its own.
func (ids *batchIDs) id(b ingest.Batch, i int) string {
	if ids.all == "" {
		ids.build(b.Seq, len(b.Lines))
	}
	if i < ids.next || i >= len(b.Lines) {
		return BatchEventID(b.Seq, i)
	}
	for ; ids.next < i; ids.next++ {
		ids.pos += ids.pre + digits36(ids.next)
	}
	end := ids.pos + ids.pre + digits36(i)
	id := ids.all[ids.pos:end]
	ids.next, ids.pos = i+1, end
	return id
}

// build writes the ids of lines 0…n-1 of the batch at seq into one string.
func (ids *batchIDs) build(seq uint64, n int) {
	var prefix [16]byte
	pre := strconv.AppendUint(prefix[:0], seq, 36)
	pre = append(pre, '-')
	size := 0
	for i := range n {
		size += len(pre) + digits36(i)
	}
	var all strings.Builder // Grow once, String without a copy: the one allocation
	all.Grow(size)
	var num [16]byte
	for i := range n {
		all.Write(pre)
		all.Write(strconv.AppendInt(num[:0], int64(i), 36))
	}
	ids.all, ids.pre = all.String(), len(pre)
}

// digits36 is the length of i (≥ 0) in base 36.
func digits36(i int) int {
	n := 1
	for ; i >= 36; i /= 36 {
		n++
	}
	return n
}

// BatchEventID names line i of the batch stored at stream sequence seq.
func BatchEventID(seq uint64, i int) string {
	var buf [32]byte
	out := strconv.AppendUint(buf[:0], seq, 36)
	out = append(out, '-')
	out = strconv.AppendInt(out, int64(i), 36)
	return string(out)
}

func sample(line []byte) string {
	const n = 256
	if len(line) > n {
		return string(line[:n]) + "…"
	}
	return string(line)
}

// Pending returns how many accepted batches the named consumer of the
// ingest stream has not acknowledged yet (waiting or in hand): 0 means
// that path has caught up.
func Pending(ctx context.Context, b *bus.Bus, consumer string) (uint64, error) {
	c, err := b.JetStream().Consumer(ctx, b.IngestStream(), consumer)
	if err != nil {
		return 0, fmt.Errorf("pipeline: consumer %s: %w", consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("pipeline: consumer %s: %w", consumer, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// PendingDetection returns how many accepted batches detection has not
// acknowledged yet, over all its consumers (one per partition on an
// external NATS).
func PendingDetection(ctx context.Context, b *bus.Bus) (uint64, error) {
	var sum uint64
	for _, name := range b.DetectConsumers() {
		n, err := Pending(ctx, b, name)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}
