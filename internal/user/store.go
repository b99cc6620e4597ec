package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Schema is the user package's tables. Sessions are keyed by the SHA-256
// of their token: a copy of the table lets nobody log in.
func Schema() store.Schema {
	return store.Schema{Owner: "user", Migrations: []string{`
CREATE TABLE users (
	name TEXT PRIMARY KEY,
	member TEXT NOT NULL,
	role TEXT NOT NULL,
	hash TEXT NOT NULL,
	created BIGINT NOT NULL,
	disabled BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS users_member ON users (member);
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	username TEXT NOT NULL,
	csrf TEXT NOT NULL,
	created BIGINT NOT NULL,
	last_seen BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username)`,
	}}
}

// Options tune a Store. The zero value gives the defaults.
type Options struct {
	// Idle ends a session unused this long. 0 means 30 minutes.
	Idle time.Duration
	// Absolute ends a session this long after login, used or not. 0 means
	// 12 hours.
	Absolute time.Duration
	// Params are the cost of new password hashes; zero means DefaultParams.
	Params Params
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store keeps accounts and sessions in the node's store. It is safe for
// concurrent use, also by several processes on one database (the CLI
// beside a running node).
type Store struct {
	db   *store.DB
	opts Options
	// dummy is a hash verified when a login names no account, so that the
	// answer takes as long as for a real one.
	dummy string
}

// NewStore returns a store over db, whose schema must be migrated.
func NewStore(db *store.DB, opts Options) (*Store, error) {
	if opts.Idle <= 0 {
		opts.Idle = 30 * time.Minute
	}
	if opts.Absolute <= 0 {
		opts.Absolute = 12 * time.Hour
	}
	if opts.Params == (Params{}) {
		opts.Params = DefaultParams
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dummy, err := HashPassword("no such user, no such password", opts.Params)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, opts: opts, dummy: dummy}, nil
}

// Add creates an account with a password.
func (s *Store) Add(ctx context.Context, u User, password string) (User, error) {
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(password, s.opts.Params)
	if err != nil {
		return User{}, err
	}
	u.Created = s.opts.Now().UTC().Truncate(time.Millisecond)
	u.Disabled = time.Time{}
	res, err := s.db.Exec(ctx, `INSERT INTO users (name, member, role, hash, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, u.Name, u.Member, string(u.Role), hash, store.Nanos(u.Created))
	if err != nil {
		return User{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, fmt.Errorf("user %s: %w", u.Name, ErrExists)
	}
	return u, nil
}

// Get returns one account.
func (s *Store) Get(ctx context.Context, name string) (User, error) {
	u, _, err := s.load(ctx, name)
	return u, err
}

func (s *Store) load(ctx context.Context, name string) (User, string, error) {
	var (
		u                 User
		role, hash        string
		created, disabled int64
	)
	err := s.db.QueryRow(ctx, `SELECT name, member, role, hash, created, disabled FROM users WHERE name = ?`, name).
		Scan(&u.Name, &u.Member, &role, &hash, &created, &disabled)
	if store.NotFound(err) {
		return User{}, "", fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, "", err
	}
	u.Role, u.Created, u.Disabled = Role(role), store.Time(created), store.Time(disabled)
	return u, hash, nil
}

// List returns every account, by member and name; member, if not empty,
// restricts the list to one member's.
func (s *Store) List(ctx context.Context, member string) ([]User, error) {
	q := `SELECT name, member, role, created, disabled FROM users`
	var args []any
	if member != "" {
		q += ` WHERE member = ?`
		args = append(args, member)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY member, name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var (
			u                 User
			role              string
			created, disabled int64
		)
		if err := rows.Scan(&u.Name, &u.Member, &role, &created, &disabled); err != nil {
			return nil, err
		}
		u.Role, u.Created, u.Disabled = Role(role), store.Time(created), store.Time(disabled)
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetPassword replaces an account's password and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password, s.opts.Params)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET hash = ? WHERE name = ?`, hash, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE username = ?`, name)
		return err
	})
}

// SetDisabled disables (or enables again) an account; disabling ends its
// sessions at once.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	var at int64
	if disabled {
		at = store.Nanos(s.opts.Now())
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, at, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		if disabled {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE username = ?`, name)
		}
		return err
	})
}

// Check verifies a name and password and returns the account. Unknown
// names, wrong passwords and disabled accounts all return ErrBadLogin,
// after the same amount of work.
func (s *Store) Check(ctx context.Context, name, password string) (User, error) {
	u, hash, err := s.load(ctx, name)
	if errors.Is(err, ErrNotFound) {
		VerifyPassword(password, s.dummy)
		return User{}, ErrBadLogin
	}
	if err != nil {
		return User{}, err
	}
	ok, err := VerifyPassword(password, hash)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	if !ok || !u.Active() {
		return User{}, ErrBadLogin
	}
	return u, nil
}

// Session is a logged-in person.
type Session struct {
	User User
	// CSRF is the session's anti-forgery token: every state-changing
	// request must carry it in a header, which another site's page cannot
	// set.
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	// Expires is when the session ends if unused.
	Expires time.Time
}

// Login checks name and password and opens a session, returning its
// token (for the cookie; shown once, stored only hashed).
func (s *Store) Login(ctx context.Context, name, password string) (string, Session, error) {
	u, err := s.Check(ctx, name, password)
	if err != nil {
		return "", Session{}, err
	}
	token, csrf := randomToken(), randomToken()
	now := s.opts.Now()
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE last_seen < ? OR created < ?`,
		store.Nanos(now.Add(-s.opts.Idle)), store.Nanos(now.Add(-s.opts.Absolute))); err != nil {
		return "", Session{}, err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO sessions (id, username, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)`,
		tokenID(token), u.Name, csrf, store.Nanos(now), store.Nanos(now)); err != nil {
		return "", Session{}, err
	}
	return token, Session{User: u, CSRF: csrf, Created: now, LastSeen: now, Expires: s.expiry(now, now)}, nil
}

// expiry is when a session created and last seen at these times ends.
func (s *Store) expiry(created, lastSeen time.Time) time.Time {
	return minTime(lastSeen.Add(s.opts.Idle), created.Add(s.opts.Absolute))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Session returns the session of a token and marks it used. An expired
// session, or one whose account was disabled, is deleted and answers
// ErrNoSession.
func (s *Store) Session(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 128 {
		return Session{}, ErrNoSession
	}
	id := tokenID(token)
	var (
		ss                              Session
		role                            string
		created, lastSeen, uc, disabled int64
	)
	err := s.db.QueryRow(ctx, `SELECT s.csrf, s.created, s.last_seen, u.name, u.member, u.role, u.created, u.disabled
		FROM sessions s JOIN users u ON u.name = s.username WHERE s.id = ?`, id).
		Scan(&ss.CSRF, &created, &lastSeen, &ss.User.Name, &ss.User.Member, &role, &uc, &disabled)
	if store.NotFound(err) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	ss.User.Role, ss.User.Created, ss.User.Disabled = Role(role), store.Time(uc), store.Time(disabled)
	ss.Created, ss.LastSeen = store.Time(created), store.Time(lastSeen)
	now := s.opts.Now()
	if !now.Before(s.expiry(ss.Created, ss.LastSeen)) || !ss.User.Active() {
		s.db.Exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return Session{}, ErrNoSession
	}
	// Writing on every request would make each page view a write; a
	// session is touched when a thirtieth of its idle time has passed.
	if now.Sub(ss.LastSeen) > s.opts.Idle/30 {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen = ? WHERE id = ?`, store.Nanos(now), id); err != nil {
			return Session{}, err
		}
		ss.LastSeen = now
	}
	ss.Expires = s.expiry(ss.Created, ss.LastSeen)
	return ss, nil
}

// Logout ends the session of a token.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = ?`, tokenID(token))
	return err
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenID is the stored key of a session token.
func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
