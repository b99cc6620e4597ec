// Package eventlog keeps normalised events for hunting and as evidence, and
// the inputs the pipeline rejected after they were accepted.
//
// Events are stored once per (member, event id): the pipeline may replay a
// batch after a crash, and Append ignores events it already has. That, plus
// JetStream's at-least-once delivery, gives exactly-once storage.
package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/store"
)

// Schema is the eventlog's tables.
func Schema() store.Schema {
	return store.Schema{Owner: "eventlog", Migrations: []string{`
CREATE TABLE events (
	member TEXT NOT NULL,
	id TEXT NOT NULL,
	ts BIGINT NOT NULL,
	ingested BIGINT NOT NULL,
	dataset TEXT NOT NULL,
	host TEXT NOT NULL,
	doc TEXT NOT NULL,
	PRIMARY KEY (member, id)
);
CREATE INDEX IF NOT EXISTS events_member_ts ON events (member, ts);
CREATE TABLE ingest_rejects (
	id AUTOINCREMENT_PK,
	member TEXT NOT NULL,
	at BIGINT NOT NULL,
	batch BIGINT NOT NULL,
	line INTEGER NOT NULL,
	reason TEXT NOT NULL,
	sample TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_rejects_member ON ingest_rejects (member, at)`,
		// A redelivered batch must not record its rejects twice.
		`CREATE UNIQUE INDEX IF NOT EXISTS ingest_rejects_once ON ingest_rejects (member, batch, line)`,
	}}
}

// Log stores events and rejects.
type Log struct {
	db *store.DB
}

// New returns a Log over db, whose schema must be migrated.
func New(db *store.DB) *Log { return &Log{db: db} }

// rowsPerInsert bounds a multi-row INSERT: 7 parameters a row stays far
// below both engines' parameter limits, and one statement per few hundred
// rows is several times faster than a statement per row.
const rowsPerInsert = 200

// Append stores events inside tx, skipping any (member, id) already
// stored, and returns how many were new. buf is scratch space for JSON
// encoding, returned for reuse.
func (l *Log) Append(ctx context.Context, tx *store.Tx, events []*event.Event, buf []byte) (int, []byte, error) {
	inserted := 0
	args := make([]any, 0, rowsPerInsert*7)
	var q strings.Builder
	for len(events) > 0 {
		n := min(len(events), rowsPerInsert)
		q.Reset()
		q.WriteString("INSERT INTO events (member, id, ts, ingested, dataset, host, doc) VALUES ")
		args = args[:0]
		for i, ev := range events[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?)")
			buf = ev.AppendJSON(buf[:0])
			args = append(args, ev.Member, ev.ID, store.Nanos(ev.Time), store.Nanos(ev.Ingested),
				ev.Key(event.EventDataset), ev.Key(event.HostName), string(buf))
		}
		q.WriteString(" ON CONFLICT (member, id) DO NOTHING")
		res, err := tx.Exec(ctx, q.String(), args...)
		if err != nil {
			return inserted, buf, fmt.Errorf("eventlog: append: %w", err)
		}
		k, _ := res.RowsAffected()
		inserted += int(k)
		events = events[n:]
	}
	return inserted, buf, nil
}

// Reject is an accepted input line the pipeline could not turn into an
// event, with the reason.
type Reject struct {
	Member string    `json:"member"`
	At     time.Time `json:"at"`
	Batch  uint64    `json:"batch"`
	Line   int       `json:"line"`
	Reason string    `json:"reason"`
	// Sample is the start of the rejected line.
	Sample string `json:"sample"`
}

// AppendRejects stores rejects inside tx.
func (l *Log) AppendRejects(ctx context.Context, tx *store.Tx, rejects []Reject) error {
	for _, r := range rejects {
		if _, err := tx.Exec(ctx, `INSERT INTO ingest_rejects (member, at, batch, line, reason, sample) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (member, batch, line) DO NOTHING`,
			r.Member, store.Nanos(r.At), int64(r.Batch), r.Line, r.Reason, r.Sample); err != nil {
			return fmt.Errorf("eventlog: reject: %w", err)
		}
	}
	return nil
}

// Rejects returns the latest rejects of member, newest first.
func (l *Log) Rejects(ctx context.Context, member string, limit int) ([]Reject, error) {
	rows, err := l.db.Query(ctx, `SELECT member, at, batch, line, reason, sample FROM ingest_rejects
		WHERE member = ? ORDER BY id DESC LIMIT ?`, member, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Reject
	for rows.Next() {
		var r Reject
		var at, batch int64
		if err := rows.Scan(&r.Member, &at, &batch, &r.Line, &r.Reason, &r.Sample); err != nil {
			return nil, err
		}
		r.At, r.Batch = store.Time(at), uint64(batch)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Query selects a member's events for hunting.
type Query struct {
	Member string
	From   time.Time
	To     time.Time
	// Fields requires exact field values ("source.ip" → "10.0.0.1").
	Fields map[string]string
	// Text requires a substring anywhere in the stored event.
	Text  string
	Limit int
}

var fieldName = regexp.MustCompile(`^[@A-Za-z0-9_.\-]{1,128}$`)

// Search returns a member's events matching q, newest first. Events are
// never shared between members: only the owner searches them.
func (l *Log) Search(ctx context.Context, q Query) ([]json.RawMessage, error) {
	where := []string{"member = ?"}
	args := []any{q.Member}
	if !q.From.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, store.Nanos(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "ts < ?"), append(args, store.Nanos(q.To))
	}
	for name, value := range q.Fields {
		if !fieldName.MatchString(name) {
			return nil, fmt.Errorf("eventlog: bad field name %q", name)
		}
		where, args = append(where, l.jsonField(name)+" = ?"), append(args, value)
	}
	if q.Text != "" {
		// The document is JSON: search for the text as JSON encodes it, so
		// that "C:\Windows" finds the stored "C:\\Windows". Both engines
		// compare case-insensitively (SQLite's LIKE folds ASCII).
		enc, _ := json.Marshal(q.Text)
		like := "LIKE"
		if l.db.Dialect() == store.Postgres {
			like = "ILIKE"
		}
		where = append(where, `doc `+like+` ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(string(enc[1:len(enc)-1]))+"%")
	}
	args = append(args, clampLimit(q.Limit))
	rows, err := l.db.Query(ctx, `SELECT doc FROM events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY ts DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("eventlog: search: %w", err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(doc))
	}
	return out, rows.Err()
}

// Count returns how many events member has stored.
func (l *Log) Count(ctx context.Context, member string) (int, error) {
	var n int
	err := l.db.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE member = ?`, member).Scan(&n)
	return n, err
}

// jsonField is the engine's expression for a top-level member of the
// stored flat JSON document. name has been checked against fieldName.
func (l *Log) jsonField(name string) string {
	if l.db.Dialect() == store.Postgres {
		return "(doc::jsonb ->> '" + name + "')"
	}
	return `json_extract(doc, '$."` + name + `"')`
}

// escapeLike makes s match literally inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func clampLimit(n int) int {
	if n <= 0 || n > 1000 {
		return 100
	}
	return n
}
