// Package user owns the people who log in to the web console: their
// accounts (a member organisation and a role), their passwords (argon2id
// hashes) and their sessions.
//
// Machines keep using API keys (package member); a person's session acts
// as the same principal the member's key does, so every visibility rule
// applies unchanged, and the role only narrows what the person may do.
package user

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Role is what a person may do in the console.
type Role string

// The roles, least powerful first.
const (
	// Viewer reads what the member may see.
	Viewer Role = "viewer"
	// Analyst also works cases: acknowledges and closes alerts, changes,
	// comments, assigns, merges and splits incidents, runs the NIS2 clocks.
	Analyst Role = "analyst"
	// Admin also manages the member's settings: sharing level, intel
	// imports, rules.
	Admin Role = "admin"
	// PlatformAdmin runs the platform (the operator's rights); such a user
	// belongs to no member.
	PlatformAdmin Role = "platform-admin"
)

// Roles lists the roles in increasing order of power.
var Roles = []Role{Viewer, Analyst, Admin, PlatformAdmin}

// rank orders roles; an unknown role ranks below viewer.
func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// AtLeast reports whether r has every right of min.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("unknown role %q: want viewer, analyst, admin or platform-admin", s)
	}
	return r, nil
}

// User is one person's account.
type User struct {
	Name string `json:"name"`
	// Member is the organisation the person works for; empty for
	// platform admins.
	Member   string    `json:"member,omitempty"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	Disabled time.Time `json:"disabled,omitzero"`
}

// Active reports whether the account may log in.
func (u User) Active() bool { return u.Disabled.IsZero() }

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{1,63}$`)

// Validate checks an account before it is stored.
func (u *User) Validate() error {
	switch {
	case !namePattern.MatchString(u.Name):
		return fmt.Errorf("user name %q: want 2-64 characters of a-z, 0-9, '.', '_', '@' and '-', starting with a letter or digit", u.Name)
	case u.Role.rank() == 0:
		_, err := ParseRole(string(u.Role))
		return err
	case u.Role == PlatformAdmin && u.Member != "":
		return fmt.Errorf("user %s: a platform admin belongs to no member (drop --member)", u.Name)
	case u.Role != PlatformAdmin && u.Member == "":
		return fmt.Errorf("user %s: role %s needs the member organisation the user works for (--member)", u.Name, u.Role)
	}
	return nil
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// CheckPassword rejects passwords too short to resist guessing, and
// passwords a terminal or browser may mangle.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("password: at most 1024 bytes")
	}
	for _, c := range pw {
		if c < 0x20 || c == 0x7f {
			return errors.New("password: control characters are not allowed")
		}
	}
	return nil
}

// RandomPassword returns a new random password: 26 characters of base32,
// 128 bits.
func RandomPassword() string { return rand.Text() }

// Errors the store returns (wrapped).
var (
	ErrExists   = errors.New("user already exists")
	ErrNotFound = errors.New("no such user")
	// ErrBadLogin: unknown user, wrong password or disabled account — one
	// error, so that a login form cannot tell which.
	ErrBadLogin = errors.New("wrong user name or password")
	// ErrNoSession: the session token is unknown, expired or revoked.
	ErrNoSession = errors.New("no valid session")
)
