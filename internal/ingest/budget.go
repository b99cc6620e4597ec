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

// hold is one request's share of a budget: the bytes it reserved.
type hold struct {
	b    *Budget
	key  string
	held int64
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
}
