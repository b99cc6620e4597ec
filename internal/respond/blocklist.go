package respond

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Entry is one value on a member's blocklist.
type Entry struct {
	Member string
	// Type is TypeIP, TypeCIDR, TypeDomain, TypeURL or TypeHash.
	Type  string
	Value string
	// Reason says why the value is blocked, for the analyst reading the
	// feed.
	Reason string
	// SourceAlert is the id of the alert that added the entry, if any.
	SourceAlert string
	// TLP is the marking the entry carries into STIX feeds.
	TLP     tlp.Level
	Added   time.Time
	Expires time.Time // zero: never
}

// Active reports whether e is in force at now.
func (e *Entry) Active(now time.Time) bool {
	return e.Expires.IsZero() || now.Before(e.Expires)
}

// Blocklist is the store of members' blocklists. It is safe for concurrent
// use.
type Blocklist struct {
	db  *store.DB
	now func() time.Time
}

// NewBlocklist returns the blocklist kept in db (migrated with Schema).
// now is the clock; nil means time.Now.
func NewBlocklist(db *store.DB, now func() time.Time) *Blocklist {
	if now == nil {
		now = time.Now
	}
	return &Blocklist{db: db, now: now}
}

// Add puts e on e.Member's blocklist, after normalising its value (see
// Normalize). Adding a value already listed keeps the later expiry and
// takes the new reason. A zero Added means now.
func (b *Blocklist) Add(ctx context.Context, e Entry) error {
	return b.db.InTx(ctx, func(tx *store.Tx) error { return b.add(ctx, tx, e) })
}

func (b *Blocklist) add(ctx context.Context, tx *store.Tx, e Entry) error {
	if e.Member == "" {
		return errors.New("respond: blocklist entry without member")
	}
	typ, val, err := Normalize(e.Type, e.Value)
	if err != nil {
		return err
	}
	now := b.now()
	if e.Added.IsZero() {
		e.Added = now
	}
	// A zero expiry (never) is stored as 0 and wins over any date.
	_, err = tx.Exec(ctx, `INSERT INTO respond_blocklist
		(member, type, value, reason, source_alert, tlp, added, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (member, type, value) DO UPDATE SET
			reason = excluded.reason,
			source_alert = excluded.source_alert,
			tlp = CASE WHEN excluded.tlp < respond_blocklist.tlp THEN excluded.tlp ELSE respond_blocklist.tlp END,
			expires = CASE
				WHEN respond_blocklist.expires = 0 OR excluded.expires = 0 THEN 0
				WHEN excluded.expires > respond_blocklist.expires THEN excluded.expires
				ELSE respond_blocklist.expires END`,
		e.Member, typ, val, e.Reason, e.SourceAlert, int(e.TLP), store.Nanos(e.Added), store.Nanos(e.Expires))
	if err != nil {
		return fmt.Errorf("respond: blocklist add: %w", err)
	}
	return touchMember(ctx, tx, e.Member, now)
}

// touchMember records that a member's blocklist changed at now, for the
// feeds' Last-Modified.
func touchMember(ctx context.Context, tx *store.Tx, member string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO respond_blocklist_changes (member, changed) VALUES (?, ?)
		ON CONFLICT (member) DO UPDATE SET changed = excluded.changed`, member, store.Nanos(now))
	if err != nil {
		return fmt.Errorf("respond: blocklist change time: %w", err)
	}
	return nil
}

// Remove takes a value off member's blocklist. Removing a value that is
// not listed is not an error.
func (b *Blocklist) Remove(ctx context.Context, member, typ, value string) error {
	typ, val, err := Normalize(typ, value)
	if err != nil {
		return err
	}
	return b.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM respond_blocklist WHERE member = ? AND type = ? AND value = ?`,
			member, typ, val)
		if err != nil {
			return fmt.Errorf("respond: blocklist remove: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return touchMember(ctx, tx, member, b.now())
	})
}

// List returns member's entries in force now, ordered by type and value.
func (b *Blocklist) List(ctx context.Context, member string) ([]Entry, error) {
	all, _, err := b.listAll(ctx, member)
	if err != nil {
		return nil, err
	}
	now := b.now()
	out := all[:0]
	for _, e := range all {
		if e.Active(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

// listAll returns every entry of member, expired or not, and the time the
// list last changed: the latest addition, removal or expiry that has
// passed. Expiry counts because it shrinks the feed as surely as a removal.
func (b *Blocklist) listAll(ctx context.Context, member string) ([]Entry, time.Time, error) {
	var changed int64
	err := b.db.QueryRow(ctx, `SELECT changed FROM respond_blocklist_changes WHERE member = ?`, member).Scan(&changed)
	if err != nil && !store.NotFound(err) {
		return nil, time.Time{}, fmt.Errorf("respond: blocklist: %w", err)
	}
	rows, err := b.db.Query(ctx, `SELECT type, value, reason, source_alert, tlp, added, expires
		FROM respond_blocklist WHERE member = ? ORDER BY type, value`, member)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("respond: blocklist: %w", err)
	}
	defer rows.Close()
	lastMod := store.Time(changed)
	now := b.now()
	var out []Entry
	for rows.Next() {
		e := Entry{Member: member}
		var level int
		var added, expires int64
		if err := rows.Scan(&e.Type, &e.Value, &e.Reason, &e.SourceAlert, &level, &added, &expires); err != nil {
			return nil, time.Time{}, fmt.Errorf("respond: blocklist: %w", err)
		}
		e.TLP, e.Added, e.Expires = tlp.Level(level), store.Time(added), store.Time(expires)
		if !e.Active(now) && e.Expires.After(lastMod) {
			lastMod = e.Expires
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("respond: blocklist: %w", err)
	}
	return out, lastMod, nil
}

// PurgeExpired deletes entries that expired before now, from every
// member's list, and returns how many it deleted.
func (b *Blocklist) PurgeExpired(ctx context.Context) (int64, error) {
	now := store.Nanos(b.now())
	var n int64
	err := b.db.InTx(ctx, func(tx *store.Tx) error {
		// Record the change first, while the expired rows still say whose
		// lists shrink.
		if _, err := tx.Exec(ctx, `UPDATE respond_blocklist_changes SET changed = ?
			WHERE member IN (SELECT member FROM respond_blocklist WHERE expires <> 0 AND expires <= ?)`,
			now, now); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM respond_blocklist WHERE expires <> 0 AND expires <= ?`, now)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("respond: blocklist purge: %w", err)
	}
	return n, nil
}
