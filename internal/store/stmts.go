package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// stmtCache holds statements prepared on the whole store: database/sql
// prepares each on a connection the first time it runs there and keeps it
// for that connection, so a statement is parsed once per connection
// instead of once per run (SQLite) or per transaction. The zero value is
// ready.
type stmtCache struct {
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the statements a store keeps prepared. The commit path
// runs a few dozen distinct statements; queries built with a varying
// number of placeholders are each one, and past the bound run as before.
const maxStmts = 512

// get returns the statement prepared for q, or nil.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[q]
}

// add prepares q on db and keeps it, unless the cache is full or q does
// not prepare (its error then shows when it runs unprepared).
func (c *stmtCache) add(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	c.mu.RLock()
	st, full := c.stmts[q], len(c.stmts) >= maxStmts
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	st, err := db.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have := c.stmts[q]; have != nil { // prepared meanwhile by another caller
		st.Close()
		return have
	}
	if len(c.stmts) >= maxStmts {
		st.Close()
		return nil
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[q] = st
	return st
}

// close releases every statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// cached returns the store-wide prepared statement for q, preparing it on
// first use; nil to run q unprepared (PostgreSQL, whose driver caches
// prepared statements itself; a statement not worth keeping; the cache
// full).
func (db *DB) cached(ctx context.Context, q string) *sql.Stmt {
	if db.dialect != SQLite || !cacheable(q) {
		return nil
	}
	return db.stmts.add(ctx, db.sql, q)
}

// keep prepares store-wide the statements a transaction prepared for
// itself, once it has ended. Preparing them while it ran would have taken
// a second connection while the transaction held the write lock, and
// waited for one if every connection was held by writers waiting for
// that lock.
func (db *DB) keep(ctx context.Context, qs []string) {
	for _, q := range qs {
		db.stmts.add(ctx, db.sql, q)
	}
}

// cacheable reports whether q is a statement worth keeping prepared: a
// query or a data change, not schema changes, which run once.
func cacheable(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return len(q) >= 4 && strings.EqualFold(q[:4], "WITH")
}
