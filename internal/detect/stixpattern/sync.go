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
	Loaded     int // complex STIX patterns compiled
	Simple     int // simple patterns, left to the IOC index
	Other      int // pattern types other than "stix"
	Revoked    int // revoked versions of complex patterns
	Rejected   int // versions that could not be read or compiled (logged)
	Superseded int // versions older than the one in force, stored late
	Deleted    int // versions in force deleted from the repository
}

// Stats returns the counts so far.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// version is the version of an indicator in force in one collection, as
// this detector sees it: its rule, or nil when it must not match.
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
// the latest version falls back to the one before, read from repo. When
// the set of patterns changed, Sync publishes it at once for Detect.
// Partial matches of multi-observation patterns survive a Sync unless
// their own indicator changed.
//
// Indicators that cannot be read or compiled (for instance a pattern on
// an object path xsoc events do not carry) are logged and counted in
// Stats().Rejected; they never make Sync fail. An error means the
// repository could not be read; the changes read before it are applied,
// and the next Sync resumes after them.
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
		changes, _, err := repo.Since(ctx, d.cursor, syncPage, "indicator")
		if err != nil {
			return applied, err
		}
		if len(changes) == 0 {
			return applied, nil
		}
		for _, c := range changes {
			ch, err := d.apply(ctx, repo, c)
			if err != nil {
				return applied, err
			}
			changed = changed || ch
			d.cursor = c.Seq
			applied++
		}
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
func (d *Detector) apply(ctx context.Context, repo *intel.Repo, c intel.Change) (bool, error) {
	key := c.Object.Collection + "/" + c.Object.Owner + "/" + c.Object.ID
	cur, known := d.inForce[key]
	if c.Deleted {
		if !known || !c.Object.Version.Equal(cur.at) {
			return false, nil // an older version, or an indicator not ours
		}
		d.stats.Deleted++
		return d.fallBack(ctx, repo, key, c.Object, cur)
	}
	if known && c.Object.Version.Before(cur.at) {
		d.stats.Superseded++
		return false, nil
	}
	r, ours := d.read(c.Object, true)
	// Versions that are not complex patterns matter only as the newer
	// versions of one that is: they replace it.
	if !ours && !known {
		return false, nil
	}
	d.inForce[key] = version{at: c.Object.Version, rule: r}
	return r != cur.rule, nil
}

// fallBack replaces a deleted version in force with the latest version
// the repository still holds, if any. It reads as the operator: the
// detector serves every member and applies TLP itself, per event.
func (d *Detector) fallBack(ctx context.Context, repo *intel.Repo, key string, deleted intel.Object, cur version) (bool, error) {
	operator := intel.Viewer{Operator: true}
	page, err := repo.Object(ctx, operator, deleted.Collection, deleted.ID, intel.Filter{Versions: []string{"last"}})
	if err != nil && !errors.Is(err, intel.ErrNotFound) {
		return false, err
	}
	// Objects are owned per member: the last version per owner comes
	// back, and only the deleted version's owner's may replace it.
	i := slices.IndexFunc(page.Objects, func(o intel.Object) bool { return o.Owner == deleted.Owner })
	if i < 0 {
		delete(d.inForce, key)
		return cur.rule != nil, nil
	}
	o := page.Objects[i]
	o.Collection = deleted.Collection
	r, _ := d.read(o, false)
	d.inForce[key] = version{at: o.Version, rule: r}
	return r != cur.rule, nil
}

// read reads one indicator version and returns its rule (nil: it must
// not match) and whether it is a complex STIX pattern, this detector's
// own. With count, it counts and logs the outcome; versions read again
// (after a deletion) are not counted twice.
func (d *Detector) read(o intel.Object, count bool) (*rule, bool) {
	r, v, err := readVersion(o, d.opts.Observer)
	if !count {
		return r, v == complexPattern
	}
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

// publish builds a snapshot of the rules in force and makes it current.
// Rules are listed in a stable order (collection, then id) so that alerts
// come out in the same order from one Sync to the next.
func (d *Detector) publish() {
	var rules []*rule
	for _, v := range d.inForce {
		if v.rule != nil {
			rules = append(rules, v.rule)
		}
	}
	slices.SortFunc(rules, func(a, b *rule) int {
		if c := strings.Compare(a.collection, b.collection); c != 0 {
			return c
		}
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.owner, b.owner)
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
