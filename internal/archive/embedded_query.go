package archive

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store"
)

// blockRef is a block a query may have to read.
type blockRef struct {
	part       *partition
	id         int64
	tMin, tMax int64
	n          int64
}

// candidates returns the blocks of q's member that overlap its time range
// and whose bloom filters admit every equality filter, newest first, or
// ErrTooCostly when they hold more events than MaxScan.
func (e *Embedded) candidates(ctx context.Context, q *Query) ([]blockRef, error) {
	from, to := q.From.UnixNano(), q.To.UnixNano()
	if q.after.set && q.after.time < to {
		to = q.after.time + 1
	}
	var keys []bloomKey
	var summarised []*Filter
	for i := range q.Filters {
		f := &q.Filters[i]
		if f.Op == Eq && len(f.Value) <= maxBloomValue {
			keys = append(keys, newBloomKey(f.Field, f.Value))
		}
		if f.usesStats() && f.Field != event.FieldID {
			summarised = append(summarised, f)
		}
	}
	var out []blockRef
	var total int64
	for _, p := range e.memberParts(q.Member, from, to) {
		refs, err := e.partBlocks(ctx, p, from, to, keys)
		if err != nil {
			return nil, err
		}
		if refs, err = e.pruneByStats(ctx, p, refs, summarised); err != nil {
			return nil, err
		}
		for _, r := range refs {
			total += r.n
		}
		if total > e.MaxScan {
			return nil, fmt.Errorf("%w: it would read more than %d events (the server's limit); narrow the time range or add an equality filter",
				ErrTooCostly, e.MaxScan)
		}
		out = append(out, refs...)
	}
	slices.SortFunc(out, func(a, b blockRef) int { return cmp.Compare(b.tMax, a.tMax) })
	return out, nil
}

func (e *Embedded) partBlocks(ctx context.Context, p *partition, from, to int64, keys []bloomKey) ([]blockRef, error) {
	db, err := e.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	defer e.release(p)
	rows, err := db.Query(ctx, `SELECT id, t_min, t_max, n, bloom FROM blocks WHERE t_max >= ? AND t_min < ?`, from, to)
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %w", p.path, err)
	}
	defer rows.Close()
	var out []blockRef
	var bloom []byte
	for rows.Next() {
		r := blockRef{part: p}
		if err := rows.Scan(&r.id, &r.tMin, &r.tMax, &r.n, &bloom); err != nil {
			return nil, err
		}
		if admitsAll(bloom, keys) {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// pruneByStats drops the blocks whose column statistics show that a
// filter cannot match any of their events. Blocks written without
// statistics stay.
func (e *Embedded) pruneByStats(ctx context.Context, p *partition, refs []blockRef, filters []*Filter) ([]blockRef, error) {
	if len(filters) == 0 || len(refs) == 0 {
		return refs, nil
	}
	db, err := e.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	defer e.release(p)
	const (
		unknown = iota // written without statistics
		alive
		excluded
	)
	state := make(map[int64]int, len(refs))
	for _, r := range refs {
		state[r.id] = unknown
	}
	mark := func(block int64, _ []byte) error {
		if _, ok := state[block]; ok {
			state[block] = alive
		}
		return nil
	}
	if err := eachStats(ctx, db, statsMarker, mark); err != nil {
		return nil, fmt.Errorf("archive: %s: %w", p.path, err)
	}
	var s colStats
	has := make(map[int64]bool, len(refs))
	for _, f := range filters {
		clear(has)
		err := eachStats(ctx, db, f.Field, func(block int64, data []byte) error {
			if state[block] != alive {
				return nil
			}
			has[block] = true
			if err := decodeStats(data, &s); err != nil {
				return err
			}
			if !s.mayMatch(f) {
				state[block] = excluded
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("archive: %s: %w", p.path, err)
		}
		for b, st := range state {
			if st == alive && !has[b] { // the block has no such column
				state[b] = excluded
			}
		}
	}
	out := refs[:0]
	for _, r := range refs {
		if state[r.id] != excluded {
			out = append(out, r)
		}
	}
	return out, nil
}

// eachStats calls fn with every block's statistics row of column name.
func eachStats(ctx context.Context, db *store.DB, name string, fn func(block int64, data []byte) error) error {
	rows, err := db.Query(ctx, `SELECT block, data FROM stats WHERE name = ?`, name)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data []byte
	for rows.Next() {
		var block int64
		if err := rows.Scan(&block, &data); err != nil {
			return err
		}
		if err := fn(block, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func admitsAll(bloom []byte, keys []bloomKey) bool {
	for _, k := range keys {
		if !k.mayHave(bloom) {
			return false
		}
	}
	return true
}

// readBlock loads and decodes one block's head; its columns are read when
// first used.
func (e *Embedded) readBlock(ctx context.Context, r blockRef) (*block, error) {
	db, err := e.acquire(ctx, r.part)
	if err != nil {
		return nil, err
	}
	defer e.release(r.part)
	return e.decodeStored(ctx, r.part, db, r.id, true)
}

// decodeStored reads block id of p from db, its head now and its columns
// when first used, each from its row or from the segment the row refers
// to. With reacquire, each column read holds p open itself (the block
// outlives the caller's hold).
func (e *Embedded) decodeStored(ctx context.Context, p *partition, db *store.DB, id int64, reacquire bool) (*block, error) {
	var data []byte
	if err := db.QueryRow(ctx, `SELECT data FROM blocks WHERE id = ?`, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("archive: %s block %d: %w", p.path, id, err)
	}
	raw, err := e.decompressPayload(p, data, id, "")
	if err != nil {
		return nil, err
	}
	return decodeBlock(raw, func(name string) ([]byte, error) {
		db := db
		if reacquire {
			var err error
			if db, err = e.acquire(ctx, p); err != nil {
				return nil, err
			}
			defer e.release(p)
		}
		var data []byte
		if err := db.QueryRow(ctx, `SELECT data FROM cols WHERE block = ? AND name = ?`, id, name).Scan(&data); err != nil {
			return nil, fmt.Errorf("archive: %s block %d column %q: %w", p.path, id, name, err)
		}
		return e.decompressPayload(p, data, id, name)
	})
}

// decompressPayload decompresses the payload a data value of p stands
// for (see payload): block id's head, or its column name.
func (e *Embedded) decompressPayload(p *partition, data []byte, id int64, name string) ([]byte, error) {
	ref := isSegRef(data)
	data, err := e.payload(p, data, id, name)
	if err != nil {
		return nil, err
	}
	out, err := e.codec.decompress(data)
	if err != nil && ref {
		return nil, fmt.Errorf("archive: %s: %s: %w", segPath(p.path), payloadName(id, name), err)
	}
	return out, err
}

// matchBlock returns which of b's events satisfy q.
func (q *Query) matchBlock(b *block) ([]bool, error) {
	from, to := q.From.UnixNano(), q.To.UnixNano()
	m := make([]bool, b.n)
	any := false
	var ids []string
	if q.after.set {
		var err error
		if ids, err = b.perEvent(colID); err != nil {
			return nil, err
		}
	}
	for i, t := range b.times {
		m[i] = t >= from && t < to && (ids == nil || q.after.admits(t, ids[i]))
		any = any || m[i]
	}
	hit := make([]bool, b.n)
	for fi := range q.Filters {
		if !any {
			return m, nil
		}
		f := &q.Filters[fi]
		clear(hit)
		name := f.Field
		if name == event.FieldID {
			name = colID
		}
		err := b.each(name, func(i int, v string) {
			if m[i] && !hit[i] && f.matches(v) {
				hit[i] = true
			}
		})
		if err != nil {
			return nil, err
		}
		any = false
		for i := range m {
			m[i] = m[i] && hit[i]
			any = any || m[i]
		}
	}
	if q.Text != "" && any {
		clear(hit)
		for _, name := range append([]string{colOriginal}, b.fields()...) {
			err := b.each(name, func(i int, v string) {
				if m[i] && !hit[i] && containsFold(v, q.Text) {
					hit[i] = true
				}
			})
			if err != nil {
				return nil, err
			}
		}
		for i := range m {
			m[i] = m[i] && hit[i]
		}
	}
	return m, nil
}

// scan calls visit for every block q may match, newest first, with the
// events that do; visit returns false to stop.
func (e *Embedded) scan(ctx context.Context, q *Query, visit func(r blockRef, b *block, m []bool) bool) error {
	refs, err := e.candidates(ctx, q)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %v", ErrTooCostly, err)
		}
		b, err := e.readBlock(ctx, r)
		if err != nil {
			return err
		}
		m, err := q.matchBlock(b)
		if err != nil {
			return err
		}
		if !visit(r, b, m) {
			return nil
		}
	}
	return nil
}

// found is one match held for a page.
type found struct {
	t   int64
	id  string
	doc json.RawMessage
}

// newer orders matches newest first, then by id descending.
func newer(a, b found) int {
	if c := cmp.Compare(b.t, a.t); c != 0 {
		return c
	}
	return cmp.Compare(b.id, a.id)
}

// Search returns a page of q's matches, newest first.
func (e *Embedded) Search(ctx context.Context, q *Query) (Page, error) {
	var best []found // the limit+1 newest so far, sorted
	var failed error
	err := e.scan(ctx, q, func(r blockRef, b *block, m []bool) bool {
		if len(best) > q.Limit && r.tMax < best[len(best)-1].t {
			return false // every later block is older than the page
		}
		if !slices.Contains(m, true) {
			return true
		}
		ids, err := b.perEvent(colID)
		if err != nil {
			failed = err
			return false
		}
		var take []int
		for i, ok := range m {
			if !ok {
				continue
			}
			f := found{t: b.times[i], id: ids[i]}
			if len(best) <= q.Limit || newer(f, best[len(best)-1]) < 0 {
				take = append(take, i)
			}
		}
		evs, err := b.events(take, q.Member)
		if err != nil {
			failed = err
			return false
		}
		for j, ev := range evs {
			f := found{t: b.times[take[j]], id: ev.ID, doc: docOf(ev)}
			at, _ := slices.BinarySearchFunc(best, f, newer)
			best = slices.Insert(best, at, f)
			if len(best) > q.Limit+1 {
				best = best[:q.Limit+1]
			}
		}
		return true
	})
	if err = cmp.Or(err, failed); err != nil {
		return Page{}, err
	}
	return pageOf(best, q.Limit), nil
}

func pageOf(best []found, limit int) Page {
	p := Page{Events: make([]json.RawMessage, 0, min(len(best), limit))}
	for i, f := range best {
		if i == limit {
			last := best[limit-1]
			p.Next = cursor{set: true, time: last.t, id: last.id}.String()
			break
		}
		p.Events = append(p.Events, f.doc)
	}
	return p
}

// Count returns how many events match q. A block wholly inside the time
// range of a query without conditions counts without being read.
func (e *Embedded) Count(ctx context.Context, q *Query) (int64, error) {
	var n int64
	if len(q.Filters) == 0 && q.Text == "" && !q.after.set {
		from, to := q.From.UnixNano(), q.To.UnixNano()
		refs, err := e.candidates(ctx, q)
		if err != nil {
			return 0, err
		}
		var partly []blockRef
		for _, r := range refs {
			if r.tMin >= from && r.tMax < to {
				n += r.n
			} else {
				partly = append(partly, r)
			}
		}
		for _, r := range partly {
			b, err := e.readBlock(ctx, r)
			if err != nil {
				return 0, err
			}
			for _, t := range b.times {
				if t >= from && t < to {
					n++
				}
			}
		}
		return n, nil
	}
	err := e.scan(ctx, q, func(_ blockRef, _ *block, m []bool) bool {
		for _, ok := range m {
			if ok {
				n++
			}
		}
		return true
	})
	return n, err
}

// Top returns the n most frequent values of field among q's matches.
func (e *Embedded) Top(ctx context.Context, q *Query, field string, n int) ([]Bucket, error) {
	counts := map[string]int64{}
	var failed error
	err := e.scan(ctx, q, func(_ blockRef, b *block, m []bool) bool {
		failed = b.each(field, func(i int, v string) {
			if !m[i] {
				return
			}
			if c, ok := counts[v]; ok {
				counts[v] = c + 1
			} else {
				counts[strings.Clone(v)] = 1 // v aliases the block
			}
		})
		return failed == nil
	})
	if err = cmp.Or(err, failed); err != nil {
		return nil, err
	}
	return topOf(counts, n), nil
}

func topOf(counts map[string]int64, n int) []Bucket {
	out := make([]Bucket, 0, len(counts))
	for v, c := range counts {
		out = append(out, Bucket{Value: v, Count: c})
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return out[:min(n, len(out))]
}

// Total returns how many events member has stored.
func (e *Embedded) Total(_ context.Context, member string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for k, p := range e.parts {
		if k.member == member {
			n += p.events
		}
	}
	return n, nil
}

// Known reports whether member has stored an event with field.
func (e *Embedded) Known(_ context.Context, member, field string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, p := range e.parts {
		if _, ok := p.fields[field]; ok && k.member == member {
			return true, nil
		}
	}
	return false, nil
}

// Usage returns every member's stored bytes, events and days.
func (e *Embedded) Usage(context.Context) (map[string]Usage, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]Usage{}
	for k, p := range e.parts {
		u := out[k.member]
		u.Events += p.events
		u.Bytes += fileBytes(p.path)
		u.Days = append(u.Days, k.date())
		out[k.member] = u
	}
	for m, u := range out {
		slices.SortFunc(u.Days, func(a, b time.Time) int { return a.Compare(b) })
		out[m] = u
	}
	return out, nil
}

// fileBytes is a partition's size on disk, its write-ahead log and its
// segment included.
func fileBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal", segPath(path)} {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// Drop removes member's partitions of days before cutoff.
func (e *Embedded) Drop(_ context.Context, member string, before time.Time) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dropped := 0
	for k, p := range e.parts {
		if k.member != member || !k.date().Add(24*time.Hour).Before(before.Add(time.Nanosecond)) || p.users > 0 {
			continue
		}
		p.closeFiles()
		// The database first: a segment left behind by a failure after
		// it is no partition's, and OpenEmbedded removes it; the other
		// way round, a database would be left naming bytes that are gone.
		// Whole days are the unit of removal, so a segment is never
		// rewritten to reclaim the space of single blocks.
		for _, f := range []string{p.path, p.path + "-wal", p.path + "-shm", segPath(p.path)} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return dropped, fmt.Errorf("archive: %w", err)
			}
		}
		delete(e.parts, k)
		dropped++
	}
	return dropped, nil
}

// Recent returns the ids of each member's newest stored events, newest
// first, up to n in all per member.
func (e *Embedded) Recent(ctx context.Context, n int) (map[string][]string, error) {
	e.mu.Lock()
	latest := map[string]*partition{}
	for k, p := range e.parts {
		if cur := latest[k.member]; p.events > 0 && (cur == nil || k.day > cur.key.day) {
			latest[k.member] = p
		}
	}
	e.mu.Unlock()
	out := map[string][]string{}
	for member, p := range latest {
		db, err := e.acquire(ctx, p)
		if err != nil {
			return nil, err
		}
		ids, err := recentIDsOf(ctx, e, p, db, n)
		e.release(p)
		if err != nil {
			return nil, err
		}
		out[member] = ids
	}
	return out, nil
}

func recentIDsOf(ctx context.Context, e *Embedded, p *partition, db *store.DB, n int) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id, n FROM blocks ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var newest []int64
	var events int
	for events < n && rows.Next() {
		var id int64
		var k int
		if err := rows.Scan(&id, &k); err != nil {
			return nil, err
		}
		newest = append(newest, id)
		events += k
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close() // the blocks are read on the pool's connections
	var blocks []*block
	for _, id := range newest {
		b, err := e.decodeStored(ctx, p, db, id, false)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	var ids []string
	for _, b := range blocks {
		blockIDs, err := b.perEvent(colID)
		if err != nil {
			return nil, err
		}
		for i := len(blockIDs) - 1; i >= 0 && len(ids) < n; i-- {
			ids = append(ids, blockIDs[i])
		}
	}
	return ids, nil
}
