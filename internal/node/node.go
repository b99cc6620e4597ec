// Package node assembles one xsoc node from its parts — store, bus, ingest,
// pipeline, detectors, alerting, API — and runs it. It is the only package
// that knows them all; each part only knows the ones its data flows from.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/archive"
	"github.com/xsoc/xsoc/internal/audit"
	"github.com/xsoc/xsoc/internal/bus"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/detect/stixpattern"
	"github.com/xsoc/xsoc/internal/eventlog"
	"github.com/xsoc/xsoc/internal/federation"
	"github.com/xsoc/xsoc/internal/ingest"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/pipeline"
	"github.com/xsoc/xsoc/internal/respond"
	"github.com/xsoc/xsoc/internal/rulestore"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/user"
	"github.com/xsoc/xsoc/internal/web"
)

// Node is one running xsoc node.
type Node struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *store.DB
	Bus     *bus.Bus
	Members *member.Registry
	// Audit records administrative actions and reads of other members' data.
	Audit *audit.Log
	// Events records the input lines the pipeline could not normalise.
	Events *eventlog.Log
	// Archive keeps every normalised event for hunting.
	Archive  *archive.Archive
	Metrics  *prometheus.Registry
	Acceptor *ingest.Acceptor
	// Alerts, Correlator and Intel are the case and intel services.
	Alerts     *alert.Service
	Correlator *correlate.Correlator
	Intel      *intel.Repo
	// Sigma and IOC are the detectors; Rules stores Sigma rules.
	Sigma *sigma.Engine
	IOC   *ioc.Index
	// Patterns evaluates STIX indicators whose patterns the IOC index
	// cannot hold (several observables, FOLLOWEDBY, qualifiers).
	Patterns *stixpattern.Detector
	Rules    *rulestore.Store
	Respond  *respond.Responder
	// Users are the people who log in to the web console.
	Users *user.Store
	// NoPipeline leaves accepted input on the bus unprocessed (for
	// measuring the accept path alone, and for ingest-only nodes when
	// separate workers run the pipeline).
	NoPipeline bool
	// NoArchive leaves the archive's path unread: detection goes on, and
	// the ingest stream keeps the batches until an archiver reads them.
	NoArchive bool

	detectors []detect.Detector
	mlStates  []mlState // learnt detector state, saved under the data directory
	sink      pipeline.AlertSink
	// triage is the alert triage model the alert service scores with.
	triage   *ml.Triage
	mux      *http.ServeMux
	taxii    http.Handler
	feeder   *iocfeed.Feeder
	feeds    []*taxii.Feed
	dir      *directory // members' countries, sectors and relations, cached
	listener net.Listener
	syslog   []*ingest.SyslogServer
	fed      federationParts
	console  *web.Console
	// guarded is the route multiplexer behind the audit log, for requests
	// already authenticated (API keys, console sessions).
	guarded http.Handler
	// limiter is the token buckets of every key and console user, shared
	// by the API, TAXII and the console.
	limiter *api.Limiter
}

// Schemas are the tables of every package a node uses, in dependency order.
func Schemas() []store.Schema {
	return []store.Schema{member.Schema(), eventlog.Schema(), alert.Schema(), correlate.Schema(),
		intel.Schema(), taxii.Schema(), rulestore.Schema(), respond.Schema(), federation.Schema(), federation.CorroborationSchema(), federation.HierarchySchema(), archive.RetentionSchema(),
		user.Schema(), audit.Schema()}
}

// OpenStore opens and migrates the configured store; the CLI's offline
// commands (members, rules import) use it without starting a node.
func OpenStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	var opts []store.SQLiteOption
	if cfg.Sync != "always" {
		opts = append(opts, store.SyncNormal()) // the same promise the bus makes
	}
	db, err := store.Open(ctx, cfg.DataDir, cfg.PostgresURL, opts...)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, Schemas()...); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Open builds a node: store, bus, registry, and the HTTP API listener. It
// does not start serving; Run does.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The data directory holds every member's events and the keys: owner
	// only. JetStream creates its files group-readable; its directory
	// made here keeps them the owner's too.
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "jetstream"), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory is open to other users; xsoc creates it 0700", "dir", cfg.DataDir, "mode", fi.Mode().Perm().String())
	}
	n := &Node{Config: cfg, Log: log, Metrics: prometheus.NewRegistry(), mux: http.NewServeMux()}
	n.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	leaf, err := n.federationLeaf()
	if err != nil {
		return nil, err
	}
	if n.DB, err = openRoleStore(ctx, cfg); err != nil {
		return nil, err
	}
	n.Bus, err = bus.Open(ctx, bus.Config{
		URL: cfg.NATSURL, DataDir: cfg.DataDir, SyncAlways: cfg.Sync == "always",
		IngestMaxBytes: cfg.IngestMaxBytes, Listen: cfg.NATSListen, Leaf: leaf,
		Namespace: cfg.NATSNamespace, Replicas: cfg.NATSReplicas,
	})
	if err != nil {
		n.DB.Close()
		return nil, err
	}
	n.Members = member.NewRegistry(n.DB)
	n.Audit = audit.New(n.DB)
	n.dir = &directory{reg: n.Members}
	n.Events = eventlog.New(n.DB)
	if n.Archive, err = openArchive(ctx, cfg); err != nil {
		n.Close()
		return nil, err
	}
	n.Acceptor = ingest.NewAcceptor(n.Bus)
	if !compressIngest(cfg.IngestCompression, n.Bus.Embedded()) {
		n.Acceptor.PublishPlain()
	}
	for _, sc := range cfg.Syslog {
		if !n.serves(config.RoleAPI) {
			break // input comes in through the API's process
		}
		s, err := ingest.ListenSyslog(sc, n.Acceptor, log)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("syslog listener for %s: %w", sc.Member, err)
		}
		n.syslog = append(n.syslog, s)
	}
	if n.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		n.Close()
		return nil, fmt.Errorf("api listener: %w", err)
	}
	n.routes()
	if err := n.openCases(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openFederation(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openIntel(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openConsole(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openDetection(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openEarlyWarning(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openRespond(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.openFeeds(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// AddDetector adds a detector to the pipeline; call before Run.
func (n *Node) AddDetector(d detect.Detector) { n.detectors = append(n.detectors, d) }

// SetAlertSink sets where the pipeline's alerts go; call before Run.
func (n *Node) SetAlertSink(s pipeline.AlertSink) { n.sink = s }

// Handle adds an authenticated API route; call before Run.
func (n *Node) Handle(pattern string, h http.Handler) { n.mux.Handle(pattern, h) }

func (n *Node) routes() {
	core := &api.Core{Members: n.Members, Events: n.Events, AfterAdd: func(ctx context.Context, _ member.Member) error {
		return n.GrantSharedWrite(ctx)
	}}
	core.Register(n.mux)
	(&api.Hunt{Archive: n.Archive, Policies: archive.NewPolicies(n.DB)}).Register(n.mux)
	lim := n.Config.Limits
	n.mux.Handle("POST /api/v1/ingest", ingest.NewHandler(n.Acceptor, api.MemberOfRequest, n.Log, ingest.Limits{
		MaxBody: int64(lim.IngestMaxBody), MaxInflight: lim.IngestConcurrency,
		Budget: ingest.NewBudget(int64(lim.MemoryBudget), int64(lim.KeyMemory)),
	}))
	n.mux.Handle("GET /metrics", api.RequireOperator(promhttp.HandlerFor(n.Metrics, promhttp.HandlerOpts{})))
	n.mux.Handle("GET /api/v1/openapi.json", api.OpenAPIHandler())
	n.mux.Handle("GET /api/v1/audit", api.AuditHandler(n.Audit))
	n.guarded = api.Audited(n.Audit, n.Log, n.mux)
	n.limiter = api.NewLimiter(api.Limits{
		IngestRate: lim.IngestRate, IngestBurst: lim.IngestBurst, APIRate: lim.APIRate, APIBurst: lim.APIBurst,
		MaxBody: int64(lim.APIMaxBody), MaxPage: lim.MaxPage, MaxRange: lim.MaxRange,
	})
}

// Handler returns the node's HTTP handler: /healthz open, the web console
// (its pages, and API calls made with its session cookie), all else
// authenticated by API key.
func (n *Node) Handler() http.Handler {
	authed := api.Authenticate(n.Members, n.Log, n.limiter.Handler(n.guarded))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		if n.console != nil && n.console.Serves(r) {
			n.console.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/taxii2/") && n.taxii != nil {
			n.serveTAXII(w, r) // TAXII authenticates itself, with TAXII error bodies
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// Addr is the API's listen address (useful with port 0).
func (n *Node) Addr() string { return n.listener.Addr().String() }

// URL is the API's base URL.
func (n *Node) URL() string {
	scheme := "http"
	if n.Config.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + n.Addr()
}

// SyslogServers returns the node's syslog listeners.
func (n *Node) SyslogServers() []*ingest.SyslogServer { return n.syslog }

// EnsureOperatorKey creates an operator key on first start and writes it
// to <data_dir>/operator.key (mode 0600). It returns the path when it
// created one.
func (n *Node) EnsureOperatorKey(ctx context.Context) (string, error) {
	has, err := n.Members.HasOperatorKey(ctx)
	if err != nil || has {
		return "", err
	}
	key, err := n.Members.CreateOperatorKey(ctx)
	if err != nil {
		return "", err
	}
	path := filepath.Join(n.Config.DataDir, "operator.key")
	return path, os.WriteFile(path, []byte(key+"\n"), 0o600)
}

// Run serves the API, syslog and the pipeline until ctx ends, then shuts
// down in order: stop taking input, let the pipeline finish its batch,
// close the bus and store.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	handler := n.Handler()
	if !n.serves(config.RoleAPI) {
		handler = n.workerHandler()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.Log.Handler(), slog.LevelWarn),
	}
	if n.console != nil {
		srv.RegisterOnShutdown(n.console.Close)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	pctx, stopPipeline := context.WithCancel(context.Background())
	defer stopPipeline()
	host, _ := os.Hostname()
	// When both paths run here, each batch is parsed once; the archive
	// follows detection unless this process reads only some partitions.
	shared := pipeline.NewShared(n.Metrics, !n.Bus.Partitioned())
	p := pipeline.New(pipeline.Config{
		Bus: n.Bus, DB: n.DB, Events: n.Events, Detectors: n.detectors, Sink: n.sink,
		Log: n.Log, Workers: n.Config.Workers, Registry: n.Metrics, Exclusive: n.Bus.Embedded(),
		Worker: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), n.Addr()), Shared: shared,
	})
	a := pipeline.NewArchiver(pipeline.ArchiverConfig{
		Bus: n.Bus, Archive: n.Archive, Log: n.Log, Registry: n.Metrics, Exclusive: n.Bus.Embedded(), Shared: shared,
	})
	for _, path := range []struct {
		off bool
		run func(context.Context) error
	}{{n.NoPipeline || !n.serves(config.RoleDetect), p.Run}, {n.NoPipeline || n.NoArchive || !n.serves(config.RoleArchive), a.Run}} {
		if path.off {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := path.run(pctx); err != nil {
				errs <- err
			}
		}()
	}
	bctx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	var background []func(context.Context)
	if n.serves(config.RoleDetect) { // keeps the detectors' indicators and rules current
		background = append(background,
			func(ctx context.Context) { n.feeder.Run(ctx, 5*time.Second) },
			func(ctx context.Context) { n.Patterns.Run(ctx, n.Intel, 5*time.Second) })
	}
	if !n.serves(config.RoleArchive) || n.serves(config.RoleAPI) {
		background = append(background, n.watchRules,
			func(ctx context.Context) { n.Respond.Start(ctx); <-ctx.Done(); n.Respond.Wait() })
	}
	if n.serves(config.RoleArchive) {
		background = append(background, func(ctx context.Context) {
			n.Archive.KeepWithin(ctx, archive.NewPolicies(n.DB), 10*time.Minute, func(err error) {
				n.Log.Warn("archive: retention not applied; retried in ten minutes", "err", err)
			})
		})
	}
	background = append(background, n.federationWork()...)
	if len(n.mlStates) > 0 && n.serves(config.RoleDetect) {
		background = append(background, n.keepMLStates)
	}
	if d := n.Config.PlaybooksDir; d != "" && n.serves(config.RoleDetect) {
		background = append(background, func(ctx context.Context) {
			n.Respond.Watch(ctx, d, 5*time.Second, func(errs []respond.LoadError) {
				for _, e := range errs {
					n.Log.Warn("respond: playbook rejected; the last good version keeps running", "problem", e.Error())
				}
			})
		})
	}
	for _, f := range n.feeds {
		if !n.serves(config.RoleAPI) {
			break
		}
		background = append(background, func(ctx context.Context) {
			f.Run(ctx, func(err error) { n.Log.Warn("taxii feed poll failed", "err", err) })
		})
	}
	for _, run := range background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(bctx)
		}()
	}
	sctx, stopSyslog := context.WithCancel(context.Background())
	for _, s := range n.syslog {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Serve(sctx)
		}()
	}
	go func() {
		var err error
		if n.Config.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = srv.ServeTLS(n.listener, n.Config.TLSCert, n.Config.TLSKey)
		} else {
			err = srv.Serve(n.listener)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	stopSyslog()
	stopPipeline()
	stopBackground()
	wg.Wait()
	return runErr
}

// Close releases everything Open acquired. Run calls it.
func (n *Node) Close() {
	for _, s := range n.syslog {
		s.Close()
	}
	if n.listener != nil {
		n.listener.Close()
	}
	if n.Bus != nil {
		n.Bus.Close()
		n.Bus = nil
	}
	if n.DB != nil {
		if n.Alerts != nil { // else Republish sends the last alerts again at the next start
			if err := n.Alerts.RecordPublished(context.Background()); err != nil {
				n.Log.Warn("alerts published but not recorded; they are sent again at the next start", "err", err)
			}
		}
		n.DB.Close()
		n.DB = nil
	}
	if n.Archive != nil {
		n.Archive.Close()
		n.Archive = nil
	}
}

// openArchive opens the event archive: in PostgreSQL (its own
// day-partitioned tables) when the node uses PostgreSQL or the archive
// setting names one, else embedded under the data directory.
func openArchive(ctx context.Context, cfg config.Config) (*archive.Archive, error) {
	var e archive.Engine
	var err error
	url := cfg.Archive
	if url == "" {
		url = cfg.PostgresURL
	}
	if url != "" && url != "embedded" {
		e, err = archive.OpenPostgres(ctx, url)
	} else {
		e, err = archive.OpenEmbedded(ctx, filepath.Join(cfg.DataDir, "archive"), cfg.Sync == "always")
	}
	if err != nil {
		return nil, err
	}
	a, err := archive.New(ctx, e)
	if err != nil {
		e.Close()
		return nil, err
	}
	return a, nil
}

// CaughtUp reports whether detection and the archive have both handled
// every batch accepted so far.
func (n *Node) CaughtUp(ctx context.Context) (bool, error) {
	for _, name := range n.Bus.IngestConsumers() {
		p, err := pipeline.Pending(ctx, n.Bus, name)
		if err != nil || p > 0 {
			return false, err
		}
	}
	return true, nil
}

// serves reports whether this process plays role: its own, or every role
// when it runs them all.
func (n *Node) serves(role string) bool {
	return n.Config.Role == config.RoleAll || n.Config.Role == "" || n.Config.Role == role
}

// openRoleStore opens the store. The API process (and a single-process
// node) migrates it; detection and archive workers only check that its
// schema is the one they were built for, and refuse to start otherwise.
func openRoleStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if cfg.Role != config.RoleDetect && cfg.Role != config.RoleArchive {
		return OpenStore(ctx, cfg)
	}
	db, err := store.Open(ctx, cfg.DataDir, cfg.PostgresURL)
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx, Schemas()...); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s worker: %w", cfg.Role, err)
	}
	return db, nil
}

// workerHandler is the HTTP handler of a detection or archive worker:
// /healthz, and /metrics for operators. The REST API is the API
// process's.
func (n *Node) workerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", api.RequireOperator(promhttp.HandlerFor(n.Metrics, promhttp.HandlerOpts{})))
	authed := api.Authenticate(n.Members, n.Log, mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok " + n.Config.Role + "\n"))
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// compressIngest reports whether accepted batches go on the bus S2
// compressed: as configured, and by default only on the embedded bus — an
// external NATS may be read by workers of an xsoc version before
// compression, which would drop messages they cannot decode.
func compressIngest(setting string, embedded bool) bool {
	switch setting {
	case "s2":
		return true
	case "none":
		return false
	}
	return embedded
}
