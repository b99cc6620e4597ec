package respond

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xsoc/xsoc/internal/store"
)

// Options configure a Responder. The zero value works: every field has a
// default.
type Options struct {
	// Logger receives dry runs, dead letters and load problems; nil means
	// slog.Default().
	Logger *slog.Logger
	// Registry, if set, gets the delivery counters.
	Registry *prometheus.Registry
	// Indicators adds threat intelligence to the members' feeds.
	Indicators IndicatorSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Workers bounds concurrent deliveries (default 4).
	Workers int
	// Backoff spaces out retries (defaults: see Backoff).
	Backoff Backoff
	// PollInterval is how often idle workers look for deliveries queued by
	// other processes (default 5s). Deliveries queued by this process and
	// retries falling due wake the workers at once.
	PollInterval time.Duration
	// Lease is how long an attempt owns its row; a process that dies
	// mid-attempt leaves the row to be retried when the lease ends
	// (default 2m; it must exceed the longest action timeout).
	Lease time.Duration
	// MaxRetryAfter caps how long a Retry-After answer can hold a delivery
	// back (default 1h).
	MaxRetryAfter time.Duration
	// HTTPClient sends webhooks (default: a client that does not follow
	// redirects; each request gets its action's timeout).
	HTTPClient *http.Client
	// SMTPTLS is the base TLS configuration for STARTTLS (ServerName is
	// set per host); nil means the system roots.
	SMTPTLS *tls.Config
	// SMTPHello is the name sent in EHLO (default: the host name).
	SMTPHello string
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	o.Backoff.setDefaults()
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Hour
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{
			// A webhook answering with a redirect is misconfigured; following
			// it would send alert data somewhere the playbook never named.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.SMTPHello == "" {
		o.SMTPHello, _ = os.Hostname()
		if o.SMTPHello == "" {
			o.SMTPHello = "localhost"
		}
	}
}

// Responder runs playbooks on alerts and delivers their actions. It is
// safe for concurrent use.
type Responder struct {
	db   *store.DB
	opts Options
	log  *slog.Logger

	// set is the running playbook set, swapped whole by Load.
	set    atomic.Pointer[playbookSet]
	loadMu sync.Mutex

	blocklist *Blocklist
	hub       *HubOutbox
	metrics   *metrics

	// wake tells the delivery loop that rows were queued.
	wake    chan struct{}
	started atomic.Bool
	workers sync.WaitGroup
}

// New returns a Responder over db, which must be migrated with Schema. It
// runs no playbook until Load and delivers nothing until Start.
func New(db *store.DB, opts Options) (*Responder, error) {
	if db == nil {
		return nil, errors.New("respond: nil store")
	}
	opts.setDefaults()
	if opts.Lease <= maxActionTimeout {
		return nil, fmt.Errorf("respond: lease %s must exceed the longest action timeout %s", opts.Lease, maxActionTimeout)
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	r := &Responder{
		db: db, opts: opts, log: opts.Logger,
		blocklist: NewBlocklist(db, opts.Now),
		hub:       &HubOutbox{db: db},
		metrics:   m,
		wake:      make(chan struct{}, 1),
	}
	r.set.Store(&playbookSet{})
	return r, nil
}

// Blocklist returns the members' blocklists.
func (r *Responder) Blocklist() *Blocklist { return r.blocklist }

// HubOutbox returns the queue of alerts raised to the national hub.
func (r *Responder) HubOutbox() *HubOutbox { return r.hub }

// playbookSet is an immutable, ordered set of playbooks.
type playbookSet struct {
	// byFile holds each file's playbooks, keyed by base name, so a reload
	// can keep the last good version of a file that now fails.
	byFile  map[string][]*playbook
	ordered []*playbook
	byName  map[string]*playbook
}

func newPlaybookSet(byFile map[string][]*playbook) *playbookSet {
	s := &playbookSet{byFile: byFile, byName: make(map[string]*playbook)}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		for _, pb := range byFile[f] {
			s.ordered = append(s.ordered, pb)
			s.byName[pb.name] = pb
		}
	}
	return s
}

// Load reads every *.yaml and *.yml file in dir and makes the result the
// running playbook set. A file with any problem is rejected whole and its
// previous version, if one was loaded, keeps running; a file that is gone
// is dropped. Load returns every problem found; none means the directory
// is running exactly as written.
func (r *Responder) Load(dir string) []LoadError {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []LoadError{{File: dir, Reason: err.Error()}}
	}
	prev := r.set.Load()
	next := make(map[string][]*playbook)
	var errs []LoadError
	names := make(map[string]string) // playbook name -> file that holds it
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || ext != ".yaml" && ext != ".yml" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := e.Name()
		pbs, fileErrs := r.loadFile(filepath.Join(dir, file), file)
		fileErrs = append(fileErrs, duplicateNames(file, pbs, names)...)
		if len(fileErrs) > 0 {
			errs = append(errs, fileErrs...)
			pbs = prev.byFile[file]
			if len(duplicateNames(file, pbs, names)) > 0 {
				pbs = nil // the old version clashes too: nothing to keep
			}
		}
		for _, pb := range pbs {
			names[pb.name] = file
		}
		if len(pbs) > 0 {
			next[file] = pbs
		}
	}
	r.set.Store(newPlaybookSet(next))
	for _, e := range errs {
		r.log.Warn("respond: playbook rejected", "error", e.Error())
	}
	return errs
}

func (r *Responder) loadFile(path, file string) ([]*playbook, []LoadError) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []LoadError{{File: file, Reason: err.Error()}}
	}
	return parsePlaybooks(file, data)
}

// duplicateNames reports playbooks of file whose names an earlier file (or
// an earlier document of the same file) already uses.
func duplicateNames(file string, pbs []*playbook, names map[string]string) []LoadError {
	var errs []LoadError
	local := make(map[string]bool)
	for _, pb := range pbs {
		if other, ok := names[pb.name]; ok || local[pb.name] {
			if !ok {
				other = file
			}
			errs = append(errs, LoadError{File: file, Line: pb.line,
				Reason: fmt.Sprintf("playbook name %q is already used in %s", pb.name, other)})
		}
		local[pb.name] = true
	}
	return errs
}

// Playbooks describes the running playbooks, in the order they are tried.
func (r *Responder) Playbooks() []PlaybookInfo {
	set := r.set.Load()
	out := make([]PlaybookInfo, 0, len(set.ordered))
	for _, pb := range set.ordered {
		out = append(out, pb.info())
	}
	return out
}

// Watch reloads dir whenever a playbook file in it changes (checked every
// interval) until ctx ends, passing each load's problems to report (which
// may be nil). It loads once at the start.
func (r *Responder) Watch(ctx context.Context, dir string, every time.Duration, report func([]LoadError)) {
	if every <= 0 {
		every = 5 * time.Second
	}
	last := ""
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if sig := dirSignature(dir); sig != last {
			last = sig
			errs := r.Load(dir)
			if report != nil {
				report(errs)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// dirSignature summarises the names, sizes and modification times of the
// playbook files in dir; any edit changes it.
func dirSignature(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s|%d|%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}

// signal wakes the delivery loop without blocking.
func (r *Responder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
