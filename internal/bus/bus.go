// Package bus is xsoc's message bus: NATS JetStream, either an in-process
// server (the embedded default) or an external cluster.
//
// Durability contract: Publish returns only after JetStream has stored the
// message. With the default sync policy JetStream acknowledges once the
// message is in the operating system's page cache and flushes to disk every
// SyncInterval; that survives kill -9 of xsoc but not a power cut. With
// SyncAlways every message is fsynced before the ack, which survives a power
// cut; batching many events per message keeps it fast.
package bus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and subject prefixes. Subjects carry the owning member as
// their third token so that consumers (and, later, federation leaf nodes)
// can filter by member.
const (
	// IngestStream holds accepted raw input batches until both of its
	// readers, detection and the event archive, have processed them
	// (interest retention: a batch stays while either still needs it).
	IngestStream = "XSOC_INGEST"
	// IngestSubject prefixes ingest subjects: xsoc.ingest.<member>.
	IngestSubject = "xsoc.ingest"
	// AlertStream holds raised alerts for correlation, response and
	// federation consumers.
	AlertStream = "XSOC_ALERTS"
	// AlertSubject prefixes alert subjects: xsoc.alert.<member>.
	AlertSubject = "xsoc.alert"
	// DetectConsumer and ArchiveConsumer are the ingest stream's two
	// durable consumers. Each reads every batch on its own, so a slow or
	// stopped archive never holds detection back; several processes using
	// the same name share that consumer's work.
	DetectConsumer  = "detect"
	ArchiveConsumer = "archive"
)

// Config selects and tunes the bus.
type Config struct {
	// URL of an external NATS server or cluster ("nats://a:4222,nats://b:4222").
	// Empty starts the embedded server.
	URL string
	// DataDir is where the embedded server keeps JetStream files.
	DataDir string
	// SyncAlways makes the embedded server fsync every message before
	// acknowledging it.
	SyncAlways bool
	// IngestMaxBytes bounds the ingest stream. When it is full, publishes
	// fail with ErrFull and ingest answers 503 with Retry-After: the bus
	// never drops accepted data to make room. 0 means 8 GiB.
	IngestMaxBytes int64
	// Replicas is the stream replication factor on an external cluster.
	// 0 means 1.
	Replicas int
	// Namespace, on an external server, prefixes the stream, bucket and
	// subject names, so that several deployments share one server.
	Namespace string
	// MaxPending bounds un-acknowledged asynchronous publishes; beyond it
	// Publish fails with ErrBusy. 0 means 4096.
	MaxPending int
	// Listen, if set, makes the embedded server also accept client
	// connections on this host:port (for tools and remote workers).
	Listen string
	// Leaf, if set, makes the embedded server a federation node: it gets a
	// JetStream domain, a separate account for federation traffic, and
	// leaf node links to or from other nodes (see Leaf).
	Leaf *Leaf
}

// Errors that mean "try again later": ingest maps them to 503 + Retry-After.
var (
	ErrBusy = errors.New("bus: too many publishes in flight")
	ErrFull = errors.New("bus: stream is full")
)

// Bus is a connection to JetStream, with the embedded server if it runs one.
type Bus struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	// fed is the connection into the federation account, when Leaf is set.
	fed *nats.Conn
	// names are the stream, subject and bucket names of this deployment.
	names names
}

// Open starts the embedded server (if cfg.URL is empty) or connects to the
// external one, and creates or updates xsoc's streams.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.IngestMaxBytes == 0 {
		cfg.IngestMaxBytes = 8 << 30
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 4096
	}
	if cfg.Namespace != "" && cfg.URL == "" {
		return nil, errors.New("bus: a namespace applies to an external NATS server")
	}
	b := &Bus{cfg: cfg, names: newNames(cfg.Namespace, cfg.URL != "")}
	opts := []nats.Option{nats.Name("xsoc"), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond)}
	url := cfg.URL
	var creds *leafCredentials
	if url == "" {
		var srv *server.Server
		var err error
		srv, creds, err = startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	} else if cfg.Leaf != nil {
		return nil, errors.New("bus: federation needs the embedded NATS server (no nats_url)")
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.ensureStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if creds != nil {
		if b.fed, err = nats.Connect("", nats.Name("xsoc-federation"), nats.MaxReconnects(-1),
			nats.InProcessServer(b.srv), nats.UserInfo(creds.fedUser, creds.fedPassword),
			nats.CustomInboxPrefix(ReplyPrefix(cfg.Leaf.Domain))); err != nil {
			b.Close()
			return nil, fmt.Errorf("bus: federation account: %w", err)
		}
	}
	return b, nil
}

func startEmbedded(cfg Config) (*server.Server, *leafCredentials, error) {
	if cfg.DataDir == "" {
		return nil, nil, errors.New("bus: embedded server needs a data directory")
	}
	o := &server.Options{
		ServerName:         "xsoc",
		JetStream:          true,
		StoreDir:           filepath.Join(cfg.DataDir, "jetstream"),
		SyncAlways:         cfg.SyncAlways,
		DontListen:         cfg.Listen == "",
		NoSigs:             true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, nil, err
		}
		o.Host, o.Port = host, port
	}
	var creds *leafCredentials
	if cfg.Leaf != nil {
		var err error
		if creds, err = cfg.Leaf.configure(o); err != nil {
			return nil, nil, err
		}
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	if creds != nil && creds.auth != nil {
		creds.auth.mu.Lock()
		creds.auth.srv = srv
		creds.auth.mu.Unlock()
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, nil, errors.New("bus: embedded server did not start within 30s")
	}
	if cfg.Leaf != nil {
		if err := cfg.Leaf.enableJetStream(srv); err != nil {
			srv.Shutdown()
			return nil, nil, err
		}
	}
	return srv, creds, nil
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	streams := []jetstream.StreamConfig{{
		Name:        b.names.ingestStream,
		Description: "accepted raw input batches awaiting the detection pipeline",
		Subjects:    []string{b.names.prefix + IngestSubject + ".>"},
		Retention:   jetstream.InterestPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    b.cfg.IngestMaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  2 * time.Minute,
	}, {
		Name:        b.names.alertStream,
		Description: "raised alerts",
		Subjects:    []string{b.names.prefix + AlertSubject + ".>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    1 << 30,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		Duplicates:  2 * time.Minute,
	}}
	if err := b.retireWorkQueue(ctx); err != nil {
		return err
	}
	for _, sc := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("bus: stream %s: %w", sc.Name, err)
		}
	}
	if err := b.retireUnpartitioned(ctx); err != nil {
		return err
	}
	for _, name := range b.IngestConsumers() {
		_, err := b.js.CreateConsumer(ctx, b.names.ingestStream, b.ConsumerConfig(name))
		if err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
			return fmt.Errorf("bus: consumer %s: %w", name, err)
		}
	}
	return nil
}

// retireWorkQueue replaces an ingest stream of the earlier layout (one
// work-queue reader) when it is empty. JetStream cannot change a stream's
// retention in place; a stream still holding batches is left for the
// earlier version to finish, with a message saying so.
func (b *Bus) retireWorkQueue(ctx context.Context) error {
	s, err := b.js.Stream(ctx, b.names.ingestStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", b.names.ingestStream, err)
	}
	info := s.CachedInfo()
	if info.Config.Retention != jetstream.WorkQueuePolicy {
		return nil
	}
	if info.State.Msgs > 0 {
		return fmt.Errorf("bus: stream %s holds %d batches in the earlier single-reader layout; run the earlier xsoc version until its pipeline has drained them, then start this one",
			b.names.ingestStream, info.State.Msgs)
	}
	if err := b.js.DeleteStream(ctx, b.names.ingestStream); err != nil {
		return fmt.Errorf("bus: replace stream %s: %w", b.names.ingestStream, err)
	}
	return nil
}

// Publish stores data on subject and returns the stream sequence once
// JetStream has acknowledged it. A non-empty msgID makes the publish
// idempotent within the stream's two-minute duplicate window. Many
// goroutines may publish at once; their acks are awaited concurrently.
//
// Subjects are given in their plain form (xsoc.ingest.<member>,
// xsoc.alert.<member>); the bus adds the namespace and, on a partitioned
// ingest stream, the member's partition.
func (b *Bus) Publish(ctx context.Context, subject string, hdr nats.Header, data []byte, msgID string) (uint64, error) {
	if b.nc.Status() != nats.CONNECTED {
		// Publishes would wait in the reconnect buffer for an ack that
		// may take as long as the server is away: say so at once, so that
		// senders retry later instead of holding requests open.
		return 0, fmt.Errorf("%w: connection to NATS lost, reconnecting", ErrBusy)
	}
	msg := &nats.Msg{Subject: b.names.wire(subject), Header: hdr, Data: data}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	fut, err := b.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return 0, ErrBusy
		}
		return 0, fmt.Errorf("bus: publish: %w", err)
	}
	select {
	case ack := <-fut.Ok():
		return ack.Sequence, nil
	case err := <-fut.Err():
		return 0, classify(err)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// JetStream error codes (server/errors.json) that mean the stream has no room.
const (
	jsErrStoreFailed      = 10077 // "maximum bytes exceeded" and kin
	jsErrResources        = 10023
	jsErrAccountResources = 10002
)

// classify maps JetStream's "stream full" answers to ErrFull.
func classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jsErrStoreFailed, jsErrResources, jsErrAccountResources:
			return fmt.Errorf("%w: %v", ErrFull, err)
		}
	}
	if err != nil && (containsAny(err.Error(), "maximum bytes exceeded", "maximum messages exceeded", "insufficient resources")) {
		return fmt.Errorf("%w: %v", ErrFull, err)
	}
	return fmt.Errorf("bus: publish: %w", err)
}

// JetStream exposes the JetStream context for consumers.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn exposes the NATS connection for core (non-persistent) messaging.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Embedded reports whether this Bus runs the in-process server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Close drains the connections and stops the embedded server.
func (b *Bus) Close() {
	if b.fed != nil {
		b.fed.Drain()
		b.fed.Close()
	}
	if b.nc != nil {
		b.nc.Drain()
		b.nc.Close()
	}
	b.shutdownServer()
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
