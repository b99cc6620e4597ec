// Package audit is the platform's audit log: every administrative action —
// members added, keys rotated, sharing levels set, rules and feeds changed,
// any request made with an operator key — and every time a member reads
// data another member owns, with who, what, when and from where. Entries
// are written by the API and the command line into the state store and
// read by operators only.
package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Schema is the audit log's table.
func Schema() store.Schema {
	return store.Schema{Owner: "audit", Migrations: []string{`
CREATE TABLE audit_log (
	id AUTOINCREMENT_PK,
	at BIGINT NOT NULL,
	actor TEXT NOT NULL,
	role TEXT NOT NULL,
	key_id TEXT NOT NULL,
	via TEXT NOT NULL,
	remote TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	owner TEXT NOT NULL,
	status INTEGER NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, at)`,
	}}
}

// Entry is one audited action.
type Entry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor is the member id of a member key, "operator" for an operator
	// key, or the local user for the command line.
	Actor string `json:"actor"`
	// Role is "member", "operator" or "cli".
	Role  string `json:"role"`
	KeyID string `json:"key_id,omitempty"`
	// Via is "api", "console" (the web console's own routes) or "cli".
	Via string `json:"via"`
	// Remote is the client's address (API) or user@host (command line).
	Remote string `json:"remote"`
	// Action names what was done after the REST route it is or mirrors:
	// "POST members/{id}/rotate-key", "GET alerts/{id}".
	Action string `json:"action"`
	// Target names the object acted on (a member, alert, rule id), if any.
	Target string `json:"target,omitempty"`
	// Owner is the member owning the data a member read, when it is
	// another member's.
	Owner string `json:"owner,omitempty"`
	// Status is the HTTP status the API answered (0 for the command line).
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Log writes and reads audit entries.
type Log struct {
	db  *store.DB
	now func() time.Time
}

// New returns the audit log over db, whose schema must be migrated.
func New(db *store.DB) *Log { return &Log{db: db, now: time.Now} }

// Record stores e, stamping its time.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = l.now()
	}
	_, err := l.db.Exec(ctx, `INSERT INTO audit_log (at, actor, role, key_id, via, remote, action, target, owner, status, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		store.Nanos(e.At), e.Actor, e.Role, e.KeyID, e.Via, e.Remote, e.Action, e.Target, e.Owner, e.Status, e.Detail)
	if err != nil {
		return fmt.Errorf("audit: record: %w", err)
	}
	return nil
}

// Filter selects entries; zero fields select all.
type Filter struct {
	Actor string
	// Action matches entries whose action contains it ("rotate-key").
	Action string
	// Owner selects reads of this member's data.
	Owner    string
	From, To time.Time
	// Before pages back: entries with a smaller id.
	Before int64
	Limit  int
}

// MaxLimit bounds one page of entries.
const MaxLimit = 1000

// List returns entries matching f, newest first, at most f.Limit (default
// 100, at most MaxLimit).
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action LIKE ? ESCAPE '\\'", "%"+escapeLike(f.Action)+"%")
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	if !f.From.IsZero() {
		add("at >= ?", store.Nanos(f.From))
	}
	if !f.To.IsZero() {
		add("at < ?", store.Nanos(f.To))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, MaxLimit)
	q := `SELECT id, at, actor, role, key_id, via, remote, action, target, owner, status, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.Limit)
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Role, &e.KeyID, &e.Via, &e.Remote, &e.Action, &e.Target, &e.Owner, &e.Status, &e.Detail); err != nil {
			return nil, err
		}
		e.At = store.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// escapeLike quotes LIKE's wildcards so that a filter matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
