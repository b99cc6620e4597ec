package stixpattern

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
)

// syncPage is how many changes Sync reads from the repository at a time.
const syncPage = 5000

// defaultPoll is Run's poll interval when none is given.
const defaultPoll = time.Minute

// Stats counts the indicator versions Sync has read, by outcome.
type Stats struct {
	Loaded   int // complex STIX patterns compiled
	Simple   int // simple patterns, left to the IOC index
	Other    int // pattern types other than "stix"
	Revoked  int // revoked versions of complex patterns
	Rejected int // versions that could not be read or compiled (logged)
	Deleted  int // versions deleted from the repository
}

// Stats returns the counts so far.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// version is one stored version of an indicator, as this detector sees
// it: its rule, or nil when that version must not match.
type version struct {
	at   time.Time // the STIX modified timestamp
	rule *rule
}

// Sync applies the indicator changes stored in repo since the last call
// and returns how many it read. Pass the same repository every time: the
// detector remembers its position in that repository's change feed.
//
// Only the latest version of an indicator counts, per collection: a new
// version replaces the old pattern, a revoked one removes it, and deleting
// the latest version falls back to the one before. When the set of
// patterns changed, Sync publishes it at once for Detect. Partial matches
// of multi-observation patterns survive a Sync unless their own indicator
// changed.
//
// Indicators that cannot be read or compiled (for instance a pattern on
// an object path xsoc events do not carry) are logged and counted in
// Stats().Rejected; they never make Sync fail. An error means the
// repository could not be read; what was read before it is applied.
func (d *Detector) Sync(ctx context.Context, repo *intel.Repo) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	applied, changed := 0, false
	defer func() {
		if changed {
			d.publish()
		}
	}()
	for {
		changes, next, err := repo.Since(ctx, d.cursor, syncPage, "indicator")
		if err != nil {
			return applied, err
		}
		if len(changes) == 0 {
			return applied, nil
		}
		for _, c := range changes {
			if d.apply(c) {
				changed = true
			}
		}
		d.cursor = next
		applied += len(changes)
	}
}

// Run follows repo until ctx ends: it syncs at once, then whenever the
// repository signals a commit, and every poll interval (default one
// minute) to catch writes by other processes (the CLI's imports, other
// nodes on PostgreSQL).
func (d *Detector) Run(ctx context.Context, repo *intel.Repo, poll time.Duration) {
	if poll <= 0 {
		poll = defaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		// Take the signal before syncing: a commit that lands while Sync
		// reads closes this channel, so it is never missed.
		changed := repo.Changed()
		if _, err := d.Sync(ctx, repo); err != nil && ctx.Err() == nil {
			d.log.Warn("stixpattern: sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

// apply records one change and reports whether it changed the rule in
// force for its indicator.
func (d *Detector) apply(c intel.Change) bool {
	key := c.Object.Collection + "/" + c.Object.ID
	vs, known := d.versions[key]
	before := latest(vs)
	if c.Deleted {
		if !known {
			return false
		}
		d.stats.Deleted++
		vs = slices.DeleteFunc(vs, func(v version) bool { return v.at.Equal(c.Object.Version) })
	} else {
		r, ours := d.read(c.Object)
		// Versions that are not complex patterns matter only as the newer
		// versions of one that is: they hide it.
		if !ours && !known {
			return false
		}
		vs = insertVersion(vs, version{at: c.Object.Version, rule: r})
	}
	if len(vs) == 0 {
		delete(d.versions, key)
	} else {
		d.versions[key] = vs
	}
	return latest(vs) != before
}

// read reads one indicator version, counts and logs the outcome, and
// returns its rule (nil: it must not match) and whether it is a complex
// STIX pattern, this detector's own.
func (d *Detector) read(o intel.Object) (*rule, bool) {
	r, v, err := readVersion(o, d.opts.Observer)
	switch v {
	case simplePattern:
		d.stats.Simple++
	case otherType:
		d.stats.Other++
	case unreadable:
		d.reject(o, err)
	case complexPattern:
		switch {
		case errors.Is(err, errRevoked):
			d.stats.Revoked++
		case err != nil:
			d.reject(o, err)
		default:
			d.stats.Loaded++
		}
	}
	return r, v == complexPattern
}

func (d *Detector) reject(o intel.Object, err error) {
	d.stats.Rejected++
	d.log.Warn("stixpattern: indicator not loaded", "id", o.ID, "collection", o.Collection, "reason", err.Error())
}

// insertVersion adds v to vs, kept in time order; a version stored twice
// replaces the first.
func insertVersion(vs []version, v version) []version {
	i, found := slices.BinarySearchFunc(vs, v.at, func(x version, t time.Time) int { return x.at.Compare(t) })
	if found {
		vs[i] = v
		return vs
	}
	return slices.Insert(vs, i, v)
}

// latest returns the rule of the newest version, nil if none.
func latest(vs []version) *rule {
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1].rule
}

// publish builds a snapshot of the rules in force and makes it current.
// Rules are listed in a stable order (collection, then id) so that alerts
// come out in the same order from one Sync to the next.
func (d *Detector) publish() {
	var rules []*rule
	for _, vs := range d.versions {
		if r := latest(vs); r != nil {
			rules = append(rules, r)
		}
	}
	slices.SortFunc(rules, func(a, b *rule) int {
		if c := strings.Compare(a.collection, b.collection); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	s := &snapshot{}
	for _, r := range rules {
		if r.multi {
			s.multi = append(s.multi, r)
		} else {
			s.single = append(s.single, r)
		}
	}
	d.cur.Store(s)
}
