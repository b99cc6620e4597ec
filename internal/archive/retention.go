package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Retention is how long a member's events are kept: whole days older than
// Days are dropped, and while the member's events take more than Bytes,
// its oldest days are dropped (never the current one). Zero means no
// limit of that kind.
type Retention struct {
	Days  int   `json:"days"`
	Bytes int64 `json:"bytes"`
}

// RetentionSchema is the table of retention policies, kept in the state
// store with the members.
func RetentionSchema() store.Schema {
	return store.Schema{Owner: "archive", Migrations: []string{`
CREATE TABLE archive_retention (
	member TEXT PRIMARY KEY,
	days INTEGER NOT NULL,
	bytes BIGINT NOT NULL
)`}}
}

// Policies stores each member's retention.
type Policies struct {
	db *store.DB
}

// NewPolicies returns the policies kept in db (migrated with
// RetentionSchema).
func NewPolicies(db *store.DB) *Policies { return &Policies{db: db} }

// Get returns member's retention; no policy means keep everything.
func (p *Policies) Get(ctx context.Context, member string) (Retention, error) {
	var r Retention
	err := p.db.QueryRow(ctx, `SELECT days, bytes FROM archive_retention WHERE member = ?`, member).Scan(&r.Days, &r.Bytes)
	if store.NotFound(err) {
		return Retention{}, nil
	}
	return r, err
}

// Set stores member's retention.
func (p *Policies) Set(ctx context.Context, member string, r Retention) error {
	if r.Days < 0 || r.Bytes < 0 {
		return errors.New("retention: days and bytes must not be negative")
	}
	_, err := p.db.Exec(ctx, `INSERT INTO archive_retention (member, days, bytes) VALUES (?, ?, ?)
		ON CONFLICT (member) DO UPDATE SET days = excluded.days, bytes = excluded.bytes`, member, r.Days, r.Bytes)
	return err
}

// Enforce applies every member's retention to the archive once and returns
// how many partitions (member-days) it dropped.
func (a *Archive) Enforce(ctx context.Context, p *Policies) (int, error) {
	usage, err := a.engine.Usage(ctx)
	if err != nil {
		return 0, err
	}
	now := a.now().UTC()
	today := now.Truncate(24 * time.Hour)
	dropped := 0
	for member, u := range usage {
		r, err := p.Get(ctx, member)
		if err != nil {
			return dropped, err
		}
		if r.Days > 0 {
			n, err := a.engine.Drop(ctx, member, today.AddDate(0, 0, -r.Days+1))
			if err != nil {
				return dropped, fmt.Errorf("archive: retention of %s: %w", member, err)
			}
			dropped += n
		}
		if r.Bytes <= 0 || u.Bytes <= r.Bytes {
			continue
		}
		// Drop the oldest days, one at a time, until within the limit.
		for _, day := range u.Days {
			if !day.Before(today) {
				break
			}
			n, err := a.engine.Drop(ctx, member, day.Add(24*time.Hour))
			if err != nil {
				return dropped, fmt.Errorf("archive: retention of %s: %w", member, err)
			}
			dropped += n
			all, err := a.engine.Usage(ctx)
			if err != nil {
				return dropped, err
			}
			if all[member].Bytes <= r.Bytes {
				break
			}
		}
	}
	return dropped, nil
}

// KeepWithin runs Enforce every interval until ctx ends, reporting
// failures to onError.
func (a *Archive) KeepWithin(ctx context.Context, p *Policies, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := a.Enforce(ctx, p); err != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
