package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/config"
	"github.com/xsoc/xsoc/internal/correlate"
	"github.com/xsoc/xsoc/internal/detect/ml"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/intel/warninglist"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// directory answers "which country and sector is this member in" for the
// correlator, which asks once per alert. Members change rarely, so answers
// are cached for a minute.
type directory struct {
	reg *member.Registry

	mu      sync.Mutex
	members map[string]member.Member
	loaded  time.Time
}

func (d *directory) get(id string) member.Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[id]
	// Reload at most once a minute, or once a second for a member not yet
	// seen (just added), so that an unknown id cannot make every call query.
	if age := time.Since(d.loaded); ok && age < time.Minute || !ok && age < time.Second {
		return m
	}
	ms, err := d.reg.List(context.Background())
	if err != nil {
		return m
	}
	d.members = make(map[string]member.Member, len(ms))
	for _, m := range ms {
		d.members[m.ID] = m
	}
	d.loaded = time.Now()
	return d.members[id]
}

func (d *directory) country(id string) string { return d.get(id).Country }

// clientOf returns the members id is a client of; the slice is shared, not
// copied, so that detectors calling it per event do not allocate.
func (d *directory) clientOf(id string) []string { return d.get(id).ClientOf }
func (d *directory) sector(id string) string     { return d.get(id).Sector }

// alertSink is what the pipeline hands alerts to: the alert service
// (dedup, storage, bus), then the correlator (incidents, campaigns).
// Both are idempotent per event id, as the pipeline requires.
type alertSink struct {
	db         *store.DB
	alerts     *alert.Service
	correlator *correlate.Correlator
	dir        *directory
}

// raiseLock names the store-wide lock under which alerts are raised and
// correlated. Detection workers of a scaled-out node prepare batches in
// parallel, but deduplication and correlation read and then write shared
// rows (open alerts, incidents, campaigns spanning members), so their
// commits take turns, as one process's commits do.
const raiseLock = 0x78736f6301 // "xsoc" 1

// Raise applies each member's sharing level to its alerts — an alert is
// never shared more widely than its member allows, nor than the intel that
// raised it — then stores, deduplicates and correlates them.
func (s alertSink) Raise(ctx context.Context, batch []alert.Alert) error {
	for i := range batch {
		batch[i].TLP = max(batch[i].TLP, s.dir.get(batch[i].Member).AlertLevel())
	}
	return s.db.Exclusive(ctx, raiseLock, func() error {
		// One transaction stores the alerts and the incidents they join:
		// one commit per group instead of one each.
		var placed func(context.Context) error
		raised, err := s.alerts.RaiseThen(ctx, batch, func(tx *store.Tx, raised []alert.Alert) error {
			var err error
			placed, err = s.correlator.ProcessIn(ctx, tx, raised)
			return err
		})
		if raised == nil { // nothing stored
			return err
		}
		after := placed(ctx)
		if err != nil && !errors.Is(err, alert.ErrInvalid) {
			return errors.Join(err, after)
		}
		return after
	})
}

// openCases builds the alert service and the correlator and mounts their
// API.
func (n *Node) openCases(ctx context.Context) error {
	var err error
	n.Alerts, err = alert.NewService(n.DB, n.Bus, alert.Options{Registry: n.Metrics, Triage: n.newTriage(ctx),
		Exclusive: func(ctx context.Context, fn func() error) error { return n.DB.Exclusive(ctx, raiseLock, fn) }})
	if err != nil {
		return err
	}
	dir := n.dir
	n.Correlator, err = correlate.NewCorrelator(n.DB, n.Alerts, correlate.Options{
		MemberCountry: dir.country, MemberSector: dir.sector,
	})
	if err != nil {
		return err
	}
	if _, err := n.Alerts.Republish(ctx); err != nil {
		n.Log.Warn("republishing alerts", "err", err)
	}
	n.sink = alertSink{db: n.DB, alerts: n.Alerts, correlator: n.Correlator, dir: dir}
	(&api.Cases{Alerts: n.Alerts, Incidents: n.Correlator}).Register(n.mux)
	return nil
}

// newTriage builds the alert triage model, each member's saved under
// <data dir>/ml/triage. A model file that cannot be used is named in a
// warning and the member's model is retrained from the verdicts stored
// with its alerts.
func (n *Node) newTriage(ctx context.Context) *ml.Triage {
	var opts ml.TriageOptions
	if n.Config.DataDir != "" {
		opts.Dir = filepath.Join(n.Config.DataDir, "ml", "triage")
	}
	opts.OnLoadError = func(e *ml.TriageLoadError) {
		n.Log.Warn("triage model unusable; retraining it from the stored verdicts", "file", e.Path, "member", e.Member, "err", e.Err)
		verdicts, err := n.Alerts.Verdicts(context.WithoutCancel(ctx), e.Member)
		if err == nil {
			var learnt int
			if learnt, err = n.triage.Retrain(e.Member, verdicts); err == nil {
				n.Log.Info("triage model retrained", "member", e.Member, "verdicts", learnt)
				return
			}
		}
		n.Log.Warn("triage model not retrained: it starts without verdicts", "member", e.Member, "err", err)
	}
	n.triage = ml.NewTriage(opts)
	return n.triage
}

// SharedCollection is the TAXII collection every member reads and writes:
// the community's indicators, GREEN unless marked otherwise.
const SharedCollection = "4f7e1b2c-9a3d-4c5e-8f60-1a2b3c4d5e6f"

// openIntel builds the intel repository and the TAXII server.
func (n *Node) openIntel(ctx context.Context) error {
	var err error
	if n.Intel, err = IntelRepo(n.DB, n.Config); err != nil {
		return err
	}
	if err := EnsureSharedCollection(ctx, n.Intel, n.Members); err != nil {
		return err
	}
	(&api.Collections{Repo: n.Intel, Members: n.Members}).Register(n.mux)
	srv, err := taxii.NewServer(taxii.Config{
		Repo: n.Intel, Authenticate: n.taxiiAuth, Title: "xsoc TAXII 2.1", Log: n.Log, Read: n.auditTAXIIRead,
	})
	if err != nil {
		return err
	}
	n.taxii = srv
	return nil
}

// IntelRepo opens the intel repository with xsoc's import checks: valid
// STIX 2.1, and no indicator of a known-benign value (see WarningLists).
func IntelRepo(db *store.DB, cfg config.Config) (*intel.Repo, error) {
	lists, err := WarningLists(cfg)
	if err != nil {
		return nil, err
	}
	return intel.NewRepo(db, intel.Options{Validate: iocfeed.Validator(lists)}), nil
}

// IntelRepoOverridingLists opens the intel repository as IntelRepo does,
// except that indicators of values on a warning list are stored: note
// receives each one's id and the message that would have refused it. It
// serves an operator's explicit import (xsoc intel import
// --override-warninglists).
func IntelRepoOverridingLists(db *store.DB, cfg config.Config, note func(id, msg string)) (*intel.Repo, error) {
	lists, err := WarningLists(cfg)
	if err != nil {
		return nil, err
	}
	return intel.NewRepo(db, intel.Options{Validate: iocfeed.Overriding(lists, note)}), nil
}

// WarningLists returns the lists indicators are checked against: the
// MISP warning lists of the configured folder (--warninglists), else those
// installed in the data directory (xsoc intel warninglists install),
// followed by the built-in special-purpose ranges, which always apply.
func WarningLists(cfg config.Config) (*warninglist.Set, error) {
	lists, _, err := warninglist.Active(cfg.DataDir, cfg.WarninglistsDir)
	if err != nil {
		return nil, fmt.Errorf("warning lists: %w", err)
	}
	return lists, nil
}

// EnsureSharedCollection creates the shared collection if it is missing
// and lets every member read and write it.
func EnsureSharedCollection(ctx context.Context, repo *intel.Repo, reg *member.Registry) error {
	_, err := repo.Collection(ctx, intel.Viewer{Operator: true}, SharedCollection)
	if errors.Is(err, intel.ErrNotFound) {
		green := tlp.Green
		_, err = repo.CreateCollection(ctx, intel.Collection{
			ID: SharedCollection, Title: "Shared indicators",
			Description: "Indicators members share with the community; TLP decides who sees each one.",
			Alias:       "shared", DefaultTLP: &green, CommunityRead: true,
		})
	}
	if err != nil {
		return fmt.Errorf("intel: shared collection: %w", err)
	}
	ms, err := reg.List(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := repo.SetRights(ctx, SharedCollection, m.ID, intel.Rights{Read: true, Write: true}); err != nil {
			return err
		}
	}
	return nil
}

// GrantSharedWrite lets every member publish to the shared collection.
func (n *Node) GrantSharedWrite(ctx context.Context) error {
	return EnsureSharedCollection(ctx, n.Intel, n.Members)
}

// serveTAXII serves a TAXII request under the key's token bucket (the
// one its REST calls spend): a valid key's principal goes into the
// request for taxiiAuth and the audit log; an empty bucket answers 429
// with Retry-After, as a TAXII error. Requests without a valid key go on
// to the server, which answers 401.
func (n *Node) serveTAXII(w http.ResponseWriter, r *http.Request) {
	if key := api.KeyOf(r); key != "" {
		if p, err := n.Members.Authenticate(r.Context(), key); err == nil {
			if wait, ok := n.limiter.Take(p.KeyID, false); !ok {
				w.Header().Set("Retry-After", api.RetryAfter(wait))
				taxii.WriteError(w, http.StatusTooManyRequests, "Too many requests", n.limiter.Refusal(false, wait))
				return
			}
			r = r.WithContext(api.WithPrincipal(r.Context(), p))
		}
	}
	n.taxii.ServeHTTP(w, r)
}

// taxiiAuth maps TAXII credentials (Bearer key, or Basic with the key as
// password) to an intel viewer: the principal serveTAXII found, else the
// key's (which then fails).
func (n *Node) taxiiAuth(r *http.Request) (intel.Viewer, error) {
	p, ok := api.PrincipalFrom(r.Context())
	if !ok {
		key := api.KeyOf(r)
		if key == "" {
			return intel.Viewer{}, taxii.ErrUnauthenticated
		}
		var err error
		p, err = n.Members.Authenticate(r.Context(), key)
		if errors.Is(err, member.ErrUnauthenticated) {
			return intel.Viewer{}, fmt.Errorf("%w: %v", taxii.ErrUnauthenticated, err)
		}
		if err != nil {
			return intel.Viewer{}, err
		}
	}
	return intel.Viewer{Member: p.Member.ID, ClientOf: p.Member.ClientOf, Operator: p.Operator()}, nil
}

// auditTAXIIRead records a TAXII read in the audit log: an operator's as
// an administrative request, a member's as one entry per other member
// whose objects it read (xsoc's own identities are nobody's data).
func (n *Node) auditTAXIIRead(r *http.Request, v intel.Viewer, read []intel.Object) {
	p, _ := api.PrincipalFrom(r.Context())
	e := api.ReadEntry(r, p, http.StatusOK)
	e.Action = r.Method + " " + strings.TrimPrefix(r.URL.Path, "/")
	if v.Operator {
		if err := n.Audit.Record(r.Context(), e); err != nil {
			n.Log.Error("audit: entry lost", "err", err, "actor", e.Actor, "action", e.Action)
		}
		return
	}
	byOwner := map[string][]string{}
	for _, o := range read {
		if o.Owner != v.Member && o.Owner != intel.SystemOwner && !slices.Contains(byOwner[o.Owner], o.ID) {
			byOwner[o.Owner] = append(byOwner[o.Owner], o.ID)
		}
	}
	api.RecordReads(n.Audit, n.Log, r, e, api.Group(byOwner))
}
