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
	var hashes []uint64
	for _, f := range q.Filters {
		if f.Op == Eq && len(f.Value) <= maxBloomValue && f.Field != event.FieldID {
			hashes = append(hashes, fieldHash(f.Field, f.Value))
		}
	}
	var out []blockRef
	var total int64
	for _, p := range e.memberParts(q.Member, from, to) {
		refs, err := e.partBlocks(ctx, p, from, to, hashes)
		if err != nil {
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

func (e *Embedded) partBlocks(ctx context.Context, p *partition, from, to int64, hashes []uint64) ([]blockRef, error) {
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
		if admitsAll(bloom, hashes) {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

func admitsAll(bloom []byte, hashes []uint64) bool {
	for _, h := range hashes {
		if !bloomMayHave(bloom, h) {
			return false
		}
	}
	return true
}

// readBlock loads and decodes one block.
func (e *Embedded) readBlock(ctx context.Context, r blockRef) (*block, error) {
	db, err := e.acquire(ctx, r.part)
	if err != nil {
		return nil, err
	}
	defer e.release(r.part)
	var data []byte
	if err := db.QueryRow(ctx, `SELECT data FROM blocks WHERE id = ?`, r.id).Scan(&data); err != nil {
		return nil, fmt.Errorf("archive: %s block %d: %w", r.part.path, r.id, err)
	}
	raw, err := e.codec.decompress(data)
	if err != nil {
		return nil, err
	}
	return decodeBlock(raw)
}

// matches returns which of b's events satisfy q.
func (q *Query) matchBlock(b *block) []bool {
	from, to := q.From.UnixNano(), q.To.UnixNano()
	m := make([]bool, b.n)
	any := false
	for i, t := range b.times {
		m[i] = t >= from && t < to && q.after.admits(t, b.ids[i])
		any = any || m[i]
	}
	hit := make([]bool, b.n)
	for fi := range q.Filters {
		if !any {
			return m
		}
		f := &q.Filters[fi]
		clear(hit)
		if f.Field == event.FieldID {
			for i, id := range b.ids {
				hit[i] = m[i] && f.matches(id)
			}
		} else {
			b.each(f.Field, func(i int, v string) {
				if m[i] && !hit[i] && f.matches(v) {
					hit[i] = true
				}
			})
		}
		any = false
		for i := range m {
			m[i] = m[i] && hit[i]
			any = any || m[i]
		}
	}
	if q.Text != "" && any {
		clear(hit)
		for i, o := range b.originals {
			hit[i] = m[i] && containsFold(o, q.Text)
		}
		for name := range b.cols {
			b.each(name, func(i int, v string) {
				if m[i] && !hit[i] && containsFold(v, q.Text) {
					hit[i] = true
				}
			})
		}
		for i := range m {
			m[i] = m[i] && hit[i]
		}
	}
	return m
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
		if !visit(r, b, q.matchBlock(b)) {
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
	err := e.scan(ctx, q, func(r blockRef, b *block, m []bool) bool {
		if len(best) > q.Limit && r.tMax < best[len(best)-1].t {
			return false // every later block is older than the page
		}
		var take []int
		for i, ok := range m {
			f := found{t: b.times[i], id: b.ids[i]}
			if ok && (len(best) <= q.Limit || newer(f, best[len(best)-1]) < 0) {
				take = append(take, i)
			}
		}
		for j, ev := range b.events(take, q.Member) {
			f := found{t: b.times[take[j]], id: ev.ID, doc: docOf(ev)}
			at, _ := slices.BinarySearchFunc(best, f, newer)
			best = slices.Insert(best, at, f)
			if len(best) > q.Limit+1 {
				best = best[:q.Limit+1]
			}
		}
		return true
	})
	if err != nil {
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

// Count returns how many events match q.
func (e *Embedded) Count(ctx context.Context, q *Query) (int64, error) {
	var n int64
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
	err := e.scan(ctx, q, func(_ blockRef, b *block, m []bool) bool {
		b.each(field, func(i int, v string) {
			if !m[i] {
				return
			}
			if c, ok := counts[v]; ok {
				counts[v] = c + 1
			} else {
				counts[strings.Clone(v)] = 1 // v aliases the block
			}
		})
		return true
	})
	if err != nil {
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

// fileBytes is a partition's size on disk, its write-ahead log included.
func fileBytes(path string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(path + suffix); err == nil {
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
		if p.db != nil {
			p.db.Close()
			p.db = nil
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(p.path + suffix); err != nil && !os.IsNotExist(err) {
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
		ids, err := recentIDsOf(ctx, e, db, n)
		e.release(p)
		if err != nil {
			return nil, err
		}
		out[member] = ids
	}
	return out, nil
}

func recentIDsOf(ctx context.Context, e *Embedded, db *store.DB, n int) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT data FROM blocks ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for len(ids) < n && rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		raw, err := e.codec.decompress(data)
		if err != nil {
			return nil, err
		}
		b, err := decodeBlock(raw)
		if err != nil {
			return nil, err
		}
		for i := len(b.ids) - 1; i >= 0 && len(ids) < n; i-- {
			ids = append(ids, b.ids[i])
		}
	}
	return ids, rows.Err()
}
