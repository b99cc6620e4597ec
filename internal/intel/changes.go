package intel

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/xsoc/xsoc/internal/store"
)

// DeleteObject deletes the versions of an object that f selects (all by
// default; only f.Versions and f.SpecVersions apply) and returns how many
// it deleted. A version goes whole unless f.SpecVersions asks for its
// STIX 2.0 form alone: then only that form goes. v must be able to write the collection and must own the
// object (an operator may delete any); ErrNotFound when v sees no matching
// version. Objects are owned per member (see AddObjects): a member that
// holds the id deletes among its own versions only; an operator deletes
// every owner's, first and last counted per owner.
func (r *Repo) DeleteObject(ctx context.Context, v Viewer, collection, id string, f Filter) (int, error) {
	coll, err := r.writable(ctx, v, collection)
	if err != nil {
		return 0, err
	}
	sel, err := parseVersions(f.Versions, "all")
	if err != nil {
		return 0, err
	}
	spec, err := parseSpecVersions(f.SpecVersions)
	if err != nil {
		return 0, err
	}
	if len(f.SpecVersions) == 0 {
		// Deleting deletes every form unless told otherwise.
		spec.v20 = true
	}
	all, err := r.versionsOf(ctx, coll.ID, []string{id}, spec)
	if err != nil {
		return 0, err
	}
	var visible, own []Object
	for _, o := range all {
		if v.mayRead(o.Owner, o.TLP, o.Named) {
			visible = append(visible, o)
			if o.Owner == v.Member {
				own = append(own, o)
			}
		}
	}
	if !v.Operator && len(own) > 0 {
		visible = own
	}
	spans := map[string]span{}
	for _, o := range visible {
		spans[o.Owner] = spans[o.Owner].with(store.Nanos(o.Version))
	}
	var doomed []Object
	for _, o := range visible {
		if sel.keeps(o, spans[o.Owner]) {
			if !v.Operator && o.Owner != v.Member {
				return 0, fmt.Errorf("intel: object %s belongs to another member: %w", id, ErrForbidden)
			}
			doomed = append(doomed, o)
		}
	}
	if len(doomed) == 0 {
		return 0, fmt.Errorf("intel: object %s: %w", id, ErrNotFound)
	}
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		clock, err := lockClock(ctx, tx)
		if err != nil {
			return err
		}
		for _, o := range doomed {
			if !spec.v21 {
				// Only the STIX 2.0 forms go: the versions themselves,
				// and what detection reads of them, stay.
				if _, err := tx.Exec(ctx, `UPDATE intel_objects SET body20 = '' WHERE collection_id = ? AND object_id = ? AND owner = ? AND version = ?`,
					coll.ID, o.ID, o.Owner, store.Nanos(o.Version)); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM intel_objects WHERE collection_id = ? AND object_id = ? AND owner = ? AND version = ?`,
				coll.ID, o.ID, o.Owner, store.Nanos(o.Version)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO intel_deleted (seq, collection_id, object_id, owner, version, type) VALUES (?, ?, ?, ?, ?, ?)`,
				clock.tick(r.opts.Now()), coll.ID, o.ID, o.Owner, store.Nanos(o.Version), o.Type); err != nil {
				return err
			}
		}
		return clock.save(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("intel: delete %s: %w", id, err)
	}
	r.notify()
	return len(doomed), nil
}

// Change is one entry of the repository's change feed.
type Change struct {
	// Seq orders changes; pass the last one seen to Since to resume.
	Seq int64
	// Deleted is true when the version was removed; Object then carries
	// only its collection, id, owner, type and version.
	Deleted bool
	Object  Object
}

// Since returns up to limit changes (additions and deletions, in every
// collection) after the cursor after, oldest first, restricted to the
// given STIX types when any are given, and the cursor to pass next time.
// It does not filter by viewer: its reader (the detection engine's IOC
// index) gets each object's owner, TLP level and named recipients and
// applies them when it shares what it finds. Start with cursor 0.
func (r *Repo) Since(ctx context.Context, after int64, limit int, types ...string) ([]Change, int64, error) {
	if limit <= 0 {
		limit = r.opts.MaxPageSize
	}
	added, err := r.addedSince(ctx, after, limit, types)
	if err != nil {
		return nil, after, err
	}
	deleted, err := r.deletedSince(ctx, after, limit, types)
	if err != nil {
		return nil, after, err
	}
	out := append(added, deleted...)
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if len(out) > limit {
		out = out[:limit]
	}
	next := after
	if len(out) > 0 {
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

func (r *Repo) addedSince(ctx context.Context, after int64, limit int, types []string) ([]Change, error) {
	var sb strings.Builder
	args := []any{after}
	sb.WriteString(`SELECT ` + objectColumns + `, body, collection_id FROM intel_objects WHERE date_added > ?`)
	args = inList(&sb, "type", types, args)
	sb.WriteString(` ORDER BY date_added LIMIT ?`)
	args = append(args, limit)
	rows, err := r.db.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("intel: since: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var (
			o              Object
			version, added int64
			level          int
			named, raw     string
		)
		if err := rows.Scan(&o.ID, &version, &o.Type, &o.SpecVersion, &added, &o.Owner, &level, &named, &raw, &o.Collection); err != nil {
			return nil, fmt.Errorf("intel: since: %w", err)
		}
		o.Version, o.DateAdded = store.Time(version), store.Time(added)
		o.TLP, o.Named, o.Raw = levelOf(level), decodeNamed(named), []byte(raw)
		out = append(out, Change{Seq: added, Object: o})
	}
	return out, rows.Err()
}

func (r *Repo) deletedSince(ctx context.Context, after int64, limit int, types []string) ([]Change, error) {
	var sb strings.Builder
	args := []any{after}
	sb.WriteString(`SELECT seq, collection_id, object_id, owner, version, type FROM intel_deleted WHERE seq > ?`)
	args = inList(&sb, "type", types, args)
	sb.WriteString(` ORDER BY seq LIMIT ?`)
	args = append(args, limit)
	rows, err := r.db.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("intel: since: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var version int64
		if err := rows.Scan(&c.Seq, &c.Object.Collection, &c.Object.ID, &c.Object.Owner, &version, &c.Object.Type); err != nil {
			return nil, fmt.Errorf("intel: since: %w", err)
		}
		c.Deleted, c.Object.Version = true, store.Time(version)
		out = append(out, c)
	}
	return out, rows.Err()
}
