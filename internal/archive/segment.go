package archive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xsoc/xsoc/internal/store"
)

// A partition's compressed payloads (each block's head and each of its
// columns) live in an append-only segment file beside its SQLite file
// (2026-12-07.seg beside 2026-12-07.db); the rows of blocks and cols
// hold a short reference (offset, length) into it instead of the bytes.
// SQLite used to hold the payloads themselves, and writing them cost
// about 1.2 µs of CPU per event: every blob went through the WAL (one
// pwrite per frame), then again through the checkpoint into the database
// file, over overflow pages. A write now puts all the payloads of a
// partition's write in one buffer and writes it with one pwrite, then
// commits the rows in SQLite as before, so exactly-once (batches), the
// filters, statistics and pruning are unchanged.
//
// Crash consistency: the payloads are written (and, with syncAlways,
// fsynced) before the transaction referring to them commits, so a
// committed reference always points at bytes that are there. The
// segment's committed length is a row of the same transaction; bytes
// beyond it belong to a write that did not commit (the process died
// between the pwrite and the commit, or the commit failed) and are cut
// off when the write fails and whenever the partition is opened. Offsets
// are never reused: each write goes at the committed end, so a reference
// can never come to point at another write's bytes.
//
// Old partitions, whose rows hold the compressed bytes themselves, stay
// readable: a reference starts with segRefTag, which neither a zstd frame
// (its magic, 0x28 first) nor an S2 column (s2Tag) starts with, so each
// row says which it is, and one partition may hold both.

// segRefTag starts a reference to a segment's bytes in a blocks or cols
// data value.
const segRefTag = 0x01

// maxSegPayload bounds one payload a reference may name, so that a
// corrupt length cannot allocate without bound (a compressed column is
// smaller than maxColumnBytes, which bounds its decompressed form).
const maxSegPayload = maxColumnBytes

const segSchema = `CREATE TABLE IF NOT EXISTS segment (
	id INTEGER PRIMARY KEY CHECK (id = 0),
	size INTEGER NOT NULL
)`

// segPath is the segment file of the partition whose SQLite file is path.
func segPath(path string) string { return strings.TrimSuffix(path, ".db") + ".seg" }

// appendSegRef appends the reference to n bytes at off.
func appendSegRef(dst []byte, off, n int64) []byte {
	dst = append(dst, segRefTag)
	dst = binary.AppendUvarint(dst, uint64(off))
	return binary.AppendUvarint(dst, uint64(n))
}

// isSegRef reports whether a data value is a reference rather than the
// compressed bytes themselves.
func isSegRef(data []byte) bool { return len(data) > 0 && data[0] == segRefTag }

// parseSegRef decodes a reference made by appendSegRef.
func parseSegRef(data []byte) (off, n int64, err error) {
	if !isSegRef(data) {
		return 0, 0, errCorrupt
	}
	o, k := binary.Uvarint(data[1:])
	if k <= 0 || o > 1<<62 {
		return 0, 0, errCorrupt
	}
	l, j := binary.Uvarint(data[1+k:])
	if j <= 0 || l > maxSegPayload || 1+k+j != len(data) {
		return 0, 0, errCorrupt
	}
	return int64(o), int64(l), nil
}

// committedSeg returns the length of p's segment its SQLite file vouches
// for.
func committedSeg(ctx context.Context, db *store.DB) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT size FROM segment WHERE id = 0`).Scan(&n)
	if store.NotFound(err) {
		return 0, nil
	}
	return n, err
}

// recoverSeg cuts p's segment back to its committed length (db's), the
// bytes beyond it being those of a write that never committed, and
// records that length as where the next write goes. A segment shorter
// than that (cut by something else, or not yet on disk when the machine
// lost power without syncAlways) is left as it is: reading what is
// missing fails with an error naming the file, and the next write still
// goes at the committed end, never over bytes a row names.
func recoverSeg(ctx context.Context, db *store.DB, p *partition) error {
	size, err := committedSeg(ctx, db)
	if err != nil {
		return fmt.Errorf("archive: %s: %w", p.path, err)
	}
	p.segEnd = size
	path := segPath(p.path)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if st.Size() > size {
		if err := os.Truncate(path, size); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	return nil
}

// segFile returns p's open segment, opening it (creating it when create)
// if needed; nil, nil when it does not exist and create is false. The
// file stays open with the partition's database and closes with it.
func (e *Embedded) segFile(p *partition, create bool) (*os.File, int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.seg != nil {
		return p.seg, p.segEnd, nil
	}
	path := segPath(p.path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) && create {
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil && e.syncAlways {
			err = syncDir(filepath.Dir(path)) // the new name survives a power cut too
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, p.segEnd, nil
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, 0, fmt.Errorf("archive: %w", err)
	}
	p.seg = f
	return f, p.segEnd, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// maxPendingPayload is how many bytes of payloads a write gathers before
// writing them to the segment: one write call per partition write at the
// archiver's 16,384 events (about 2 MB), a bounded buffer for larger
// ones.
var maxPendingPayload = 8 << 20 // a variable for tests

// appendSeg writes data at off, at or after the end of p's committed
// segment, before the transaction naming it commits, and makes it
// readable to the queries that will see that transaction.
func (e *Embedded) appendSeg(p *partition, off int64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	f, _, err := e.segFile(p, true)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	e.mu.Lock()
	p.segEnd = off + int64(len(data))
	e.mu.Unlock()
	return nil
}

// syncSeg makes the appends of a write durable before its commit: with
// syncAlways, on disk (fsync, as SQLite's own commit then is); otherwise
// in the kernel already, which a crash of the process does not lose.
func (e *Embedded) syncSeg(p *partition) error {
	if e.syncAlways {
		f, _, err := e.segFile(p, true)
		if err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	if testHookAppended != nil {
		testHookAppended()
	}
	return nil
}

// testHookAppended, when set (by tests only), runs after a write's
// payloads are in the segment and before its transaction commits: where
// a crash leaves bytes no row names.
var testHookAppended func()

// undoSeg cuts p's segment back to off after a write whose transaction
// did not commit. Were the cut to fail, the bytes would only waste
// space: the next write goes at off, and opening the partition cuts them.
func (e *Embedded) undoSeg(p *partition, off int64) error {
	e.mu.Lock()
	p.segEnd = off
	f := p.seg
	e.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// payload returns the compressed bytes a blocks or cols data value of p
// stands for (block id's head, or its column name): the value itself
// (written before segments) or the segment bytes it refers to.
func (e *Embedded) payload(p *partition, data []byte, id int64, name string) ([]byte, error) {
	if !isSegRef(data) {
		return data, nil
	}
	path := segPath(p.path)
	off, n, err := parseSegRef(data)
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %s: bad segment reference %x", path, payloadName(id, name), data)
	}
	f, end, err := e.segFile(p, false)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("archive: %s: %s: the segment file is missing", path, payloadName(id, name))
	}
	if off+n > end {
		return nil, fmt.Errorf("archive: %s: %s: bytes %d to %d lie beyond the segment's end (%d)", path, payloadName(id, name), off, off+n, end)
	}
	buf := make([]byte, n)
	if k, err := f.ReadAt(buf, off); k < len(buf) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("archive: %s: %s: reading bytes %d to %d: %w", path, payloadName(id, name), off, off+n, err)
	}
	return buf, nil
}

// payloadName names block id's head (name "") or its column name in
// errors.
func payloadName(id int64, name string) string {
	if name == "" {
		return fmt.Sprintf("block %d", id)
	}
	return fmt.Sprintf("block %d column %q", id, name)
}
