package ingest

import (
	"errors"
	"fmt"
	"sync"
)

// Budget is the memory a node lets request bodies hold while they are
// read, checked and published, shared by every request and bounded per
// member key, so that no key — and no number of concurrent requests — can
// make the node grow past it. Bodies are read into memory whole because a
// request is accepted or refused as a whole; the budget is what keeps
// that bounded. It is safe for concurrent use.
type Budget struct {
	limit  int64
	perKey int64
	mu     sync.Mutex
	used   int64
	byKey  map[string]int64
}

// NewBudget returns a budget of limit bytes of which one key may hold at
// most perKey (perKey <= 0 or over limit means limit).
func NewBudget(limit, perKey int64) *Budget {
	if perKey <= 0 || perKey > limit {
		perKey = limit
	}
	return &Budget{limit: limit, perKey: perKey, byKey: map[string]int64{}}
}

// errBudget refuses a request when the budget has no room (HTTP 503 with
// Retry-After: the room comes back as other requests finish).
var errBudget = errors.New("ingest memory budget in use")

// acquire reserves n bytes for key, or fails without waiting.
func (b *Budget) acquire(key string, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byKey[key]+n > b.perKey {
		return fmt.Errorf("%w: this key's requests in flight hold %d of its %d bytes", errBudget, b.byKey[key], b.perKey)
	}
	if b.used+n > b.limit {
		return fmt.Errorf("%w: requests in flight hold %d of the node's %d bytes", errBudget, b.used, b.limit)
	}
	b.used += n
	b.byKey[key] += n
	return nil
}

// release returns n bytes of key's.
func (b *Budget) release(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byKey[key] -= n; b.byKey[key] <= 0 {
		delete(b.byKey, key)
	}
}

// Used returns the bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// hold is one request's share of a budget: the bytes it reserved, and the
// pooled blocks it took, which go back to the pool when it is done.
type hold struct {
	b    *Budget
	key  string
	held int64
	// pool, if set, lends the blocks; blocks are the ones lent.
	pool   *blockPool
	blocks []*[]byte
	// keep says the blocks may still be read after the request (a bus
	// publish that did not finish): they are left to the collector.
	keep bool
}

// grow reserves n more bytes.
func (h *hold) grow(n int64) error {
	if err := h.b.acquire(h.key, n); err != nil {
		return err
	}
	h.held += n
	return nil
}

// shrink gives n bytes back.
func (h *hold) shrink(n int64) {
	h.b.release(h.key, n)
	h.held -= n
}

// done gives back everything the request held.
func (h *hold) done() {
	if h.held > 0 {
		h.shrink(h.held)
	}
	if !h.keep {
		for _, p := range h.blocks {
			h.pool.put(p)
		}
	}
	h.blocks = nil
}

// alloc reserves room for an n-byte block and returns the block, empty:
// a pooled one of the next size class if n has one (the whole class is
// reserved: it is what the block holds), else a new one.
func (h *hold) alloc(n int64) ([]byte, error) {
	c, size := blockClass(n)
	if h.pool == nil || c < 0 {
		size = n
	}
	if err := h.grow(size); err != nil {
		return nil, err
	}
	if h.pool == nil || c < 0 {
		return make([]byte, 0, n), nil
	}
	p := h.pool.get(c)
	h.blocks = append(h.blocks, p)
	return (*p)[:0], nil
}

// free gives a block that alloc returned back early, with its bytes.
func (h *hold) free(b []byte) {
	h.shrink(int64(cap(b)))
	for i, p := range h.blocks {
		if cap(*p) == cap(b) && &(*p)[:1][0] == &b[:1][0] {
			h.blocks = append(h.blocks[:i], h.blocks[i+1:]...)
			h.pool.put(p)
			return
		}
	}
}

// blockClasses are the pooled block sizes: powers of two from
// minBodyBuffer to blockSize.
const blockClasses = 7

// blockClass returns the pool class of an n-byte block and its size, or
// -1 if n is over blockSize or under minBodyBuffer.
func blockClass(n int64) (int, int64) {
	if n < minBodyBuffer || n > blockSize {
		return -1, n
	}
	c, size := 0, int64(minBodyBuffer)
	for size < n {
		c, size = c+1, 2*size
	}
	return c, size
}

// blockPool keeps the body blocks of finished requests for the next ones.
// A block is what a request body is read into and published from; making
// a new one per request — zeroed, then collected — cost more CPU than
// reading the body into it. A pooled block is as free as any garbage: the
// collector empties the pool of blocks unused for two cycles.
type blockPool struct {
	classes [blockClasses]sync.Pool // of *[]byte of the class's capacity
}

func (bp *blockPool) get(c int) *[]byte {
	if p, ok := bp.classes[c].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, minBodyBuffer<<c)
	return &b
}

func (bp *blockPool) put(p *[]byte) {
	if c, size := blockClass(int64(cap(*p))); c >= 0 && size == int64(cap(*p)) {
		bp.classes[c].Put(p)
	}
}
