package intel

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Errors returned (wrapped) by the repository. Callers test them with
// errors.Is; the TAXII server maps them to 404, 403 and 400.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("forbidden")
	ErrInvalid   = errors.New("invalid request")
)

// Viewer is who asks: a member of the platform (with the members it is a
// client of), or the platform operator, who sees everything.
type Viewer struct {
	// Member is the member's id; empty for an operator acting for no
	// member.
	Member string
	// ClientOf lists the members this member is a client of (it receives
	// their TLP:AMBER intelligence).
	ClientOf []string
	// Operator marks the platform operator.
	Operator bool
}

// recipient is the viewer as the TLP rule sees it.
func (v Viewer) recipient() tlp.Recipient {
	return tlp.Recipient{Member: v.Member, ClientOf: v.ClientOf}
}

// mayRead is the one place that decides whether v sees an object version
// with the given owner, level and named recipients, in a collection v may
// read.
func (v Viewer) mayRead(owner string, level tlp.Level, named []string) bool {
	if v.Operator {
		return true
	}
	if v.Member == "" {
		return tlp.MayReceive(level, tlp.Public)
	}
	return tlp.MayReceive(level, v.recipient().RelationTo(owner, named))
}

// Options tune a Repo. The zero value is usable.
type Options struct {
	// Validate, when set, checks each object after its envelope.
	Validate Validator
	// DefaultPageSize is the page size when a query sets no limit
	// (default 100).
	DefaultPageSize int
	// MaxPageSize caps a query's limit (default 1000).
	MaxPageSize int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Repo is the intelligence repository. It is safe for concurrent use.
type Repo struct {
	db   *store.DB
	opts Options

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every committed change
}

// NewRepo returns a repository on db, whose tables (Schema) must already be
// migrated.
func NewRepo(db *store.DB, opts Options) *Repo {
	if opts.DefaultPageSize <= 0 {
		opts.DefaultPageSize = 100
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 1000
	}
	if opts.DefaultPageSize > opts.MaxPageSize {
		opts.DefaultPageSize = opts.MaxPageSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Repo{db: db, opts: opts, changed: make(chan struct{})}
}

// MaxPageSize reports the largest page a query returns.
func (r *Repo) MaxPageSize() int { return r.opts.MaxPageSize }

// Changed returns a channel that is closed at the next committed change
// (objects added or deleted). Wait on it, then read Since.
func (r *Repo) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// notify wakes every waiter on Changed.
func (r *Repo) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// NewUUID returns a random (version 4) UUID in canonical form.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
