// Package iocfeed keeps the IOC index in step with the intel repository:
// every STIX indicator members share (over TAXII, MISP or CSV imports, or
// the API) whose pattern is a simple observable test — an address, a
// domain, a URL, a hash, an e-mail — becomes index entries within moments
// of being stored, with its owner, TLP, named recipients, confidence and
// validity; revoked or deleted indicators leave the index.
//
// Indicators with complex patterns (several observables, FOLLOWEDBY,
// qualifiers) are not index entries; they are counted and left to the
// pattern detector.
package iocfeed

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/intel"
)

// Half-lives by kind: infrastructure changes hands (an IP is reassigned
// within weeks, a domain within months) while a file hash names the same
// file for ever.
var halfLife = map[ioc.Kind]time.Duration{
	ioc.KindIP:     30 * 24 * time.Hour,
	ioc.KindDomain: 90 * 24 * time.Hour,
	ioc.KindURL:    60 * 24 * time.Hour,
	ioc.KindEmail:  90 * 24 * time.Hour,
}

// defaultConfidence is used for indicators that state none (STIX's
// "unknown"); it sits above the index's decay threshold for one half-life.
const defaultConfidence = 50

// Stats counts what the feeder did.
type Stats struct {
	Indexed  int // index entries added or replaced
	Removed  int // indicators removed (deleted, revoked)
	Complex  int // indicators whose pattern is not a simple test
	Rejected int // indicators that could not be read
}

// Feeder copies indicators from a repository into an index.
type Feeder struct {
	repo  *intel.Repo
	index *ioc.Index
	log   *slog.Logger

	mu     sync.Mutex
	cursor int64
	// entries remembers what each indicator put in the index, so that a
	// new version or a deletion removes exactly that. Indicators are owned
	// per member, so the key is the owner and the id (see held).
	entries map[held][]entry
	stats   Stats
}

type entry struct {
	kind  ioc.Kind
	value string
}

// held names one member's indicator: two members may hold one id.
type held struct{ owner, id string }

// New returns a feeder; call Sync once to load, then Run to follow.
func New(repo *intel.Repo, index *ioc.Index, log *slog.Logger) *Feeder {
	return &Feeder{repo: repo, index: index, log: log, entries: map[held][]entry{}}
}

// Stats returns the counts so far.
func (f *Feeder) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Sync applies every change stored since the last call and returns how
// many it applied.
func (f *Feeder) Sync(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	applied := 0
	for {
		changes, next, err := f.repo.Since(ctx, f.cursor, 5000, "indicator")
		if err != nil {
			return applied, err
		}
		if len(changes) == 0 {
			return applied, nil
		}
		batch := f.index.NewBatch()
		for _, c := range changes {
			f.apply(batch, c)
		}
		if err := batch.Commit(); err != nil {
			return applied, err
		}
		f.cursor = next
		applied += len(changes)
	}
}

// Run follows the repository until ctx ends: it syncs whenever the
// repository signals a commit, and every poll interval to catch writes by
// other processes (the CLI's imports, other nodes on PostgreSQL).
func (f *Feeder) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		// Take the signal before syncing: a commit that lands during Sync
		// then wakes the next round instead of waiting for the poll.
		changed := f.repo.Changed()
		if _, err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("iocfeed: sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (f *Feeder) apply(b *ioc.Batch, c intel.Change) {
	id := c.Object.ID
	key := held{c.Object.Owner, id}
	f.removeEntries(b, key)
	if c.Deleted {
		f.stats.Removed++
		return
	}
	// Sync asks for indicators only, so Read finds no NotIndicator.
	ind, obs, shape, err := Read(c.Object.Raw)
	switch {
	case err != nil:
		f.reject(id, err)
		return
	case shape == Revoked:
		f.stats.Removed++
		return
	case shape == Complex:
		f.stats.Complex++
		return
	}
	confidence := defaultConfidence
	if ind.Confidence != nil {
		confidence = *ind.Confidence
	}
	var added []entry
	for _, o := range obs {
		k, ok := KindOf(o.Type)
		if !ok {
			continue
		}
		err := b.Add(ioc.Indicator{
			ID: id, Kind: k, Value: o.Value, Source: c.Object.Collection, Owner: c.Object.Owner,
			Confidence: confidence, TLP: c.Object.TLP, Named: c.Object.Named,
			ValidFrom: ind.ValidFrom.Time, ValidUntil: ind.ValidUntil.Time, HalfLife: halfLife[k],
		})
		if err != nil {
			f.reject(id, err)
			continue
		}
		added = append(added, entry{k, o.Value})
	}
	f.entries[key] = added
	f.stats.Indexed += len(added)
}

func (f *Feeder) removeEntries(b *ioc.Batch, key held) {
	for _, e := range f.entries[key] {
		b.RemoveOwned(e.kind, e.value, key.id, key.owner)
	}
	delete(f.entries, key)
}

func (f *Feeder) reject(id string, err error) {
	f.stats.Rejected++
	f.log.Warn("iocfeed: indicator not indexed", "id", id, "reason", err.Error())
}
