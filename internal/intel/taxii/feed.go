package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/store"
)

// Schema returns the tables this package owns: the cursors of the feeds
// xsoc pulls from other TAXII servers.
func Schema() store.Schema {
	return store.Schema{Owner: "taxii", Migrations: []string{
		`CREATE TABLE taxii_feeds (
			name TEXT PRIMARY KEY,
			collection TEXT NOT NULL,
			cursor BIGINT NOT NULL DEFAULT 0,
			last_poll BIGINT NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '',
			pulled BIGINT NOT NULL DEFAULT 0
		)`,
	}}
}

// FeedConfig configures a Feed.
type FeedConfig struct {
	// Name identifies the feed and its stored cursor.
	Name string
	// Client reaches the remote API root.
	Client *Client
	// Collection is the remote collection's id.
	Collection string
	// Types, when set, pulls only these STIX types (match[type]).
	Types []string
	// Interval is the time between polls (default 15 minutes).
	Interval time.Duration
	// Handle receives each page of objects. The feed's cursor moves past
	// a page only once Handle has returned nil for it, so a failed page is
	// pulled again at the next poll.
	Handle func(ctx context.Context, objects []json.RawMessage) error
}

// Feed pulls a remote collection on a schedule, handing new objects to a
// callback and keeping its cursor (the last date_added it handled) in the
// taxii_feeds table, so a restart resumes where it stopped.
type Feed struct {
	db  *store.DB
	cfg FeedConfig
	now func() time.Time
}

// FeedState is what the store records about a feed.
type FeedState struct {
	Name       string
	Collection string
	// Cursor is the date_added of the last object handled.
	Cursor    time.Time
	LastPoll  time.Time
	LastError string
	// Pulled counts the objects handled over the feed's life.
	Pulled int64
}

// NewFeed returns a feed whose state lives in db (migrated with Schema).
func NewFeed(db *store.DB, cfg FeedConfig) (*Feed, error) {
	if cfg.Name == "" || cfg.Client == nil || cfg.Collection == "" || cfg.Handle == nil {
		return nil, errors.New("taxii: a feed needs a name, a client, a collection and a handler")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Minute
	}
	return &Feed{db: db, cfg: cfg, now: time.Now}, nil
}

// State returns the feed's stored state (zero cursor before the first
// poll).
func (f *Feed) State(ctx context.Context) (FeedState, error) {
	s := FeedState{Name: f.cfg.Name, Collection: f.cfg.Collection}
	var cursor, last int64
	err := f.db.QueryRow(ctx, `SELECT collection, cursor, last_poll, last_error, pulled FROM taxii_feeds WHERE name = ?`,
		f.cfg.Name).Scan(&s.Collection, &cursor, &last, &s.LastError, &s.Pulled)
	if store.NotFound(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("taxii: feed %s: %w", f.cfg.Name, err)
	}
	s.Cursor, s.LastPoll = store.Time(cursor), store.Time(last)
	return s, nil
}

// PollOnce pulls everything added since the stored cursor and returns how
// many objects it handed over.
func (f *Feed) PollOnce(ctx context.Context) (int, error) {
	st, err := f.State(ctx)
	if err != nil {
		return 0, err
	}
	if st.Collection != f.cfg.Collection {
		// The feed now points at another collection: its old cursor means
		// nothing there.
		st.Cursor = time.Time{}
	}
	n := 0
	_, pullErr := f.cfg.Client.PullPages(ctx, f.cfg.Collection, st.Cursor, intel.Filter{Types: f.cfg.Types},
		func(objs []json.RawMessage, cursor time.Time) error {
			if len(objs) > 0 {
				if err := f.cfg.Handle(ctx, objs); err != nil {
					return fmt.Errorf("handler: %w", err)
				}
			}
			n += len(objs)
			return f.save(ctx, cursor, int64(len(objs)), "")
		})
	if pullErr != nil {
		pullErr = fmt.Errorf("taxii: feed %s: %w", f.cfg.Name, pullErr)
		if err := f.save(ctx, time.Time{}, 0, pullErr.Error()); err != nil {
			return n, errors.Join(pullErr, err)
		}
	}
	return n, pullErr
}

// save records progress: a non-zero cursor moves the cursor, added counts
// objects, errText replaces the last error.
func (f *Feed) save(ctx context.Context, cursor time.Time, added int64, errText string) error {
	now := store.Nanos(f.now())
	_, err := f.db.Exec(ctx, `INSERT INTO taxii_feeds (name, collection, cursor, last_poll, last_error, pulled)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			cursor = CASE WHEN excluded.cursor > 0 OR taxii_feeds.collection <> excluded.collection
				THEN excluded.cursor ELSE taxii_feeds.cursor END,
			collection = excluded.collection,
			last_poll = excluded.last_poll,
			last_error = excluded.last_error,
			pulled = taxii_feeds.pulled + excluded.pulled`,
		f.cfg.Name, f.cfg.Collection, store.Nanos(cursor), now, errText, added)
	if err != nil {
		return fmt.Errorf("taxii: feed %s: save cursor: %w", f.cfg.Name, err)
	}
	return nil
}

// Run polls at once and then every Interval until ctx ends. Errors are
// recorded in the feed's state (and passed to onError when set) and the
// feed tries again at the next tick.
func (f *Feed) Run(ctx context.Context, onError func(error)) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := f.PollOnce(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
