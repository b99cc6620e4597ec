package member

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Schema is the member package's tables.
func Schema() store.Schema {
	return store.Schema{Owner: "member", Migrations: []string{`
CREATE TABLE members (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	country TEXT NOT NULL,
	sector TEXT NOT NULL,
	public INTEGER NOT NULL,
	client_of TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	member_id TEXT,
	role TEXT NOT NULL,
	hash TEXT NOT NULL,
	created BIGINT NOT NULL,
	revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_keys_member ON api_keys (member_id)`,
		`ALTER TABLE members ADD COLUMN alert_tlp TEXT NOT NULL DEFAULT 'TLP:AMBER'`,
		// generation counts the changes to keys and members that a cached
		// principal could miss; every process checks it before trusting its
		// cache.
		`CREATE TABLE member_generation (id INTEGER PRIMARY KEY, gen BIGINT NOT NULL);
INSERT INTO member_generation (id, gen) VALUES (1, 0)`,
	}}
}

// Errors the registry returns.
var (
	ErrUnauthenticated = errors.New("invalid or revoked API key")
	ErrExists          = errors.New("member already exists")
	ErrNotFound        = errors.New("no such member")
)

// Registry stores members and authenticates API keys. Authentication is on
// every request, so verified keys are cached; every change to keys or
// members, by any process sharing the store (the CLI beside a node, other
// nodes on PostgreSQL), advances a generation in the store that each
// Authenticate reads first — one indexed single-row read — so a revoked
// key stops working on the next request everywhere.
type Registry struct {
	db  *store.DB
	now func() time.Time

	mu    sync.Mutex
	gen   int64                // the store's generation the cache is valid for
	cache map[string]cachedKey // by key id
}

type cachedKey struct {
	hash      [sha256.Size]byte
	principal Principal
	expires   time.Time
}

// cacheTTL bounds how long a verified key is trusted without reading it
// again, besides the generation check.
const cacheTTL = 5 * time.Minute

// NewRegistry returns a registry over db, whose schema must be migrated.
func NewRegistry(db *store.DB) *Registry {
	return &Registry{db: db, now: time.Now, cache: make(map[string]cachedKey)}
}

// Add validates and stores m and returns its first API key.
func (r *Registry) Add(ctx context.Context, m Member) (Member, string, error) {
	if err := m.Validate(); err != nil {
		return Member{}, "", err
	}
	m.Created = r.now().UTC().Truncate(time.Millisecond)
	clients, _ := json.Marshal(nonNil(m.ClientOf))
	var key string
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		// A client-of relation decides who may read the member's AMBER
		// data: it must name a member that exists.
		for _, parent := range m.ClientOf {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members WHERE id = ?`, parent).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("member %s: client of %q: %w", m.ID, parent, ErrNotFound)
			}
		}
		res, err := tx.Exec(ctx, `INSERT INTO members (id, name, country, sector, public, client_of, created, alert_tlp)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			m.ID, m.Name, m.Country, m.Sector, boolInt(m.Public), string(clients), store.Nanos(m.Created), m.AlertLevel().String())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("member %s: %w", m.ID, ErrExists)
		}
		key, err = r.insertKey(ctx, tx, m.ID, RoleMember)
		return err
	})
	if err != nil {
		return Member{}, "", err
	}
	return m, key, nil
}

// CreateOperatorKey stores and returns a new operator key.
func (r *Registry) CreateOperatorKey(ctx context.Context) (string, error) {
	var key string
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		key, err = r.insertKey(ctx, tx, "", RoleOperator)
		return err
	})
	return key, err
}

// HasOperatorKey reports whether any unrevoked operator key exists.
func (r *Registry) HasOperatorKey(ctx context.Context) (bool, error) {
	var n int
	err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE role = ? AND revoked = 0`, string(RoleOperator)).Scan(&n)
	return n > 0, err
}

// RotateKey revokes every key of member id and returns a new one.
func (r *Registry) RotateKey(ctx context.Context, id string) (string, error) {
	var key string
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("member %s: %w", id, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked = ? WHERE member_id = ? AND revoked = 0`,
			store.Nanos(r.now()), id); err != nil {
			return err
		}
		if err := advance(ctx, tx); err != nil {
			return err
		}
		var err error
		key, err = r.insertKey(ctx, tx, id, RoleMember)
		return err
	})
	if err != nil {
		return "", err
	}
	r.forgetMember(id)
	return key, nil
}

func (r *Registry) insertKey(ctx context.Context, tx *store.Tx, memberID string, role Role) (string, error) {
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", err
	}
	keyID := hex.EncodeToString(idb[:])
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(sec))
	var member any
	if memberID != "" {
		member = memberID
	}
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, member_id, role, hash, created) VALUES (?, ?, ?, ?, ?)`,
		keyID, member, string(role), hex.EncodeToString(sum[:]), store.Nanos(r.now()))
	if err != nil {
		return "", err
	}
	return "xsoc_" + keyID + "_" + sec, nil
}

// Authenticate returns the principal an API key acts for.
func (r *Registry) Authenticate(ctx context.Context, key string) (Principal, error) {
	keyID, secret, ok := splitKey(key)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(secret))
	now := r.now()
	// Read the generation before the key: a change committed after this
	// read shows in the next request's.
	var gen int64
	if err := r.db.QueryRow(ctx, `SELECT gen FROM member_generation WHERE id = 1`).Scan(&gen); err != nil {
		return Principal{}, fmt.Errorf("member: generation: %w", err)
	}
	r.mu.Lock()
	if gen != r.gen {
		clear(r.cache)
		r.gen = gen
	}
	c, hit := r.cache[keyID]
	r.mu.Unlock()
	if !hit || now.After(c.expires) {
		var err error
		c, err = r.loadKey(ctx, keyID)
		if err != nil {
			return Principal{}, err
		}
		c.expires = now.Add(cacheTTL)
		r.mu.Lock()
		if r.gen == gen {
			r.cache[keyID] = c
		}
		r.mu.Unlock()
	}
	if subtle.ConstantTimeCompare(sum[:], c.hash[:]) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	return c.principal, nil
}

func (r *Registry) loadKey(ctx context.Context, keyID string) (cachedKey, error) {
	var (
		hashHex, role string
		memberID      *string
		revoked       int64
	)
	err := r.db.QueryRow(ctx, `SELECT hash, role, member_id, revoked FROM api_keys WHERE id = ?`, keyID).
		Scan(&hashHex, &role, &memberID, &revoked)
	if store.NotFound(err) {
		return cachedKey{}, ErrUnauthenticated
	}
	if err != nil {
		return cachedKey{}, err
	}
	if revoked != 0 {
		return cachedKey{}, ErrUnauthenticated
	}
	var c cachedKey
	if b, err := hex.DecodeString(hashHex); err != nil || len(b) != sha256.Size {
		return cachedKey{}, fmt.Errorf("api key %s: corrupt hash", keyID)
	} else {
		copy(c.hash[:], b)
	}
	c.principal = Principal{Role: Role(role), KeyID: keyID}
	if memberID != nil {
		m, err := r.Get(ctx, *memberID)
		if err != nil {
			return cachedKey{}, err
		}
		c.principal.Member = m
	}
	return c, nil
}

func (r *Registry) forgetMember(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, c := range r.cache {
		if c.principal.Member.ID == id {
			delete(r.cache, k)
		}
	}
}

func splitKey(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, "xsoc_")
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", "", false
	}
	return id, secret, true
}

// SetAlertTLP sets the sharing level of a member's alerts.
func (r *Registry) SetAlertTLP(ctx context.Context, id string, l tlp.Level) error {
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE members SET alert_tlp = ? WHERE id = ?`, l.String(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("member %s: %w", id, ErrNotFound)
		}
		return advance(ctx, tx)
	})
	if err != nil {
		return err
	}
	r.forgetMember(id)
	return nil
}

// advance moves the store's generation on, in the transaction of a change
// that cached principals must not outlive.
func advance(ctx context.Context, tx *store.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE member_generation SET gen = gen + 1 WHERE id = 1`)
	return err
}

// Get returns one member.
func (r *Registry) Get(ctx context.Context, id string) (Member, error) {
	rows, err := r.db.Query(ctx, `SELECT id, name, country, sector, public, client_of, created, alert_tlp FROM members WHERE id = ?`, id)
	if err != nil {
		return Member{}, err
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return Member{}, err
	}
	if len(ms) == 0 {
		return Member{}, fmt.Errorf("member %s: %w", id, ErrNotFound)
	}
	return ms[0], nil
}

// List returns every member, ordered by id.
func (r *Registry) List(ctx context.Context) ([]Member, error) {
	rows, err := r.db.Query(ctx, `SELECT id, name, country, sector, public, client_of, created, alert_tlp FROM members ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return scanMembers(rows)
}

func scanMembers(rows interface {
	Next() bool
	Scan(...any) error
	Close() error
	Err() error
}) ([]Member, error) {
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var (
			m       Member
			public  int
			clients string
			created int64
			level   string
		)
		if err := rows.Scan(&m.ID, &m.Name, &m.Country, &m.Sector, &public, &clients, &created, &level); err != nil {
			return nil, err
		}
		l, err := tlp.Parse(level)
		if err != nil {
			return nil, fmt.Errorf("member %s: alert_tlp: %w", m.ID, err)
		}
		m.AlertTLP = &l
		m.Public = public != 0
		m.Created = store.Time(created)
		if err := json.Unmarshal([]byte(clients), &m.ClientOf); err != nil {
			return nil, fmt.Errorf("member %s: client_of: %w", m.ID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
