// Package archive keeps every normalised event for hunting: append-only,
// partitioned by member and day, compressed, with retention per member,
// apart from the state store (members, alerts, incidents, intel).
//
// Two engines sit behind one query contract. The embedded default writes
// one SQLite file per member and day holding zstd-compressed columnar
// blocks of up to 8,192 events, each with its time range, a bloom
// filter of its field values and, per field, the range of its numbers and
// addresses and the set of its trigrams; equality, range, CIDR, contains
// and prefix filters skip blocks without decompressing them. The
// scale-out engine writes PostgreSQL's native partitions (one per day)
// with COPY, and prunes with partition bounds and BRIN indexes.
//
// Exactly once: the archive reads the ingest stream on its own durable
// consumer and records, in the same transaction as the events, the stream
// sequence of every batch it stored, so a redelivered batch stores nothing
// twice. An event id seen again shortly after (a sender retrying a request
// whose answer it lost) is dropped by a window of recent ids per member.
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// Batch is the events of one ingest batch, in the order they came.
type Batch struct {
	// Stream identifies the ingest stream instance (its creation time), so
	// that sequences of a recreated stream are not mistaken for old ones.
	Stream int64
	// Seq is the batch's sequence in that stream.
	Seq    uint64
	Member string
	Events []*event.Event
}

// Engine stores and searches events. Write is called by one goroutine at a
// time; the rest may be called concurrently.
type Engine interface {
	// Write stores the batches atomically per partition, skipping batches
	// already stored. Of a batch given twice (same Stream and Seq) it
	// stores the first copy: the later one is a redelivery, and may have
	// been left without events.
	Write(ctx context.Context, batches []Batch) error
	// Search returns a page of q's matches, newest first.
	Search(ctx context.Context, q *Query) (Page, error)
	// Count returns how many events match q.
	Count(ctx context.Context, q *Query) (int64, error)
	// Top returns the n most frequent values of field among q's matches.
	Top(ctx context.Context, q *Query, field string, n int) ([]Bucket, error)
	// Total returns how many events member has stored in all.
	Total(ctx context.Context, member string) (int64, error)
	// Known reports whether member has stored an event with field.
	Known(ctx context.Context, member, field string) (bool, error)
	// Usage returns, per member, the stored bytes and days.
	Usage(ctx context.Context) (map[string]Usage, error)
	// Drop removes member's partitions of days before cutoff.
	Drop(ctx context.Context, member string, before time.Time) (int, error)
	// Recent returns ids of member's most recently stored events, newest
	// first, up to n: the dedup window's state after a restart.
	Recent(ctx context.Context, n int) (map[string][]string, error)
	Close() error
}

// Usage is one member's share of the archive.
type Usage struct {
	Bytes  int64       `json:"bytes"`
	Events int64       `json:"events"`
	Days   []time.Time `json:"days"` // oldest first
}

// Archive is an Engine with the recent-id window in front of its writes
// and the query checks in front of its searches.
type Archive struct {
	engine Engine
	now    func() time.Time

	mu     sync.Mutex
	recent *window
	// Reused by Write: the hashes of the ids it stores, inserted into
	// recent as they are checked (which also drops an id repeated within
	// the call) and removed again if the engine fails.
	keys []idHash
	// The hashes of a batch's ids, computed ahead of the window's
	// lookups so that those can touch the slots of later ones.
	hashes []idHash
}

// lookahead is how many events ahead of its lookup Write touches an id's
// slots in the window: far enough for the cache misses to have returned,
// near enough for the lines to still be there.
const lookahead = 8

// recentIDs is how many event ids per member the dedup window holds.
const recentIDs = 1 << 20

// New returns an Archive over engine, loading the recent-id window.
func New(ctx context.Context, engine Engine) (*Archive, error) {
	a := &Archive{engine: engine, now: time.Now, recent: newWindow(recentIDs)}
	recent, err := engine.Recent(ctx, recentIDs)
	if err != nil {
		return nil, err
	}
	for member, ids := range recent {
		m := a.recent.member(member)
		for i := len(ids) - 1; i >= 0; i-- {
			a.recent.insert(a.recent.hash(m, ids[i]))
		}
	}
	return a, nil
}

// Engine returns the engine underneath.
func (a *Archive) Engine() Engine { return a.engine }

// Write stores the batches' events, each once. A batch may come twice
// in one call — delivered again by the bus while its first delivery still
// waited to be written, as after a NATS server restart: the window leaves
// the second copy no events, and the engines store the first copy of a
// batch (see Engine.Write).
func (a *Archive) Write(ctx context.Context, batches []Batch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	fresh := make([]Batch, len(batches))
	a.keys = a.keys[:0]
	for i, b := range batches {
		fresh[i] = b
		fresh[i].Events = nil
		m := a.recent.member(b.Member)
		a.hashes = a.hashes[:0]
		for _, ev := range b.Events {
			a.hashes = append(a.hashes, a.recent.hash(m, ev.ID))
		}
		for j, ev := range b.Events {
			if j+lookahead < len(a.hashes) {
				a.recent.touch(a.hashes[j+lookahead])
			}
			k := a.hashes[j]
			if !a.recent.insert(k) {
				continue
			}
			a.keys = append(a.keys, k)
			if len(fresh[i].Events) == j { // nothing dropped so far: no copy
				fresh[i].Events = b.Events[: j+1 : j+1] // appending copies
			} else {
				fresh[i].Events = append(fresh[i].Events, ev)
			}
		}
	}
	if err := a.engine.Write(ctx, fresh); err != nil {
		// Nothing was stored: a retry must find these ids fresh. (Had
		// the call turned the window over, the oldest generation stays
		// forgotten: the window only ever forgets early, never reports
		// an id it was not given.)
		for _, k := range slices.Backward(a.keys) {
			a.recent.remove(k)
		}
		return err
	}
	return nil
}

// check validates q against member's fields.
func (a *Archive) check(ctx context.Context, q *Query) error {
	var failed error
	err := q.Check(a.now(), func(field string) bool {
		ok, err := a.engine.Known(ctx, q.Member, field)
		if err != nil && failed == nil {
			failed = err
		}
		return ok || err != nil
	})
	if failed != nil {
		return failed
	}
	return err
}

// Search checks q and returns a page of its matches, newest first.
func (a *Archive) Search(ctx context.Context, q Query) (Page, error) {
	if err := a.check(ctx, &q); err != nil {
		return Page{}, err
	}
	return a.engine.Search(ctx, &q)
}

// Count checks q and counts its matches.
func (a *Archive) Count(ctx context.Context, q Query) (int64, error) {
	if err := a.check(ctx, &q); err != nil {
		return 0, err
	}
	return a.engine.Count(ctx, &q)
}

// MaxTop bounds a top-N aggregation.
const MaxTop = 1000

// Top checks q and returns the n most frequent values of field among its
// matches, most frequent first.
func (a *Archive) Top(ctx context.Context, q Query, field string, n int) ([]Bucket, error) {
	if n <= 0 || n > MaxTop {
		return nil, badQuery("top %d outside 1..%d", n, MaxTop)
	}
	if err := a.check(ctx, &q); err != nil {
		return nil, err
	}
	f := Filter{Field: field, Op: Contains, Value: "-"} // checks the name only
	if err := f.check(func(name string) bool { ok, _ := a.engine.Known(ctx, q.Member, name); return ok }); err != nil {
		return nil, err
	}
	return a.engine.Top(ctx, &q, field, n)
}

// Total returns how many events member has stored.
func (a *Archive) Total(ctx context.Context, member string) (int64, error) {
	return a.engine.Total(ctx, member)
}

// Close closes the engine.
func (a *Archive) Close() error { return a.engine.Close() }

// IsBadQuery reports whether err is the caller's to fix (HTTP 400).
func IsBadQuery(err error) bool {
	return errors.Is(err, ErrBadQuery) || errors.Is(err, ErrTooCostly)
}

// docOf returns ev's flat ECS JSON.
func docOf(ev *event.Event) json.RawMessage { return ev.AppendJSON(nil) }
