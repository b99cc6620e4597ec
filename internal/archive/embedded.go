package archive

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store"
)

// Embedded is the archive engine of a single node: under its root, one
// directory per member, one partition per day in it: an SQLite file
// (2026-12-07.db) holding the compressed columnar blocks' summaries,
// filters, statistics and the references to their payloads, which an
// append-only segment file beside it holds (2026-12-07.seg, see
// segment.go).
//
// A partition's day is its events' day (UTC); an event claiming a time
// more than maxSkew away from when it was accepted goes to the day it was
// accepted, so that a sender's broken clock cannot scatter files over
// the years. Block time ranges are exact either way.
type Embedded struct {
	root       string
	codec      *codec
	syncAlways bool
	// MaxScan bounds the events one query may read after pruning.
	MaxScan int64

	mu       sync.Mutex
	parts    map[partKey]*partition
	w        *blockWriter // used by Write only, one call at a time
	raw, buf []byte
	// pay gathers a partition write's payloads, written with one call.
	pay []byte
}

// statsMarker is the name of the statistics row every block written with
// column statistics has (see stats.go).
const statsMarker = ""

// maxSkew is how far an event's own time may be from its arrival before
// it is filed under its arrival day.
const maxSkew = 7 * 24 * time.Hour

// DefaultMaxScan is the embedded engine's default cost limit: the events
// one query may decompress and test (about ten seconds of one core).
const DefaultMaxScan = 20_000_000

// idleClose is how long a partition's file stays open unused.
const idleClose = 2 * time.Minute

type partKey struct {
	member string
	day    int64 // days since 1970-01-01
}

func (k partKey) date() time.Time { return time.Unix(k.day*86400, 0).UTC() }

type partition struct {
	key  partKey
	path string

	// Guarded by Embedded.mu:
	db *store.DB
	// seg is the open segment file (nil: not open or not there), closed
	// with db; segEnd is where its readable bytes end and the next
	// write goes.
	seg        *os.File
	segEnd     int64
	users      int
	lastUse    time.Time
	minT, maxT int64
	events     int64
	fields     map[string]struct{}
}

const partitionSchema = `
CREATE TABLE IF NOT EXISTS blocks (
	id INTEGER PRIMARY KEY,
	t_min INTEGER NOT NULL,
	t_max INTEGER NOT NULL,
	n INTEGER NOT NULL,
	bloom BLOB NOT NULL,
	data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_time ON blocks (t_max, t_min);
CREATE TABLE IF NOT EXISTS cols (
	block INTEGER NOT NULL,
	name TEXT NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (block, name)
);
CREATE TABLE IF NOT EXISTS batches (
	stream INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fields (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats (
	name TEXT NOT NULL,
	block INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (name, block)
) WITHOUT ROWID;
` + segSchema

// OpenEmbedded opens (creating if needed) the archive under root and reads
// every partition's summary. With syncAlways, each commit is fsynced
// (surviving a power cut); otherwise it survives a crash of xsoc, as the
// bus's default does.
func OpenEmbedded(ctx context.Context, root string, syncAlways bool) (*Embedded, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	e := &Embedded{root: root, codec: newCodec(), MaxScan: DefaultMaxScan, parts: map[partKey]*partition{}, w: newBlockWriter(),
		syncAlways: syncAlways}
	members, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	for _, m := range members {
		if !m.IsDir() {
			continue
		}
		member, err := url.PathUnescape(m.Name())
		if err != nil {
			continue
		}
		files, err := filepath.Glob(filepath.Join(root, m.Name(), "*.db"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			day, err := time.Parse(time.DateOnly, strings.TrimSuffix(filepath.Base(f), ".db"))
			if err != nil {
				continue
			}
			p := &partition{key: partKey{member, day.Unix() / 86400}, path: f}
			if err := e.load(ctx, p); err != nil {
				e.Close()
				return nil, err
			}
			e.parts[p.key] = p
		}
		if err := removeOrphanSegs(filepath.Join(root, m.Name())); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// removeOrphanSegs removes the segments in dir without a database: those
// of days whose removal (Drop) stopped between the two files. Nothing
// can refer to their bytes any more.
func removeOrphanSegs(dir string) error {
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return err
	}
	for _, s := range segs {
		if _, err := os.Stat(strings.TrimSuffix(s, ".seg") + ".db"); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Remove(s); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	return nil
}

// load reads a partition's summary, leaving its file closed.
func (e *Embedded) load(ctx context.Context, p *partition) error {
	db, err := e.open(ctx, p)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRow(ctx, `SELECT COALESCE(MIN(t_min), 0), COALESCE(MAX(t_max), 0), COALESCE(SUM(n), 0) FROM blocks`).
		Scan(&p.minT, &p.maxT, &p.events); err != nil {
		return fmt.Errorf("archive: %s: %w", p.path, err)
	}
	rows, err := db.Query(ctx, `SELECT name FROM fields`)
	if err != nil {
		return fmt.Errorf("archive: %s: %w", p.path, err)
	}
	defer rows.Close()
	p.fields = map[string]struct{}{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		p.fields[name] = struct{}{}
	}
	return rows.Err()
}

func (e *Embedded) open(ctx context.Context, p *partition) (*store.DB, error) {
	var opts []store.SQLiteOption
	if !e.syncAlways {
		opts = append(opts, store.SyncNormal())
	}
	db, err := store.OpenSQLite(p.path, opts...)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	for _, stmt := range strings.Split(partitionSchema, ";\n") {
		if _, err := db.Exec(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("archive: %s: %w", p.path, err)
		}
	}
	if err := recoverSeg(ctx, db, p); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// closeFiles closes p's database and segment; e.mu is held.
func (p *partition) closeFiles() error {
	var errs []error
	if p.db != nil {
		errs = append(errs, p.db.Close())
		p.db = nil
	}
	if p.seg != nil {
		errs = append(errs, p.seg.Close())
		p.seg = nil
	}
	return errors.Join(errs...)
}

// acquire returns p's open database, opening it if needed; release it.
func (e *Embedded) acquire(ctx context.Context, p *partition) (*store.DB, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.db == nil {
		db, err := e.open(ctx, p)
		if err != nil {
			return nil, err
		}
		p.db = db
	}
	p.users++
	p.lastUse = time.Now()
	return p.db, nil
}

func (e *Embedded) release(p *partition) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p.users--
	p.lastUse = time.Now()
	e.closeIdleLocked()
}

// closeIdleLocked closes the files of partitions nobody used for a while.
func (e *Embedded) closeIdleLocked() {
	for _, p := range e.parts {
		if p.db != nil && p.users == 0 && time.Since(p.lastUse) > idleClose {
			p.closeFiles()
		}
	}
}

// partitionFor returns the partition an event goes to, creating it.
func (e *Embedded) partitionFor(member string, t, ingested time.Time) *partition {
	if d := t.Sub(ingested); d > maxSkew || d < -maxSkew {
		t = ingested
	}
	k := partKey{member, t.Unix() / 86400}
	if t.Unix() < 0 {
		k.day = (t.Unix() - 86399) / 86400
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.parts[k]
	if p == nil {
		p = &partition{key: k, fields: map[string]struct{}{},
			path: filepath.Join(e.root, url.PathEscape(member), k.date().Format(time.DateOnly)+".db")}
		e.parts[k] = p
	}
	return p
}

// pending is what one Write stores in one partition: each batch's events.
type pending struct {
	stream   int64
	segments []segment
}

type segment struct {
	seq    uint64
	batch  int // its index in the Write call: two copies of a batch are two segments
	events []*event.Event
}

// Write stores the batches, one transaction per partition touched.
func (e *Embedded) Write(ctx context.Context, batches []Batch) error {
	groups := map[*partition]*pending{}
	var order []*partition
	for bi, b := range batches {
		for _, ev := range b.Events {
			p := e.partitionFor(b.Member, ev.Time, ev.Ingested)
			g := groups[p]
			if g == nil {
				g = &pending{stream: b.Stream}
				groups[p] = g
				order = append(order, p)
			}
			if n := len(g.segments); n == 0 || g.segments[n-1].batch != bi {
				g.segments = append(g.segments, segment{seq: b.Seq, batch: bi})
			}
			s := &g.segments[len(g.segments)-1]
			s.events = append(s.events, ev)
		}
	}
	for _, p := range order {
		if err := e.writePartition(ctx, p, groups[p]); err != nil {
			return err
		}
	}
	return nil
}

func (e *Embedded) writePartition(ctx context.Context, p *partition, g *pending) error {
	db, err := e.acquire(ctx, p)
	if err != nil {
		return err
	}
	defer e.release(p)
	// Emptied after the write: its columns and statistics alias the
	// events, which it would otherwise keep alive until the next write.
	defer e.w.reset()
	var stored []int64 // events, tMin, tMax per block
	var newFields []string
	known, segAt := e.fieldsOf(p)
	// The payloads go into e.pay, which starts at payAt in the segment,
	// each row referring to where its payload will lie there; e.pay is
	// written in one call before the transaction commits, or whenever it
	// exceeds maxPendingPayload, so that a large write does not hold all
	// its payloads in memory.
	payAt := segAt
	err = db.InTx(ctx, func(tx *store.Tx) error {
		stored, newFields = stored[:0], newFields[:0]
		e.pay, payAt = e.pay[:0], segAt
		evs, err := unstored(ctx, tx, g)
		if err != nil {
			return err
		}
		for len(evs) > 0 {
			n := min(len(evs), maxBlockEvents)
			e.w.reset()
			e.w.addAll(evs[:n])
			e.raw = e.w.encodeHead(e.raw[:0])
			at := len(e.pay)
			e.pay = e.codec.compress(e.pay, e.raw)
			e.buf = appendSegRef(e.buf[:0], payAt+int64(at), int64(len(e.pay)-at))
			res, err := tx.Exec(ctx, `INSERT INTO blocks (t_min, t_max, n, bloom, data) VALUES (?, ?, ?, ?, ?)`,
				e.w.tMin, e.w.tMax, n, e.w.bloom.build(n), e.buf)
			if err != nil {
				return fmt.Errorf("archive: %s: %w", p.path, err)
			}
			id, err := res.LastInsertId()
			if err != nil {
				return fmt.Errorf("archive: %s: %w", p.path, err)
			}
			for _, c := range e.w.order {
				at := len(e.pay)
				e.pay = e.codec.compressColumn(e.pay, c.buf, c.name, n)
				e.buf = appendSegRef(e.buf[:0], payAt+int64(at), int64(len(e.pay)-at))
				if _, err := tx.Exec(ctx, `INSERT INTO cols (block, name, data) VALUES (?, ?, ?)`, id, c.name, e.buf); err != nil {
					return fmt.Errorf("archive: %s: %w", p.path, err)
				}
			}
			if err := e.writeStats(ctx, tx, id); err != nil {
				return fmt.Errorf("archive: %s: %w", p.path, err)
			}
			if len(e.pay) >= maxPendingPayload {
				if err := e.appendSeg(p, payAt, e.pay); err != nil {
					return err
				}
				payAt, e.pay = payAt+int64(len(e.pay)), e.pay[:0]
			}
			stored = append(stored, int64(n), e.w.tMin, e.w.tMax)
			for _, name := range e.w.fieldNames() {
				if _, ok := known[name]; !ok && !slices.Contains(newFields, name) {
					newFields = append(newFields, name)
				}
			}
			evs = evs[n:]
		}
		for _, name := range newFields {
			if _, err := tx.Exec(ctx, `INSERT INTO fields (name) VALUES (?) ON CONFLICT DO NOTHING`, name); err != nil {
				return err
			}
		}
		for _, s := range g.segments {
			if _, err := tx.Exec(ctx, `INSERT INTO batches (stream, seq) VALUES (?, ?) ON CONFLICT DO NOTHING`, g.stream, int64(s.seq)); err != nil {
				return err
			}
		}
		if payAt == segAt && len(e.pay) == 0 {
			return nil
		}
		// The payloads are on disk before the rows naming them commit;
		// should anything from here on fail, undoSeg cuts them off.
		if err := e.appendSeg(p, payAt, e.pay); err != nil {
			return err
		}
		payAt += int64(len(e.pay))
		if err := e.syncSeg(p); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO segment (id, size) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size`, payAt)
		if err != nil {
			return fmt.Errorf("archive: %s: %w", p.path, err)
		}
		return nil
	})
	if err != nil {
		if payAt > segAt || len(e.pay) > 0 {
			err = errors.Join(err, e.undoSeg(p, segAt))
		}
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := 0; i < len(stored); i += 3 {
		if p.events == 0 || stored[i+1] < p.minT {
			p.minT = stored[i+1]
		}
		if p.events == 0 || stored[i+2] > p.maxT {
			p.maxT = stored[i+2]
		}
		p.events += stored[i]
	}
	for _, name := range newFields {
		p.fields[name] = struct{}{}
	}
	return nil
}

// writeStats stores the statistics of the block just written, as block
// id: its marker, then one row per field column.
func (e *Embedded) writeStats(ctx context.Context, tx *store.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `INSERT INTO stats (name, block, data) VALUES (?, ?, x'')`, statsMarker, id); err != nil {
		return err
	}
	for _, c := range e.w.order { // in order, as encodeStats needs
		if !c.withStats {
			continue
		}
		e.buf = e.w.encodeStats(c, e.buf[:0])
		if _, err := tx.Exec(ctx, `INSERT INTO stats (name, block, data) VALUES (?, ?, ?)`, c.name, id, e.buf); err != nil {
			return err
		}
	}
	return nil
}

// unstored returns the events of g's batches that this partition has not
// stored yet: a redelivered batch's events were stored, with its sequence,
// in one transaction, so they are all there or none is.
func unstored(ctx context.Context, tx *store.Tx, g *pending) ([]*event.Event, error) {
	var evs []*event.Event
	for i, s := range g.segments {
		if slices.ContainsFunc(g.segments[:i], func(o segment) bool { return o.seq == s.seq }) {
			continue // a second copy of a batch in one write: a redelivery
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM batches WHERE stream = ? AND seq = ?`, g.stream, int64(s.seq)).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			evs = append(evs, s.events...)
		}
	}
	return evs, nil
}

// fieldsOf returns p's fields and where the next write to its segment
// goes.
func (e *Embedded) fieldsOf(p *partition) (map[string]struct{}, int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(p.fields), p.segEnd
}

// memberParts returns member's partitions overlapping [from, to), newest
// first.
func (e *Embedded) memberParts(member string, from, to int64) []*partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*partition
	for k, p := range e.parts {
		if k.member == member && p.events > 0 && p.maxT >= from && p.minT < to {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *partition) int { return int(b.key.day - a.key.day) })
	return out
}

// Close closes every open partition file.
func (e *Embedded) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, p := range e.parts {
		errs = append(errs, p.closeFiles())
	}
	e.codec.enc.Close()
	e.codec.dec.Close()
	return errors.Join(errs...)
}
