package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Partitions is the number of detection partitions of the ingest stream
// on an external NATS server. A member's batches always fall into the same
// partition, and a partition is read by one detection worker at a time, so
// the state detectors keep per member (Sigma correlation windows,
// beaconing series) sees all of that member's events. It bounds the
// detection workers that can share the work.
const Partitions = 16

// LeaseBucket is the key-value bucket in which detection workers lease
// partitions.
const LeaseBucket = "XSOC_DETECT_LEASES"

// names are the stream, subject and bucket names of one deployment on its
// server.
type names struct {
	prefix       string // "<namespace>." or ""
	ingestStream string
	alertStream  string
	leases       string
	partitions   int // 0: the ingest stream has one detection consumer
}

func newNames(namespace string, external bool) names {
	n := names{ingestStream: IngestStream, alertStream: AlertStream, leases: LeaseBucket}
	if namespace != "" {
		n.prefix = namespace + "."
		n.ingestStream += "_" + namespace
		n.alertStream += "_" + namespace
		n.leases += "_" + namespace
	}
	if external {
		n.partitions = Partitions
	}
	return n
}

// wire returns the subject a plain subject is stored under.
func (n names) wire(subject string) string {
	if n.partitions > 0 {
		if member, ok := strings.CutPrefix(subject, IngestSubject+"."); ok {
			subject = IngestSubject + "." + partitionToken(PartitionOf(member, n.partitions)) + "." + member
		}
	}
	return n.prefix + subject
}

// PartitionOf returns the partition of member's batches among n.
func PartitionOf(member string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(member))
	return int(h.Sum32() % uint32(n))
}

func partitionToken(p int) string { return fmt.Sprintf("p%02d", p) }

// PartitionConsumer names the durable consumer of detection partition p.
func PartitionConsumer(p int) string { return fmt.Sprintf("%s-%02d", DetectConsumer, p) }

// IngestStream returns the name of this deployment's ingest stream.
func (b *Bus) IngestStream() string { return b.names.ingestStream }

// AlertStream returns the name of this deployment's alert stream.
func (b *Bus) AlertStream() string { return b.names.alertStream }

// Partitioned reports whether detection reads the ingest stream by
// partition (on an external server), each partition leased to one worker.
func (b *Bus) Partitioned() bool { return b.names.partitions > 0 }

// DetectConsumers returns the durable consumers detection reads: one, or
// one per partition.
func (b *Bus) DetectConsumers() []string {
	if b.names.partitions == 0 {
		return []string{DetectConsumer}
	}
	out := make([]string, b.names.partitions)
	for p := range out {
		out[p] = PartitionConsumer(p)
	}
	return out
}

// IngestConsumers returns every durable consumer of the ingest stream.
// They exist before the first publish: with interest retention a batch
// nobody is registered for would be dropped at once.
func (b *Bus) IngestConsumers() []string { return append(b.DetectConsumers(), ArchiveConsumer) }

// ConsumerConfig returns the configuration of the named ingest consumer:
// a partition's consumer sees that partition's subjects only.
func (b *Bus) ConsumerConfig(name string) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1}
	for p := range b.names.partitions {
		if name == PartitionConsumer(p) {
			c.FilterSubject = b.names.prefix + IngestSubject + "." + partitionToken(p) + ".>"
		}
	}
	return c
}

// retireUnpartitioned removes the single detection consumer an earlier
// xsoc created on an external server, once it has nothing left to handle:
// left in place, it would keep every batch on the interest-retained
// stream forever. Batches it still holds are the earlier version's to
// finish.
func (b *Bus) retireUnpartitioned(ctx context.Context) error {
	if b.names.partitions == 0 {
		return nil
	}
	c, err := b.js.Consumer(ctx, b.names.ingestStream, DetectConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", DetectConsumer, err)
	}
	info := c.CachedInfo()
	if n := info.NumPending + uint64(info.NumAckPending); n > 0 {
		return fmt.Errorf("bus: the single detection consumer of stream %s still holds %d batches of the earlier layout; run the earlier xsoc version until detection has drained them, then start this one",
			b.names.ingestStream, n)
	}
	if err := b.js.DeleteConsumer(ctx, b.names.ingestStream, DetectConsumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: retire consumer %s: %w", DetectConsumer, err)
	}
	return nil
}

// Lease timing: a worker renews its partitions every leaseRenew; a
// partition whose worker stopped renewing (crashed, cut off) is free after
// leaseTTL and taken by another.
const (
	leaseTTL   = 10 * time.Second
	leaseRenew = 2 * time.Second
)

// Lease keys: "w.<worker>" says a worker is alive, "p.<NN>" who holds a
// partition.
const (
	workerKey    = "w."
	partitionKey = "p."
)

// Assign takes part in sharing the detection partitions among the workers
// named in the lease bucket until ctx ends: it keeps worker's fair share
// (the partitions divided by the live workers, rounded up), renews its
// leases, releases partitions beyond its share so that a newcomer gets
// some, and takes free ones, including those of a worker that stopped
// renewing. changed is called with the partitions held whenever they
// change; a partition is released only after changed has returned without
// it. A round that fails (the server unreachable) is reported to failed
// and retried. On return every lease is given back.
func (b *Bus) Assign(ctx context.Context, worker string, changed func(owned []int), failed func(error)) error {
	if b.names.partitions == 0 {
		return errors.New("bus: the ingest stream is not partitioned (embedded server)")
	}
	worker = keySafe(worker)
	kv, err := b.leaseBucket(ctx)
	if err != nil {
		return err
	}
	owned := map[int]uint64{} // partition → revision of our lease
	report := func() {
		ps := make([]int, 0, len(owned))
		for p := range owned {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		changed(ps)
	}
	defer func() {
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		held := owned
		owned = map[int]uint64{}
		report()
		for p, rev := range held {
			kv.Delete(gctx, partitionKey+partitionToken(p), jetstream.LastRevision(rev))
		}
		kv.Delete(gctx, workerKey+worker)
	}()
	t := time.NewTicker(leaseRenew)
	defer t.Stop()
	for {
		if err := b.balance(ctx, kv, worker, owned, report); err != nil && ctx.Err() == nil && failed != nil {
			failed(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// balance runs one round of Assign. Errors (the server unreachable) leave
// the leases as they are until the next round; leases that could not be
// renewed are dropped.
func (b *Bus) balance(ctx context.Context, kv jetstream.KeyValue, worker string, owned map[int]uint64, report func()) error {
	if _, err := kv.Put(ctx, workerKey+worker, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	workers, err := b.liveWorkers(ctx, kv)
	if err != nil {
		return err
	}
	fair := (b.names.partitions + workers - 1) / max(workers, 1)
	changed := false
	var free []int
	for p := range b.names.partitions {
		e, err := kv.Get(ctx, partitionKey+partitionToken(p))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			free = append(free, p)
			if _, ok := owned[p]; ok {
				delete(owned, p) // expired under us
				changed = true
			}
		case err != nil:
			return err
		case string(e.Value()) == worker:
			if _, ok := owned[p]; !ok {
				changed = true // ours from before a restart of this worker
			}
			owned[p] = e.Revision()
		default:
			if _, ok := owned[p]; ok {
				delete(owned, p) // taken over: we were cut off too long
				changed = true
			}
		}
	}
	for p, rev := range owned {
		nrev, err := kv.Update(ctx, partitionKey+partitionToken(p), []byte(worker), rev)
		if err != nil {
			delete(owned, p)
			changed = true
			continue
		}
		owned[p] = nrev
	}
	if changed {
		report()
		changed = false
	}
	if extra := len(owned) - fair; extra > 0 {
		release := map[int]uint64{}
		for p := b.names.partitions - 1; p >= 0 && len(release) < extra; p-- {
			if rev, ok := owned[p]; ok {
				release[p] = rev
				delete(owned, p)
			}
		}
		report() // stop reading them before anyone else may
		for p, rev := range release {
			kv.Delete(ctx, partitionKey+partitionToken(p), jetstream.LastRevision(rev))
		}
	}
	for _, p := range free {
		if len(owned) >= fair {
			break
		}
		rev, err := kv.Create(ctx, partitionKey+partitionToken(p), []byte(worker))
		if err != nil {
			continue // another worker was quicker
		}
		owned[p] = rev
		changed = true
	}
	if changed {
		report()
	}
	return nil
}

// keySafe maps a worker name to the characters a key may hold.
func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=' {
			return r
		}
		return '_'
	}, s)
}

// liveWorkers counts the workers whose presence has not expired.
func (b *Bus) liveWorkers(ctx context.Context, kv jetstream.KeyValue) (int, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for k := range keys.Keys() {
		if strings.HasPrefix(k, workerKey) {
			n++
		}
	}
	return n, nil
}

// leaseBucket opens or creates the lease bucket: entries live leaseTTL
// unless renewed.
func (b *Bus) leaseBucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, b.names.leases)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bus: lease bucket: %w", err)
	}
	kv, err = b.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b.names.leases, Description: "detection workers' partition leases",
		TTL: leaseTTL, Storage: jetstream.FileStorage, Replicas: b.cfg.Replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		return b.js.KeyValue(ctx, b.names.leases)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: lease bucket: %w", err)
	}
	return kv, nil
}

// DeleteNamespace removes this deployment's streams and lease bucket from
// the server (for tools and tests that set up a namespace of their own).
func (b *Bus) DeleteNamespace(ctx context.Context) error {
	if b.names.prefix == "" {
		return errors.New("bus: no namespace to delete")
	}
	var errs []error
	for _, s := range []string{b.names.ingestStream, b.names.alertStream} {
		if err := b.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, err)
		}
	}
	if err := b.js.DeleteKeyValue(ctx, b.names.leases); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
